//! A development and test signing key: an ES384 (P-384) key pair, its public JWK, and tokens with the claims
//! CDS Hooks 2.0 asks of a client (standards.md §1.7: `alg`, `kid`, `typ` in the header; `iss`, `aud`, `exp`,
//! `iat`, `jti` in the payload). It plays the EHR's part for the tests and for trying the service with curl; a
//! real EHR signs with its own key and publishes its own JWKS.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::path::Path;

/// The issuer the service trusts for a `--dev-key`.
pub const DEV_ISSUER: &str = "lenaguard-dev";

/// An ES384 key pair held as PKCS#8.
#[derive(Clone)]
pub struct DevKey {
    pkcs8: Vec<u8>,
    pub kid: String,
}

impl std::fmt::Debug for DevKey {
    // The private key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKey").field("kid", &self.kid).finish()
    }
}

impl DevKey {
    pub fn generate(kid: &str) -> Result<DevKey, String> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|e| format!("key generation: {e}"))?;
        Ok(DevKey {
            pkcs8: doc.as_ref().to_vec(),
            kid: kid.into(),
        })
    }

    /// Read a PEM `PRIVATE KEY` (PKCS#8) file, or create one when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<DevKey, String> {
        let kid = "lenaguard-dev-1";
        if !path.exists() {
            let key = DevKey::generate(kid)?;
            std::fs::write(path, key.to_pem()).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(key);
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let b64: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let pkcs8 = STANDARD
            .decode(b64)
            .map_err(|e| format!("{}: not a PEM key: {e}", path.display()))?;
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &pkcs8)
            .map_err(|e| format!("{}: not a P-384 PKCS#8 key: {e}", path.display()))?;
        Ok(DevKey {
            pkcs8,
            kid: kid.into(),
        })
    }

    pub fn to_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.pkcs8);
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        out
    }

    /// The public key as a JWK (RFC 7518 §6.2: x and y of the uncompressed point).
    pub fn jwk(&self) -> Result<Jwk, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &self.pkcs8)
            .map_err(|e| format!("key: {e}"))?;
        let point = pair.public_key().as_ref();
        // 0x04 || x (48 bytes) || y (48 bytes)
        if point.len() != 97 {
            return Err("key: unexpected public key length".into());
        }
        let v = json!({
            "kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..49]),
            "y": URL_SAFE_NO_PAD.encode(&point[49..97]),
        });
        serde_json::from_value(v).map_err(|e| format!("jwk: {e}"))
    }

    pub fn jwks(&self) -> Result<JwkSet, String> {
        Ok(JwkSet {
            keys: vec![self.jwk()?],
        })
    }

    /// Sign these claims with this key and its kid (ES384).
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        self.sign_with_jku(claims, None)
    }

    /// Sign with a `jku` header naming the JWKS URL where the public key is served.
    pub fn sign_with_jku(&self, claims: &Value, jku: Option<&str>) -> Result<String, String> {
        let mut header = Header::new(Algorithm::ES384);
        header.kid = Some(self.kid.clone());
        header.jku = jku.map(str::to_string);
        header.typ = Some("JWT".into());
        let key = EncodingKey::from_ec_der(&self.pkcs8);
        jsonwebtoken::encode(&header, claims, &key).map_err(|e| format!("sign: {e}"))
    }

    /// A fresh token for one call to `audience`: five minutes, a random jti.
    pub fn token(&self, iss: &str, audience: &str, now: i64) -> Result<String, String> {
        self.sign(&json!({
            "iss": iss, "aud": audience, "iat": now, "exp": now + 300,
            "jti": uuid::Uuid::new_v4().to_string(),
        }))
    }
}

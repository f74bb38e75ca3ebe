//! CDS client authentication (standards.md §1.7): a JWT bearer token on every service and feedback call, checked
//! against the calling client's configured JWKS. The header must name `alg` (ES384 or RS384 only, as allowed for
//! that client) and `kid`; the payload must carry `iss` (allowlisted), `aud` (the exact URL called), `exp`, `iat`
//! (not in the future) and `jti` (never seen before). `alg: none` and the HMAC algorithms are refused by name
//! before any key is looked up, because the spec forbids them and a shared secret would let a client forge
//! another's calls. Every refusal is 401 (§1.8 leaves 401/403 to the service; RFC 6750 `invalid_token`).
//!
//! A client's JWKS is configured statically (offline use) or fetched from its JWKS URL and the `jku` URLs on
//! its allowlist, with a cache ([`crate::jwks`]); a `jku` off the allowlist is refused. The `jti` replay cache is [`crate::replay`]: in process, or in the program database shared by every
//! server on it.

use crate::jwks::RemoteKeys;
use crate::replay::ReplayCache;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;
/// The longest `jti` accepted (a UUID is 36 characters).
pub const MAX_JTI_CHARS: usize = 256;
/// The longest token lifetime accepted (`exp - iat`): it bounds how long a `jti` must be remembered.
pub const MAX_LIFETIME_SECONDS: i64 = 3600;

/// Why a token was refused. The message goes to the client; it names the check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Authorization: a Bearer JWT is required (CDS Hooks 2.0 security)")]
    NoToken,
    #[error("token: not a JWS compact serialization ({0})")]
    Malformed(String),
    #[error("token header alg {0:?} is refused: unsigned tokens are not accepted")]
    AlgNone(String),
    #[error("token header alg {0:?} is refused: symmetric (HMAC) algorithms are not accepted")]
    Hmac(String),
    #[error("token header alg {0:?} is not accepted for this client; expected one of {1}")]
    AlgNotAllowed(String, String),
    #[error("token iss {0:?} is not a configured CDS client")]
    UnknownIssuer(String),
    #[error("token header: kid is required")]
    NoKid,
    #[error("token kid {0:?} is not in the client's JWKS")]
    UnknownKid(String),
    #[error("token signature or claims refused: {0}")]
    Invalid(String),
    #[error("token aud does not name this URL ({0})")]
    WrongAudience(String),
    #[error("token iat is in the future")]
    IssuedInFuture,
    #[error("token lifetime exceeds {MAX_LIFETIME_SECONDS} s")]
    TooLong,
    #[error("token jti is required")]
    NoJti,
    #[error("token jti is longer than {MAX_JTI_CHARS} characters")]
    JtiTooLong,
    #[error("token jti was already used")]
    Replayed,
    #[error("token header jku {0:?} is not on the client's allowlist of JWKS URLs")]
    JkuNotAllowed(String),
    #[error("token header: jku is required for this client (it has no configured JWKS URL)")]
    NoJku,
    #[error("the client's JWKS could not be fetched ({0}); no key is trusted without it")]
    JwksUnavailable(String),
    /// Not the token's fault: the shared replay cache could not be asked, so the token is not accepted.
    #[error("{0}")]
    ReplayUnavailable(#[from] crate::replay::ReplayUnavailable),
}

impl AuthError {
    /// 401 for a refused token; 503 when the replay cache is down (the client may retry with a new token).
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::ReplayUnavailable(_) => 503,
            _ => 401,
        }
    }
}

/// One CDS client as configured: its issuer, its public keys and the algorithms it may sign with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub iss: String,
    /// ES384 and/or RS384.
    pub algorithms: Vec<String>,
    /// The JWKS inline ...
    #[serde(default)]
    pub jwks: Option<JwkSet>,
    /// ... or in a file, relative to the clients file ...
    #[serde(default)]
    pub jwks_file: Option<String>,
    /// ... or fetched from this URL (https; http only on a loopback address), cached ...
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// ... and/or from the JWKS URL a token names in its `jku` header, when it is one of these.
    #[serde(default)]
    pub allowed_jku: Vec<String>,
    /// The FHIR servers (`fhirServer` base URLs, https; http only on a loopback address) missing prefetch may be
    /// read from for this client. Empty or absent: none, so a call without all its prefetch is answered 412; a
    /// server is called only when the configuration names it, never because a request does.
    #[serde(default)]
    pub fhir_servers: Vec<String>,
}

/// The clients file (`--clients FILE`, TOML or JSON): `[[clients]]` entries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsFile {
    pub clients: Vec<ClientConfig>,
}

/// A client ready for checks.
#[derive(Debug, Clone)]
pub struct Client {
    pub iss: String,
    pub algorithms: Vec<Algorithm>,
    /// The static JWKS (empty when the keys are fetched).
    pub jwks: JwkSet,
    /// Where the keys are fetched from, for a client without a static JWKS.
    pub remote: Option<Arc<RemoteKeys>>,
    /// The FHIR servers missing prefetch may be read from for this client (empty: none, nothing is fetched).
    pub fhir_servers: Vec<String>,
}

/// Parse one allowed algorithm; only those the spec recommends are accepted in configuration.
pub fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    match s {
        "ES384" => Ok(Algorithm::ES384),
        "RS384" => Ok(Algorithm::RS384),
        other => Err(format!(
            "algorithm {other:?} is not accepted; expected ES384 or RS384"
        )),
    }
}

fn algorithms_of(iss: &str, algorithms: &[String]) -> Result<Vec<Algorithm>, String> {
    let algorithms = algorithms
        .iter()
        .map(|a| parse_algorithm(a).map_err(|e| format!("client {iss:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if algorithms.is_empty() {
        return Err(format!("client {iss:?}: algorithms is empty"));
    }
    Ok(algorithms)
}

impl Client {
    /// A client whose keys are configured (offline use).
    pub fn new(iss: String, algorithms: &[String], jwks: JwkSet) -> Result<Client, String> {
        let algorithms = algorithms_of(&iss, algorithms)?;
        for k in &jwks.keys {
            if k.common.key_id.is_none() {
                return Err(format!("client {iss:?}: every JWKS key needs a kid"));
            }
            DecodingKey::from_jwk(k)
                .map_err(|e| format!("client {iss:?}: JWKS key refused: {e}"))?;
        }
        Ok(Client {
            iss,
            algorithms,
            jwks,
            remote: None,
            fhir_servers: Vec::new(),
        })
    }

    /// A client whose keys are fetched from `jwks_url` and/or the allowlisted `jku` URLs its tokens name.
    pub fn remote(
        iss: String,
        algorithms: &[String],
        jwks_url: Option<String>,
        allowed_jku: Vec<String>,
    ) -> Result<Client, String> {
        let algorithms = algorithms_of(&iss, algorithms)?;
        let remote = RemoteKeys::new(&iss, jwks_url, allowed_jku)?;
        Ok(Client {
            iss,
            algorithms,
            jwks: JwkSet { keys: Vec::new() },
            remote: Some(Arc::new(remote)),
            fhir_servers: Vec::new(),
        })
    }
}

/// Read the clients file. TOML unless the name ends in `.json`.
pub fn load_clients(path: &Path) -> Result<Vec<Client>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: ClientsFile = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    file.clients
        .into_iter()
        .map(|c| {
            // Kept in the form the request's `fhirServer` is compared in (parsed, no trailing slash), so that
            // `HTTPS://EHR.example.org:443/fhir/` in the file matches `https://ehr.example.org/fhir`.
            let mut fhir_servers = Vec::with_capacity(c.fhir_servers.len());
            for u in &c.fhir_servers {
                match reqwest::Url::parse(u.trim_end_matches('/')) {
                    Ok(url) if crate::prefetch::may_carry_secrets(&url) => {
                        fhir_servers.push(url.as_str().trim_end_matches('/').to_string());
                    }
                    _ => {
                        return Err(format!(
                            "client {:?}: fhir_servers: {u:?} is not accepted; expected an https:// URL (http:// only on a loopback address)",
                            c.iss
                        ));
                    }
                }
            }
            client_of(c, dir).map(|client| Client {
                fhir_servers,
                ..client
            })
        })
        .collect()
}

/// A client from its configuration: static keys (inline or in a file next to the clients file) or fetched ones.
fn client_of(c: ClientConfig, dir: &Path) -> Result<Client, String> {
    let remote = c.jwks_url.is_some() || !c.allowed_jku.is_empty();
    let jwks = match (c.jwks, c.jwks_file) {
        (None, None) if remote => {
            return Client::remote(c.iss, &c.algorithms, c.jwks_url, c.allowed_jku);
        }
        (Some(j), None) if !remote => j,
        (None, Some(f)) if !remote => {
            let p = dir.join(f);
            let t = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&t).map_err(|e| format!("{}: {e}", p.display()))?
        }
        _ => {
            return Err(format!(
                "client {:?}: give exactly one of jwks, jwks_file, or jwks_url and/or allowed_jku",
                c.iss
            ));
        }
    };
    Client::new(c.iss, &c.algorithms, jwks)
}

#[derive(Debug, Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    jku: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    exp: i64,
    iat: Option<i64>,
    jti: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IssOnly {
    iss: Option<String>,
}

fn segment<T: for<'de> Deserialize<'de>>(part: Option<&str>, what: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.ok_or_else(|| AuthError::Malformed(format!("no {what}")))?)
        .map_err(|_| AuthError::Malformed(format!("{what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed(format!("{what} is not JSON")))
}

/// Check a bearer token for a call to `audience` at Unix time `now`. Returns the client's `iss`.
pub async fn verify(
    authorization: Option<&str>,
    audience: &str,
    clients: &[Client],
    replay: &dyn ReplayCache,
    now: i64,
) -> Result<String, AuthError> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::NoToken)?;
    let mut parts = token.split('.');
    let header: RawHeader = segment(parts.next(), "header")?;
    let unverified: IssOnly = segment(parts.next(), "payload")?;
    // The algorithm is judged from the raw header, before any library decides what it means.
    let alg = header.alg.unwrap_or_default();
    if alg.eq_ignore_ascii_case("none") || alg.is_empty() {
        return Err(AuthError::AlgNone(alg));
    }
    if alg.to_ascii_uppercase().starts_with("HS") {
        return Err(AuthError::Hmac(alg));
    }
    // iss is read unverified only to choose whose keys to verify with.
    let iss = unverified.iss.unwrap_or_default();
    let client = clients
        .iter()
        .find(|c| c.iss == iss)
        .ok_or_else(|| AuthError::UnknownIssuer(iss.clone()))?;
    let algorithm = client
        .algorithms
        .iter()
        .copied()
        .find(|a| format!("{a:?}") == alg)
        .ok_or_else(|| {
            let names: Vec<String> = client.algorithms.iter().map(|a| format!("{a:?}")).collect();
            AuthError::AlgNotAllowed(alg.clone(), names.join(", "))
        })?;
    let kid = header.kid.ok_or(AuthError::NoKid)?;
    // A static client's keys are its configuration: a jku in its tokens is not followed.
    let jwk = match &client.remote {
        None => client
            .jwks
            .find(&kid)
            .cloned()
            .ok_or_else(|| AuthError::UnknownKid(kid.clone()))?,
        Some(remote) => remote.key(header.jku.as_deref(), &kid).await?,
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| AuthError::Invalid(e.to_string()))?;
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS as u64;
    validation.set_issuer(&[&client.iss]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                AuthError::WrongAudience(format!("expected {audience}"))
            }
            _ => AuthError::Invalid(e.to_string()),
        })?;
    let claims = data.claims;
    let iat = claims
        .iat
        .ok_or_else(|| AuthError::Invalid("iat is required".into()))?;
    if iat > now + LEEWAY_SECONDS {
        return Err(AuthError::IssuedInFuture);
    }
    if claims.exp - iat > MAX_LIFETIME_SECONDS {
        return Err(AuthError::TooLong);
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty())
        .ok_or(AuthError::NoJti)?;
    // Every jti is stored until its token expires: a nonce needs no more than a UUID's worth of characters.
    if jti.chars().count() > MAX_JTI_CHARS {
        return Err(AuthError::JtiTooLong);
    }
    // Recorded only after the signature holds, so nobody can burn another client's jtis.
    if !replay.first_use(&claims.iss, &jti, claims.exp, now).await? {
        return Err(AuthError::Replayed);
    }
    Ok(claims.iss)
}

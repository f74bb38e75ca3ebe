//! A CDS client's public keys fetched from a JWKS URL (standards.md §1.7: the JWT header's `jku`, which the
//! service SHOULD allowlist; the 3.0 ballot recommends a JWKS URL with key rotation). The JWKS is cached for
//! [`JWKS_TTL`]; a `kid` not in the cached set triggers one refetch (key rotation), at most once per
//! [`MIN_REFETCH`] per URL, so that tokens with made-up kids cannot make the service hammer the client's
//! server. A `jku` not on the client's allowlist is refused before anything is fetched. When the keys cannot be
//! fetched the token is refused: nothing is trusted that was not fetched within the TTL; after a failed fetch the
//! next is not tried for [`MIN_REFETCH`] either, so that a client's unreachable server does not cost every call
//! a timeout.

use crate::auth::AuthError;
use crate::prefetch::may_carry_secrets;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use reqwest::Url;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a fetched JWKS is trusted.
pub const JWKS_TTL: Duration = Duration::from_secs(300);
/// The shortest time between two fetches of one JWKS for an unknown `kid`.
pub const MIN_REFETCH: Duration = Duration::from_secs(30);
/// The longest wait for the client's JWKS server.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS larger than this is refused: a handful of keys is a few kilobytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Debug, Default)]
struct Cached {
    keys: Option<(JwkSet, Instant)>,
    /// The last fetch made for an unknown `kid` while the cached keys were fresh.
    last_refetch: Option<Instant>,
    /// The last fetch that failed: the next is not tried before [`MIN_REFETCH`] has passed.
    last_failure: Option<Instant>,
}

/// Where a client's keys come from, and what was fetched.
#[derive(Debug)]
pub struct RemoteKeys {
    /// Used when a token has no `jku`; also allowed as a `jku`.
    jwks_url: Option<String>,
    /// Further JWKS URLs a token's `jku` may name.
    allowed_jku: Vec<String>,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
}

fn check_url(iss: &str, url: &str) -> Result<(), String> {
    match Url::parse(url) {
        Ok(u) if may_carry_secrets(&u) => Ok(()),
        _ => Err(format!(
            "client {iss:?}: JWKS URL {url:?} is not accepted; expected an https:// URL (http:// only on a loopback address)"
        )),
    }
}

impl RemoteKeys {
    pub fn new(
        iss: &str,
        jwks_url: Option<String>,
        allowed_jku: Vec<String>,
    ) -> Result<RemoteKeys, String> {
        if jwks_url.is_none() && allowed_jku.is_empty() {
            return Err(format!("client {iss:?}: give jwks_url or allowed_jku"));
        }
        for u in jwks_url.iter().chain(&allowed_jku) {
            check_url(iss, u)?;
        }
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("client {iss:?}: HTTP client for its JWKS: {e}"))?;
        Ok(RemoteKeys {
            jwks_url,
            allowed_jku,
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The JWKS URL for a token: its `jku` when allowlisted, else the configured URL.
    fn url_for(&self, jku: Option<&str>) -> Result<&str, AuthError> {
        match jku {
            Some(j) => self
                .jwks_url
                .iter()
                .chain(&self.allowed_jku)
                .find(|u| u.as_str() == j)
                .map(String::as_str)
                .ok_or_else(|| AuthError::JkuNotAllowed(j.to_string())),
            None => self.jwks_url.as_deref().ok_or(AuthError::NoJku),
        }
    }

    /// The key `kid` for a token with this `jku` header.
    pub async fn key(&self, jku: Option<&str>, kid: &str) -> Result<Jwk, AuthError> {
        let url = self.url_for(jku)?;
        let (fresh, may_fetch) = {
            // A poisoned lock only means a request panicked mid-update; the map is still usable.
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            let entry = cache.entry(url.to_string()).or_default();
            let fresh = entry
                .keys
                .as_ref()
                .filter(|(_, at)| at.elapsed() < JWKS_TTL)
                .map(|(keys, _)| keys.clone());
            if let Some(k) = fresh.as_ref().and_then(|keys| keys.find(kid)) {
                return Ok(k.clone());
            }
            if fresh.is_none()
                && entry
                    .last_failure
                    .is_some_and(|t| t.elapsed() < MIN_REFETCH)
            {
                return Err(AuthError::JwksUnavailable(format!(
                    "the last fetch failed; it is tried again at most every {} s",
                    MIN_REFETCH.as_secs()
                )));
            }
            let may_fetch = fresh.is_none()
                || entry
                    .last_refetch
                    .is_none_or(|t| t.elapsed() >= MIN_REFETCH);
            if fresh.is_some() && may_fetch {
                entry.last_refetch = Some(Instant::now());
            }
            (fresh, may_fetch)
        };
        if !may_fetch {
            return Err(AuthError::UnknownKid(kid.to_string()));
        }
        let fetched = self.fetch(url).await;
        if fetched.is_err() {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.entry(url.to_string()).or_default().last_failure = Some(Instant::now());
        }
        let keys = match fetched {
            Ok(keys) => keys,
            // A failed refetch for a new kid: the cached keys stay, this kid stays unknown.
            Err(_) if fresh.is_some() => return Err(AuthError::UnknownKid(kid.to_string())),
            Err(why) => return Err(AuthError::JwksUnavailable(why)),
        };
        let found = keys.find(kid).cloned();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let entry = cache.entry(url.to_string()).or_default();
        entry.keys = Some((keys, Instant::now()));
        entry.last_failure = None;
        found.ok_or_else(|| AuthError::UnknownKid(kid.to_string()))
    }

    /// GET the JWKS; keys without a `kid` or that cannot be used are left out.
    async fn fetch(&self, url: &str) -> Result<JwkSet, String> {
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("{url} did not answer in time")
                } else {
                    format!("{url} could not be reached")
                }
            })?;
        if !response.status().is_success() {
            return Err(format!(
                "{url} answered HTTP {}",
                response.status().as_u16()
            ));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|_| format!("{url}: the answer was cut off"))?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(format!(
                "{url}: the JWKS is larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        let mut set: JwkSet =
            serde_json::from_slice(&bytes).map_err(|e| format!("{url}: not a JWKS ({e})"))?;
        set.keys
            .retain(|k| k.common.key_id.is_some() && DecodingKey::from_jwk(k).is_ok());
        Ok(set)
    }
}

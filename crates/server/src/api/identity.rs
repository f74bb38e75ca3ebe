//! Who is calling: a browser session (an HttpOnly cookie whose secret's hash is stored; state-changing requests
//! also send the session's CSRF token) or an API token (`Authorization: Bearer lgt_{id}_{secret}`, stored hashed,
//! scoped and expiring). Passwords are Argon2id, hashed and verified off the async threads. Everything is read
//! from the database on every request, so every server on it answers alike.

use super::ApiState;
use super::problem::ApiError;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::http::{HeaderMap, header};
use lenaguard_storage::accounts::{Account, AccountRole, ApiToken, Session, secret_hash};
use std::time::{SystemTime, UNIX_EPOCH};

/// The session cookie's name. With `Secure` the `__Host-` prefix also pins it to this host and path `/`.
pub const COOKIE: &str = "lenaguard_session";
pub const SECURE_COOKIE: &str = "__Host-lenaguard_session";
/// The header a session request that changes state carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The scopes an API token may carry: `read` for GET routes, `write` for the others.
pub const SCOPES: [&str; 2] = ["read", "write"];

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub login: String,
    pub role: AccountRole,
    pub subject: Option<String>,
    pub organisation: Option<String>,
    pub via: Via,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session, with the CSRF token its state-changing requests must send.
    Session { csrf_token: String },
    /// An API token and its scopes.
    Token { id: String, scopes: Vec<String> },
}

impl Caller {
    fn of(account: Account, via: Via) -> Caller {
        Caller {
            login: account.login,
            role: account.role,
            subject: account.subject,
            organisation: account.organisation,
            via,
        }
    }

    /// The registered user or patient the caller acts as.
    pub fn subject(&self) -> &str {
        self.subject.as_deref().unwrap_or("")
    }

    /// The workflow actor of a command this caller issues: the registered user, `admin`, or `patient:<id>` (which the
    /// workflow accepts only for the patient's own survey).
    pub fn actor(&self) -> String {
        match self.role {
            AccountRole::Admin => lenaguard_storage::command::ADMIN.to_string(),
            AccountRole::Patient => lenaguard_storage::workflow::patient_actor(self.subject()),
            _ => self.subject().to_string(),
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random secret: 32 bytes from the system's CSPRNG, base64url.
pub fn random_secret() -> Result<String, ApiError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::Internal("no randomness".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A random public id (16 hex digits).
pub fn random_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::Internal("no randomness".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| ApiError::Internal("no randomness".into()))?;
        Argon2::default()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// A PHC string that never matches: verified against when the login is unknown, so that an unknown login takes
/// as long to refuse as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3H1bsFOzbDeafYGS8FnmBw3Zq3WJ5tq3Dxg0HnrNh0c";

/// Whether `password` matches `hash` (a PHC string), on a blocking thread. `None` verifies against a hash that
/// never matches.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let text = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let Ok(parsed) = PasswordHash::new(&text) else {
            return Ok(false);
        };
        let ok = PasswordVerifier::<PasswordHash>::verify_password(
            &Argon2::default(),
            password.as_bytes(),
            &parsed,
        )
        .is_ok();
        Ok(ok && known)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Constant-time comparison of two secrets' texts.
pub fn same_secret(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The session cookie's secret, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, |k| k == COOKIE || k == SECURE_COOKIE)
}

/// The value of the first cookie whose name `wanted` accepts.
pub fn cookie(headers: &HeaderMap, wanted: impl Fn(&str) -> bool) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| wanted(k))
        .map(|(_, v)| v)
}

/// The caller of a request: the bearer token if there is an `Authorization` header, else the session cookie.
pub async fn authenticate(state: &ApiState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let text = auth.to_str().unwrap_or("");
        let Some(token) = text.strip_prefix("Bearer ") else {
            return Err(ApiError::Unauthenticated(
                "Authorization: expected `Bearer lgt_...` (an API token)".into(),
            ));
        };
        return token_caller(state, token.trim()).await;
    }
    let Some(secret) = session_cookie(headers) else {
        return Err(ApiError::Unauthenticated(
            "log in (POST /api/v1/session) or send an API token as `Authorization: Bearer lgt_...`"
                .into(),
        ));
    };
    let now = now_ms();
    match state
        .store
        .session(&secret_hash(secret), now, state.settings.session_idle_ms)
        .await?
    {
        Some((session, account)) => Ok(Caller::of(
            account,
            Via::Session {
                csrf_token: session.csrf_token,
            },
        )),
        None => Err(ApiError::Unauthenticated(
            "the session ended (logged out, expired or idle too long); log in again".into(),
        )),
    }
}

/// The parts of an API token: `lgt_{id}_{secret}`.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("lgt_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

async fn token_caller(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
    let refused = || {
        ApiError::Unauthenticated(
            "the API token is unknown, revoked or expired, or its account is disabled".into(),
        )
    };
    let (id, secret) = split_token(token).ok_or_else(refused)?;
    let Some((t, account)) = state.store.api_token(id).await? else {
        return Err(refused());
    };
    if t.revoked
        || t.expires_at_ms <= now_ms()
        || account.disabled
        || !same_secret(&t.secret_hash, &secret_hash(secret))
    {
        return Err(refused());
    }
    Ok(Caller::of(
        account,
        Via::Token {
            id: t.id,
            scopes: t.scopes,
        },
    ))
}

/// A new session for `account`: the cookie's secret (given to the browser once) and the stored session.
pub fn new_session(state: &ApiState, account: &Account) -> Result<(String, Session), ApiError> {
    let secret = random_secret()?;
    let now = now_ms();
    let session = Session {
        id_hash: secret_hash(&secret),
        login: account.login.clone(),
        csrf_token: random_secret()?,
        created_at_ms: now,
        expires_at_ms: now + state.settings.session_max_ms,
        last_seen_ms: now,
    };
    Ok((secret, session))
}

/// The `Set-Cookie` value that gives the browser its session (or, with `None`, removes it).
pub fn set_cookie(state: &ApiState, secret: Option<&str>) -> String {
    let secure = state.settings.secure_cookies;
    let name = if secure { SECURE_COOKIE } else { COOKIE };
    let attrs = format!(
        "; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    match secret {
        Some(s) => format!(
            "{name}={s}{attrs}; Max-Age={}",
            state.settings.session_max_ms / 1000
        ),
        None => format!("{name}={attrs}; Max-Age=0"),
    }
}

/// A new API token acting as `login`: the token text (shown once) and the stored record.
pub fn new_token(
    login: &str,
    name: &str,
    scopes: Vec<String>,
    expires_at_ms: i64,
) -> Result<(String, ApiToken), ApiError> {
    let id = random_id()?;
    let secret = random_secret()?;
    let text = format!("lgt_{id}_{secret}");
    Ok((
        text,
        ApiToken {
            id,
            secret_hash: secret_hash(&secret),
            login: login.to_string(),
            name: name.to_string(),
            scopes,
            created_at_ms: now_ms(),
            expires_at_ms,
            revoked: false,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_into_id_and_secret() {
        assert_eq!(split_token("lgt_ab12_s3cr3t"), Some(("ab12", "s3cr3t")));
        assert_eq!(split_token("lgt_ab12_"), None);
        assert_eq!(split_token("ab12_s3cr3t"), None);
        assert_eq!(split_token("lgt__x"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; lenaguard_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&h), Some("xyz"));
    }

    #[tokio::test]
    async fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong".into(), Some(h)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}

//! Logging in and out. A login is throttled per account in the database (so every server counts the same
//! failures): after a few failures in a row each further one locks the account's login for twice as long.

use super::identity::{self, Caller, Via};
use super::problem::ApiError;
use super::{ApiJson, ApiState};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lenaguard_storage::accounts::{Account, AccountRole, Session, secret_hash};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// The longest password accepted (hashing cost must not be up to the caller).
pub const MAX_PASSWORD: usize = 256;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schemars(length(min = 1, max = 64))]
    pub login: String,
    #[schemars(length(min = 1, max = 256))]
    pub password: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionInfo {
    pub login: String,
    pub role: AccountRole,
    /// The registered user or the patient the account acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// `session` or `token`.
    pub via: String,
    /// A session's CSRF token: send it as `X-CSRF-Token` with every request that changes state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// When the session ends at the latest (Unix milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schemars(length(min = 1, max = 256))]
    pub current_password: String,
    #[schemars(length(min = 12, max = 256))]
    pub new_password: String,
}

/// A new password's length, or the error naming the field.
pub fn check_password(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) || password.len() > 4 * MAX_PASSWORD {
        return Err(ApiError::field(
            field,
            format!("({n} characters)"),
            format!("a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

fn throttle_key(login: &str) -> String {
    format!("login:{login}")
}

/// Check a login and password against the account and its throttle and open a session: the cookie's secret
/// (given to the browser once), the stored session and the account. Shared by the API's login and the web
/// app's login form, so both count the same failures and lock the same accounts.
pub async fn open_session(
    state: &ApiState,
    login: &str,
    password: String,
) -> Result<(String, Session, Account), ApiError> {
    if login.is_empty() || login.len() > 64 {
        return Err(ApiError::field(
            "login",
            login,
            "an account's login (1 to 64 characters)",
        ));
    }
    if password.is_empty() || password.chars().count() > MAX_PASSWORD {
        return Err(ApiError::field(
            "password",
            "(not shown)",
            format!("1 to {MAX_PASSWORD} characters"),
        ));
    }
    let key = throttle_key(login);
    let now = identity::now_ms();
    let throttle = state.store.throttle(&key).await?;
    if let Some(until) = throttle.locked_until_ms.filter(|u| *u > now) {
        return Err(ApiError::Throttled {
            retry_after_s: ((until - now) as u64).div_ceil(1000),
        });
    }
    let account = state.store.account(login).await?;
    let hash = account
        .as_ref()
        .filter(|a| !a.disabled)
        .and_then(|a| a.password_hash.clone());
    let ok = identity::verify_password(password, hash).await?;
    let Some(account) = account.filter(|_| ok) else {
        state
            .store
            .login_failed(&key, now, &state.settings.backoff)
            .await?;
        return Err(ApiError::Unauthenticated(
            "the login or the password is wrong, or the account is disabled".into(),
        ));
    };
    state.store.login_succeeded(&key).await?;
    let (secret, session) = identity::new_session(state, &account)?;
    state.store.create_session(&session).await?;
    Ok((secret, session, account))
}

/// Open a session for an account whose user was authenticated by a trusted identity provider (an EHR's OpenID
/// Connect sign-in): the cookie's secret and the stored session. Written where a password login writes (the
/// throttle's success, the session); a disabled account gets none.
pub async fn open_sso_session(
    state: &ApiState,
    account: &Account,
) -> Result<(String, Session), ApiError> {
    if account.disabled {
        return Err(ApiError::Unauthenticated("the account is disabled".into()));
    }
    state
        .store
        .login_succeeded(&throttle_key(&account.login))
        .await?;
    let (secret, session) = identity::new_session(state, account)?;
    state.store.create_session(&session).await?;
    Ok((secret, session))
}

pub async fn login(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let (secret, session, account) = open_session(&state, &body.login, body.password).await?;
    let info = SessionInfo {
        login: account.login,
        role: account.role,
        subject: account.subject,
        organisation: account.organisation,
        via: "session".into(),
        csrf_token: Some(session.csrf_token),
        expires_at_ms: Some(session.expires_at_ms),
    };
    let mut res = Json(info).into_response();
    set_cookie(&mut res, &identity::set_cookie(&state, Some(&secret)))?;
    Ok(res)
}

/// Give the response this `Set-Cookie` header, and keep it out of every cache.
pub fn set_cookie(res: &mut Response, value: &str) -> Result<(), ApiError> {
    let v = HeaderValue::from_str(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    res.headers_mut().insert(header::SET_COOKIE, v);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(())
}

pub async fn read(Extension(c): Extension<Caller>) -> Json<SessionInfo> {
    let (via, csrf) = match c.via {
        Via::Session { csrf_token } => ("session", Some(csrf_token)),
        Via::Token { .. } => ("token", None),
    };
    Json(SessionInfo {
        login: c.login,
        role: c.role,
        subject: c.subject,
        organisation: c.organisation,
        via: via.into(),
        csrf_token: csrf,
        expires_at_ms: None,
    })
}

pub async fn logout(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = identity::session_cookie(&headers) {
        state.store.delete_session(&secret_hash(secret)).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut res, &identity::set_cookie(&state, None))?;
    Ok(res)
}

pub async fn change_password(
    State(state): State<ApiState>,
    Extension(c): Extension<Caller>,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    if !matches!(c.via, Via::Session { .. }) {
        return Err(ApiError::field(
            "Authorization",
            "(an API token)",
            "a session: a password is changed after logging in, not with an API token",
        ));
    }
    check_password("new_password", &body.new_password)?;
    let account = state
        .store
        .account(&c.login)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the account no longer exists".into()))?;
    if !identity::verify_password(body.current_password, account.password_hash).await? {
        return Err(ApiError::field(
            "current_password",
            "(not shown)",
            "the account's current password",
        ));
    }
    let hash = identity::hash_password(body.new_password).await?;
    state.store.set_password(&c.login, &hash).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut res, &identity::set_cookie(&state, None))?;
    Ok(res)
}

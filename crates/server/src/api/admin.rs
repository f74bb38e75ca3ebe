//! Accounts and API tokens (admin only). An account acts as a registered program user (prescriber, pharmacist,
//! program staff: the role must be the user's registry role), as a patient, or as neither (auditor, admin).

use super::identity;
use super::problem::ApiError;
use super::session::check_password;
use super::{ApiJson, ApiQuery, ApiState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use lenaguard_storage::accounts::{Account, AccountRole, ApiToken, SubjectKind};
use lenaguard_storage::command::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// Letters, digits and `._@-`, 1 to 64 characters.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9._@-]+$"))]
    pub login: String,
    pub role: AccountRole,
    /// The registered user id (prescriber, pharmacist, program staff) or the patient id (patient); absent for
    /// auditors and admins.
    #[serde(default)]
    pub subject: Option<String>,
    /// Absent: the account only uses API tokens.
    #[serde(default)]
    #[schemars(length(min = 12, max = 256))]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountInfo {
    pub login: String,
    pub role: AccountRole,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub disabled: bool,
    /// Whether the account can log in with a password.
    pub password_login: bool,
    pub created_at_ms: i64,
}

impl From<Account> for AccountInfo {
    fn from(a: Account) -> Self {
        AccountInfo {
            password_login: a.password_hash.is_some(),
            login: a.login,
            role: a.role,
            subject: a.subject,
            organisation: a.organisation,
            disabled: a.disabled,
            created_at_ms: a.created_at_ms,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountStatus {
    pub disabled: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    #[schemars(length(min = 12, max = 256))]
    pub password: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The account the token acts as.
    pub login: String,
    /// What the token is for (shown in listings).
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// `read` (GET routes) and/or `write` (the others).
    pub scopes: Vec<String>,
    /// Days until the token expires (1 to the server's maximum, 365 by default).
    #[schemars(range(min = 1, max = 3650))]
    pub expires_in_days: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct IssuedToken {
    pub id: String,
    /// The token, shown only now: send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub login: String,
    pub scopes: Vec<String>,
    pub expires_at_ms: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenInfo {
    pub id: String,
    pub login: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked: bool,
}

impl From<ApiToken> for TokenInfo {
    fn from(t: ApiToken) -> Self {
        TokenInfo {
            id: t.id,
            login: t.login,
            name: t.name,
            scopes: t.scopes,
            created_at_ms: t.created_at_ms,
            expires_at_ms: t.expires_at_ms,
            revoked: t.revoked,
        }
    }
}

fn valid_login(login: &str) -> bool {
    (1..=64).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
}

/// The account a new account would be, after checking its subject against the registry. Also used by the
/// command line (`lenaguard accounts add`).
pub async fn checked_account(
    state: &lenaguard_storage::Workflow,
    login: &str,
    role: AccountRole,
    subject: Option<String>,
    password_hash: Option<String>,
) -> Result<Account, ApiError> {
    if !valid_login(login) {
        return Err(ApiError::field(
            "login",
            login,
            "1 to 64 letters, digits or ._@-",
        ));
    }
    if role == AccountRole::EhrClient {
        return Err(ApiError::field(
            "role",
            role.as_str(),
            "prescriber, pharmacist, patient, program_staff, auditor or admin (EHR clients are configured in the clients file)",
        ));
    }
    let organisation = match (role.subject_kind(), subject.as_deref()) {
        (SubjectKind::None, None) => None,
        (SubjectKind::None, Some(s)) => {
            return Err(ApiError::field(
                "subject",
                s,
                "no subject: auditors and admins act as no one",
            ));
        }
        (_, None) => {
            return Err(ApiError::field(
                "subject",
                "",
                "the registered user id (prescriber, pharmacist, program staff) or the patient id (patient)",
            ));
        }
        (SubjectKind::Patient, Some(p)) => {
            if state.store().patient_relations(p).await?.is_none() {
                return Err(ApiError::field("subject", p, "an enrolled patient's id"));
            }
            None
        }
        (SubjectKind::User, Some(u)) => {
            let mut tx = state.store().begin().await?;
            let user = tx.user(u).await?;
            drop(tx);
            let expected = match role {
                AccountRole::Prescriber => Role::Prescriber,
                AccountRole::Pharmacist => Role::Pharmacist,
                _ => Role::ProgramStaff,
            };
            match user {
                Some(user) if user.role == expected => Some(user.organisation),
                Some(_) | None => {
                    return Err(ApiError::field(
                        "subject",
                        u,
                        format!("a registered user whose role is {}", role.as_str()),
                    ));
                }
            }
        }
    };
    Ok(Account {
        login: login.to_string(),
        role,
        subject,
        organisation,
        password_hash,
        disabled: false,
        created_at_ms: identity::now_ms(),
    })
}

pub async fn create_account(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<AccountInfo>), ApiError> {
    let hash = match body.password {
        Some(p) => {
            check_password("password", &p)?;
            Some(identity::hash_password(p).await?)
        }
        None => None,
    };
    let account =
        checked_account(&state.workflow, &body.login, body.role, body.subject, hash).await?;
    if !state.store.create_account(&account).await? {
        return Err(ApiError::Conflict(format!(
            "the login {:?} is taken",
            account.login
        )));
    }
    Ok((StatusCode::CREATED, Json(account.into())))
}

pub async fn list_accounts(
    State(state): State<ApiState>,
) -> Result<Json<Vec<AccountInfo>>, ApiError> {
    Ok(Json(
        state
            .store
            .accounts()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

async fn existing(state: &ApiState, login: &str) -> Result<Account, ApiError> {
    state
        .store
        .account(login)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "account",
            id: login.into(),
        })
}

pub async fn set_status(
    State(state): State<ApiState>,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<AccountStatus>,
) -> Result<Json<AccountInfo>, ApiError> {
    existing(&state, &login).await?;
    state.store.set_disabled(&login, body.disabled).await?;
    Ok(Json(existing(&state, &login).await?.into()))
}

pub async fn set_password(
    State(state): State<ApiState>,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<StatusCode, ApiError> {
    check_password("password", &body.password)?;
    existing(&state, &login).await?;
    let hash = identity::hash_password(body.password).await?;
    state.store.set_password(&login, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn create_token(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let account = state
        .store
        .account(&body.login)
        .await?
        .ok_or_else(|| ApiError::field("login", &body.login, "an existing account's login"))?;
    let mut scopes = body.scopes.clone();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty()
        || scopes
            .iter()
            .any(|s| !identity::SCOPES.contains(&s.as_str()))
    {
        return Err(ApiError::field(
            "scopes",
            format!("{:?}", body.scopes),
            "one or both of \"read\" and \"write\"",
        ));
    }
    let max = state.settings.token_max_days;
    if body.expires_in_days == 0 || body.expires_in_days > max {
        return Err(ApiError::field(
            "expires_in_days",
            body.expires_in_days,
            format!("1 to {max} days"),
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::field("name", name, "1 to 100 characters"));
    }
    let expires = identity::now_ms() + i64::from(body.expires_in_days) * 86_400_000;
    let (text, token) = identity::new_token(&account.login, name, scopes, expires)?;
    if !state.store.create_api_token(&token).await? {
        return Err(ApiError::Internal("a random token id repeated".into()));
    }
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            id: token.id,
            token: text,
            login: token.login,
            scopes: token.scopes,
            expires_at_ms: token.expires_at_ms,
        }),
    ))
}

pub async fn list_tokens(
    State(state): State<ApiState>,
    q: ApiQuery,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    q.only(&["login"])?;
    let login = q
        .text("login")
        .ok_or_else(|| ApiError::field("login", "", "the account whose tokens to list"))?;
    Ok(Json(
        state
            .store
            .api_tokens_of(login)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

pub async fn revoke_token(
    State(state): State<ApiState>,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_api_token(&token).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            what: "API token",
            id: token,
        })
    }
}

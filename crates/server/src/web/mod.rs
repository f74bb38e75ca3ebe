//! The web app (`/app/...`): server-rendered pages over the same store, engine, sessions and access rules as the
//! REST API, working without JavaScript. A page that shows patient data checks the caller's role and relation to
//! the patient (deny unless allowed, as [`crate::api::policy`]) and writes the access to the access log before it
//! is sent. Forms that change state carry the session's CSRF token and, for workflow commands, an idempotency key
//! made when the form was rendered, so a form sent twice runs its command once.

mod html;
mod patient;
mod pharmacy;
mod prescriber;

use crate::api::identity::{self, Caller, Via};
use crate::api::policy;
use crate::api::problem::ApiError;
use crate::api::routes::Object;
use crate::api::{ApiState, session};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use html::{Viewer, e, hidden, page};
use lenaguard_storage::accounts::{AccountRole, secret_hash};
use std::collections::BTreeMap;

/// The web routes, with their state.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app/") }))
        .route("/app", get(|| async { Redirect::to("/app/") }))
        .route("/app/", get(home))
        .route(html::STYLE_PATH, get(style))
        .route("/app/login", get(login_form).post(login))
        .route("/app/logout", post(logout))
        .route("/app/pharmacy", get(pharmacy::list))
        .route("/app/pharmacy/{authorization}", get(pharmacy::check))
        .route(
            "/app/pharmacy/{authorization}/confirmation",
            post(pharmacy::confirm),
        )
        .route(
            "/app/pharmacy/{authorization}/dispense",
            post(pharmacy::dispense),
        )
        .route("/app/patients", get(prescriber::list))
        .route("/app/patients/{patient}", get(prescriber::patient))
        .route("/app/me", get(patient::me))
        .route("/app/me/survey", post(patient::survey))
        .with_state(state)
}

/// Why a page is not shown.
#[derive(Debug)]
pub enum WebError {
    /// No session, or it ended: to the login page, coming back to `next` afterwards.
    Login { next: String },
    /// A page saying what went wrong.
    Page {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
}

impl WebError {
    fn forbidden(message: impl Into<String>) -> WebError {
        WebError::Page {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: message.into(),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> WebError {
        let status = e.status();
        let title = match status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Cannot be done",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            StatusCode::BAD_REQUEST => "Not accepted",
            _ => "Something went wrong",
        };
        let message = if status.is_server_error() {
            "the server could not answer; try again in a moment".to_string()
        } else {
            e.detail()
        };
        if let ApiError::Internal(cause) = &e {
            tracing::error!(cause = %cause, "web page failed");
        }
        WebError::Page {
            status,
            title,
            message,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Login { next } => {
                Redirect::to(&format!("/app/login?next={}", url_encode(&next))).into_response()
            }
            WebError::Page {
                status,
                title,
                message,
            } => {
                let body = format!(
                    r#"<p class="verdict no" role="alert">{}</p><p><a href="/app/">Back to the start page</a></p>"#,
                    e(message)
                );
                html_response(status, page(title, None, &body))
            }
        }
    }
}

pub type WebResult = Result<Response, WebError>;

/// An HTML answer: never cached (it may show patient data), and allowed to load only this site's stylesheet.
pub fn html_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after logging in: a page of the app, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/app/")
                && !n.contains("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/app/".to_string(),
    }
}

/// The signed-in caller of a page and the session's CSRF token. Only a browser session opens pages; without
/// one (or after it ended) the caller is sent to the login page and brought back to `here` afterwards.
pub async fn signed_in(
    state: &ApiState,
    headers: &HeaderMap,
    here: &str,
) -> Result<(Caller, String), WebError> {
    if headers.contains_key(header::AUTHORIZATION) {
        return Err(WebError::forbidden(
            "the web app is used with a login session, not an API token",
        ));
    }
    match identity::authenticate(state, headers).await {
        Ok(caller) => match caller.via.clone() {
            Via::Session { csrf_token } => Ok((caller, csrf_token)),
            Via::Token { .. } => Err(WebError::Login { next: here.into() }),
        },
        Err(ApiError::Unauthenticated(_)) => Err(WebError::Login { next: here.into() }),
        Err(e) => Err(e.into()),
    }
}

/// A submitted form: its fields, percent-decoded (a field sent more than once keeps its last value).
#[derive(Debug, Default)]
pub struct FormData(pub BTreeMap<String, String>);

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData(
            crate::api::form_pairs(&String::from_utf8_lossy(body))
                .into_iter()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The caller of a form that changes state, with its CSRF token checked. A session that ended sends the caller
/// to log in again and come back to `back` (the page the form was on).
pub async fn form_caller(
    state: &ApiState,
    headers: &HeaderMap,
    form: &FormData,
    back: &str,
) -> Result<Caller, WebError> {
    let (caller, csrf) = signed_in(state, headers, back).await?;
    if !identity::same_secret(form.get("csrf").unwrap_or(""), &csrf) {
        return Err(WebError::forbidden(
            "the form did not carry this session's security token (it is stale or came from another site); \
             open the page again and resubmit",
        ));
    }
    Ok(caller)
}

/// Whether the caller may see this page about `object` `id`: the role, then the relation (as the API's guard).
/// A refusal is written to the access log; an allowed access is written by [`seen`] before the page is sent.
pub async fn admit(
    state: &ApiState,
    caller: &Caller,
    roles: &[AccountRole],
    action: &str,
    object: Object,
    id: &str,
) -> Result<Option<String>, WebError> {
    let decision = if roles.contains(&caller.role) {
        policy::related(state, caller, object, id).await
    } else {
        Err((
            (object == Object::Patient).then(|| id.to_string()),
            ApiError::Forbidden(format!(
                "this page is not for the role {}",
                html::role_name(caller.role)
            )),
        ))
    };
    match decision {
        Ok(patient) => Ok(patient),
        Err((patient, err)) => {
            state
                .record_access(caller, action, patient, err.status().as_u16())
                .await?;
            Err(err.into())
        }
    }
}

/// Refuse a page for a role it is not for.
pub fn only(caller: &Caller, roles: &[AccountRole]) -> Result<(), WebError> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(WebError::forbidden(format!(
            "this page is not for the role {}",
            html::role_name(caller.role)
        )))
    }
}

/// Write an allowed access to patient data to the access log; the page is sent only after this succeeded.
pub async fn seen(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    patient: Option<String>,
) -> Result<(), WebError> {
    Ok(state.record_access(caller, action, patient, 200).await?)
}

/// A fresh idempotency key for a form being rendered.
pub fn form_key() -> Result<String, WebError> {
    Ok(format!("web-{}", identity::random_id()?))
}

async fn style() -> Response {
    let mut res = html::STYLE.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    res
}

async fn home(State(state): State<ApiState>, headers: HeaderMap) -> WebResult {
    let (caller, csrf) = signed_in(&state, &headers, "/app/").await?;
    let to = match caller.role {
        AccountRole::Pharmacist => "/app/pharmacy",
        AccountRole::Prescriber => "/app/patients",
        AccountRole::Patient => "/app/me",
        _ => {
            let viewer = Viewer {
                caller: &caller,
                csrf: &csrf,
            };
            let body = r#"<p class="notice">The web app has no pages for this role yet; the REST API (<a href="/docs/">/docs/</a>) serves it.</p>"#;
            return Ok(html_response(
                StatusCode::OK,
                page("Lenaguard", Some(&viewer), body),
            ));
        }
    };
    Ok(Redirect::to(to).into_response())
}

fn login_page(
    status: StatusCode,
    login: &str,
    next: &str,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let mut body = String::new();
    if let Some(n) = notice {
        body.push_str(&format!(r#"<p class="notice">{}</p>"#, e(n)));
    }
    if let Some(err) = error {
        body.push_str(&format!(
            r#"<p class="verdict no" role="alert" id="login-error">{}</p>"#,
            e(err)
        ));
    }
    body.push_str(&format!(
        r#"<form method="post" action="/app/login">
{next}
<label for="login">Login</label>
<input type="text" id="login" name="login" value="{login}" autocomplete="username" required autofocus{described}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required{described}>
<p><button type="submit">Log in</button></p>
</form>"#,
        next = hidden("next", next),
        login = e(login),
        described = if error.is_some() {
            r#" aria-describedby="login-error""#
        } else {
            ""
        },
    ));
    html_response(status, page("Log in", None, &body))
}

async fn login_form(Query(q): Query<BTreeMap<String, String>>) -> Response {
    let next = safe_next(q.get("next").map(String::as_str));
    let notice = (next != "/app/").then_some("Log in to continue.");
    login_page(StatusCode::OK, "", &next, notice, None)
}

async fn login(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    let form = FormData::parse(&body);
    let login = form.get("login").unwrap_or("").trim().to_string();
    let next = safe_next(form.get("next"));
    let password = form.get("password").unwrap_or("").to_string();
    match session::open_session(&state, &login, password).await {
        Ok((secret, _, _)) => {
            let mut res = Redirect::to(&next).into_response();
            match session::set_cookie(&mut res, &identity::set_cookie(&state, Some(&secret))) {
                Ok(()) => res,
                Err(e) => WebError::from(e).into_response(),
            }
        }
        Err(ApiError::Throttled { retry_after_s }) => login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &login,
            &next,
            None,
            Some(&format!(
                "Too many failed logins for this account: try again in {retry_after_s} seconds."
            )),
        ),
        Err(ApiError::Unauthenticated(_) | ApiError::Field { .. }) => login_page(
            StatusCode::UNAUTHORIZED,
            &login,
            &next,
            None,
            Some("The login or the password is wrong, or the account is disabled."),
        ),
        Err(e) => WebError::from(e).into_response(),
    }
}

async fn logout(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult {
    let form = FormData::parse(&body);
    match form_caller(&state, &headers, &form, "/app/").await {
        Ok(_) | Err(WebError::Login { .. }) => {}
        Err(e) => return Err(e),
    }
    if let Some(secret) = identity::session_cookie(&headers) {
        state
            .store
            .delete_session(&secret_hash(secret))
            .await
            .map_err(ApiError::from)?;
    }
    let mut res = Redirect::to("/app/login").into_response();
    session::set_cookie(&mut res, &identity::set_cookie(&state, None))?;
    Ok(res)
}

//! The web app (`/app/...`): server-rendered pages over the same store, engine, sessions and access rules as the
//! REST API, working without JavaScript. A page that shows patient data checks the caller's role and relation to
//! the patient (deny unless allowed, as [`crate::api::policy`]) and writes the access to the access log before it
//! is sent. Forms that change state carry the session's CSRF token and, for workflow commands, an idempotency key
//! made when the form was rendered, so a form sent twice runs its command once.

mod charts;
mod forms;
mod handout;
mod html;
mod patient;
mod pdf;
mod pharmacy;
mod prescribe;
mod prescriber;
pub mod smart;
mod staff;

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
        .route("/app/launch", get(smart::launch))
        .route(smart::CALLBACK_PATH, get(smart::callback))
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
        .route(
            "/app/patients/new",
            get(prescribe::new_patient).post(prescribe::enroll),
        )
        .route("/app/patients/{patient}", get(prescriber::patient))
        .route(
            "/app/patients/{patient}/handout.pdf",
            get(handout::of_patient),
        )
        .route("/app/patients/{patient}/{form}", post(prescribe::record))
        .route(
            "/app/prescriptions/{prescription}/authorization",
            post(prescribe::authorize),
        )
        .route("/app/staff", get(staff::page_view))
        .route("/app/me", get(patient::me))
        .route("/app/me/survey", post(patient::survey))
        .route("/app/me/handout.pdf", get(handout::mine))
        .with_state(state)
}

/// Why a page is not shown.
#[derive(Debug)]
pub enum WebError {
    /// No session, or it ended: to the login page, coming back to `next` afterwards.
    Login { next: String },
    /// The session ended while a form was being filled in: the login page, keeping what was typed (but the
    /// CSRF token) to offer it again, under the new session, after logging in.
    Relogin {
        next: String,
        action: String,
        fields: Vec<(String, String)>,
    },
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
            WebError::Relogin {
                next,
                action,
                fields,
            } => login_page(
                StatusCode::UNAUTHORIZED,
                &LoginView {
                    next: &next,
                    notice: Some(
                        "Your session ended. Log in again: what you filled in is kept, and you can send it then.",
                    ),
                    keep: Some((&action, &fields)),
                    ..LoginView::default()
                },
            ),
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
        // Not `no-referrer`: with it a browser sends `Origin: null` on the site's own forms.
        HeaderValue::from_static("same-origin"),
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

/// Whether a form came from a page of this site: a browser names the page's origin in `Origin` on a POST; one
/// that names another host is refused (it also guards the login form, which has no session token yet).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

fn cross_site() -> WebError {
    WebError::forbidden("the form was sent from another site")
}

/// The caller of a form that changes state, with its CSRF token checked. A session that ended sends the caller
/// to log in again and come back to `back` (the page the form was on).
pub async fn form_caller(
    state: &ApiState,
    headers: &HeaderMap,
    form: &FormData,
    back: &str,
    action: &str,
) -> Result<Caller, WebError> {
    if !same_origin(headers) {
        return Err(cross_site());
    }
    let (caller, csrf) = match signed_in(state, headers, back).await {
        Err(WebError::Login { next }) => {
            return Err(WebError::Relogin {
                next,
                action: action.to_string(),
                fields: form
                    .0
                    .iter()
                    .filter(|(k, _)| k.as_str() != "csrf")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
        }
        other => other?,
    };
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

/// Lists of patients come a page at a time, in id order.
pub const PAGE: i64 = 50;

/// The id a list page starts after (`?after=`; empty: the first page).
pub fn list_after(q: &BTreeMap<String, String>) -> String {
    q.get("after")
        .map(|a| a.trim().to_string())
        .unwrap_or_default()
}

/// Trim a page fetched with one row more than [`PAGE`]: the id the next page starts after, if there is one.
pub fn next_page<T>(rows: &mut Vec<T>, id: impl Fn(&T) -> &str) -> Option<String> {
    if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| id(r).to_string())
    } else {
        None
    }
}

/// The links between the pages of a list at `path`.
pub fn pager(path: &str, after: &str, next: Option<&str>) -> String {
    let mut links = Vec::new();
    if !after.is_empty() {
        links.push(format!(
            r#"<a href="{}" id="first-page">First page</a>"#,
            e(path)
        ));
    }
    if let Some(n) = next {
        links.push(format!(
            r#"<a href="{}?after={}" id="next-page">Next page</a>"#,
            e(path),
            e(url_encode(n))
        ));
    }
    if links.is_empty() {
        String::new()
    } else {
        format!(
            r#"<nav aria-label="Pages" class="pager">{}</nav>"#,
            links.join(" ")
        )
    }
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
        AccountRole::ProgramStaff | AccountRole::Auditor => "/app/staff",
        AccountRole::Admin | AccountRole::EhrClient => {
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

/// What the login page shows.
#[derive(Debug, Default)]
struct LoginView<'a> {
    login: &'a str,
    next: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    /// A form to offer again after logging in: its action and its fields.
    keep: Option<(&'a str, &'a [(String, String)])>,
}

/// The prefix of the fields that carry a kept form through the login form.
const KEEP: &str = "keep:";

fn login_page(status: StatusCode, v: &LoginView<'_>) -> Response {
    let mut body = String::new();
    if let Some(n) = v.notice {
        body.push_str(&format!(r#"<p class="notice">{}</p>"#, e(n)));
    }
    if let Some(err) = v.error {
        body.push_str(&format!(
            r#"<p class="verdict no" role="alert" id="login-error">{}</p>"#,
            e(err)
        ));
    }
    let mut kept = String::new();
    if let Some((action, fields)) = v.keep {
        kept.push_str(&hidden("keep_action", action));
        for (k, val) in fields {
            kept.push_str(&hidden(&format!("{KEEP}{k}"), val));
        }
    }
    body.push_str(&format!(
        r#"<form method="post" action="/app/login">
{next}{kept}
<label for="login">Login</label>
<input type="text" id="login" name="login" value="{login}" autocomplete="username" required autofocus{described}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required{described}>
<p><button type="submit">Log in</button></p>
</form>"#,
        next = hidden("next", v.next),
        login = e(v.login),
        described = if v.error.is_some() {
            r#" aria-describedby="login-error""#
        } else {
            ""
        },
    ));
    html_response(status, page("Log in", None, &body))
}

/// After logging in again: the kept form, under the new session, to send when the user says so.
fn resend_page(action: &str, csrf: &str, fields: &[(String, String)]) -> Response {
    let mut inner = hidden("csrf", csrf);
    for (k, v) in fields {
        inner.push_str(&hidden(k, v));
    }
    let body = format!(
        r#"<p class="notice">You are logged in again. The form you filled in was not sent yet.</p>
<form method="post" action="{action}">{inner}<button type="submit" id="resend">Send it now</button></form>
<p><a href="/app/">Go to the start page instead</a></p>"#,
        action = e(action),
    );
    html_response(StatusCode::OK, page("Send your form", None, &body))
}

async fn login_form(Query(q): Query<BTreeMap<String, String>>) -> Response {
    let next = safe_next(q.get("next").map(String::as_str));
    let notice = (next != "/app/").then_some("Log in to continue.");
    login_page(
        StatusCode::OK,
        &LoginView {
            next: &next,
            notice,
            ..LoginView::default()
        },
    )
}

async fn login(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !same_origin(&headers) {
        return cross_site().into_response();
    }
    let form = FormData::parse(&body);
    let login = form.get("login").unwrap_or("").trim().to_string();
    let next = safe_next(form.get("next"));
    let password = form.get("password").unwrap_or("").to_string();
    let kept: Vec<(String, String)> = form
        .0
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(KEEP)?.to_string(), v.clone())))
        .collect();
    let action = form
        .get("keep_action")
        .map(|a| safe_next(Some(a)))
        .filter(|a| a != "/app/" && a != "/app/logout");
    let keep = action.as_deref().map(|a| (a, kept.as_slice()));
    let refused = |status: StatusCode, error: &str| {
        login_page(
            status,
            &LoginView {
                login: &login,
                next: &next,
                notice: None,
                error: Some(error),
                keep,
            },
        )
    };
    match session::open_session(&state, &login, password).await {
        Ok((secret, session, _)) => {
            let mut res = match &action {
                Some(a) => resend_page(a, &session.csrf_token, &kept),
                None => Redirect::to(&next).into_response(),
            };
            match session::set_cookie(&mut res, &identity::set_cookie(&state, Some(&secret))) {
                Ok(()) => res,
                Err(e) => WebError::from(e).into_response(),
            }
        }
        Err(ApiError::Throttled { retry_after_s }) => refused(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many failed logins for this account: try again in {retry_after_s} seconds."
            ),
        ),
        Err(ApiError::Unauthenticated(_) | ApiError::Field { .. }) => refused(
            StatusCode::UNAUTHORIZED,
            "The login or the password is wrong, or the account is disabled.",
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
    match form_caller(&state, &headers, &form, "/app/", "/app/logout").await {
        Ok(_) | Err(WebError::Login { .. } | WebError::Relogin { .. }) => {}
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

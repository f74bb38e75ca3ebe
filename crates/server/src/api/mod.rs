//! The REST API (`/api/v1`): every engine query and every workflow command as JSON, its OpenAPI 3.1 document at
//! `/openapi.json` with a browsable UI at `/docs/`, errors as RFC 9457 problem documents.
//!
//! Every route comes from one table ([`routes::ROUTES`]) that names who may call it and what object its path
//! names. The guard in front of each handler authenticates the caller (session cookie or API token), checks the
//! role, the CSRF token of a session's state-changing request, the token's scope and the caller's relation to
//! the patient, prescription or authorization, and writes every access to patient data, allowed or refused,
//! to the hash-chained access log before the answer leaves. Deny unless allowed: a role not listed, an object
//! the caller is not related to, or a missing relation is a 403.

pub mod admin;
pub mod engine;
pub mod identity;
pub mod openapi;
pub mod ops;
pub mod patients;
pub mod policy;
pub mod problem;
pub mod program;
pub mod reports;
pub mod routes;
pub mod session;

use crate::batch::Batcher;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use identity::{Caller, Via};
use jiff::civil::Date;
use lenaguard_domain::RulePack;
use lenaguard_storage::accounts::{AccessEvent, BackoffPolicy};
use lenaguard_storage::{Store, Workflow};
use problem::ApiError;
use routes::{Object, ROUTES, RouteSpec};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// How sessions, logins and tokens behave.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// A session ends this long after login, however active (default 12 h).
    pub session_max_ms: i64,
    /// A session ends after this long without a request (default 30 min).
    pub session_idle_ms: i64,
    /// Mark the session cookie `Secure` (and name it `__Host-...`): on whenever the service is reached over TLS.
    pub secure_cookies: bool,
    pub backoff: BackoffPolicy,
    /// The longest life an API token may be given, in days.
    pub token_max_days: u32,
    /// The EHRs the web app may be opened from (SMART EHR launch); `None`: none.
    pub smart: Option<Arc<crate::web::smart::SmartLaunch>>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            session_max_ms: 12 * 3600 * 1000,
            session_idle_ms: 30 * 60 * 1000,
            secure_cookies: false,
            backoff: BackoffPolicy::default(),
            token_max_days: 365,
            smart: None,
        }
    }
}

/// What every handler reads.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub workflow: Arc<Workflow>,
    pub pack: Arc<RulePack>,
    /// Judge on this date instead of today's (tests, replays).
    pub fixed_today: Option<Date>,
    pub settings: Arc<ApiSettings>,
    access: Arc<Batcher<AccessEvent, ()>>,
    openapi: Arc<String>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("store", &self.store.backend())
            .field("fixed_today", &self.fixed_today)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    /// Needs a tokio runtime: the access log's writer task starts here.
    pub fn new(
        store: Arc<dyn Store>,
        pack: Arc<RulePack>,
        fixed_today: Option<Date>,
        settings: ApiSettings,
    ) -> ApiState {
        let writer = store.clone();
        // One writer: the access log is one chain, so batches are appended one after another anyway.
        let access = Batcher::spawn(1, move |events: Vec<AccessEvent>| {
            let store = writer.clone();
            async move {
                let n = events.len();
                store
                    .record_access(&events)
                    .await
                    .map(|()| vec![(); n])
                    .map_err(|e| e.to_string())
            }
        });
        ApiState {
            workflow: Arc::new(Workflow::new(store.clone(), pack.clone())),
            store,
            pack,
            fixed_today,
            settings: Arc::new(settings),
            access: Arc::new(access),
            openapi: Arc::new(openapi::document().to_string()),
        }
    }

    /// Write one access to patient data to the access log (group-committed with concurrent ones) and wait until
    /// it is stored: a page or answer that shows patient data is sent only after this succeeds.
    pub async fn record_access(
        &self,
        caller: &Caller,
        action: &str,
        patient: Option<String>,
        status: u16,
    ) -> Result<(), ApiError> {
        let event = AccessEvent {
            at_ms: identity::now_ms(),
            login: caller.login.clone(),
            role: caller.role,
            action: action.to_string(),
            patient,
            status,
            request_id: problem::request_id().unwrap_or_default(),
        };
        self.access.submit(event).await.map_err(|e| {
            tracing::error!(request_id = problem::request_id().as_deref(), cause = %e, "access log write failed");
            ApiError::Unavailable
        })
    }

    /// The business date commands are judged on and assessments made for.
    pub fn today(&self) -> Date {
        self.fixed_today
            .unwrap_or_else(|| jiff::ZonedDateTime::now().date())
    }
}

/// The REST routes, each behind its guard.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for spec in ROUTES {
        let guarded = (spec.handler)().route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), spec),
            guard,
        ));
        router = router.route(spec.path, guarded);
    }
    router.with_state(state)
}

/// The access check in front of every handler (see the module's documentation).
async fn guard(
    State((state, spec)): State<(ApiState, &'static RouteSpec)>,
    req: Request,
    next: Next,
) -> Response {
    if spec.public() {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let caller = match identity::authenticate(&state, &parts.headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let object = match RawPathParams::from_request_parts(&mut parts, &state).await {
        Ok(params) => spec.object_param().and_then(|name| {
            params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }),
        Err(_) => None,
    };
    let decision = admit(
        &state,
        spec,
        &caller,
        &parts.method,
        &parts.headers,
        object.as_deref(),
    )
    .await;
    let (patient, mut response) = match decision {
        Ok(patient) => {
            let mut req = Request::from_parts(parts, body);
            req.extensions_mut().insert(caller.clone());
            (patient, next.run(req).await)
        }
        Err((patient, e)) => (patient, e.into_response()),
    };
    // What an authenticated caller is answered is theirs alone: no shared cache may keep it.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    if !spec.audited {
        return response;
    }
    // Fail closed: an access to patient data that cannot be logged is not answered.
    let status = response.status().as_u16();
    match state.record_access(&caller, spec.id, patient, status).await {
        Ok(()) => response,
        Err(e) => e.into_response(),
    }
}

/// Whether `caller` may call `spec` on `object`: `Ok` with the patient concerned, or the refusal (with the
/// patient concerned, when known, for the access log).
async fn admit(
    state: &ApiState,
    spec: &RouteSpec,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    object: Option<&str>,
) -> Result<Option<String>, (Option<String>, ApiError)> {
    if !spec.roles.contains(&caller.role) {
        return Err((
            object
                .filter(|_| spec.object == Object::Patient)
                .map(str::to_string),
            ApiError::Forbidden(format!(
                "the role {} may not {}",
                caller.role.as_str(),
                spec.summary.trim_end_matches('.').to_lowercase()
            )),
        ));
    }
    match &caller.via {
        Via::Session { csrf_token } if !method.is_safe() => {
            let sent = headers
                .get(identity::CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !identity::same_secret(sent, csrf_token) {
                return Err((None, ApiError::Csrf));
            }
        }
        Via::Token { scopes, .. } if !scopes.iter().any(|s| s == spec.scope()) => {
            return Err((
                None,
                ApiError::Forbidden(format!(
                    "the API token lacks the {:?} scope this route needs",
                    spec.scope()
                )),
            ));
        }
        _ => {}
    }
    let Some(id) = object else {
        return Ok(None);
    };
    policy::related(state, caller, spec.object, id).await
}

/// A JSON body: `application/json`, within the body limit, unknown fields refused where the type says so, and
/// every error naming the path of the value at fault.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let essence = ctype
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" {
            return Err(ApiError::MediaType(ctype));
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(rejection) => {
                return Err(if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge
                } else {
                    ApiError::Body {
                        field: "body".into(),
                        detail: rejection.body_text(),
                    }
                });
            }
        };
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => {
                let path = e.path().to_string();
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                Err(ApiError::Body {
                    detail: e.inner().to_string(),
                    field,
                })
            }
        }
    }
}

/// The query string, read strictly: a parameter the route does not know, a repeated one or a value that does
/// not parse is a 400 naming it.
#[derive(Debug, Default)]
pub struct ApiQuery(std::collections::BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let mut map = std::collections::BTreeMap::new();
        for (k, v) in form_pairs(parts.uri.query().unwrap_or("")) {
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::field(&k, "(repeated)", "the parameter once"));
            }
        }
        Ok(ApiQuery(map))
    }
}

/// `application/x-www-form-urlencoded` pairs, percent-decoded.
pub(crate) fn form_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

impl ApiQuery {
    /// Refuse parameters other than `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ApiError::field(
                k,
                &self.0[k],
                if known.is_empty() {
                    "no query parameters".to_string()
                } else {
                    format!("only the parameters {}", known.join(", "))
                },
            )),
            None => Ok(()),
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<u32>,
        default: u32,
    ) -> Result<u32, ApiError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    ApiError::field(
                        name,
                        v,
                        format!("a whole number from {} to {}", range.start(), range.end()),
                    )
                }),
        }
    }

    pub fn date(&self, name: &str) -> Result<Option<Date>, ApiError> {
        self.0
            .get(name)
            .map(|v| {
                v.parse::<Date>()
                    .map_err(|_| ApiError::field(name, v, "a date as YYYY-MM-DD"))
            })
            .transpose()
    }

    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.get(name).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(ApiError::field(name, v, "true or false")),
        }
    }
}

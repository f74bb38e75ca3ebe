//! What an operator needs: liveness and readiness, request ids, one structured log line per request (method,
//! route template, status, duration; never a path with an id in it, never a body), Prometheus metrics on their
//! own listener, a time limit per request, and the OpenAPI document with its browsable UI, served offline.

use super::ApiState;
use super::identity::random_id;
use super::problem::{ApiError, REQUEST_ID};
use axum::Json;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use schemars::JsonSchema;
use serde::Serialize;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        database: None,
    })
}

pub async fn readyz(State(state): State<ApiState>) -> Result<Json<Health>, ApiError> {
    state.store.audit_rows(0, 1).await?;
    Ok(Json(Health {
        status: "ok".into(),
        database: Some(state.store.backend().into()),
    }))
}

pub async fn openapi(State(state): State<ApiState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi.as_str().to_owned(),
    )
        .into_response()
}

/// The Swagger UI, from the files compiled into the binary.
pub async fn docs(tail: Option<Path<String>>) -> Response {
    let Some(Path(tail)) = tail else {
        return Redirect::permanent("/docs/").into_response();
    };
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.json")));
    let tail = if tail.is_empty() {
        "index.html".to_string()
    } else {
        tail
    };
    match utoipa_swagger_ui::serve(&tail, config.clone()) {
        Ok(Some(file)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&file.content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            )],
            file.bytes.to_vec(),
        )
            .into_response(),
        Ok(None) => ApiError::NotFound {
            what: "documentation file",
            id: tail,
        }
        .into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

/// A request id from the caller's `X-Request-Id` if it is sane, else a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| random_id().unwrap_or_default())
}

/// Around every request: its id, its time limit, its log line and its metrics.
pub async fn observe(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let started = Instant::now();
    let mut res = REQUEST_ID
        .scope(id.clone(), async move {
            let res = match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(res) => res,
                Err(_) => ApiError::Timeout.into_response(),
            };
            if res.status() == StatusCode::METHOD_NOT_ALLOWED
                && !res.headers().contains_key(header::CONTENT_TYPE)
            {
                return ApiError::Method.into_response();
            }
            res
        })
        .await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status,
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("lenaguard_http_requests_total", &labels).increment(1);
    metrics::histogram!("lenaguard_http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    res
}

/// The process's Prometheus recorder (installed once, whatever number of services the process runs).
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// The metrics listener's one route.
pub fn metrics_router() -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            match prometheus() {
                Some(h) => {
                    h.run_upkeep();
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        h.render(),
                    )
                        .into_response()
                }
                None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            }
        }),
    )
}

/// Anything no route matches: a problem document.
pub async fn not_found(req: Request) -> Response {
    let _ = req;
    ApiError::NotFound {
        what: "route",
        id: "(this path)".into(),
    }
    .into_response()
}

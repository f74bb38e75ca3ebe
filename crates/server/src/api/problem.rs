//! The REST API's one error type, mapped once to a status and an RFC 9457 problem document
//! (`application/problem+json`). A user error names the field, the value and the accepted form; an internal cause
//! is logged once with the request id and no patient data, and the caller is told only that the server failed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lenaguard_storage::{Reason, StorageError};
use schemars::JsonSchema;
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being answered: every problem document names it, so a caller can quote it.
    pub static REQUEST_ID: String;
}

/// The request id of the current request, if one is being answered.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

#[derive(Debug)]
pub enum ApiError {
    /// A parameter, header or body field is not accepted (400).
    Field {
        field: String,
        value: String,
        expected: String,
    },
    /// The body is not the JSON the route reads (400); `detail` names the path of the bad value.
    Body { field: String, detail: String },
    /// No credentials, or credentials that are unknown, expired or revoked (401).
    Unauthenticated(String),
    /// A session request that changes state without the session's CSRF token (403).
    Csrf,
    /// The caller may not do this, or not to this object (403).
    Forbidden(String),
    /// No such object (404).
    NotFound { what: &'static str, id: String },
    /// The program refused the command; the refusal is in the audit trail (409).
    Refused {
        audit_seq: i64,
        reasons: Vec<Reason>,
    },
    /// The idempotency key was used for another request, or an invariant of the records refused the write (409).
    Conflict(String),
    /// The path exists, the method does not (405).
    Method,
    /// The body is larger than the server's limit (413).
    TooLarge,
    /// The body is not `application/json` (415).
    MediaType(String),
    /// Too many failed logins for this account: wait (429).
    Throttled { retry_after_s: u64 },
    /// The database does not answer (503).
    Unavailable,
    /// The request took longer than the server's limit (503).
    Timeout,
    /// A failure of the server: logged, never shown (500).
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, value: impl ToString, expected: impl Into<String>) -> ApiError {
        ApiError::Field {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Field { .. } | ApiError::Body { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Csrf | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Refused { .. } | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Method => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What went wrong, in the words of the problem document's `detail` (nothing internal).
    pub fn detail(&self) -> String {
        self.problem().detail
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let mut p = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: String::new(),
            request_id: request_id(),
            errors: Vec::new(),
            reasons: Vec::new(),
            audit_seq: None,
        };
        match self {
            ApiError::Field {
                field,
                value,
                expected,
            } => {
                p.kind = "urn:lenaguard:problem:invalid-field";
                p.detail = format!("{field}: {value:?} is not accepted; expected {expected}");
                p.errors.push(FieldError {
                    field: field.clone(),
                    value: Some(value.clone()),
                    expected: expected.clone(),
                });
            }
            ApiError::Body { field, detail } => {
                p.kind = "urn:lenaguard:problem:invalid-body";
                p.detail = if detail.starts_with(field.as_str()) {
                    detail.clone()
                } else {
                    format!("{field}: {detail}")
                };
                p.errors.push(FieldError {
                    field: field.clone(),
                    value: None,
                    expected: detail.clone(),
                });
            }
            ApiError::Unauthenticated(why) => {
                p.kind = "urn:lenaguard:problem:unauthenticated";
                p.detail = why.clone();
            }
            ApiError::Csrf => {
                p.kind = "urn:lenaguard:problem:csrf";
                p.detail = "a request that changes state with a session cookie must send the session's CSRF \
                            token in the X-CSRF-Token header"
                    .into();
            }
            ApiError::Forbidden(why) => {
                p.kind = "urn:lenaguard:problem:forbidden";
                p.detail = why.clone();
            }
            ApiError::NotFound { what, id } => {
                p.kind = "urn:lenaguard:problem:not-found";
                p.detail = format!("no {what} {id:?}");
            }
            ApiError::Refused { audit_seq, reasons } => {
                p.kind = "urn:lenaguard:problem:refused";
                p.title = "Refused by the program rules".into();
                p.detail = reasons
                    .iter()
                    .map(|r| r.what.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                p.reasons = reasons.clone();
                p.audit_seq = Some(*audit_seq);
            }
            ApiError::Conflict(why) => {
                p.kind = "urn:lenaguard:problem:conflict";
                p.detail = why.clone();
            }
            ApiError::Method => {
                p.kind = "urn:lenaguard:problem:method";
                p.detail =
                    "this path does not answer this method; /openapi.json lists what it answers"
                        .into();
            }
            ApiError::TooLarge => {
                p.kind = "urn:lenaguard:problem:too-large";
                p.detail = "the body is larger than the server accepts (body_limit_bytes)".into();
            }
            ApiError::MediaType(got) => {
                p.kind = "urn:lenaguard:problem:media-type";
                p.detail =
                    format!("Content-Type: {got:?} is not accepted; expected application/json");
                p.errors.push(FieldError {
                    field: "Content-Type".into(),
                    value: Some(got.clone()),
                    expected: "application/json".into(),
                });
            }
            ApiError::Throttled { retry_after_s } => {
                p.kind = "urn:lenaguard:problem:throttled";
                p.detail = format!(
                    "too many failed logins for this account; try again in {retry_after_s} s"
                );
            }
            ApiError::Unavailable => {
                p.kind = "urn:lenaguard:problem:unavailable";
                p.detail = "the database does not answer; nothing was written".into();
            }
            ApiError::Timeout => {
                p.kind = "urn:lenaguard:problem:timeout";
                p.detail = "the request took longer than the server allows; a command may still have been \
                            recorded: retry with the same Idempotency-Key to learn its outcome"
                    .into();
            }
            ApiError::Internal(_) => {
                p.kind = "urn:lenaguard:problem:internal";
                p.detail =
                    "the server failed; the request id identifies it in the server's log".into();
            }
        }
        p
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Input(e) => ApiError::Body {
                field: e.field().to_string(),
                detail: e.to_string(),
            },
            e @ (StorageError::IdempotencyConflict { .. } | StorageError::Constraint { .. }) => {
                ApiError::Conflict(e.to_string())
            }
            StorageError::Database(why) => {
                tracing::error!(request_id = request_id().as_deref(), cause = %why, "database failure");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<lenaguard_domain::InputError> for ApiError {
    fn from(e: lenaguard_domain::InputError) -> Self {
        ApiError::Body {
            field: e.field().to_string(),
            detail: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // The cause is the server's (a driver or an unreadable row), never request data.
            tracing::error!(request_id = request_id().as_deref(), cause = %cause, "internal error");
        }
        let status = self.status();
        let mut res = (status, axum::Json(self.problem())).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::Throttled { retry_after_s } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"lenaguard\""),
            );
        }
        res
    }
}

/// An RFC 9457 problem document, with the fields this API adds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:lenaguard:problem:...`, or `about:blank`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request's id (also in the `X-Request-Id` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The fields at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Why the program refused a command: each with what fixes it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub reasons: Vec<Reason>,
    /// The audit event that records a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_seq: Option<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FieldError {
    /// The field, header or parameter (a JSON path for body fields).
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The accepted form.
    pub expected: String,
}

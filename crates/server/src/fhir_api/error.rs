//! The FHIR API's one error type, mapped once to an HTTP status and an OperationOutcome
//! (https://hl7.org/fhir/R4/http.html: errors carry an OperationOutcome). A user error names the element or
//! parameter, the value and the accepted form. Internal causes are logged once, without patient data, and the
//! caller is told only that the server failed.

use crate::auth::AuthError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lenaguard_interop::InteropError;
use lenaguard_interop::fhir::{OperationOutcome, OperationOutcomeIssue};
use lenaguard_storage::{Reason, StorageError};
use serde::Serialize;

#[derive(Debug)]
pub(crate) enum FhirError {
    /// No token, or a token that does not verify (401).
    Auth(AuthError),
    /// A verified token whose scopes do not grant the interaction (403).
    Forbidden(String),
    /// A search parameter this server does not know, or a value it cannot read (400).
    Param {
        name: String,
        value: String,
        expected: String,
    },
    /// A resource type this server does not serve (404).
    UnknownType(String),
    /// No resource with this id (404).
    NotFound { kind: &'static str, id: String },
    /// A method the path does not support (405).
    Method(String),
    /// The request body could not be read (400, 413).
    Body { status: StatusCode, detail: String },
    /// A resource in the request is not what the import reads (400), its path rebased onto the Bundle.
    Interop(InteropError),
    /// The program refused a command of a transaction; nothing was written (422).
    Refused { path: String, reasons: Vec<Reason> },
    /// A command built from a transaction entry is malformed for the program (400).
    Input { path: String, detail: String },
    /// A transaction entry reuses an idempotency key for another command, or a database invariant refused it
    /// (409).
    Conflict { path: String, detail: String },
    /// The server runs without the program database (503).
    NoStore,
    /// A storage failure: logged, never shown (500).
    Internal(String),
}

impl From<AuthError> for FhirError {
    fn from(e: AuthError) -> Self {
        FhirError::Auth(e)
    }
}

impl From<InteropError> for FhirError {
    fn from(e: InteropError) -> Self {
        FhirError::Interop(e)
    }
}

impl From<StorageError> for FhirError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Input(e) => FhirError::Input {
                path: e.field().to_string(),
                detail: e.to_string(),
            },
            e @ (StorageError::IdempotencyConflict { .. } | StorageError::Constraint { .. }) => {
                FhirError::Conflict {
                    path: "Bundle".into(),
                    detail: e.to_string(),
                }
            }
            other => FhirError::Internal(other.to_string()),
        }
    }
}

impl FhirError {
    pub(crate) fn param(name: &str, value: &str, expected: impl Into<String>) -> Self {
        FhirError::Param {
            name: name.to_string(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    fn parts(&self) -> (StatusCode, Vec<OperationOutcomeIssue>) {
        let issue =
            |code: &str, diagnostics: String, expression: Option<&str>| OperationOutcomeIssue {
                severity: "error".into(),
                code: code.into(),
                diagnostics: Some(diagnostics),
                expression: expression.map(str::to_string).into_iter().collect(),
                ..OperationOutcomeIssue::default()
            };
        match self {
            FhirError::Auth(e @ AuthError::ReplayUnavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                vec![issue("transient", e.to_string(), None)],
            ),
            FhirError::Auth(e) => (
                StatusCode::UNAUTHORIZED,
                vec![issue("login", e.to_string(), None)],
            ),
            FhirError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                vec![issue("forbidden", why.clone(), None)],
            ),
            FhirError::Param {
                name,
                value,
                expected,
            } => (
                StatusCode::BAD_REQUEST,
                vec![issue(
                    "invalid",
                    format!(
                        "search parameter {name}: {value:?} is not accepted; expected {expected}"
                    ),
                    Some(name),
                )],
            ),
            FhirError::UnknownType(t) => (
                StatusCode::NOT_FOUND,
                vec![issue(
                    "not-supported",
                    format!(
                        "resource type {t:?} is not served; see GET metadata for the types this server supports"
                    ),
                    None,
                )],
            ),
            FhirError::NotFound { kind, id } => (
                StatusCode::NOT_FOUND,
                vec![issue(
                    "not-found",
                    format!("no {kind} with id {id:?}"),
                    None,
                )],
            ),
            FhirError::Method(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                vec![issue(
                    "not-supported",
                    format!(
                        "{m} is not supported here; see GET metadata for the interactions supported"
                    ),
                    None,
                )],
            ),
            FhirError::Body { status, detail } => (
                *status,
                vec![issue("structure", detail.clone(), Some("Bundle"))],
            ),
            FhirError::Interop(e) => (StatusCode::BAD_REQUEST, e.to_operation_outcome().issue),
            FhirError::Refused { path, reasons } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                reasons
                    .iter()
                    .map(|r| {
                        let mut d = format!("refused ({}): {}; {}", r.code, r.what, r.fix);
                        if !r.rules.is_empty() {
                            d.push_str(&format!(" (rules: {})", r.rules.join(", ")));
                        }
                        d.push_str("; nothing in the transaction was written (the refusal is in the audit trail)");
                        issue("business-rule", d, Some(path))
                    })
                    .collect(),
            ),
            FhirError::Input { path, detail } => (
                StatusCode::BAD_REQUEST,
                vec![issue("value", detail.clone(), Some(path))],
            ),
            FhirError::Conflict { path, detail } => (
                StatusCode::CONFLICT,
                vec![issue("conflict", detail.clone(), Some(path))],
            ),
            FhirError::NoStore => (
                StatusCode::SERVICE_UNAVAILABLE,
                vec![issue(
                    "not-supported",
                    "the FHIR API needs the program database; start the server with --database-url"
                        .into(),
                    None,
                )],
            ),
            FhirError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                vec![issue(
                    "exception",
                    "the server failed to answer; the cause is in its log".into(),
                    None,
                )],
            ),
        }
    }
}

/// A FHIR JSON answer (`application/fhir+json`).
pub(crate) fn fhir_json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    r
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        if let FhirError::Internal(cause) = &self {
            // Storage messages come from the driver or name a row kind; they carry no row data.
            eprintln!("FHIR API: internal error: {cause}");
        }
        let (status, issue) = self.parts();
        let mut r = fhir_json(
            status,
            &OperationOutcome {
                issue,
                ..OperationOutcome::default()
            },
        );
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        r
    }
}

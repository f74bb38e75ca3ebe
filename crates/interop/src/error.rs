//! The interop layer's one error type. Every variant names the FHIR path at fault (`Observation/obs-3.
//! valueQuantity.code`), the value and the accepted form, and maps once to an OperationOutcome (standards.md
//! §1.8: non-2xx CDS answers and FHIR errors carry an OperationOutcome).

use crate::fhir::{OperationOutcome, OperationOutcomeIssue};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InteropError {
    /// Not FHIR as we read it: not JSON, a wrong type, an element of the wrong shape.
    #[error("{path}: malformed FHIR: {detail}")]
    Malformed { path: String, detail: String },
    /// Data the engine needs is absent.
    #[error("{path}: missing; expected {expected}")]
    Missing { path: String, expected: String },
    /// A value outside what the mapping knows (a unit, a code, a partial date).
    #[error("{path}: {value:?} is not accepted; expected {expected}")]
    Invalid {
        path: String,
        value: String,
        expected: String,
    },
    /// Two resources say different things and the mapping will not choose.
    #[error("{path}: ambiguous: {why}")]
    Ambiguous { path: String, why: String },
    /// CDS Hooks prefetch keys the service needs were not sent (HTTP 412 when they cannot be fetched either).
    #[error("prefetch: missing {}; the service needs them or access to the FHIR server", keys.join(", "))]
    MissingPrefetch { keys: Vec<String> },
    /// The engine refused the snapshot built from FHIR (its field names are snapshot fields).
    #[error("snapshot built from FHIR refused: {0}")]
    Snapshot(#[from] lenaguard_domain::InputError),
}

impl InteropError {
    pub fn malformed(path: impl Into<String>, detail: impl Into<String>) -> Self {
        InteropError::Malformed {
            path: path.into(),
            detail: detail.into(),
        }
    }

    pub fn missing(path: impl Into<String>, expected: impl Into<String>) -> Self {
        InteropError::Missing {
            path: path.into(),
            expected: expected.into(),
        }
    }

    pub fn invalid(
        path: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        InteropError::Invalid {
            path: path.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    pub fn ambiguous(path: impl Into<String>, why: impl Into<String>) -> Self {
        InteropError::Ambiguous {
            path: path.into(),
            why: why.into(),
        }
    }

    /// The FHIR path at fault (empty for a missing prefetch, which names keys instead).
    pub fn path(&self) -> String {
        match self {
            InteropError::Malformed { path, .. }
            | InteropError::Missing { path, .. }
            | InteropError::Invalid { path, .. }
            | InteropError::Ambiguous { path, .. } => path.clone(),
            InteropError::MissingPrefetch { .. } => String::new(),
            InteropError::Snapshot(e) => e.field().to_string(),
        }
    }

    /// The FHIR IssueType code for this error.
    pub fn issue_code(&self) -> &'static str {
        match self {
            InteropError::Malformed { .. } => "structure",
            InteropError::Missing { .. } => "required",
            InteropError::Invalid { .. } | InteropError::Snapshot(_) => "value",
            InteropError::Ambiguous { .. } => "business-rule",
            InteropError::MissingPrefetch { .. } => "incomplete",
        }
    }

    /// The HTTP status a service should answer with: 412 for missing prefetch, 400 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            InteropError::MissingPrefetch { .. } => 412,
            _ => 400,
        }
    }

    /// This error as an OperationOutcome with one issue.
    pub fn to_operation_outcome(&self) -> OperationOutcome {
        operation_outcome(std::slice::from_ref(self))
    }
}

/// An OperationOutcome with one `error` issue per error: `code`, `diagnostics` (the message) and `expression`
/// (the path, or each missing prefetch key as `prefetch.<key>`).
pub fn operation_outcome(errors: &[InteropError]) -> OperationOutcome {
    OperationOutcome {
        issue: errors
            .iter()
            .map(|e| OperationOutcomeIssue {
                severity: "error".into(),
                code: e.issue_code().into(),
                diagnostics: Some(e.to_string()),
                expression: match e {
                    InteropError::MissingPrefetch { keys } => {
                        keys.iter().map(|k| format!("prefetch.{k}")).collect()
                    }
                    other => {
                        let p = other.path();
                        if p.is_empty() { Vec::new() } else { vec![p] }
                    }
                },
                ..OperationOutcomeIssue::default()
            })
            .collect(),
        ..OperationOutcome::default()
    }
}

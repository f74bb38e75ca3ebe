//! Errors of the PK simulator. Every input error names the field, the value received and the accepted form
//! (docs/style.md, rule 3), so the CLI can show it to a clinician unchanged.

use serde::Serialize;

/// Everything that can go wrong in this crate. No function of the crate panics on bad input; it returns one of these.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PkError {
    /// An input value outside the accepted range or form.
    #[error("invalid {field}: got {value}; expected {expected}")]
    InvalidInput {
        /// The input field, as the caller named it (e.g. `crcl_ml_min`).
        field: &'static str,
        /// The offending value as text.
        value: String,
        /// The accepted form or range.
        expected: String,
    },
    /// A model name that is not built in.
    #[error("invalid model: got {value:?}; expected one of: {expected}")]
    UnknownModel {
        /// The name received.
        value: String,
        /// The accepted names.
        expected: String,
    },
    /// The model has no parameters for a requested feature (e.g. fed absorption in the Guglieri-López model).
    #[error("model {model} does not support {feature}: {reason}")]
    Unsupported {
        /// Model name.
        model: &'static str,
        /// The feature that was requested.
        feature: &'static str,
        /// Why, and what to use instead.
        reason: String,
    },
}

impl PkError {
    pub(crate) fn invalid(
        field: &'static str,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        PkError::InvalidInput {
            field,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

//! The domain's one error type: bad input, named precisely.

use thiserror::Error;

/// Input the engine refuses. Every variant names the field, the value and what would have been accepted,
/// because the person who sees it has to fix the data, not read code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    #[error("{field}: {value:?} is not accepted; expected {expected}")]
    Invalid {
        field: String,
        value: String,
        expected: String,
    },
    #[error("{field}: missing; expected {expected}")]
    Missing { field: String, expected: String },
    #[error("{field}: contradicts {other}: {why}")]
    Contradiction {
        field: String,
        other: String,
        why: String,
    },
}

impl InputError {
    pub fn invalid(
        field: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        InputError::Invalid {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    pub fn missing(field: impl Into<String>, expected: impl Into<String>) -> Self {
        InputError::Missing {
            field: field.into(),
            expected: expected.into(),
        }
    }

    pub fn contradiction(
        field: impl Into<String>,
        other: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        InputError::Contradiction {
            field: field.into(),
            other: other.into(),
            why: why.into(),
        }
    }

    /// The field at fault, for problem documents and form errors.
    pub fn field(&self) -> &str {
        match self {
            InputError::Invalid { field, .. }
            | InputError::Missing { field, .. }
            | InputError::Contradiction { field, .. } => field,
        }
    }

    /// Prefix the field path, so nested parsers can report `labs[3].unit` rather than `unit`.
    pub fn within(self, prefix: &str) -> Self {
        let join = |f: String| {
            if f.is_empty() {
                prefix.to_string()
            } else if f.starts_with('[') {
                format!("{prefix}{f}")
            } else {
                format!("{prefix}.{f}")
            }
        };
        match self {
            InputError::Invalid {
                field,
                value,
                expected,
            } => InputError::Invalid {
                field: join(field),
                value,
                expected,
            },
            InputError::Missing { field, expected } => InputError::Missing {
                field: join(field),
                expected,
            },
            InputError::Contradiction { field, other, why } => InputError::Contradiction {
                field: join(field),
                other,
                why,
            },
        }
    }
}

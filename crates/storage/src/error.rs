//! The storage layer's one error type. Backends map their driver errors into it once, at the edge, so callers
//! (CLI, server) never see SQL; a user error names the field, the value and the accepted form.

use lenaguard_domain::InputError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StorageError {
    /// The command itself is malformed (a field, its value, the accepted form). Nothing was written.
    #[error("{0}")]
    Input(#[from] InputError),
    /// The idempotency key was first used for a different command body. Nothing was written.
    #[error(
        "idempotency_key: {key:?} was first used for a different command ({first_command}); a new command needs a new key"
    )]
    IdempotencyConflict { key: String, first_command: String },
    /// A database constraint refused the write (the named invariant holds; the transaction was rolled back).
    #[error("the database refused the write: {constraint}")]
    Constraint { constraint: String },
    /// The database URL or backup path is not usable.
    #[error("{field}: {value:?} is not accepted; expected {expected}")]
    Config {
        field: String,
        value: String,
        expected: String,
    },
    /// The database is unreachable or failed. The message comes from the driver and never carries row data.
    #[error("database: {0}")]
    Database(String),
    /// A stored row could not be read back into its type: the database was edited outside Lenaguard.
    #[error("stored data is unreadable ({what}): {why}")]
    Corrupt { what: String, why: String },
}

impl StorageError {
    pub fn config(field: &str, value: impl ToString, expected: &str) -> Self {
        StorageError::Config {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    pub fn corrupt(what: impl Into<String>, why: impl ToString) -> Self {
        StorageError::Corrupt {
            what: what.into(),
            why: why.to_string(),
        }
    }
}

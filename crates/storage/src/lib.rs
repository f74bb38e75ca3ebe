//! Lenaguard's program workflow on durable storage.
//!
//! [`Store`] is what a backend provides (SQLite in `lenaguard-storage-sqlite`, PostgreSQL in
//! `lenaguard-storage-postgres`); [`Workflow`] judges every [`Command`] with the domain engine and the rule pack,
//! writes the state change and its hash-chained [`audit`] event in one transaction, and answers a retry with the
//! same idempotency key with the first answer. No SQL here: each backend owns its own.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod audit;
pub mod canonical;
pub mod cds;
pub mod codec;
pub mod command;
pub mod engine;
pub mod error;
pub mod records;
pub mod schema;
pub mod shape;
pub mod store;
pub mod stored;
pub mod survey;
pub mod sweep;
pub mod synth;
pub mod workflow;

pub use audit::{AuditEvent, AuditReport, AuditRow};
pub use command::{Answer, Command, CommandOutcome, CommandRequest, Outcome, Reason};
pub use error::StorageError;
pub use records::PatientFile;
pub use store::{Store, StoreTx};
pub use workflow::{AllOrNothing, Workflow};

/// Call `visit` on every audit row of a store, in chain order, reading the chain a page at a time.
pub async fn each_audit_row<E: From<StorageError>>(
    store: &dyn Store,
    mut visit: impl FnMut(&AuditRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, 10_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for r in &rows {
            visit(r)?;
        }
    }
    Ok(())
}

/// Walk the whole audit chain of a store, in pages, and report the first broken event.
pub async fn verify_audit(store: &dyn Store) -> Result<AuditReport, StorageError> {
    let mut v = audit::Verifier::default();
    each_audit_row(store, |r| {
        v.push(r);
        Ok::<(), StorageError>(())
    })
    .await?;
    Ok(v.finish())
}

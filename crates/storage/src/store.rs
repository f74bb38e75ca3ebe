//! The storage trait: what a backend (SQLite, PostgreSQL) must provide. Backends hold the SQL; the program
//! workflow ([`crate::Workflow`]) is written once against these traits, so both backends judge every command
//! the same way. Object-safe (`Arc<dyn Store>`), so a server picks the backend at start from the URL.

use crate::audit::{AuditRow, ChainHead};
use crate::error::StorageError;
use crate::records::{
    AuthorizationRow, ConfirmationRow, OrganisationRow, PatientFile, PrescriptionRow, UserRow,
    Write,
};
use async_trait::async_trait;
use std::path::Path;

/// A stored first answer for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub request_hash: String,
    /// The audit row that holds the first answer.
    pub event: AuditRow,
}

/// Every store also keeps the CDS service's tables ([`crate::cds::CdsStore`]) and the HTTP service's accounts,
/// sessions, tokens, throttle and access log ([`crate::accounts::AccountStore`]), so a server with a store shares
/// them with every other server on the same database.
#[async_trait]
pub trait Store:
    crate::cds::CdsStore + crate::accounts::AccountStore + Send + Sync + std::fmt::Debug
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Apply the embedded migrations (idempotent).
    async fn migrate(&self) -> Result<(), StorageError>;

    /// Begin a command transaction. Commands about one patient are judged one at a time under
    /// [`StoreTx::lock_patient`]; appending to the audit chain is one at a time under [`StoreTx::chain_head`]; both
    /// locks hold until commit or drop, also across processes on one database.
    async fn begin(&self) -> Result<Box<dyn StoreTx>, StorageError>;

    /// Read one patient's file outside a command (reports, the CLI's status view).
    async fn patient_file(&self, patient: &str) -> Result<Option<PatientFile>, StorageError>;

    /// The patient id enrolled under an identity, read outside a command (a search by identifier takes no lock).
    async fn patient_with_identity(&self, identity: &str) -> Result<Option<String>, StorageError>;

    /// Ids of every enrolled patient, in id order (for the sweep).
    async fn patient_ids(&self) -> Result<Vec<String>, StorageError>;

    /// Whole files of up to `limit` patients with ids after `after` (`""` for the first page), in id order: the
    /// sweep reads the registry a page at a time rather than a patient at a time.
    async fn patient_files(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<PatientFile>, StorageError>;

    /// Whole files of these patients (ids sorted), in id order; unknown ids are left out.
    async fn patient_files_of(&self, ids: &[String]) -> Result<Vec<PatientFile>, StorageError>;

    /// The number of enrolled patients.
    async fn patient_count(&self) -> Result<usize, StorageError>;

    /// The patients marked by a command since their last judgement, with their marks; and, given a date, the
    /// patients whose next day to judge has come by then, with any patient that has no stored answer.
    async fn sweep_due(
        &self,
        on: Option<jiff::civil::Date>,
    ) -> Result<crate::sweep::Due, StorageError>;

    /// Store one page of a sweep in one transaction ([`crate::sweep::SweptPage`]).
    async fn record_sweep(&self, page: &crate::sweep::SweptPage<'_>) -> Result<(), StorageError>;

    /// What the last finished sweep was judged with.
    async fn sweep_meta(&self) -> Result<Option<crate::sweep::SweepMeta>, StorageError>;

    /// Record a finished sweep: its date becomes the date the tasks are listed for.
    async fn finish_sweep(&self, meta: &crate::sweep::SweepMeta) -> Result<(), StorageError>;

    /// The number of tasks on the date of the last sweep, and of those the blocked records.
    async fn task_counts(&self) -> Result<(usize, usize), StorageError>;

    /// The tasks on the date of the last sweep, most urgent (earliest due) first, at most `limit`.
    async fn tasks(&self, limit: i64) -> Result<Vec<crate::sweep::Task>, StorageError>;

    /// Audit rows with `seq > after`, in order, at most `limit`.
    async fn audit_rows(&self, after: i64, limit: i64) -> Result<Vec<AuditRow>, StorageError>;

    /// The sequence number of the last audit event (0 when there is none): the number of events, as the chain
    /// has no gaps. Read without the chain's lock.
    async fn audit_last_seq(&self) -> Result<i64, StorageError>;

    /// A consistent copy of the whole database to `path` (which must not exist), taken while it is in use.
    async fn backup(&self, path: &Path) -> Result<(), StorageError>;
}

/// One command's transaction. Dropping it without [`StoreTx::commit`] rolls back everything.
#[async_trait]
pub trait StoreTx: Send {
    /// Take the chain lock and read the last audit row. Rows applied after this carry the next position.
    async fn chain_head(&mut self) -> Result<ChainHead, StorageError>;
    /// Take the lock under which commands about one patient are judged (held until commit or drop).
    async fn lock_patient(&mut self, patient: &str) -> Result<(), StorageError>;
    async fn remembered(&mut self, key: &str) -> Result<Option<Remembered>, StorageError>;
    async fn user(&mut self, id: &str) -> Result<Option<UserRow>, StorageError>;
    async fn organisation(&mut self, id: &str) -> Result<Option<OrganisationRow>, StorageError>;
    /// The patient id enrolled under an identity.
    async fn patient_by_identity(&mut self, identity: &str)
    -> Result<Option<String>, StorageError>;
    async fn patient_file(&mut self, patient: &str) -> Result<Option<PatientFile>, StorageError>;
    async fn prescription(&mut self, id: &str) -> Result<Option<PrescriptionRow>, StorageError>;
    async fn authorization(
        &mut self,
        number: &str,
    ) -> Result<Option<AuthorizationRow>, StorageError>;
    async fn confirmation(&mut self, number: &str)
    -> Result<Option<ConfirmationRow>, StorageError>;
    /// Make one change. A violated database invariant is [`StorageError::Constraint`].
    async fn apply(&mut self, write: &Write) -> Result<(), StorageError>;
    /// Make every change of one command. The state after is the one [`StoreTx::apply`] gives write by write (a
    /// backend may write a large batch, such as a synthetic registry, table by table in multi-row statements).
    async fn apply_all(&mut self, writes: &[Write]) -> Result<(), StorageError> {
        for w in writes {
            self.apply(w).await?;
        }
        Ok(())
    }
    /// Mark these patients as changed, for the next sweep to judge them again (called by every command that
    /// writes to a patient's file, in its transaction).
    async fn mark_changed(&mut self, patients: &[&str]) -> Result<(), StorageError>;
    /// Append the audit row and remember the idempotency key with it.
    async fn append(
        &mut self,
        row: &AuditRow,
        key: &str,
        request_hash: &str,
    ) -> Result<(), StorageError>;
    async fn commit(self: Box<Self>) -> Result<(), StorageError>;
}

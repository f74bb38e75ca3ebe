//! The SQLite backend: one bundled database file, the default for a clinic or a laptop.
//!
//! WAL journal, foreign keys on, a busy timeout so that several processes on one file wait rather than fail.
//! Every command transaction starts with `BEGIN IMMEDIATE`, which takes the database write lock before
//! anything is read: commands are judged one at a time, so the audit chain never forks and the checks see the
//! state they write to. The unique indexes of the migration enforce the program's invariants regardless.
#![forbid(unsafe_code)]

mod accounts;
mod cds;
mod rows;

use async_trait::async_trait;
use lenaguard_storage::StorageError;
use lenaguard_storage::audit::{AuditRow, ChainHead};
use lenaguard_storage::records::{
    AuthorizationRow, ConfirmationRow, OrganisationRow, PatientFile, PrescriptionRow, UserRow,
    Write,
};
use lenaguard_storage::store::{Remembered, Store, StoreTx};
use lenaguard_storage::sweep::{Due, SweepMeta, SweptPage, Task, count};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The default database file, in the working directory.
pub const DEFAULT_PATH: &str = "./lenaguard.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    /// Write transactions of this store take turns here before they ask SQLite for its write lock: SQLite lets
    /// one writer in at a time, and a writer refused the lock waits in its busy handler in growing sleeps (tail
    /// latencies of a second under load), where a queue in process hands the turn on at once.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// One connection with `synchronous = NORMAL`, for the CDS service's bookkeeping only (the `jti`s of answered
    /// calls, the cards issued): in WAL mode its commits reach the log at once, are seen by every reader and
    /// survive a crash of the process, and only an operating-system crash or a power cut can lose the last of
    /// them, because the log is not flushed to the disk on each of them. A lost `jti` could let its token be
    /// replayed until it expires (five minutes at most); feedback about a lost card is refused as about an
    /// unknown card. Every CDS call makes two such commits; without the flush, peak `order-sign` went from 1,428
    /// to 1,850 calls a second and the paced median from 6.2 to 4.8 ms (docs/benchmarks.md). Program data and
    /// the audit chain are written through `pool`, with `synchronous = FULL`. Opened on first use.
    bookkeeping: SqlitePool,
}

/// A write transaction and its turn among this store's writers (released after the transaction ends).
pub(crate) type WriteTx = (
    tokio::sync::OwnedMutexGuard<()>,
    Transaction<'static, Sqlite>,
);

/// Map a driver error once: a unique or check violation names the invariant; anything else is a database error
/// whose text carries no row values.
pub(crate) fn db(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(d) = &e
        && (d.is_unique_violation() || d.is_check_violation() || d.is_foreign_key_violation())
    {
        let msg = d.message();
        let constraint = if msg.contains("dispenses.authorization_number") {
            "one_dispense_per_authorization".to_string()
        } else if msg.contains("authorizations.prescription") {
            "one_active_authorization_per_prescription".to_string()
        } else if msg.contains("patients.identity") {
            "one_enrollment_per_identity".to_string()
        } else {
            msg.to_string()
        };
        return StorageError::Constraint { constraint };
    }
    StorageError::Database(e.to_string())
}

impl SqliteStore {
    /// Take this store's writer turn, then a transaction that holds SQLite's write lock from its start.
    pub(crate) async fn write_tx(&self) -> Result<WriteTx, StorageError> {
        let turn = self.writer.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        Ok((turn, tx))
    }

    /// As [`SqliteStore::write_tx`], on the bookkeeping connection (`synchronous = NORMAL`, see its field).
    pub(crate) async fn bookkeeping_tx(&self) -> Result<WriteTx, StorageError> {
        let turn = self.writer.clone().lock_owned().await;
        let tx = self
            .bookkeeping
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        Ok((turn, tx))
    }

    /// Open (creating if needed) the database at a `sqlite://PATH` URL or a plain path, and migrate it.
    pub async fn open(url_or_path: &str) -> Result<SqliteStore, StorageError> {
        let path = url_or_path
            .strip_prefix("sqlite://")
            .or_else(|| url_or_path.strip_prefix("sqlite:"))
            .unwrap_or(url_or_path);
        if path.is_empty() || path.contains(":memory:") || path.contains('?') {
            return Err(StorageError::config(
                "database-url",
                url_or_path,
                "sqlite://PATH or a file path (a file: the store must outlive the process)",
            ));
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|_| {
                StorageError::config("database-url", url_or_path, "sqlite://PATH or a file path")
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // A registry of a million patients is gigabytes: a 64 MiB page cache per connection keeps the indexes
            // of bulk writes in memory, and reads of the whole registry (the sweep) map the file instead of
            // copying every page.
            .pragma("cache_size", "-65536")
            .pragma("mmap_size", "1073741824");
        let bookkeeping = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(opts.clone().synchronous(SqliteSynchronous::Normal));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(db)?;
        let store = SqliteStore {
            pool,
            path: PathBuf::from(path),
            writer: Arc::new(tokio::sync::Mutex::new(())),
            bookkeeping,
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Close every connection of this store (and of its clones): later calls fail as with a database gone.
    pub async fn close(&self) {
        self.pool.close().await;
        self.bookkeeping.close().await;
    }

    /// Replace the database with a backup file: the backup is checked (it must open as a Lenaguard database with an
    /// intact audit chain) before it is copied over `target`. The target must not be open elsewhere.
    pub async fn restore(backup: &Path, target: &Path) -> Result<(), StorageError> {
        let probe = SqliteStore::open(&backup.to_string_lossy()).await?;
        let report = lenaguard_storage::verify_audit(&probe).await?;
        probe.pool.close().await;
        if let Some(b) = report.broken {
            return Err(StorageError::corrupt(
                format!("backup {}", backup.display()),
                format!("audit event {} is broken: {}", b.seq, b.why),
            ));
        }
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", target.display()));
            if side.exists() {
                std::fs::remove_file(&side).map_err(|e| StorageError::Database(e.to_string()))?;
            }
        }
        std::fs::copy(backup, target).map_err(|e| StorageError::Database(e.to_string()))?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StorageError::Database(format!("migration: {e}")))
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>, StorageError> {
        let (turn, tx) = self.write_tx().await?;
        Ok(Box::new(SqliteTx {
            tx,
            seq: 0,
            _turn: turn,
        }))
    }

    async fn patient_file(&self, patient: &str) -> Result<Option<PatientFile>, StorageError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        rows::patient_file(&mut conn, patient).await
    }

    async fn patient_with_identity(&self, identity: &str) -> Result<Option<String>, StorageError> {
        sqlx::query_scalar("SELECT id FROM patients WHERE identity = ?1")
            .bind(identity)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn patient_ids(&self) -> Result<Vec<String>, StorageError> {
        sqlx::query_scalar("SELECT id FROM patients ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    async fn patient_files(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<PatientFile>, StorageError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        rows::patient_files(&mut conn, after, limit).await
    }

    async fn patient_files_of(&self, ids: &[String]) -> Result<Vec<PatientFile>, StorageError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        rows::patient_files_of(&mut conn, ids).await
    }

    async fn patient_count(&self) -> Result<usize, StorageError> {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM patients")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(count(n))
    }

    async fn sweep_due(&self, on: Option<jiff::civil::Date>) -> Result<Due, StorageError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let marked: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.patient, m.mark, s.until FROM sweep_marks m
             LEFT JOIN sweep_state s ON s.patient = m.patient",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let Some(on) = on else {
            return Due::from_rows(marked, Vec::new(), Vec::new());
        };
        let due: Vec<(String, String)> =
            sqlx::query_as("SELECT patient, until FROM sweep_state WHERE until <= ?1")
                .bind(on.to_string())
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        // A patient with no stored answer is judged too: counting both tables is cheap, the search only runs
        // when they differ.
        let (patients, states): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM sweep_state)",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let unjudged = if patients != states {
            sqlx::query_scalar::<_, String>(
                "SELECT id FROM patients WHERE id NOT IN (SELECT patient FROM sweep_state)",
            )
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
        } else {
            Vec::new()
        };
        Due::from_rows(marked, due, unjudged)
    }

    async fn record_sweep(&self, page: &SweptPage<'_>) -> Result<(), StorageError> {
        // A page at a time: two statements end the page's old tasks, multi-row inserts write the new ones.
        let (_turn, mut tx) = self.write_tx().await?;
        let ids: Vec<&str> = page.judged.iter().map(|j| j.patient.as_str()).collect();
        let ids = serde_json::to_string(&ids)
            .map_err(|e| StorageError::Database(format!("sweep page ids: {e}")))?;
        // The page's old tasks from this day on are replaced, and those that ended by the last finished sweep's
        // date are deleted; those that held on it end on this day, so that lists keep answering for that date
        // until this sweep finishes. (The rows of a patient not judged stay until it is: ended rows are not read.)
        let on = page.on.to_string();
        sqlx::query(
            "DELETE FROM sweep_tasks WHERE patient IN (SELECT value FROM json_each(?1))
             AND (from_day >= ?2 OR to_day <= coalesce((SELECT swept_on FROM sweep_meta WHERE id = 1), ?2))",
        )
        .bind(&ids)
        .bind(&on)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE sweep_tasks SET to_day = ?2
             WHERE patient IN (SELECT value FROM json_each(?1)) AND to_day > ?2",
        )
        .bind(ids)
        .bind(&on)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // 9 parameters a row, well under SQLite's limit of 32,766 a statement.
        const ROWS: usize = 200;
        for chunk in page.tasks.chunks(ROWS) {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(values(
                "INSERT INTO sweep_tasks (patient, kind, state, due, act, rule, swept_on, from_day, to_day) VALUES ",
                "(?,?,?,?,?,?,?,?,?)",
                chunk.len(),
                "",
            )));
            for p in chunk {
                let t = &p.task;
                q = q
                    .bind(&t.patient)
                    .bind(&t.kind)
                    .bind(&t.state)
                    .bind(t.due.to_string())
                    .bind(&t.act)
                    .bind(&t.rule)
                    .bind(&on)
                    .bind(p.from.to_string())
                    .bind(p.to.to_string());
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        for chunk in page.judged.chunks(ROWS) {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(values(
                "INSERT INTO sweep_state (patient, judged_on, until) VALUES ",
                "(?,?,?)",
                chunk.len(),
                " ON CONFLICT (patient) DO UPDATE SET judged_on = excluded.judged_on, until = excluded.until",
            )));
            for j in chunk {
                q = q.bind(&j.patient).bind(&on).bind(j.until.to_string());
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        if !page.marks.is_empty() {
            let marks = serde_json::to_string(page.marks)
                .map_err(|e| StorageError::Database(format!("sweep page marks: {e}")))?;
            sqlx::query(
                "DELETE FROM sweep_marks WHERE rowid IN (
                   SELECT m.rowid FROM json_each(?1) j JOIN sweep_marks m
                   ON m.patient = json_extract(j.value, '$[0]') AND m.mark = json_extract(j.value, '$[1]'))",
            )
            .bind(marks)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn sweep_meta(&self) -> Result<Option<SweepMeta>, StorageError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT fingerprint, swept_on FROM sweep_meta WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        row.map(SweepMeta::from_row).transpose()
    }

    async fn finish_sweep(&self, meta: &SweepMeta) -> Result<(), StorageError> {
        let (_turn, mut tx) = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO sweep_meta (id, fingerprint, swept_on) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, swept_on = excluded.swept_on",
        )
        .bind(&meta.fingerprint)
        .bind(meta.on.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn task_counts(&self) -> Result<(usize, usize), StorageError> {
        // No finished sweep, no tasks to count.
        let (all, blocked): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM sweep_tasks t
                     WHERE t.from_day <= m.swept_on AND t.to_day > m.swept_on),
                    (SELECT count(*) FROM sweep_tasks t
                     WHERE t.state = 'blocked' AND +t.from_day <= m.swept_on AND +t.to_day > m.swept_on)
             FROM sweep_meta m WHERE m.id = 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .unwrap_or_default();
        Ok((count(all), count(blocked)))
    }

    async fn tasks(&self, limit: i64) -> Result<Vec<Task>, StorageError> {
        let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
            "SELECT t.patient, t.kind, t.state, t.due, t.act, t.rule
             FROM sweep_tasks t JOIN sweep_meta m ON m.id = 1
             WHERE t.from_day <= m.swept_on AND t.to_day > m.swept_on
             ORDER BY t.due, t.patient, t.kind LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(patient, kind, state, due, act, rule)| {
                Ok(Task {
                    due: lenaguard_storage::codec::date(&due, "sweep_tasks.due")?,
                    patient,
                    kind,
                    state,
                    act,
                    rule,
                })
            })
            .collect()
    }

    async fn audit_last_seq(&self) -> Result<i64, StorageError> {
        let (seq,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(seq)
    }

    async fn audit_rows(&self, after: i64, limit: i64) -> Result<Vec<AuditRow>, StorageError> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, prev_hash, hash, event FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(seq, prev_hash, hash, event)| AuditRow {
                seq,
                prev_hash,
                hash,
                event,
            })
            .collect())
    }

    async fn backup(&self, path: &Path) -> Result<(), StorageError> {
        if path.exists() {
            return Err(StorageError::config(
                "FILE",
                path.display(),
                "a path where no file exists yet (a backup never overwrites)",
            ));
        }
        // VACUUM INTO writes a consistent, compacted copy while other connections keep working.
        sqlx::query("VACUUM INTO ?1")
            .bind(path.to_string_lossy().to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

impl SqliteTx {
    /// The order of this command's rows: the chain position its audit event will take. `BEGIN IMMEDIATE` holds
    /// the write lock, so the head cannot move between this read and the append.
    async fn order(&mut self) -> Result<i64, StorageError> {
        if self.seq == 0 {
            self.chain_head().await?;
        }
        Ok(self.seq)
    }
}

struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    /// The seq of the event this transaction appends (set by `chain_head`).
    seq: i64,
    /// Declared after `tx`, so dropped after it: the turn passes on once the transaction has ended.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn chain_head(&mut self) -> Result<ChainHead, StorageError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db)?;
        let head = row.map_or_else(ChainHead::genesis, |(seq, hash)| ChainHead { seq, hash });
        self.seq = head.seq + 1;
        Ok(head)
    }

    async fn lock_patient(&mut self, _patient: &str) -> Result<(), StorageError> {
        // BEGIN IMMEDIATE already holds the database write lock: one command at a time.
        Ok(())
    }

    async fn remembered(&mut self, key: &str) -> Result<Option<Remembered>, StorageError> {
        let row: Option<(String, i64, String, String, String)> = sqlx::query_as(
            "SELECT i.request_hash, a.seq, a.prev_hash, a.hash, a.event
             FROM idempotency i JOIN audit_events a ON a.seq = i.seq WHERE i.key = ?1",
        )
        .bind(key)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(
            row.map(|(request_hash, seq, prev_hash, hash, event)| Remembered {
                request_hash,
                event: AuditRow {
                    seq,
                    prev_hash,
                    hash,
                    event,
                },
            }),
        )
    }

    async fn user(&mut self, id: &str) -> Result<Option<UserRow>, StorageError> {
        rows::user(&mut self.tx, id).await
    }

    async fn organisation(&mut self, id: &str) -> Result<Option<OrganisationRow>, StorageError> {
        rows::organisation(&mut self.tx, id).await
    }

    async fn patient_by_identity(
        &mut self,
        identity: &str,
    ) -> Result<Option<String>, StorageError> {
        sqlx::query_scalar("SELECT id FROM patients WHERE identity = ?1")
            .bind(identity)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)
    }

    async fn patient_file(&mut self, patient: &str) -> Result<Option<PatientFile>, StorageError> {
        rows::patient_file(&mut self.tx, patient).await
    }

    async fn prescription(&mut self, id: &str) -> Result<Option<PrescriptionRow>, StorageError> {
        rows::prescription(&mut self.tx, id).await
    }

    async fn authorization(
        &mut self,
        number: &str,
    ) -> Result<Option<AuthorizationRow>, StorageError> {
        rows::authorization(&mut self.tx, number).await
    }

    async fn confirmation(
        &mut self,
        number: &str,
    ) -> Result<Option<ConfirmationRow>, StorageError> {
        rows::confirmation(&mut self.tx, number).await
    }

    async fn apply(&mut self, write: &Write) -> Result<(), StorageError> {
        let seq = self.order().await?;
        rows::apply(&mut self.tx, write, seq).await
    }

    async fn apply_all(&mut self, writes: &[Write]) -> Result<(), StorageError> {
        let seq = self.order().await?;
        if rows::apply_bulk(&mut self.tx, writes, seq).await? {
            return Ok(());
        }
        for w in writes {
            rows::apply(&mut self.tx, w, seq).await?;
        }
        Ok(())
    }

    async fn mark_changed(&mut self, patients: &[&str]) -> Result<(), StorageError> {
        // 2 parameters a row.
        for chunk in patients.chunks(1000) {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(values(
                "INSERT INTO sweep_marks (patient, mark) VALUES ",
                "(?,1)",
                chunk.len(),
                " ON CONFLICT (patient) DO UPDATE SET mark = sweep_marks.mark + 1",
            )));
            for p in chunk {
                q = q.bind(*p);
            }
            q.execute(&mut *self.tx).await.map_err(db)?;
        }
        Ok(())
    }

    async fn append(
        &mut self,
        row: &AuditRow,
        key: &str,
        request_hash: &str,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO audit_events (seq, prev_hash, hash, event) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(row.seq)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .bind(&row.event)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        sqlx::query("INSERT INTO idempotency (key, request_hash, seq) VALUES (?1, ?2, ?3)")
            .bind(key)
            .bind(request_hash)
            .bind(row.seq)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.tx.commit().await.map_err(db)
    }
}

/// `head` followed by `rows` copies of `row`, comma separated, then `tail`: a multi-row statement.
fn values(head: &str, row: &str, rows: usize, tail: &str) -> String {
    format!("{head}{}{tail}", vec![row; rows].join(","))
}

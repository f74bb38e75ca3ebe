//! The PostgreSQL backend: several stateless `lenaguard` processes on one database (scale-out).
//!
//! Commands about one patient are judged and written under a transaction-scoped advisory lock of that patient,
//! and every append to the audit chain under one chain lock (`pg_advisory_xact_lock`), taken last, so commands from every
//! process about one patient are judged one at a time and the checks read the state they write to (READ
//! COMMITTED reads the latest commit after a lock is granted), while commands about different patients are judged
//! in parallel and only the append and the commit are serial. The unique
//! indexes of the migration enforce the program's invariants regardless. Connections set `DateStyle` to ISO so
//! dates read back as `YYYY-MM-DD`.
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
use lenaguard_storage::sweep::{Due, Planned, SweepMeta, SweptPage, Task, count};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The key of the advisory lock that serialises appends to the audit chain (an arbitrary constant: "LENAGUAR").
const CHAIN_LOCK: i64 = 0x4C45_4E41_4755_4152;

/// The first half of the two-part advisory lock keys of patients (the second is a hash of the patient id; a
/// collision only makes two patients wait for each other).
const PATIENT_LOCKS: i32 = 0x4C47;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Map a driver error once: a violated constraint is named by its index; anything else is a database error
/// (PostgreSQL's messages name constraints, not row values).
pub(crate) fn db(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(d) = &e
        && (d.is_unique_violation() || d.is_check_violation() || d.is_foreign_key_violation())
    {
        let constraint = d.constraint().unwrap_or(d.message()).to_string();
        return StorageError::Constraint { constraint };
    }
    StorageError::Database(e.to_string())
}

impl PostgresStore {
    /// Connect to a `postgres://` URL and migrate.
    pub async fn open(url: &str) -> Result<PostgresStore, StorageError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|_| {
                StorageError::config(
                    "database-url",
                    redact(url),
                    "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
                )
            })?
            .options([("DateStyle", "ISO")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(db)?;
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A URL with its password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StorageError::Database(format!("migration: {e}")))
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>, StorageError> {
        let tx = self.pool.begin().await.map_err(db)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn patient_file(&self, patient: &str) -> Result<Option<PatientFile>, StorageError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        rows::patient_file(&mut conn, patient).await
    }

    async fn patient_with_identity(&self, identity: &str) -> Result<Option<String>, StorageError> {
        sqlx::query_scalar("SELECT id FROM patients WHERE identity = $1")
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
        let marked: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.patient, m.mark, s.until::text FROM sweep_marks m
             LEFT JOIN sweep_state s ON s.patient = m.patient",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let Some(on) = on else {
            return Due::from_rows(marked, Vec::new(), Vec::new());
        };
        let due: Vec<(String, String)> =
            sqlx::query_as("SELECT patient, until::text FROM sweep_state WHERE until <= $1::date")
                .bind(on.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        // A patient with no stored answer is judged too: counting both tables is cheaper than the search, which
        // only runs when they differ.
        let (patients, states): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM sweep_state)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let unjudged = if patients != states {
            sqlx::query_scalar::<_, String>(
                "SELECT id FROM patients p
                     WHERE NOT EXISTS (SELECT 1 FROM sweep_state s WHERE s.patient = p.id)",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
        } else {
            Vec::new()
        };
        Due::from_rows(marked, due, unjudged)
    }

    async fn record_sweep(&self, page: &SweptPage<'_>) -> Result<(), StorageError> {
        // A page at a time: one statement per table (arrays unnested).
        let mut tx = self.pool.begin().await.map_err(db)?;
        let ids: Vec<String> = page.judged.iter().map(|j| j.patient.clone()).collect();
        // As on SQLite: the page's tasks from this day on are replaced, those that ended by the last finished
        // sweep's date are deleted, and those that held on it end on this day.
        let on = page.on.to_string();
        sqlx::query(
            "DELETE FROM sweep_tasks WHERE patient = ANY($1) AND (from_day >= $2::date
               OR to_day <= coalesce((SELECT swept_on FROM sweep_meta WHERE id = 1), $2::date))",
        )
        .bind(&ids)
        .bind(&on)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE sweep_tasks SET to_day = $2::date WHERE patient = ANY($1) AND to_day > $2::date",
        )
        .bind(&ids)
        .bind(&on)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if !page.tasks.is_empty() {
            let col = |f: fn(&Planned) -> String| page.tasks.iter().map(f).collect::<Vec<String>>();
            sqlx::query(
                "INSERT INTO sweep_tasks (patient, kind, state, due, act, rule, swept_on, from_day, to_day)
                 SELECT patient, kind, state, due::date, act, rule, $7::date, from_day::date, to_day::date
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                             $8::text[], $9::text[])
                   AS t (patient, kind, state, due, act, rule, from_day, to_day)",
            )
            .bind(col(|p| p.task.patient.clone()))
            .bind(col(|p| p.task.kind.clone()))
            .bind(col(|p| p.task.state.clone()))
            .bind(col(|p| p.task.due.to_string()))
            .bind(col(|p| p.task.act.clone()))
            .bind(col(|p| p.task.rule.clone()))
            .bind(&on)
            .bind(col(|p| p.from.to_string()))
            .bind(col(|p| p.to.to_string()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let until: Vec<String> = page.judged.iter().map(|j| j.until.to_string()).collect();
        sqlx::query(
            "INSERT INTO sweep_state (patient, judged_on, until)
             SELECT patient, $2::date, until::date FROM UNNEST($1::text[], $3::text[]) AS t (patient, until)
             ON CONFLICT (patient) DO UPDATE SET judged_on = excluded.judged_on, until = excluded.until",
        )
        .bind(&ids)
        .bind(&on)
        .bind(until)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if !page.marks.is_empty() {
            let (patients, marks): (Vec<String>, Vec<i64>) = page.marks.iter().cloned().unzip();
            sqlx::query(
                "DELETE FROM sweep_marks m USING UNNEST($1::text[], $2::bigint[]) AS t (patient, mark)
                 WHERE m.patient = t.patient AND m.mark = t.mark",
            )
            .bind(patients)
            .bind(marks)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn sweep_meta(&self) -> Result<Option<SweepMeta>, StorageError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT fingerprint, swept_on::text FROM sweep_meta WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        row.map(SweepMeta::from_row).transpose()
    }

    async fn finish_sweep(&self, meta: &SweepMeta) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO sweep_meta (id, fingerprint, swept_on) VALUES (1, $1, $2::date)
             ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, swept_on = excluded.swept_on",
        )
        .bind(&meta.fingerprint)
        .bind(meta.on.to_string())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn task_counts(&self) -> Result<(usize, usize), StorageError> {
        // No finished sweep, no tasks to count.
        let (all, blocked): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM sweep_tasks t
                     WHERE t.from_day <= m.swept_on AND t.to_day > m.swept_on),
                    (SELECT count(*) FROM sweep_tasks t
                     WHERE t.state = 'blocked' AND t.from_day <= m.swept_on AND t.to_day > m.swept_on)
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
            "SELECT t.patient, t.kind, t.state, t.due::text, t.act, t.rule
             FROM sweep_tasks t JOIN sweep_meta m ON m.id = 1
             WHERE t.from_day <= m.swept_on AND t.to_day > m.swept_on
             ORDER BY t.due, t.patient, t.kind LIMIT $1",
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
            "SELECT seq, prev_hash, hash, event FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
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

    async fn backup(&self, _path: &Path) -> Result<(), StorageError> {
        Err(StorageError::config(
            "database-url",
            "postgres://...",
            "a sqlite:// database; back up PostgreSQL with pg_dump --format=custom and restore with pg_restore (README)",
        ))
    }
}

struct PgTx {
    tx: Transaction<'static, Postgres>,
}

#[async_trait]
impl StoreTx for PgTx {
    async fn chain_head(&mut self) -> Result<ChainHead, StorageError> {
        // One round trip: the function takes the chain lock, then reads the head with a fresh snapshot (0006).
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM lenaguard_chain_head($1)")
                .bind(CHAIN_LOCK)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db)?;
        Ok(row.map_or_else(ChainHead::genesis, |(seq, hash)| ChainHead { seq, hash }))
    }

    async fn lock_patient(&mut self, patient: &str) -> Result<(), StorageError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(PATIENT_LOCKS)
            .bind(patient)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn remembered(&mut self, key: &str) -> Result<Option<Remembered>, StorageError> {
        let row: Option<(String, i64, String, String, String)> = sqlx::query_as(
            "SELECT i.request_hash, a.seq, a.prev_hash, a.hash, a.event
             FROM idempotency i JOIN audit_events a ON a.seq = i.seq WHERE i.key = $1",
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
        sqlx::query_scalar("SELECT id FROM patients WHERE identity = $1")
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
        rows::apply(&mut self.tx, write).await
    }

    async fn apply_all(&mut self, writes: &[Write]) -> Result<(), StorageError> {
        if rows::apply_bulk(&mut self.tx, writes).await? {
            return Ok(());
        }
        for w in writes {
            rows::apply(&mut self.tx, w).await?;
        }
        Ok(())
    }

    async fn mark_changed(&mut self, patients: &[&str]) -> Result<(), StorageError> {
        if patients.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO sweep_marks (patient, mark) SELECT patient, 1 FROM UNNEST($1::text[]) AS t (patient)
             ON CONFLICT (patient) DO UPDATE SET mark = sweep_marks.mark + 1",
        )
        .bind(patients)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn append(
        &mut self,
        row: &AuditRow,
        key: &str,
        request_hash: &str,
    ) -> Result<(), StorageError> {
        // One statement: the event and its idempotency key.
        sqlx::query(
            "WITH e AS (INSERT INTO audit_events (seq, prev_hash, hash, event) VALUES ($1, $2, $3, $4))
             INSERT INTO idempotency (key, request_hash, seq) VALUES ($5, $6, $1)",
        )
        .bind(row.seq)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .bind(&row.event)
        .bind(key)
        .bind(request_hash)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.tx.commit().await.map_err(db)
    }
}

//! The HTTP service's accounts on SQLite (migration 0007): accounts, sessions, API tokens, the login throttle,
//! the relations the access checks read, and the hash-chained access log. Every read-modify-write runs in a
//! `BEGIN IMMEDIATE` transaction, which takes the database write lock first, so concurrent callers (also in other
//! processes on the same file) are serialised: a throttle counts every failure, one first admin is made, and the
//! access chain never forks.

use crate::rows::PATIENT;
use crate::{SqliteStore, db};
use async_trait::async_trait;
use lenaguard_domain::InputError;
use lenaguard_storage::StorageError;
use lenaguard_storage::accounts::{
    AccessEvent, AccessRow, Account, AccountRole, AccountStore, ApiToken, BackoffPolicy,
    PatientRelations, PatientScope, PrescriptionRelations, SESSION_TOUCH_MS, Session, Throttle,
    chain_access,
};
use lenaguard_storage::records::PatientRow;
use lenaguard_storage::stored::{
    ACCESS_COLUMNS, ACCOUNT_COLUMNS, AccessRec, AccountRec, Patient, PrescriptionRelationsRec,
    SESSION_ACCOUNT_COLUMNS, SessionRec, TOKEN_COLUMNS, TokenRec, scopes_json,
};
use sqlx::SqliteConnection;

fn failures(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

async fn insert_account(c: &mut SqliteConnection, a: &Account) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "INSERT INTO accounts (login, role, subject, organisation, password_hash, disabled, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (login) DO NOTHING",
    )
    .bind(&a.login)
    .bind(a.role.as_str())
    .bind(&a.subject)
    .bind(&a.organisation)
    .bind(&a.password_hash)
    .bind(a.disabled)
    .bind(a.created_at_ms)
    .execute(c)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: &Account) -> Result<bool, StorageError> {
        let mut c = self.pool().acquire().await.map_err(db)?;
        insert_account(&mut c, account).await
    }

    async fn create_first_admin(&self, account: &Account) -> Result<bool, StorageError> {
        if account.role != AccountRole::Admin {
            return Err(InputError::invalid("role", account.role.as_str(), "admin").into());
        }
        let (_turn, mut tx) = self.write_tx().await?;
        let admin: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM accounts WHERE role = 'admin' LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if admin.is_some() {
            return Ok(false);
        }
        let made = insert_account(&mut tx, account).await?;
        tx.commit().await.map_err(db)?;
        Ok(made)
    }

    async fn account(&self, login: &str) -> Result<Option<Account>, StorageError> {
        let r: Option<AccountRec> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = ?1"
        )))
        .bind(login)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        r.map(AccountRec::into_account).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, StorageError> {
        let rows: Vec<AccountRec> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY login"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.into_iter().map(AccountRec::into_account).collect()
    }

    async fn set_password(&self, login: &str, password_hash: &str) -> Result<bool, StorageError> {
        let (_turn, mut tx) = self.write_tx().await?;
        let done = sqlx::query("UPDATE accounts SET password_hash = ?2 WHERE login = ?1")
            .bind(login)
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM sessions WHERE login = ?1")
            .bind(login)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn set_disabled(&self, login: &str, disabled: bool) -> Result<bool, StorageError> {
        let (_turn, mut tx) = self.write_tx().await?;
        let done = sqlx::query("UPDATE accounts SET disabled = ?2 WHERE login = ?1")
            .bind(login)
            .bind(disabled)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE login = ?1")
                .bind(login)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn throttle(&self, key: &str) -> Result<Throttle, StorageError> {
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT failures, locked_until_ms FROM login_throttle WHERE key = ?1")
                .bind(key)
                .fetch_optional(self.pool())
                .await
                .map_err(db)?;
        Ok(row.map_or(
            Throttle {
                failures: 0,
                locked_until_ms: None,
            },
            |(n, locked_until_ms)| Throttle {
                failures: failures(n),
                locked_until_ms,
            },
        ))
    }

    async fn login_failed(
        &self,
        key: &str,
        now_ms: i64,
        policy: &BackoffPolicy,
    ) -> Result<Throttle, StorageError> {
        // Count and lock in one write transaction: a concurrent failure waits for the write lock and counts on.
        let (_turn, mut tx) = self.write_tx().await?;
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO login_throttle (key, failures, locked_until_ms) VALUES (?1, 1, NULL)
             ON CONFLICT (key) DO UPDATE SET failures = failures + 1 RETURNING failures",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let failures = failures(n);
        let locked_until_ms = policy.locked_until(failures, now_ms);
        sqlx::query("UPDATE login_throttle SET locked_until_ms = ?2 WHERE key = ?1")
            .bind(key)
            .bind(locked_until_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Throttle {
            failures,
            locked_until_ms,
        })
    }

    async fn login_succeeded(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM login_throttle WHERE key = ?1")
            .bind(key)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_session(&self, session: &Session) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, login, csrf_token, created_at_ms, expires_at_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&session.id_hash)
        .bind(&session.login)
        .bind(&session.csrf_token)
        .bind(session.created_at_ms)
        .bind(session.expires_at_ms)
        .bind(session.last_seen_ms)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Option<(Session, Account)>, StorageError> {
        let r: Option<SessionRec> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_ACCOUNT_COLUMNS} FROM sessions s JOIN accounts a ON a.login = s.login
             WHERE s.id_hash = ?1"
        )))
        .bind(id_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        let Some(r) = r else { return Ok(None) };
        let (mut session, account) = r.into_pair()?;
        if !session.is_live(account.disabled, now_ms, idle_ms) {
            return Ok(None);
        }
        if session.needs_touch(now_ms) {
            // Conditional: of two uses at once, one writes; the row never moves back.
            sqlx::query(
                "UPDATE sessions SET last_seen_ms = ?2 WHERE id_hash = ?1 AND last_seen_ms < ?3",
            )
            .bind(id_hash)
            .bind(now_ms)
            .bind(now_ms.saturating_sub(SESSION_TOUCH_MS))
            .execute(self.pool())
            .await
            .map_err(db)?;
            session.last_seen_ms = now_ms;
        }
        Ok(Some((session, account)))
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?1")
            .bind(id_hash)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_sessions(&self, now_ms: i64, idle_ms: i64) -> Result<u64, StorageError> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= ?1 OR last_seen_ms < ?2")
                .bind(now_ms)
                .bind(now_ms.saturating_sub(idle_ms))
                .execute(self.pool())
                .await
                .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn create_api_token(&self, token: &ApiToken) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "INSERT INTO api_tokens (id, secret_hash, login, name, scopes, created_at_ms, expires_at_ms, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&token.id)
        .bind(&token.secret_hash)
        .bind(&token.login)
        .bind(&token.name)
        .bind(scopes_json(&token.scopes)?)
        .bind(token.created_at_ms)
        .bind(token.expires_at_ms)
        .bind(token.revoked)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_token(&self, id: &str) -> Result<Option<(ApiToken, Account)>, StorageError> {
        let mut c = self.pool().acquire().await.map_err(db)?;
        let t: Option<TokenRec> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.id = ?1"
        )))
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db)?;
        let Some(t) = t else { return Ok(None) };
        let a: AccountRec = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = ?1"
        )))
        .bind(&t.login)
        .fetch_one(&mut *c)
        .await
        .map_err(db)?;
        Ok(Some((t.into_token()?, a.into_account()?)))
    }

    async fn api_tokens_of(&self, login: &str) -> Result<Vec<ApiToken>, StorageError> {
        let rows: Vec<TokenRec> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.login = ?1
             ORDER BY t.created_at_ms DESC, t.id DESC"
        )))
        .bind(login)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.into_iter().map(TokenRec::into_token).collect()
    }

    async fn revoke_api_token(&self, id: &str) -> Result<bool, StorageError> {
        let done = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = ?1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn patient_relations(
        &self,
        patient: &str,
    ) -> Result<Option<PatientRelations>, StorageError> {
        let mut c = self.pool().acquire().await.map_err(db)?;
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT p.id, p.prescriber, u.organisation FROM patients p JOIN users u ON u.id = p.prescriber
             WHERE p.id = ?1",
        )
        .bind(patient)
        .fetch_optional(&mut *c)
        .await
        .map_err(db)?;
        let Some((patient, prescriber, clinic)) = row else {
            return Ok(None);
        };
        let pharmacies: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT pharmacy FROM prescriptions WHERE patient = ?1 AND pharmacy IS NOT NULL
             ORDER BY pharmacy",
        )
        .bind(&patient)
        .fetch_all(&mut *c)
        .await
        .map_err(db)?;
        Ok(Some(PatientRelations {
            patient,
            prescriber,
            clinic,
            pharmacies,
        }))
    }

    async fn prescription_relations(
        &self,
        prescription: &str,
    ) -> Result<Option<PrescriptionRelations>, StorageError> {
        let r: Option<PrescriptionRelationsRec> = sqlx::query_as(
            "SELECT id AS prescription, patient, prescriber, pharmacy FROM prescriptions WHERE id = ?1",
        )
        .bind(prescription)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        Ok(r.map(Into::into))
    }

    async fn authorization_relations(
        &self,
        authorization: &str,
    ) -> Result<Option<PrescriptionRelations>, StorageError> {
        let r: Option<PrescriptionRelationsRec> = sqlx::query_as(
            "SELECT p.id AS prescription, p.patient, p.prescriber, p.pharmacy
             FROM authorizations a JOIN prescriptions p ON p.id = a.prescription WHERE a.number = ?1",
        )
        .bind(authorization)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        Ok(r.map(Into::into))
    }

    async fn patient_list(
        &self,
        scope: &PatientScope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<PatientRow>, StorageError> {
        let (filter, subject) = match scope {
            PatientScope::Prescriber(p) => ("prescriber = ?3", Some(p)),
            PatientScope::Pharmacy(p) => (
                "EXISTS (SELECT 1 FROM prescriptions r WHERE r.patient = patients.id AND r.pharmacy = ?3)",
                Some(p),
            ),
            PatientScope::Patient(p) => ("id = ?3", Some(p)),
            PatientScope::All => ("?3 IS NULL", None),
        };
        let rows: Vec<Patient> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{PATIENT} WHERE id > ?1 AND {filter} ORDER BY id LIMIT ?2"
        )))
        .bind(after)
        .bind(limit)
        .bind(subject)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.into_iter().map(Patient::into_row).collect()
    }

    async fn record_access(&self, events: &[AccessEvent]) -> Result<(), StorageError> {
        if events.is_empty() {
            return Ok(());
        }
        // The write lock first: the head read here is still the head at the commit.
        let (_turn, mut tx) = self.write_tx().await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        for r in chain_access(head, events) {
            insert_access(&mut tx, &r).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn access_rows(&self, after: i64, limit: i64) -> Result<Vec<AccessRow>, StorageError> {
        let rows: Vec<AccessRec> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCESS_COLUMNS} FROM access_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.into_iter().map(AccessRec::into_row).collect()
    }
}

async fn insert_access(c: &mut SqliteConnection, r: &AccessRow) -> Result<(), StorageError> {
    let e = &r.event;
    sqlx::query(
        "INSERT INTO access_log (seq, at_ms, login, role, action, patient, status, request_id, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .bind(r.seq)
    .bind(e.at_ms)
    .bind(&e.login)
    .bind(e.role.as_str())
    .bind(&e.action)
    .bind(&e.patient)
    .bind(i64::from(e.status))
    .bind(&e.request_id)
    .bind(&r.prev_hash)
    .bind(&r.hash)
    .execute(c)
    .await
    .map_err(db)?;
    Ok(())
}

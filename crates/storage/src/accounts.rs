//! Who may use the service, kept in the program database so that every server on it answers alike (nothing here
//! lives in process memory): login accounts (Argon2id password hashes, never passwords), browser sessions and API
//! tokens (both stored as SHA-256 hashes of their secret), the login throttle, the relations the per-object access
//! checks read (a patient's prescriber and the pharmacies their prescriptions are routed to), and the access log:
//! every read of patient data, hash-chained like the program's audit trail.
//!
//! Hashing passwords and deciding who may do what are the server's; this module holds the records and the pure
//! rules a backend needs to store them (the throttle's backoff, the access log's chain).

use crate::canonical::sha256_hex;
use crate::error::StorageError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What an account may do is decided by its role and its relation to the patient (the server's access policy).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    Prescriber,
    Pharmacist,
    Patient,
    ProgramStaff,
    Auditor,
    Admin,
    /// An EHR system calling the FHIR API with its signed client token: never an account (clients are configured,
    /// not created), but a reader of patient data whose reads are in the access log like everyone's.
    EhrClient,
}

impl AccountRole {
    pub const ALL: [AccountRole; 7] = [
        AccountRole::Prescriber,
        AccountRole::Pharmacist,
        AccountRole::Patient,
        AccountRole::ProgramStaff,
        AccountRole::Auditor,
        AccountRole::Admin,
        AccountRole::EhrClient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Prescriber => "prescriber",
            AccountRole::Pharmacist => "pharmacist",
            AccountRole::Patient => "patient",
            AccountRole::ProgramStaff => "program_staff",
            AccountRole::Auditor => "auditor",
            AccountRole::Admin => "admin",
            AccountRole::EhrClient => "ehr_client",
        }
    }

    pub fn parse(s: &str) -> Option<AccountRole> {
        AccountRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether an account of this role acts as a registered program user (its subject is a user id and it
    /// belongs to an organisation), as a patient (its subject is a patient id), or as neither.
    pub fn subject_kind(self) -> SubjectKind {
        match self {
            AccountRole::Prescriber | AccountRole::Pharmacist | AccountRole::ProgramStaff => {
                SubjectKind::User
            }
            AccountRole::Patient => SubjectKind::Patient,
            AccountRole::Auditor | AccountRole::Admin | AccountRole::EhrClient => SubjectKind::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    User,
    Patient,
    None,
}

/// A login account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Unique, case-sensitive.
    pub login: String,
    pub role: AccountRole,
    /// The registered user the account acts as (prescriber, pharmacist, program staff) or the patient id
    /// (patient); `None` for auditors and admins.
    pub subject: Option<String>,
    /// The subject's organisation (a registered user never changes organisation, so it is copied here when the
    /// account is made): the clinic or the pharmacy.
    pub organisation: Option<String>,
    /// Argon2id in PHC string form; `None`: the account cannot log in with a password (a system that only uses
    /// API tokens).
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at_ms: i64,
}

/// A browser session. The cookie holds a random secret; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 (hex) of the cookie's secret.
    pub id_hash: String,
    pub login: String,
    /// The synchronizer token every state-changing request of this session must send back.
    pub csrf_token: String,
    pub created_at_ms: i64,
    /// Absolute end, however active the session is.
    pub expires_at_ms: i64,
    /// Refreshed on use (at most once per [`SESSION_TOUCH_MS`]); the idle timeout counts from here.
    pub last_seen_ms: i64,
}

/// How stale `last_seen_ms` may get before a use writes it again: a busy session does not write on every request.
pub const SESSION_TOUCH_MS: i64 = 60_000;

impl Session {
    /// Whether the session may be used at `now_ms`: before its absolute end, idle for at most `idle_ms`, and its
    /// account (`account_disabled`) not disabled. What [`AccountStore::session`] answers by.
    pub fn is_live(&self, account_disabled: bool, now_ms: i64, idle_ms: i64) -> bool {
        self.expires_at_ms > now_ms
            && now_ms.saturating_sub(self.last_seen_ms) <= idle_ms
            && !account_disabled
    }

    /// Whether a use at `now_ms` writes `last_seen_ms` again: it is older than [`SESSION_TOUCH_MS`].
    pub fn needs_touch(&self, now_ms: i64) -> bool {
        self.last_seen_ms < now_ms.saturating_sub(SESSION_TOUCH_MS)
    }
}

/// An API token for a system. The token given out is `lgt_{id}_{secret}`; only the secret's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The public part, unique.
    pub id: String,
    /// SHA-256 (hex) of the secret.
    pub secret_hash: String,
    /// The account the token acts as (its role and subject).
    pub login: String,
    pub name: String,
    /// What the token may do (a subset of its account's rights), sorted.
    pub scopes: Vec<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked: bool,
}

/// SHA-256 (hex) of a secret: sessions and API tokens are high-entropy random values, so a fast hash is enough to
/// make a stolen database useless for logging in, while a lookup stays one indexed read.
pub fn secret_hash(secret: &str) -> String {
    sha256_hex(&[secret.as_bytes()])
}

/// The login throttle: after `free_failures` failures in a row, each further failure locks the key for
/// `base_ms * 2^(n - 1)` (n counting failures past the free ones), at most `max_ms`. A success clears the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub free_failures: u32,
    pub base_ms: i64,
    pub max_ms: i64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            free_failures: 5,
            base_ms: 1_000,
            max_ms: 15 * 60_000,
        }
    }
}

impl BackoffPolicy {
    /// Until when a key with `failures` failures in a row is locked, counted from `now_ms`.
    pub fn locked_until(&self, failures: u32, now_ms: i64) -> Option<i64> {
        let over = failures.checked_sub(self.free_failures)?;
        if over == 0 {
            return None;
        }
        // 2^(over - 1), saturating: `1 << 63` would be negative, and a larger shift is no shift at all.
        let factor = if over - 1 < 63 {
            1_i64 << (over - 1)
        } else {
            i64::MAX
        };
        let wait = self.base_ms.saturating_mul(factor).min(self.max_ms);
        Some(now_ms.saturating_add(wait))
    }
}

/// The throttle's state of one key (a login name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub failures: u32,
    pub locked_until_ms: Option<i64>,
}

/// Who is related to a patient: what the per-object access checks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRelations {
    pub patient: String,
    /// The prescriber who enrolled the patient.
    pub prescriber: String,
    /// The prescriber's clinic.
    pub clinic: String,
    /// The pharmacies the patient's prescriptions are routed to, sorted, without repeats.
    pub pharmacies: Vec<String>,
}

/// Who is related to a prescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrescriptionRelations {
    pub prescription: String,
    pub patient: String,
    pub prescriber: String,
    /// The pharmacy it is routed to; `None`: no pharmacy may see it.
    pub pharmacy: Option<String>,
}

/// Which patients a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientScope {
    /// Enrolled by this prescriber.
    Prescriber(String),
    /// With a prescription routed to this pharmacy.
    Pharmacy(String),
    /// Only this patient.
    Patient(String),
    /// Every patient.
    All,
}

/// One access to patient data (or a refused attempt). No request body, no clinical value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEvent {
    pub at_ms: i64,
    pub login: String,
    pub role: AccountRole,
    /// The route's id (`patient.assessment`, ...).
    pub action: String,
    /// The patient whose data was read or asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The HTTP status answered (a 403 is a refused attempt).
    pub status: u16,
    pub request_id: String,
}

/// A stored access event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    pub seq: i64,
    pub event: AccessEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash before the first access event.
pub const ACCESS_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an access event at `seq` after `prev_hash`: SHA-256 over the previous hash, the position and the
/// event's canonical JSON (sorted keys), so editing, removing or reordering a row breaks every later hash.
pub fn access_hash(seq: i64, prev_hash: &str, event: &AccessEvent) -> String {
    let body = serde_json::to_value(event)
        .map(|v| crate::canonical::to_canonical(&v))
        .unwrap_or_default();
    let seq = seq.to_string();
    sha256_hex(&[
        prev_hash.as_bytes(),
        b"\n",
        seq.as_bytes(),
        b"\n",
        body.as_bytes(),
    ])
}

/// Chain `events` after the row `(seq, hash)` (or the genesis): what a backend appends, under its chain lock.
pub fn chain_access(head: Option<(i64, String)>, events: &[AccessEvent]) -> Vec<AccessRow> {
    let (mut seq, mut prev) = head.unwrap_or((0, ACCESS_GENESIS.to_string()));
    events
        .iter()
        .map(|e| {
            seq += 1;
            let hash = access_hash(seq, &prev, e);
            AccessRow {
                seq,
                event: e.clone(),
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

/// The first access row whose position or hash does not follow from the rows before it, if any.
pub fn first_broken_access(rows: &[AccessRow]) -> Option<i64> {
    let mut prev = ACCESS_GENESIS.to_string();
    let mut seq = 0;
    for r in rows {
        seq += 1;
        if r.seq != seq || r.prev_hash != prev || r.hash != access_hash(r.seq, &prev, &r.event) {
            return Some(r.seq);
        }
        prev = r.hash.clone();
    }
    None
}

/// The accounts, sessions, tokens, throttle, relations and access log. Every [`crate::Store`] provides them.
#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// Store a new account; `false` (nothing written) when the login is taken.
    async fn create_account(&self, account: &Account) -> Result<bool, StorageError>;

    /// Store `account` (an admin) only if no admin account exists yet, in one transaction (two servers
    /// bootstrapping at once make one admin); `false` when one exists (or the login is taken). An account of
    /// another role is an input error. Admins made later with [`AccountStore::create_account`] are not limited.
    async fn create_first_admin(&self, account: &Account) -> Result<bool, StorageError>;

    async fn account(&self, login: &str) -> Result<Option<Account>, StorageError>;

    /// Every account, by login.
    async fn accounts(&self) -> Result<Vec<Account>, StorageError>;

    /// Replace the password hash and end every session of the account; `false` when there is no such account.
    async fn set_password(&self, login: &str, password_hash: &str) -> Result<bool, StorageError>;

    /// Disable or enable an account; disabling ends its sessions (its tokens stop working with it). `false` when
    /// there is no such account.
    async fn set_disabled(&self, login: &str, disabled: bool) -> Result<bool, StorageError>;

    /// The throttle's state of a key.
    async fn throttle(&self, key: &str) -> Result<Throttle, StorageError>;

    /// Count one more failure of `key`, atomically (two servers counting at once both count), and lock it as
    /// `policy` says; answers the new state.
    async fn login_failed(
        &self,
        key: &str,
        now_ms: i64,
        policy: &BackoffPolicy,
    ) -> Result<Throttle, StorageError>;

    /// Clear the failures of `key`.
    async fn login_succeeded(&self, key: &str) -> Result<(), StorageError>;

    async fn create_session(&self, session: &Session) -> Result<(), StorageError>;

    /// The live session with this hash and its account: `None` when there is none, it ended
    /// (`expires_at_ms <= now_ms`), it was idle longer than `idle_ms`, or its account is disabled. A use
    /// refreshes `last_seen_ms` when it is older than [`SESSION_TOUCH_MS`].
    async fn session(
        &self,
        id_hash: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Option<(Session, Account)>, StorageError>;

    async fn delete_session(&self, id_hash: &str) -> Result<(), StorageError>;

    /// Remove sessions that ended (`expires_at_ms <= now_ms`) or went idle (unused for longer than `idle_ms`):
    /// exactly those [`AccountStore::session`] no longer answers for their time; how many.
    async fn purge_sessions(&self, now_ms: i64, idle_ms: i64) -> Result<u64, StorageError>;

    /// Store a new token (its scopes sorted, without repeats); `false` when the id is taken. A token of an
    /// unknown login is refused by the database ([`StorageError::Constraint`]).
    async fn create_api_token(&self, token: &ApiToken) -> Result<bool, StorageError>;

    /// The token with this id and its account (whatever their state: the caller checks expiry, revocation and
    /// the account's `disabled`).
    async fn api_token(&self, id: &str) -> Result<Option<(ApiToken, Account)>, StorageError>;

    /// The tokens acting as `login`, newest first.
    async fn api_tokens_of(&self, login: &str) -> Result<Vec<ApiToken>, StorageError>;

    /// Revoke a token; `false` when there is no such token.
    async fn revoke_api_token(&self, id: &str) -> Result<bool, StorageError>;

    /// A patient's prescriber, clinic and the pharmacies their prescriptions are routed to.
    async fn patient_relations(
        &self,
        patient: &str,
    ) -> Result<Option<PatientRelations>, StorageError>;

    async fn prescription_relations(
        &self,
        prescription: &str,
    ) -> Result<Option<PrescriptionRelations>, StorageError>;

    /// The relations of the prescription an authorization number was issued for.
    async fn authorization_relations(
        &self,
        authorization: &str,
    ) -> Result<Option<PrescriptionRelations>, StorageError>;

    /// Patients in `scope` with ids after `after` (`""` first), in id order, at most `limit`.
    async fn patient_list(
        &self,
        scope: &PatientScope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<crate::records::PatientRow>, StorageError>;

    /// Append access events to the access log's chain, in order, in one transaction.
    async fn record_access(&self, events: &[AccessEvent]) -> Result<(), StorageError>;

    /// Access rows with `seq > after`, in order, at most `limit`.
    async fn access_rows(&self, after: i64, limit: i64) -> Result<Vec<AccessRow>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_past_the_free_failures_and_stops_at_the_cap() {
        let p = BackoffPolicy {
            free_failures: 3,
            base_ms: 1_000,
            max_ms: 10_000,
        };
        assert_eq!(p.locked_until(0, 0), None);
        assert_eq!(p.locked_until(3, 0), None);
        assert_eq!(p.locked_until(4, 0), Some(1_000));
        assert_eq!(p.locked_until(5, 0), Some(2_000));
        assert_eq!(p.locked_until(7, 0), Some(8_000));
        assert_eq!(p.locked_until(8, 0), Some(10_000));
        assert_eq!(p.locked_until(200, 5), Some(10_005));
        // Past 62 doublings the factor saturates instead of wrapping negative.
        assert_eq!(p.locked_until(3 + 64, 0), Some(10_000));
        assert_eq!(p.locked_until(3 + 65, 0), Some(10_000));
        assert_eq!(p.locked_until(u32::MAX, 0), Some(10_000));
    }

    fn ev(n: u16) -> AccessEvent {
        AccessEvent {
            at_ms: 1,
            login: "ph".into(),
            role: AccountRole::Pharmacist,
            action: "patient.read".into(),
            patient: Some("p".into()),
            status: n,
            request_id: "r".into(),
        }
    }

    #[test]
    fn an_edited_access_row_breaks_the_chain() {
        let first = chain_access(None, &[ev(200), ev(200)]);
        let last = first.last().map(|r| (r.seq, r.hash.clone()));
        let mut rows = first.clone();
        rows.extend(chain_access(last, &[ev(403)]));
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(first_broken_access(&rows), None);
        rows[1].event.status = 403;
        assert_eq!(first_broken_access(&rows), Some(2));
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in AccountRole::ALL {
            assert_eq!(AccountRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(AccountRole::parse("root"), None);
    }
}

//! Stored rows as both backends read them back (dates as ISO text, JSON columns as text), and their conversion to
//! the records the workflow uses. No SQL here: each backend selects these columns in its own dialect and decodes
//! them with `FromRow` (or from `row_to_json`), then converts them here, once for both.

use crate::StorageError;
use crate::accounts::{
    AccessEvent, AccessRow, Account, AccountRole, ApiToken, PrescriptionRelations, Session,
};
use crate::codec::{date, from_json, int, opt_date, parse};
use crate::records::{
    AuthorizationRow, Body, ConfirmationRow, DispenseRow, OrganisationRow, PatientFile, PatientRow,
    PrescriptionRow, RecordRow, UserRow,
};
use serde::Deserialize;
use sqlx::FromRow;

#[derive(Debug, FromRow)]
pub struct Org {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub certified_until: Option<String>,
}

impl Org {
    pub fn into_row(self) -> Result<OrganisationRow, StorageError> {
        Ok(OrganisationRow {
            kind: parse(&self.kind, "organisations.kind")?,
            certified_until: opt_date(self.certified_until, "organisations.certified_until")?,
            id: self.id,
            name: self.name,
        })
    }
}

#[derive(Debug, FromRow)]
pub struct User {
    pub id: String,
    pub organisation: String,
    pub name: String,
    pub role: String,
    pub certified_until: Option<String>,
}

impl User {
    pub fn into_row(self) -> Result<UserRow, StorageError> {
        Ok(UserRow {
            role: parse(&self.role, "users.role")?,
            certified_until: opt_date(self.certified_until, "users.certified_until")?,
            id: self.id,
            organisation: self.organisation,
            name: self.name,
        })
    }
}

#[derive(Debug, FromRow, Deserialize)]
pub struct Patient {
    pub id: String,
    pub identity: String,
    pub sex: String,
    pub birth_date: String,
    pub category: String,
    pub agreement_signed_on: String,
    pub guardian: Option<String>,
    pub prescriber: String,
    pub regimen: String,
    pub not_reproductive: Option<String>,
    pub planned_start: Option<String>,
    pub status: String,
    pub start_date: Option<String>,
    pub last_dose: Option<String>,
}

impl Patient {
    pub fn into_row(self) -> Result<PatientRow, StorageError> {
        Ok(PatientRow {
            sex: parse(&self.sex, "patients.sex")?,
            birth_date: date(&self.birth_date, "patients.birth_date")?,
            category: parse(&self.category, "patients.category")?,
            agreement_signed_on: date(&self.agreement_signed_on, "patients.agreement_signed_on")?,
            regimen: parse(&self.regimen, "patients.regimen")?,
            not_of_reproductive_potential: self
                .not_reproductive
                .as_deref()
                .map(|s| from_json(s, "patients.not_reproductive"))
                .transpose()?,
            planned_start: opt_date(self.planned_start, "patients.planned_start")?,
            status: parse(&self.status, "patients.status")?,
            start_date: opt_date(self.start_date, "patients.start_date")?,
            last_dose: opt_date(self.last_dose, "patients.last_dose")?,
            id: self.id,
            identity: self.identity,
            guardian: self.guardian,
            prescriber: self.prescriber,
        })
    }
}

#[derive(Debug, FromRow, Deserialize)]
pub struct Record {
    pub id: String,
    pub patient: String,
    pub kind: String,
    pub on_date: String,
    pub body: String,
}

impl Record {
    pub fn into_row(self) -> Result<RecordRow, StorageError> {
        Ok(RecordRow {
            kind: parse(&self.kind, "patient_records.kind")?,
            on: date(&self.on_date, "patient_records.on_date")?,
            body: Body::from_text(self.body)
                .map_err(|e| StorageError::corrupt("patient_records.body", e))?,
            id: self.id,
            patient: self.patient,
        })
    }
}

#[derive(Debug, FromRow, Deserialize)]
pub struct Prescription {
    pub id: String,
    pub patient: String,
    pub prescriber: String,
    pub date: String,
    pub schedule: String,
    pub quantity: i64,
    pub days_supply: i64,
    pub refills: i64,
    pub telephone: bool,
    #[serde(default)]
    pub pharmacy: Option<String>,
}

impl Prescription {
    pub fn into_row(self) -> Result<PrescriptionRow, StorageError> {
        Ok(PrescriptionRow {
            date: date(&self.date, "prescriptions.date")?,
            schedule: from_json(&self.schedule, "prescriptions.schedule")?,
            quantity: int(self.quantity, "prescriptions.quantity")?,
            days_supply: int(self.days_supply, "prescriptions.days_supply")?,
            refills: int(self.refills, "prescriptions.refills")?,
            telephone: self.telephone,
            pharmacy: self.pharmacy,
            id: self.id,
            patient: self.patient,
            prescriber: self.prescriber,
        })
    }
}

#[derive(Debug, FromRow, Deserialize)]
pub struct Authorization {
    pub number: String,
    pub prescription: String,
    pub patient: String,
    pub issued_on: String,
    pub valid_through: String,
    pub status: String,
}

impl Authorization {
    pub fn into_row(self) -> Result<AuthorizationRow, StorageError> {
        Ok(AuthorizationRow {
            issued_on: date(&self.issued_on, "authorizations.issued_on")?,
            valid_through: date(&self.valid_through, "authorizations.valid_through")?,
            status: parse(&self.status, "authorizations.status")?,
            number: self.number,
            prescription: self.prescription,
            patient: self.patient,
        })
    }
}

#[derive(Debug, FromRow, Deserialize)]
pub struct Confirmation {
    pub number: String,
    pub patient: String,
    pub authorization_number: String,
    pub pharmacy: String,
    pub issued_on: String,
    pub valid_through: String,
}

impl Confirmation {
    pub fn into_row(self) -> Result<ConfirmationRow, StorageError> {
        Ok(ConfirmationRow {
            issued_on: date(&self.issued_on, "confirmations.issued_on")?,
            valid_through: date(&self.valid_through, "confirmations.valid_through")?,
            number: self.number,
            authorization: self.authorization_number,
            pharmacy: self.pharmacy,
        })
    }
}

#[derive(Debug, FromRow, Deserialize)]
pub struct Dispense {
    pub id: String,
    pub authorization_number: String,
    pub confirmation: String,
    pub patient: String,
    pub pharmacy: String,
    pub pharmacist: String,
    pub date: String,
    pub days_supply: i64,
    pub quantity: i64,
    pub counselling: String,
}

impl Dispense {
    pub fn into_row(self) -> Result<DispenseRow, StorageError> {
        Ok(DispenseRow {
            date: date(&self.date, "dispenses.date")?,
            days_supply: int(self.days_supply, "dispenses.days_supply")?,
            quantity: int(self.quantity, "dispenses.quantity")?,
            counselling: from_json(&self.counselling, "dispenses.counselling")?,
            id: self.id,
            authorization: self.authorization_number,
            confirmation: self.confirmation,
            patient: self.patient,
            pharmacy: self.pharmacy,
            pharmacist: self.pharmacist,
        })
    }
}

/// One patient's file from its rows, each table's in the order written.
pub fn file(
    patient: Patient,
    records: Vec<Record>,
    prescriptions: Vec<Prescription>,
    authorizations: Vec<Authorization>,
    confirmations: Vec<Confirmation>,
    dispenses: Vec<Dispense>,
) -> Result<PatientFile, StorageError> {
    Ok(PatientFile {
        patient: patient.into_row()?,
        records: records
            .into_iter()
            .map(Record::into_row)
            .collect::<Result<_, _>>()?,
        prescriptions: prescriptions
            .into_iter()
            .map(Prescription::into_row)
            .collect::<Result<_, _>>()?,
        authorizations: authorizations
            .into_iter()
            .map(Authorization::into_row)
            .collect::<Result<_, _>>()?,
        confirmations: confirmations
            .into_iter()
            .map(Confirmation::into_row)
            .collect::<Result<_, _>>()?,
        dispenses: dispenses
            .into_iter()
            .map(Dispense::into_row)
            .collect::<Result<_, _>>()?,
    })
}

/// The rows of a page of patients, each table's ordered by patient and then as written.
#[derive(Debug, Default)]
pub struct Page {
    pub patients: Vec<Patient>,
    pub records: Vec<Record>,
    pub prescriptions: Vec<Prescription>,
    pub authorizations: Vec<Authorization>,
    pub confirmations: Vec<Confirmation>,
    pub dispenses: Vec<Dispense>,
}

impl Page {
    /// The page's patient files, in the patients' order. A row of a patient not on the page is corrupt data.
    pub fn into_files(self) -> Result<Vec<PatientFile>, StorageError> {
        let mut files: Vec<PatientFile> = Vec::with_capacity(self.patients.len());
        let mut index = std::collections::HashMap::new();
        for p in self.patients {
            let row = p.into_row()?;
            index.insert(row.id.clone(), files.len());
            files.push(PatientFile {
                patient: row,
                records: Vec::new(),
                prescriptions: Vec::new(),
                authorizations: Vec::new(),
                confirmations: Vec::new(),
                dispenses: Vec::new(),
            });
        }
        let slot = |patient: &str| -> Result<usize, StorageError> {
            index.get(patient).copied().ok_or_else(|| {
                StorageError::corrupt(
                    "patient page",
                    format!("a row of an unknown patient {patient}"),
                )
            })
        };
        for r in self.records {
            let i = slot(&r.patient)?;
            files[i].records.push(r.into_row()?);
        }
        for r in self.prescriptions {
            let i = slot(&r.patient)?;
            files[i].prescriptions.push(r.into_row()?);
        }
        for r in self.authorizations {
            let i = slot(&r.patient)?;
            files[i].authorizations.push(r.into_row()?);
        }
        for r in self.confirmations {
            let i = slot(&r.patient)?;
            files[i].confirmations.push(r.into_row()?);
        }
        for r in self.dispenses {
            let i = slot(&r.patient)?;
            files[i].dispenses.push(r.into_row()?);
        }
        Ok(files)
    }
}

/// The columns of an account, as both backends select them (`disabled` is a boolean, an integer on SQLite).
pub const ACCOUNT_COLUMNS: &str =
    "login, role, subject, organisation, password_hash, disabled, created_at_ms";

#[derive(Debug, FromRow)]
pub struct AccountRec {
    pub login: String,
    pub role: String,
    pub subject: Option<String>,
    pub organisation: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at_ms: i64,
}

fn role(s: &str, what: &str) -> Result<AccountRole, StorageError> {
    AccountRole::parse(s).ok_or_else(|| StorageError::corrupt(what, "an unknown role"))
}

impl AccountRec {
    pub fn into_account(self) -> Result<Account, StorageError> {
        Ok(Account {
            role: role(&self.role, "accounts.role")?,
            login: self.login,
            subject: self.subject,
            organisation: self.organisation,
            password_hash: self.password_hash,
            disabled: self.disabled,
            created_at_ms: self.created_at_ms,
        })
    }
}

/// The columns of a session joined with its account (`s`, `a`).
pub const SESSION_ACCOUNT_COLUMNS: &str = "s.id_hash, s.login, s.csrf_token, s.created_at_ms, s.expires_at_ms, \
     s.last_seen_ms, a.role, a.subject, a.organisation, a.password_hash, a.disabled, \
     a.created_at_ms AS account_created_at_ms";

#[derive(Debug, FromRow)]
pub struct SessionRec {
    pub id_hash: String,
    pub login: String,
    pub csrf_token: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub last_seen_ms: i64,
    pub role: String,
    pub subject: Option<String>,
    pub organisation: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub account_created_at_ms: i64,
}

impl SessionRec {
    pub fn into_pair(self) -> Result<(Session, Account), StorageError> {
        let account = Account {
            login: self.login.clone(),
            role: role(&self.role, "accounts.role")?,
            subject: self.subject,
            organisation: self.organisation,
            password_hash: self.password_hash,
            disabled: self.disabled,
            created_at_ms: self.account_created_at_ms,
        };
        Ok((
            Session {
                id_hash: self.id_hash,
                login: self.login,
                csrf_token: self.csrf_token,
                created_at_ms: self.created_at_ms,
                expires_at_ms: self.expires_at_ms,
                last_seen_ms: self.last_seen_ms,
            },
            account,
        ))
    }
}

/// The columns of an API token (`t`).
pub const TOKEN_COLUMNS: &str =
    "t.id, t.secret_hash, t.login, t.name, t.scopes, t.created_at_ms, t.expires_at_ms, t.revoked";

#[derive(Debug, FromRow)]
pub struct TokenRec {
    pub id: String,
    pub secret_hash: String,
    pub login: String,
    pub name: String,
    pub scopes: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked: bool,
}

impl TokenRec {
    pub fn into_token(self) -> Result<ApiToken, StorageError> {
        Ok(ApiToken {
            scopes: from_json(&self.scopes, "api_tokens.scopes")?,
            id: self.id,
            secret_hash: self.secret_hash,
            login: self.login,
            name: self.name,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            revoked: self.revoked,
        })
    }
}

/// A token's scopes as stored: a JSON array, sorted and without repeats.
pub fn scopes_json(scopes: &[String]) -> Result<String, StorageError> {
    let set: std::collections::BTreeSet<&String> = scopes.iter().collect();
    serde_json::to_string(&set).map_err(|e| StorageError::corrupt("api token scopes", e))
}

/// The columns of an access row.
pub const ACCESS_COLUMNS: &str =
    "seq, at_ms, login, role, action, patient, status, request_id, prev_hash, hash";

#[derive(Debug, FromRow)]
pub struct AccessRec {
    pub seq: i64,
    pub at_ms: i64,
    pub login: String,
    pub role: String,
    pub action: String,
    pub patient: Option<String>,
    pub status: i32,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AccessRec {
    pub fn into_row(self) -> Result<AccessRow, StorageError> {
        Ok(AccessRow {
            event: AccessEvent {
                at_ms: self.at_ms,
                role: role(&self.role, "access_log.role")?,
                status: int(i64::from(self.status), "access_log.status")?,
                login: self.login,
                action: self.action,
                patient: self.patient,
                request_id: self.request_id,
            },
            seq: self.seq,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// The relations of a prescription, as both backends select them.
#[derive(Debug, FromRow)]
pub struct PrescriptionRelationsRec {
    pub prescription: String,
    pub patient: String,
    pub prescriber: String,
    pub pharmacy: Option<String>,
}

impl From<PrescriptionRelationsRec> for PrescriptionRelations {
    fn from(r: PrescriptionRelationsRec) -> Self {
        PrescriptionRelations {
            prescription: r.prescription,
            patient: r.patient,
            prescriber: r.prescriber,
            pharmacy: r.pharmacy,
        }
    }
}

//! The current-state rows, as the workflow reads them back inside a command's transaction and as the writes it
//! asks a backend to make. Backends own the SQL; these types are the contract between them and the workflow.

use crate::command::{Counselling, OrganisationKind, Role};
use jiff::civil::Date;
use lenaguard_domain::dose::Schedule;
use lenaguard_domain::program::{NotReproductive, RiskCategory};
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::Sex;
use lenaguard_domain::snapshot::TreatmentStatus;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrganisationRow {
    pub id: String,
    pub kind: OrganisationKind,
    pub name: String,
    /// Pharmacy certification: the last day it is valid.
    #[schemars(with = "Option<crate::schema::IsoDate>")]
    pub certified_until: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserRow {
    pub id: String,
    pub organisation: String,
    pub name: String,
    pub role: Role,
    /// Prescriber certification: the last day it is valid.
    #[schemars(with = "Option<crate::schema::IsoDate>")]
    pub certified_until: Option<Date>,
}

/// The enrolled patient (one row per identity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PatientRow {
    pub id: String,
    pub identity: String,
    pub sex: Sex,
    #[schemars(with = "crate::schema::IsoDate")]
    pub birth_date: Date,
    pub category: RiskCategory,
    #[schemars(with = "crate::schema::IsoDate")]
    pub agreement_signed_on: Date,
    pub guardian: Option<String>,
    pub prescriber: String,
    pub regimen: RegimenId,
    pub not_of_reproductive_potential: Option<NotReproductive>,
    #[schemars(with = "Option<crate::schema::IsoDate>")]
    pub planned_start: Option<Date>,
    pub status: TreatmentStatus,
    /// First dispense: the first dose.
    #[schemars(with = "Option<crate::schema::IsoDate>")]
    pub start_date: Option<Date>,
    /// Set on discontinuation.
    #[schemars(with = "Option<crate::schema::IsoDate>")]
    pub last_dose: Option<Date>,
}

/// The kinds of per-patient facts kept in the `patient_records` table. They are append-only facts that the
/// engine reads whole for one patient, so they are stored as typed JSON; the invariants the database must
/// enforce live on the dedicated prescription, authorization and dispense tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Reclassification,
    PregnancyTest,
    Contraception,
    Survey,
    Interruption,
    Resumption,
    Discontinuation,
    AdverseEvent,
    Lab,
    FetalExposure,
    /// A body weight and height ([`crate::command::BodyMeasurement`]).
    Measurement,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Reclassification => "reclassification",
            RecordKind::PregnancyTest => "pregnancy_test",
            RecordKind::Contraception => "contraception",
            RecordKind::Survey => "survey",
            RecordKind::Interruption => "interruption",
            RecordKind::Resumption => "resumption",
            RecordKind::Discontinuation => "discontinuation",
            RecordKind::AdverseEvent => "adverse_event",
            RecordKind::Lab => "lab",
            RecordKind::FetalExposure => "fetal_exposure",
            RecordKind::Measurement => "measurement",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRow {
    pub id: String,
    pub patient: String,
    pub kind: RecordKind,
    /// The date the fact is about (test date, attestation start, report date).
    #[schemars(with = "crate::schema::IsoDate")]
    pub on: Date,
    /// The command payload that created it (JSON).
    #[schemars(with = "serde_json::Value")]
    pub body: Body,
}

/// A record's body: the payload as JSON text. Kept as text so that reading a patient's file checks each body's
/// syntax once and the engine parses it once, straight into its type (the sweep reads millions of them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Body(Box<serde_json::value::RawValue>);

impl Body {
    pub fn of<T: Serialize>(v: &T) -> Result<Body, serde_json::Error> {
        serde_json::value::to_raw_value(v).map(Body)
    }

    /// Stored text; an error if it is not JSON.
    pub fn from_text(text: String) -> Result<Body, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(Body)
    }

    pub fn text(&self) -> &str {
        self.0.get()
    }

    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        self.text() == other.text()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PrescriptionRow {
    pub id: String,
    pub patient: String,
    pub prescriber: String,
    #[schemars(with = "crate::schema::IsoDate")]
    pub date: Date,
    pub schedule: Schedule,
    pub quantity: u32,
    pub days_supply: u16,
    pub refills: u16,
    pub telephone: bool,
    /// The pharmacy it is routed to (a registered pharmacy); `None`: unrouted (left out of the JSON, so the
    /// stored form of an unrouted prescription is what it was before routing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pharmacy: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationStatus {
    /// Issued and not yet dispensed against.
    Active,
    /// Dispensed against: single use.
    Used,
}

impl AuthorizationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationStatus::Active => "active",
            AuthorizationStatus::Used => "used",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizationRow {
    pub number: String,
    pub prescription: String,
    pub patient: String,
    #[schemars(with = "crate::schema::IsoDate")]
    pub issued_on: Date,
    #[schemars(with = "crate::schema::IsoDate")]
    pub valid_through: Date,
    pub status: AuthorizationStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfirmationRow {
    pub number: String,
    pub authorization: String,
    pub pharmacy: String,
    #[schemars(with = "crate::schema::IsoDate")]
    pub issued_on: Date,
    #[schemars(with = "crate::schema::IsoDate")]
    pub valid_through: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DispenseRow {
    pub id: String,
    pub authorization: String,
    pub confirmation: String,
    pub patient: String,
    pub pharmacy: String,
    pub pharmacist: String,
    #[schemars(with = "crate::schema::IsoDate")]
    pub date: Date,
    pub days_supply: u16,
    pub quantity: u32,
    pub counselling: Counselling,
}

/// Everything stored about one patient: what the engine needs to judge a command about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PatientFile {
    pub patient: PatientRow,
    /// In insertion order.
    pub records: Vec<RecordRow>,
    pub prescriptions: Vec<PrescriptionRow>,
    pub authorizations: Vec<AuthorizationRow>,
    pub confirmations: Vec<ConfirmationRow>,
    pub dispenses: Vec<DispenseRow>,
}

/// A change the workflow asks the backend to make, inside the command's transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    InsertOrganisation(OrganisationRow),
    InsertUser(UserRow),
    CertifyUser {
        user: String,
        until: Date,
    },
    CertifyOrganisation {
        organisation: String,
        until: Date,
    },
    InsertPatient(PatientRow),
    /// Replace the mutable columns of a patient (category, status, dates).
    UpdatePatient(PatientRow),
    InsertRecord(RecordRow),
    InsertPrescription(PrescriptionRow),
    InsertAuthorization(AuthorizationRow),
    InsertConfirmation(ConfirmationRow),
    /// Insert the dispense and mark its authorization used.
    InsertDispense(DispenseRow),
}

impl Write {
    /// The patient whose file this changes, where the row names it (none for the registry of organisations and
    /// users).
    pub fn patient(&self) -> Option<&str> {
        match self {
            Write::InsertOrganisation(_)
            | Write::InsertUser(_)
            | Write::CertifyUser { .. }
            | Write::CertifyOrganisation { .. } => None,
            Write::InsertPatient(p) | Write::UpdatePatient(p) => Some(&p.id),
            Write::InsertRecord(r) => Some(&r.patient),
            Write::InsertPrescription(r) => Some(&r.patient),
            Write::InsertAuthorization(r) => Some(&r.patient),
            // A confirmation's patient is its authorization's: the command's own patient (see the workflow).
            Write::InsertConfirmation(_) => None,
            Write::InsertDispense(r) => Some(&r.patient),
        }
    }

    /// The patients whose files these change, with the command's own patient (`scope`), each once, sorted.
    pub fn patients<'a>(writes: &'a [Write], scope: Option<&'a str>) -> Vec<&'a str> {
        let mut out: Vec<&str> = writes
            .iter()
            .filter_map(Write::patient)
            .chain(scope)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether a backend may write these as a bulk load, table by table in multi-row statements: enough of
    /// them, and every one a new patient or a new row of one (a synthetic batch). The result must be the state
    /// that applying them one by one gives.
    pub fn is_bulk_load(writes: &[Write]) -> bool {
        writes.len() >= 64
            && writes.iter().all(|w| {
                matches!(
                    w,
                    Write::InsertPatient(_)
                        | Write::InsertRecord(_)
                        | Write::InsertPrescription(_)
                        | Write::InsertAuthorization(_)
                        | Write::InsertConfirmation(_)
                        | Write::InsertDispense(_)
                )
            })
    }
}

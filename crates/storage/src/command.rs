//! Commands: every write to the program's state, as data. A command arrives with an idempotency key, an actor
//! and the business date it is judged on; it is either accepted (state tables + one audit event, in one
//! transaction) or refused (one audit event of the refusal, nothing else).

use jiff::civil::Date;
use lenaguard_domain::dose::Schedule;
use lenaguard_domain::program::{NotReproductive, RiskCategory, TestResult, TestSetting};
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::Sex;
use lenaguard_domain::snapshot::{AdverseEvent, InterruptionCause, Lab};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The reserved actor for registry administration (organisations, users, certification).
pub const ADMIN: &str = "admin";

/// A command with everything needed to judge and replay it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// Chosen by the caller; a retry with the same key returns the first answer.
    pub idempotency_key: String,
    /// The user issuing the command, or `admin`.
    pub actor: String,
    /// The business date the command is judged on (the domain never reads the clock).
    #[schemars(with = "crate::schema::IsoDate")]
    pub on: Date,
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    Clinic,
    Pharmacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Prescriber,
    Pharmacist,
    /// Program staff: registry administration and safety reports.
    ProgramStaff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Specimen {
    Urine,
    Serum,
}

/// Patient enrollment: the signed Patient-Physician Agreement Form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// Our id for the patient.
    pub patient: String,
    /// The identity the registry is unique on (for example `clinic-id:MRN`): one enrollment per identity.
    pub identity: String,
    pub sex: Sex,
    #[schemars(with = "crate::schema::IsoDate")]
    pub birth_date: Date,
    pub category: RiskCategory,
    #[schemars(with = "crate::schema::IsoDate")]
    pub agreement_signed_on: Date,
    /// Parent or guardian who signed for a minor; required for a child category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardian: Option<String>,
    /// The certified prescriber who enrolls the patient (also the actor).
    pub prescriber: String,
    pub regimen: RegimenId,
    /// Why a female cannot get pregnant (required for those categories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_of_reproductive_potential: Option<NotReproductive>,
    /// The planned first dose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema::IsoDate>")]
    pub planned_start: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PregnancyTestReport {
    #[schemars(with = "crate::schema::IsoDate")]
    pub date: Date,
    pub specimen: Specimen,
    pub sensitivity_miu_ml: f64,
    pub result: TestResult,
    #[serde(default)]
    pub setting: TestSetting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContraceptionAttestation {
    #[schemars(with = "crate::schema::IsoDate")]
    pub start: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema::IsoDate>")]
    pub end: Option<Date>,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub abstinence: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveySubmission {
    #[schemars(with = "crate::schema::IsoDate")]
    pub date: Date,
    /// The questionnaire version answered (see `lenaguard_storage::survey`).
    pub questionnaire: String,
    /// Answers by question id.
    pub answers: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrescriptionOrder {
    /// Our id for the prescription.
    pub prescription: String,
    pub patient: String,
    #[schemars(with = "crate::schema::IsoDate")]
    pub date: Date,
    /// Dose, frequency, days on and cycle length, as the engine reads them.
    pub schedule: Schedule,
    /// Capsules.
    pub quantity: u32,
    pub days_supply: u16,
    #[serde(default)]
    pub refills: u16,
    #[serde(default)]
    pub telephone: bool,
    /// The certified pharmacy the prescription is routed to; only that pharmacy may request its confirmation and
    /// dispense it. `None`: unrouted (the workflow lets any certified pharmacy fill it; the HTTP service shows it
    /// to no pharmacist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pharmacy: Option<String>,
}

/// A body weight (and height) measured on a date: what Cockcroft-Gault needs besides age, sex and creatinine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyMeasurement {
    #[schemars(with = "crate::schema::IsoDate")]
    pub date: Date,
    pub weight_kg: f64,
    /// Needed only for the ideal or adjusted body weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_cm: Option<f64>,
}

/// The pharmacy's counselling checklist: every item must be done before a dispense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counselling {
    pub checklist_completed: bool,
    pub medication_guide_given: bool,
}

/// Every write the program workflow knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    RegisterOrganisation {
        organisation: String,
        kind: OrganisationKind,
        name: String,
    },
    RegisterUser {
        user: String,
        organisation: String,
        name: String,
        role: Role,
    },
    CertifyPrescriber {
        user: String,
        #[schemars(with = "crate::schema::IsoDate")]
        expires_on: Date,
    },
    CertifyPharmacy {
        organisation: String,
        #[schemars(with = "crate::schema::IsoDate")]
        expires_on: Date,
    },
    Enroll(Enrollment),
    Reclassify {
        patient: String,
        to: RiskCategory,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_of_reproductive_potential: Option<NotReproductive>,
    },
    RecordPregnancyTest {
        patient: String,
        test: PregnancyTestReport,
    },
    AttestContraception {
        patient: String,
        attestation: ContraceptionAttestation,
    },
    SubmitSurvey {
        patient: String,
        survey: SurveySubmission,
    },
    WritePrescription(PrescriptionOrder),
    /// The prescriber asks for the authorization number of a written prescription.
    RequestAuthorization {
        prescription: String,
    },
    /// The pharmacy asks for the confirmation number that allows the dispense.
    RequestConfirmation {
        authorization: String,
    },
    Dispense {
        authorization: String,
        confirmation: String,
        days_supply: u16,
        quantity: u32,
        counselling: Counselling,
    },
    Interrupt {
        patient: String,
        cause: InterruptionCause,
    },
    Resume {
        patient: String,
    },
    Discontinue {
        patient: String,
        reason: String,
    },
    ReportAdverseEvent {
        patient: String,
        event: AdverseEvent,
    },
    RecordLab {
        patient: String,
        lab: Lab,
    },
    ReportFetalExposure {
        patient: String,
        description: String,
    },
    RecordMeasurement {
        patient: String,
        measurement: BodyMeasurement,
    },
    /// Bulk-write synthetic patients `first .. first + count` (see `lenaguard_storage::synth`), as admin.
    SynthesizeRegistry {
        seed: u64,
        first: u32,
        count: u32,
    },
}

impl Command {
    /// The patient the command names in its body (an enrollment creates its patient, so it names none here;
    /// commands about a prescription or an authorization reach their patient through it).
    pub fn named_patient(&self) -> Option<&str> {
        match self {
            Command::Reclassify { patient, .. }
            | Command::RecordPregnancyTest { patient, .. }
            | Command::AttestContraception { patient, .. }
            | Command::SubmitSurvey { patient, .. }
            | Command::Interrupt { patient, .. }
            | Command::Resume { patient }
            | Command::Discontinue { patient, .. }
            | Command::ReportAdverseEvent { patient, .. }
            | Command::RecordLab { patient, .. }
            | Command::ReportFetalExposure { patient, .. }
            | Command::RecordMeasurement { patient, .. } => Some(patient),
            Command::WritePrescription(o) => Some(&o.patient),
            Command::RegisterOrganisation { .. }
            | Command::RegisterUser { .. }
            | Command::CertifyPrescriber { .. }
            | Command::CertifyPharmacy { .. }
            | Command::Enroll(_)
            | Command::RequestAuthorization { .. }
            | Command::RequestConfirmation { .. }
            | Command::Dispense { .. }
            | Command::SynthesizeRegistry { .. } => None,
        }
    }

    /// The command's name as stored in the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RegisterOrganisation { .. } => "register_organisation",
            Command::RegisterUser { .. } => "register_user",
            Command::CertifyPrescriber { .. } => "certify_prescriber",
            Command::CertifyPharmacy { .. } => "certify_pharmacy",
            Command::Enroll(_) => "enroll",
            Command::Reclassify { .. } => "reclassify",
            Command::RecordPregnancyTest { .. } => "record_pregnancy_test",
            Command::AttestContraception { .. } => "attest_contraception",
            Command::SubmitSurvey { .. } => "submit_survey",
            Command::WritePrescription(_) => "write_prescription",
            Command::RequestAuthorization { .. } => "request_authorization",
            Command::RequestConfirmation { .. } => "request_confirmation",
            Command::Dispense { .. } => "dispense",
            Command::Interrupt { .. } => "interrupt",
            Command::Resume { .. } => "resume",
            Command::Discontinue { .. } => "discontinue",
            Command::ReportAdverseEvent { .. } => "report_adverse_event",
            Command::RecordLab { .. } => "record_lab",
            Command::ReportFetalExposure { .. } => "report_fetal_exposure",
            Command::RecordMeasurement { .. } => "record_measurement",
            Command::SynthesizeRegistry { .. } => "synthesize_registry",
        }
    }
}

/// What an accepted command answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// The record was stored.
    Recorded { id: String },
    Authorization {
        number: String,
        prescription: String,
        /// The last day it can be used.
        #[schemars(with = "crate::schema::IsoDate")]
        valid_through: Date,
        /// Rules it rests on that are not confirmed in the primary source.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unverified_rules: Vec<String>,
    },
    Confirmation {
        number: String,
        authorization: String,
        #[schemars(with = "crate::schema::IsoDate")]
        valid_through: Date,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unverified_rules: Vec<String>,
    },
    Dispensed {
        id: String,
        authorization: String,
        days_supply: u16,
    },
}

/// One reason a command was refused: what, and what fixes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    /// Stable code (the engine's missing-step code, or a storage rule such as `authorization.used`).
    pub code: String,
    pub what: String,
    pub fix: String,
    /// Rules behind it (pack rule ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl Reason {
    pub fn new(code: &str, what: impl Into<String>, fix: impl Into<String>) -> Reason {
        Reason {
            code: code.into(),
            what: what.into(),
            fix: fix.into(),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Accepted { answer: Answer },
    Refused { reasons: Vec<Reason> },
}

/// The answer to a command request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandOutcome {
    /// The audit event that records it.
    pub audit_seq: i64,
    pub outcome: Outcome,
    /// True when this is the stored answer to an earlier request with the same idempotency key.
    pub replayed: bool,
}

impl CommandOutcome {
    pub fn accepted(&self) -> Option<&Answer> {
        match &self.outcome {
            Outcome::Accepted { answer } => Some(answer),
            Outcome::Refused { .. } => None,
        }
    }
}

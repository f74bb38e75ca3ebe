//! The workflow commands over HTTP. Each route builds one [`Command`] from its path and body, with the caller as
//! the actor and the server's date as the business date, and runs it through the same [`lenaguard_storage::Workflow`]
//! as the command line. A retry with the same `Idempotency-Key` (per account) answers the first answer; an
//! accepted command answers 200 with its outcome, a refused one 409 with every reason and what fixes it.

use super::identity::Caller;
use super::problem::ApiError;
use super::{ApiJson, ApiState};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use jiff::civil::Date;
use lenaguard_domain::program::{NotReproductive, RiskCategory};
use lenaguard_domain::snapshot::{AdverseEvent, InterruptionCause, Lab};
use lenaguard_storage::command::{
    BodyMeasurement, Command, CommandRequest, ContraceptionAttestation, Counselling, Enrollment,
    OrganisationKind, PregnancyTestReport, PrescriptionOrder, Role, SurveySubmission,
};
use lenaguard_storage::{CommandOutcome, Outcome};
use schemars::JsonSchema;
use serde::Deserialize;

/// The header that makes a command safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterOrganisation {
    pub organisation: String,
    pub kind: OrganisationKind,
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterUser {
    pub user: String,
    pub organisation: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certification {
    /// The last day the certification is valid.
    #[schemars(with = "lenaguard_storage::schema::IsoDate")]
    pub expires_on: Date,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reclassification {
    pub to: RiskCategory,
    pub reason: String,
    #[serde(default)]
    pub not_of_reproductive_potential: Option<NotReproductive>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interruption {
    pub cause: InterruptionCause,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Discontinuation {
    pub reason: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetalExposure {
    pub description: String,
}

/// An empty JSON object.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispenseBody {
    /// The confirmation number the pharmacy obtained.
    pub confirmation: String,
    #[schemars(range(min = 1, max = 366))]
    pub days_supply: u16,
    /// Capsules.
    #[schemars(range(min = 1))]
    pub quantity: u32,
    pub counselling: Counselling,
}

/// The idempotency key of a command request, namespaced by the caller so that two accounts never share one.
fn key(raw: Option<&str>, caller: &Caller) -> Result<String, ApiError> {
    match raw {
        Some(k) if (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(format!("{}:{k}", caller.login))
        }
        Some(k) => Err(ApiError::field(
            "Idempotency-Key",
            k,
            "1 to 200 visible ASCII characters, new for each command",
        )),
        None => Err(ApiError::field(
            "Idempotency-Key",
            "",
            "a header with a key new for each command (a retry sends the same key)",
        )),
    }
}

/// Run one command for the caller: 200 with the outcome when accepted (or when this is a retry of an accepted
/// command), 409 with the reasons when refused.
pub async fn execute(
    state: &ApiState,
    caller: &Caller,
    headers: &HeaderMap,
    command: Command,
) -> Result<Json<CommandOutcome>, ApiError> {
    let raw = headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok());
    let out = run(state, caller, raw, command).await?;
    match &out.outcome {
        Outcome::Accepted { .. } => Ok(Json(out)),
        Outcome::Refused { reasons } => Err(ApiError::Refused {
            audit_seq: out.audit_seq,
            reasons: reasons.clone(),
        }),
    }
}

/// Run one command for the caller with the idempotency key it sent (`None`: none sent), judged on the server's
/// date: the outcome, accepted or refused. A retry with the same key answers the first outcome.
pub async fn run(
    state: &ApiState,
    caller: &Caller,
    idempotency_key: Option<&str>,
    command: Command,
) -> Result<CommandOutcome, ApiError> {
    let req = CommandRequest {
        idempotency_key: key(idempotency_key, caller)?,
        actor: caller.actor(),
        on: state.today(),
        command,
    };
    Ok(state.workflow.execute(req).await?)
}

type Answer = Result<Json<CommandOutcome>, ApiError>;

pub async fn register_organisation(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<RegisterOrganisation>,
) -> Answer {
    let command = Command::RegisterOrganisation {
        organisation: b.organisation,
        kind: b.kind,
        name: b.name,
    };
    execute(&s, &c, &headers, command).await
}

pub async fn register_user(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<RegisterUser>,
) -> Answer {
    let command = Command::RegisterUser {
        user: b.user,
        organisation: b.organisation,
        name: b.name,
        role: b.role,
    };
    execute(&s, &c, &headers, command).await
}

pub async fn certify_prescriber(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    Path(user): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<Certification>,
) -> Answer {
    let command = Command::CertifyPrescriber {
        user,
        expires_on: b.expires_on,
    };
    execute(&s, &c, &headers, command).await
}

pub async fn certify_pharmacy(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    Path(organisation): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<Certification>,
) -> Answer {
    let command = Command::CertifyPharmacy {
        organisation,
        expires_on: b.expires_on,
    };
    execute(&s, &c, &headers, command).await
}

pub async fn enroll(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<Enrollment>,
) -> Answer {
    if b.prescriber != c.subject() {
        return Err(ApiError::field(
            "prescriber",
            &b.prescriber,
            format!(
                "{:?}: a prescriber enrolls patients as themself",
                c.subject()
            ),
        ));
    }
    execute(&s, &c, &headers, Command::Enroll(b)).await
}

/// A handler for a command about the patient in the path: the body, read as `$body`, and the patient id make the
/// command.
macro_rules! patient_command {
    ($(#[$doc:meta])* $name:ident, $body:ty, |$patient:ident, $b:ident| $command:expr) => {
        $(#[$doc])*
        pub async fn $name(
            State(s): State<ApiState>,
            Extension(c): Extension<Caller>,
            Path($patient): Path<String>,
            headers: HeaderMap,
            ApiJson($b): ApiJson<$body>,
        ) -> Answer {
            execute(&s, &c, &headers, $command).await
        }
    };
}

patient_command!(reclassify, Reclassification, |patient, b| {
    Command::Reclassify {
        patient,
        to: b.to,
        reason: b.reason,
        not_of_reproductive_potential: b.not_of_reproductive_potential,
    }
});
patient_command!(pregnancy_test, PregnancyTestReport, |patient, test| {
    Command::RecordPregnancyTest { patient, test }
});
patient_command!(
    contraception,
    ContraceptionAttestation,
    |patient, attestation| {
        Command::AttestContraception {
            patient,
            attestation,
        }
    }
);
patient_command!(survey, SurveySubmission, |patient, survey| {
    Command::SubmitSurvey { patient, survey }
});
patient_command!(lab, Lab, |patient, lab| Command::RecordLab { patient, lab });
patient_command!(measurement, BodyMeasurement, |patient, measurement| {
    Command::RecordMeasurement {
        patient,
        measurement,
    }
});
patient_command!(adverse_event, AdverseEvent, |patient, event| {
    Command::ReportAdverseEvent { patient, event }
});
patient_command!(interrupt, Interruption, |patient, b| Command::Interrupt {
    patient,
    cause: b.cause,
});
patient_command!(resume, Empty, |patient, _b| Command::Resume { patient });
patient_command!(discontinue, Discontinuation, |patient, b| {
    Command::Discontinue {
        patient,
        reason: b.reason,
    }
});
patient_command!(fetal_exposure, FetalExposure, |patient, b| {
    Command::ReportFetalExposure {
        patient,
        description: b.description,
    }
});

pub async fn prescription(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    Path(patient): Path<String>,
    headers: HeaderMap,
    ApiJson(order): ApiJson<PrescriptionOrder>,
) -> Answer {
    if order.patient != patient {
        return Err(ApiError::field(
            "patient",
            &order.patient,
            format!("{patient:?}, the patient in the path"),
        ));
    }
    execute(&s, &c, &headers, Command::WritePrescription(order)).await
}

pub async fn authorize(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    Path(prescription): Path<String>,
    headers: HeaderMap,
) -> Answer {
    execute(
        &s,
        &c,
        &headers,
        Command::RequestAuthorization { prescription },
    )
    .await
}

pub async fn confirm(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    Path(authorization): Path<String>,
    headers: HeaderMap,
) -> Answer {
    execute(
        &s,
        &c,
        &headers,
        Command::RequestConfirmation { authorization },
    )
    .await
}

pub async fn dispense(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    Path(authorization): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<DispenseBody>,
) -> Answer {
    let command = Command::Dispense {
        authorization,
        confirmation: b.confirmation,
        days_supply: b.days_supply,
        quantity: b.quantity,
        counselling: b.counselling,
    };
    execute(&s, &c, &headers, command).await
}

//! Reads about stored patients: the list the caller may see, a patient's file, today's assessment, REMS
//! eligibility, calendar and survey questions, a prescription, and the pharmacy's dispense check. The guard has
//! already checked the caller's relation to the patient, prescription or authorization in the path.

use super::identity::Caller;
use super::problem::ApiError;
use super::{ApiQuery, ApiState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use jiff::ToSpan;
use jiff::civil::Date;
use lenaguard_domain::calendar::{Calendar, calendar};
use lenaguard_domain::program::{EligibilityReport, RiskCategory, Stage, eligibility};
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::snapshot::TreatmentStatus;
use lenaguard_domain::{Assessment, Snapshot, assess};
use lenaguard_storage::accounts::{AccountRole, PatientScope};
use lenaguard_storage::records::{
    AuthorizationRow, AuthorizationStatus, ConfirmationRow, DispenseRow, PrescriptionRow,
};
use lenaguard_storage::{PatientFile, Reason, engine};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Serialize, JsonSchema)]
pub struct PatientSummary {
    pub id: String,
    pub category: RiskCategory,
    pub regimen: RegimenId,
    pub status: TreatmentStatus,
    pub prescriber: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<lenaguard_storage::schema::IsoDate>")]
    pub start_date: Option<Date>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SurveyQuestion {
    pub id: String,
    pub text: String,
    /// The answer the program requires.
    pub required: bool,
    /// The rule that requires it.
    pub rule: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PrescriptionView {
    pub prescription: PrescriptionRow,
    pub authorizations: Vec<AuthorizationRow>,
    pub confirmations: Vec<ConfirmationRow>,
    pub dispenses: Vec<DispenseRow>,
}

/// May the pharmacy dispense against this authorization today?
#[derive(Debug, Serialize, JsonSchema)]
pub struct DispenseCheck {
    pub authorization: String,
    pub prescription: String,
    pub patient: String,
    #[schemars(with = "lenaguard_storage::schema::IsoDate")]
    pub on: Date,
    /// True only when nothing is missing.
    pub dispensable: bool,
    /// Every missing step, with what fixes it.
    #[schemars(with = "Vec<serde_json::Value>")]
    pub missing: Vec<Reason>,
    /// The last day the authorization can be used.
    #[schemars(with = "lenaguard_storage::schema::IsoDate")]
    pub valid_through: Date,
    pub eligibility: EligibilityReport,
}

pub fn scope(c: &Caller) -> Result<PatientScope, ApiError> {
    let subject = || c.subject.clone().unwrap_or_default();
    Ok(match c.role {
        AccountRole::Prescriber => PatientScope::Prescriber(subject()),
        AccountRole::Pharmacist => {
            PatientScope::Pharmacy(c.organisation.clone().unwrap_or_default())
        }
        AccountRole::Patient => PatientScope::Patient(subject()),
        AccountRole::ProgramStaff | AccountRole::Auditor => PatientScope::All,
        AccountRole::Admin | AccountRole::EhrClient => {
            return Err(ApiError::Forbidden("this role sees no patient here".into()));
        }
    })
}

pub async fn list(
    State(state): State<ApiState>,
    Extension(c): Extension<Caller>,
    q: ApiQuery,
) -> Result<Json<Vec<PatientSummary>>, ApiError> {
    q.only(&["after", "limit"])?;
    let limit = q.number("limit", 1..=1000, 100)?;
    let rows = state
        .store
        .patient_list(&scope(&c)?, q.text("after").unwrap_or(""), i64::from(limit))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|p| PatientSummary {
                id: p.id,
                category: p.category,
                regimen: p.regimen,
                status: p.status,
                prescriber: p.prescriber,
                start_date: p.start_date,
            })
            .collect(),
    ))
}

pub async fn file(state: &ApiState, patient: &str) -> Result<PatientFile, ApiError> {
    state
        .store
        .patient_file(patient)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "patient",
            id: patient.into(),
        })
}

/// The engine's view of a stored file. A stored file the engine cannot read is reported, never guessed around.
pub fn snapshot(file: &PatientFile) -> Result<Snapshot, ApiError> {
    engine::snapshot(file)
        .map_err(|e| ApiError::Conflict(format!("the stored records cannot be judged: {e}")))
}

pub fn judged<T>(r: Result<T, lenaguard_domain::InputError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::Conflict(format!("the stored records cannot be judged: {e}")))
}

pub async fn read(
    State(state): State<ApiState>,
    Path(patient): Path<String>,
    q: ApiQuery,
) -> Result<Json<PatientFile>, ApiError> {
    q.only(&[])?;
    Ok(Json(file(&state, &patient).await?))
}

pub async fn assessment(
    State(state): State<ApiState>,
    Path(patient): Path<String>,
    q: ApiQuery,
) -> Result<Json<Assessment>, ApiError> {
    q.only(&[])?;
    let f = file(&state, &patient).await?;
    let snap = snapshot(&f)?;
    Ok(Json(judged(assess(&snap, &state.pack, state.today()))?))
}

pub async fn eligibility_of(
    state: &ApiState,
    file: &PatientFile,
    stage: Option<Stage>,
) -> Result<EligibilityReport, ApiError> {
    let snap = snapshot(file)?;
    judged(eligibility(&snap, &state.pack, state.today(), stage))
}

pub async fn eligibility_route(
    State(state): State<ApiState>,
    Path(patient): Path<String>,
    q: ApiQuery,
) -> Result<Json<EligibilityReport>, ApiError> {
    q.only(&[])?;
    let f = file(&state, &patient).await?;
    Ok(Json(eligibility_of(&state, &f, None).await?))
}

/// The calendar span of a request: `from` (default: the treatment start, the planned start or today) and `days`.
pub fn span(q: &ApiQuery, snap: &Snapshot, today: Date) -> Result<(Date, Date), ApiError> {
    let from = match q.date("from")? {
        Some(d) => d,
        None => snap
            .treatment
            .start_date
            .or(snap.program.as_ref().and_then(|p| p.planned_start))
            .unwrap_or(today),
    };
    let days = q.number("days", 1..=366, 28)?;
    let to = from
        .checked_add((i64::from(days) - 1).days())
        .map_err(|_| ApiError::field("from", from, "a date at least a year before 9999-12-31"))?;
    Ok((from, to))
}

pub async fn calendar_route(
    State(state): State<ApiState>,
    Path(patient): Path<String>,
    q: ApiQuery,
) -> Result<Json<Calendar>, ApiError> {
    q.only(&["from", "days"])?;
    let f = file(&state, &patient).await?;
    let snap = snapshot(&f)?;
    let today = state.today();
    let (from, to) = span(&q, &snap, today)?;
    Ok(Json(judged(calendar(&snap, &state.pack, today, from, to))?))
}

pub async fn survey_questions(
    State(state): State<ApiState>,
    Path(patient): Path<String>,
    q: ApiQuery,
) -> Result<Json<Vec<SurveyQuestion>>, ApiError> {
    q.only(&[])?;
    let f = file(&state, &patient).await?;
    Ok(Json(
        lenaguard_storage::survey::questions(f.patient.category)
            .into_iter()
            .map(|q| SurveyQuestion {
                id: q.id.into(),
                text: q.text.into(),
                required: q.required,
                rule: q.rule.into(),
            })
            .collect(),
    ))
}

fn view(f: PatientFile, prescription: &str) -> Option<PrescriptionView> {
    let rx = f.prescriptions.into_iter().find(|p| p.id == prescription)?;
    let authorizations: Vec<AuthorizationRow> = f
        .authorizations
        .into_iter()
        .filter(|a| a.prescription == prescription)
        .collect();
    let ours = |number: &str| authorizations.iter().any(|a| a.number == number);
    let confirmations = f
        .confirmations
        .into_iter()
        .filter(|c| ours(&c.authorization))
        .collect();
    let dispenses = f
        .dispenses
        .into_iter()
        .filter(|d| ours(&d.authorization))
        .collect();
    Some(PrescriptionView {
        prescription: rx,
        authorizations,
        confirmations,
        dispenses,
    })
}

pub async fn prescription(
    State(state): State<ApiState>,
    Path(prescription): Path<String>,
    q: ApiQuery,
) -> Result<Json<PrescriptionView>, ApiError> {
    q.only(&[])?;
    let not_found = || ApiError::NotFound {
        what: "prescription",
        id: prescription.clone(),
    };
    let rel = state
        .store
        .prescription_relations(&prescription)
        .await?
        .ok_or_else(not_found)?;
    let f = file(&state, &rel.patient).await?;
    view(f, &prescription).map(Json).ok_or_else(not_found)
}

pub async fn dispense_check(
    State(state): State<ApiState>,
    Path(authorization): Path<String>,
    q: ApiQuery,
) -> Result<Json<DispenseCheck>, ApiError> {
    q.only(&[])?;
    Ok(Json(check_dispense(&state, &authorization).await?))
}

/// May the pharmacy dispense against `authorization` today: every missing step, the authorization's own (used,
/// lapsed) first. The caller's relation to the authorization is the caller's to check.
pub async fn check_dispense(
    state: &ApiState,
    authorization: &str,
) -> Result<DispenseCheck, ApiError> {
    let not_found = || ApiError::NotFound {
        what: "authorization",
        id: authorization.to_string(),
    };
    let rel = state
        .store
        .authorization_relations(authorization)
        .await?
        .ok_or_else(not_found)?;
    let f = file(state, &rel.patient).await?;
    let auth = f
        .authorizations
        .iter()
        .find(|a| a.number == authorization)
        .cloned()
        .ok_or_else(not_found)?;
    let today = state.today();
    let report = eligibility_of(state, &f, Some(Stage::Dispense)).await?;
    let mut missing = Vec::new();
    if auth.status == AuthorizationStatus::Used {
        missing.push(Reason::new(
            "authorization.used",
            format!("authorization {authorization} was already dispensed against"),
            "one dispense per authorization: the prescriber obtains a new one for the next supply",
        ));
    }
    if auth.valid_through < today {
        missing.push(Reason::new(
            "authorization.expired",
            format!(
                "authorization {authorization} lapsed after {}",
                auth.valid_through
            ),
            "the prescriber obtains a new authorization",
        ));
    }
    missing.extend(engine::missing_steps(&report, &[]));
    Ok(DispenseCheck {
        authorization: auth.number,
        prescription: auth.prescription,
        patient: rel.patient,
        on: today,
        dispensable: missing.is_empty(),
        missing,
        valid_through: auth.valid_through,
        eligibility: report,
    })
}

//! The engine on data in the request: starting dose, assessment, REMS eligibility and calendar of a snapshot,
//! and the rule pack. Nothing is stored and no stored patient is read, so these need a clinical role only.

use super::problem::ApiError;
use super::{ApiJson, ApiQuery, ApiState};
use axum::Json;
use axum::extract::{Path, State};
use lenaguard_domain::calendar::{Calendar, calendar as domain_calendar};
use lenaguard_domain::program::{EligibilityReport, Stage, eligibility};
use lenaguard_domain::provenance::{Provenance, Status};
use lenaguard_domain::quick::{self, DoseAnswer, DoseQuestion, KidneyInput};
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::{Sex, WeightBasis};
use lenaguard_domain::{Assessment, Snapshot, assess as domain_assess};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A starting-dose question: the regimen and either a measured creatinine clearance or the Cockcroft-Gault
/// inputs (age, sex, weight, creatinine), or neither with dialysis.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DoseRequest {
    pub regimen: RegimenId,
    /// A measured creatinine clearance (mL/min); excludes the Cockcroft-Gault inputs.
    #[serde(default)]
    pub crcl_ml_min: Option<f64>,
    #[serde(default)]
    pub age_years: Option<f64>,
    #[serde(default)]
    pub sex: Option<Sex>,
    #[serde(default)]
    pub weight_kg: Option<f64>,
    #[serde(default)]
    pub height_cm: Option<f64>,
    #[serde(default)]
    pub creatinine: Option<f64>,
    /// `mg/dL` (default) or `umol/L`.
    #[serde(default)]
    pub creatinine_unit: Option<String>,
    #[serde(default)]
    pub weight_basis: WeightBasis,
    #[serde(default)]
    pub dialysis: bool,
}

impl DoseRequest {
    fn question(self) -> Result<DoseQuestion, ApiError> {
        let cg_given = self.age_years.is_some()
            || self.sex.is_some()
            || self.weight_kg.is_some()
            || self.creatinine.is_some();
        let kidney = match self.crcl_ml_min {
            Some(_) if cg_given => {
                return Err(ApiError::field(
                    "crcl_ml_min",
                    "(with Cockcroft-Gault inputs)",
                    "either crcl_ml_min or age_years, sex, weight_kg and creatinine, not both",
                ));
            }
            Some(c) => KidneyInput::Measured { crcl_ml_min: c },
            None if cg_given => {
                let need = |v: Option<f64>, field: &str, what: &str| {
                    v.ok_or_else(|| {
                        ApiError::field(
                            field,
                            "",
                            format!(
                                "{what} (Cockcroft-Gault needs age, sex, weight and creatinine)"
                            ),
                        )
                    })
                };
                KidneyInput::CockcroftGault {
                    age_years: need(self.age_years, "age_years", "age in years")?,
                    sex: self
                        .sex
                        .ok_or_else(|| ApiError::field("sex", "", "female or male"))?,
                    weight_kg: need(self.weight_kg, "weight_kg", "body weight in kg")?,
                    height_cm: self.height_cm,
                    creatinine: need(self.creatinine, "creatinine", "serum creatinine")?,
                    creatinine_unit: self.creatinine_unit.unwrap_or_else(|| "mg/dL".into()),
                    basis: self.weight_basis,
                }
            }
            None => KidneyInput::Unknown,
        };
        Ok(DoseQuestion {
            regimen: self.regimen,
            kidney,
            dialysis: self.dialysis,
        })
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleList {
    pub pack: String,
    pub version: String,
    pub label_version: String,
    pub rules: Vec<Provenance>,
}

pub async fn dose(
    State(state): State<ApiState>,
    q: ApiQuery,
    ApiJson(body): ApiJson<DoseRequest>,
) -> Result<Json<DoseAnswer>, ApiError> {
    q.only(&[])?;
    Ok(Json(quick::starting_dose(&state.pack, &body.question()?)?))
}

pub async fn assess(
    State(state): State<ApiState>,
    q: ApiQuery,
    ApiJson(snapshot): ApiJson<Snapshot>,
) -> Result<Json<Assessment>, ApiError> {
    q.only(&[])?;
    Ok(Json(domain_assess(&snapshot, &state.pack, state.today())?))
}

pub async fn check_dispense(
    State(state): State<ApiState>,
    q: ApiQuery,
    ApiJson(snapshot): ApiJson<Snapshot>,
) -> Result<Json<EligibilityReport>, ApiError> {
    q.only(&["stage"])?;
    let stage = match q.text("stage") {
        None => None,
        Some("prescription") => Some(Stage::Prescription),
        Some("dispense") => Some(Stage::Dispense),
        Some(other) => return Err(ApiError::field("stage", other, "prescription or dispense")),
    };
    Ok(Json(eligibility(
        &snapshot,
        &state.pack,
        state.today(),
        stage,
    )?))
}

pub async fn calendar(
    State(state): State<ApiState>,
    q: ApiQuery,
    ApiJson(snapshot): ApiJson<Snapshot>,
) -> Result<Json<Calendar>, ApiError> {
    q.only(&["from", "days"])?;
    let today = state.today();
    let (from, to) = super::patients::span(&q, &snapshot, today)?;
    Ok(Json(domain_calendar(
        &snapshot,
        &state.pack,
        today,
        from,
        to,
    )?))
}

pub async fn rules(State(state): State<ApiState>, q: ApiQuery) -> Result<Json<RuleList>, ApiError> {
    q.only(&["unverified"])?;
    let only_unverified = q.flag("unverified")?;
    let mut rules: Vec<Provenance> = state
        .pack
        .provenances()
        .into_iter()
        .filter(|p| !only_unverified || p.status == Status::Unverified)
        .cloned()
        .collect();
    rules.sort_by(|a, b| {
        a.rule
            .cmp(&b.rule)
            .then(b.version_date.cmp(&a.version_date))
    });
    let meta = &state.pack.meta;
    Ok(Json(RuleList {
        pack: meta.id.clone(),
        version: meta.version.clone(),
        label_version: meta.label_version.clone(),
        rules,
    }))
}

pub async fn rule(
    State(state): State<ApiState>,
    Path(rule): Path<String>,
    q: ApiQuery,
) -> Result<Json<Vec<Provenance>>, ApiError> {
    q.only(&[])?;
    let found: Vec<Provenance> = state
        .pack
        .provenances()
        .into_iter()
        .filter(|p| p.rule == rule)
        .cloned()
        .collect();
    if found.is_empty() {
        return Err(ApiError::NotFound {
            what: "rule",
            id: rule,
        });
    }
    Ok(Json(found))
}

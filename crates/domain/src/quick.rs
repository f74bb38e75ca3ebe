//! The quick starting-dose answer: regimen and kidney function in, the label's starting dose out, with the
//! rules behind it. No blood counts are needed for this question; `assess` asks the full one.

use crate::assessment::{CrClMethod, KidneySummary};
use crate::dose::Schedule;
use crate::error::InputError;
use crate::finding::{Finding, Severity};
use crate::pack::RulePack;
use crate::regimen::RegimenId;
use crate::renal::{self, CgInputs, CrCl, KidneyFunction, Sex, WeightBasis};
use crate::units::{Analyte, Quantity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How kidney function is given.
#[derive(Debug, Clone, PartialEq)]
pub enum KidneyInput {
    Measured {
        crcl_ml_min: f64,
    },
    CockcroftGault {
        age_years: f64,
        sex: Sex,
        weight_kg: f64,
        height_cm: Option<f64>,
        creatinine: f64,
        creatinine_unit: String,
        basis: WeightBasis,
    },
    /// Dialysis without a clearance value.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoseQuestion {
    pub regimen: RegimenId,
    pub kidney: KidneyInput,
    pub dialysis: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DoseAnswer {
    pub regimen: RegimenId,
    pub regimen_name: String,
    pub kidney: KidneySummary,
    /// `None` when the label gives no dose for this kidney function (not studied).
    pub schedule: Option<Schedule>,
    pub summary: String,
    pub findings: Vec<Finding>,
    pub unverified_rules: Vec<String>,
}

pub fn starting_dose(pack: &RulePack, q: &DoseQuestion) -> Result<DoseAnswer, InputError> {
    let p = &pack.policy.plausible;
    let regimen = pack.regimen(q.regimen);
    let mut kidney = KidneySummary {
        crcl_ml_min: None,
        method: None,
        weight_basis: None,
        weight_used_kg: None,
        dialysis: q.dialysis,
        band: None,
        renal_starting_dose: None,
        not_studied: false,
    };
    let crcl = match &q.kidney {
        KidneyInput::Measured { crcl_ml_min } => {
            kidney.method = Some(CrClMethod::Measured);
            Some(CrCl::new(*crcl_ml_min).map_err(|e| e.within("kidney"))?)
        }
        KidneyInput::CockcroftGault {
            age_years,
            sex,
            weight_kg,
            height_cm,
            creatinine,
            creatinine_unit,
            basis,
        } => {
            if !p.age_years.contains(*age_years) {
                return Err(InputError::invalid(
                    "age",
                    age_years,
                    "an age from 0 to 120 years",
                ));
            }
            p.check_weight_kg("weight", *weight_kg)?;
            if let Some(h) = height_cm {
                p.check_height_cm("height", *h)?;
            }
            let scr = Quantity::parse(Analyte::Creatinine, *creatinine, creatinine_unit)
                .map_err(|e| e.within("creatinine"))?
                .value();
            if !p.creatinine_mg_dl.contains(scr) {
                return Err(InputError::invalid(
                    "creatinine",
                    format!("{creatinine} {creatinine_unit}"),
                    format!(
                        "a serum creatinine from {} to {} mg/dL ({:.0} to {:.0} umol/L)",
                        p.creatinine_mg_dl.min,
                        p.creatinine_mg_dl.max,
                        p.creatinine_mg_dl.min * crate::units::CREATININE_UMOL_L_PER_MG_DL,
                        p.creatinine_mg_dl.max * crate::units::CREATININE_UMOL_L_PER_MG_DL
                    ),
                ));
            }
            let (c, used) = renal::cockcroft_gault(
                &pack.renal.cockcroft_gault,
                CgInputs {
                    age_years: *age_years,
                    sex: *sex,
                    weight_kg: *weight_kg,
                    height_cm: *height_cm,
                    creatinine_mg_dl: scr,
                    basis: *basis,
                },
            )?;
            kidney.method = Some(CrClMethod::CockcroftGault);
            kidney.weight_basis = Some(*basis);
            kidney.weight_used_kg = Some((used * 10.0).round() / 10.0);
            Some(c)
        }
        KidneyInput::Unknown => {
            if !q.dialysis {
                return Err(InputError::missing(
                    "kidney",
                    "--crcl, or --age --sex --weight --creatinine, or --dialysis",
                ));
            }
            None
        }
    };
    kidney.crcl_ml_min = crcl.map(|c| (c.ml_min() * 10.0).round() / 10.0);
    let start = renal::starting_dose(
        pack,
        q.regimen,
        KidneyFunction {
            crcl,
            dialysis: q.dialysis,
        },
    );
    kidney.band = start.band;
    kidney.renal_starting_dose = Some(start.schedule);
    kidney.not_studied = start.not_studied;
    let mut findings = renal::findings(pack, regimen, &start);
    if kidney.method == Some(CrClMethod::CockcroftGault) {
        findings.push(
            Finding::new(
                "kidney.crcl",
                Severity::Info,
                format!(
                    "Creatinine clearance {:.0} mL/min by Cockcroft-Gault.",
                    kidney.crcl_ml_min.unwrap_or_default()
                ),
            )
            .source(&pack.renal.cockcroft_gault.provenance),
        );
    }
    let schedule = (!start.not_studied).then_some(start.schedule);
    findings.push(
        Finding::new(
            "dose.start",
            Severity::Info,
            match &schedule {
                Some(s) => format!("Starting dose: {s}."),
                None => "No labelled starting dose for this kidney function.".to_string(),
            },
        )
        .source(&regimen.provenance)
        .source(&start.provenance),
    );
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut unverified: Vec<String> = findings
        .iter()
        .flat_map(|f| &f.sources)
        .filter(|p| !p.is_verified())
        .map(|p| p.rule.clone())
        .collect();
    unverified.sort();
    unverified.dedup();
    let renal_note = match (kidney.crcl_ml_min, q.dialysis) {
        (_, true) => " (on dialysis)".to_string(),
        (Some(c), false) => format!(" (CrCl {c:.0} mL/min)"),
        (None, false) => String::new(),
    };
    let summary = match &schedule {
        Some(s) => format!("{}: {s}{renal_note}.", regimen.name),
        None => format!(
            "{}: no labelled starting dose{renal_note}; the label says this range was not studied.",
            regimen.name
        ),
    };
    Ok(DoseAnswer {
        regimen: q.regimen,
        regimen_name: regimen.name.clone(),
        kidney,
        schedule,
        summary,
        findings,
        unverified_rules: unverified,
    })
}

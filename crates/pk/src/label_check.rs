//! Check of every label renal dose against the exposure of the same indication's normal-function dose.
//! Doses: reference/label.md §2 (MM/MCL column confirmed; maintenance/MDS and FL/MZL columns NOT CONFIRMED).
//! Criterion: steady-state AUC per 24 h within 0.75-1.25 of the normal dose at normal kidney function, the
//! "reproducible test" of reference/pk-model.md §4.2 (a phase 2 study found label dosing within ±25% [C]).

use serde::Serialize;

use crate::covariates::Covariates;
use crate::error::PkError;
use crate::exposure::{Regimen, relative_exposure, steady_auc24};
use crate::model::Model;
use crate::population::{Percentiles, draw};

/// Indication groups that share a renal dose column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicationGroup {
    /// Multiple myeloma (with dexamethasone) and mantle-cell lymphoma: normal dose 25 mg.
    MmMcl,
    /// MM maintenance and MDS: normal dose 10 mg.
    MaintenanceMds,
    /// Follicular and marginal-zone lymphoma: normal dose 20 mg.
    FlMzl,
}

/// Where on the renal scale a dose is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RenalPoint {
    /// A CrCl value, mL/min.
    CrCl {
        /// mL/min.
        crcl_ml_min: f64,
    },
    /// ESRD on haemodialysis, three 4-h sessions a week, dose after dialysis.
    Dialysis,
}

/// One label renal dose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelRenalDose {
    /// Indication group.
    pub indication: IndicationGroup,
    /// The label's CrCl band.
    pub band: &'static str,
    /// The label regimen.
    pub regimen: Regimen,
    /// Whether the label text was confirmed (label.md verification pass).
    pub label_confirmed: bool,
    /// Points of the band where exposure is evaluated (band edges and the renal-study group values).
    pub points: Vec<RenalPoint>,
}

fn normal_dose(group: IndicationGroup) -> f64 {
    match group {
        IndicationGroup::MmMcl => 25.0,
        IndicationGroup::MaintenanceMds => 10.0,
        IndicationGroup::FlMzl => 20.0,
    }
}

/// The label's renal dose table (label.md §2).
pub fn label_renal_doses() -> Vec<LabelRenalDose> {
    let crcl = |v: &[f64]| {
        v.iter()
            .map(|&c| RenalPoint::CrCl { crcl_ml_min: c })
            .collect::<Vec<_>>()
    };
    let mut rows = Vec::new();
    for (group, confirmed, moderate, severe, severe_interval, dialysis) in [
        (IndicationGroup::MmMcl, true, 10.0, 15.0, 48.0, 5.0),
        (IndicationGroup::MaintenanceMds, false, 5.0, 2.5, 24.0, 2.5),
        (IndicationGroup::FlMzl, false, 10.0, 5.0, 24.0, 5.0),
    ] {
        let normal = normal_dose(group);
        rows.push(LabelRenalDose {
            indication: group,
            band: "CrCl >= 60 mL/min (no adjustment)",
            regimen: Regimen::once_daily(normal),
            label_confirmed: confirmed,
            points: crcl(&[60.0, 90.0, 120.0]),
        });
        rows.push(LabelRenalDose {
            indication: group,
            band: "CrCl 30 to < 60 mL/min",
            regimen: Regimen::once_daily(moderate),
            label_confirmed: confirmed,
            points: crcl(&[30.0, 40.0, 55.0]),
        });
        rows.push(LabelRenalDose {
            indication: group,
            band: "CrCl < 30 mL/min, not on dialysis",
            regimen: Regimen {
                interval_h: severe_interval,
                ..Regimen::once_daily(severe)
            },
            label_confirmed: confirmed,
            points: crcl(&[15.0, 23.0, 29.0]),
        });
        rows.push(LabelRenalDose {
            indication: group,
            band: "on dialysis (dose after dialysis on dialysis days)",
            regimen: Regimen::daily_after_dialysis(dialysis),
            label_confirmed: confirmed,
            points: vec![RenalPoint::Dialysis],
        });
    }
    rows
}

/// Result of one label dose at one renal point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelCheckRow {
    /// Indication group.
    pub indication: IndicationGroup,
    /// Label CrCl band.
    pub band: &'static str,
    /// Label regimen.
    pub regimen: Regimen,
    /// Whether the label column is confirmed.
    pub label_confirmed: bool,
    /// Evaluated renal point.
    pub point: RenalPoint,
    /// Normal-function dose of the indication, mg once daily.
    pub normal_dose_mg: f64,
    /// Typical patient: steady-state AUC/24 h over that of the normal dose at normal kidney function.
    pub ratio_to_normal_dose: f64,
    /// Within 0.75-1.25 (pk-model.md §4.2).
    pub auc_matched: bool,
    /// Typical steady-state Cmax, ng/mL.
    pub cmax_ss_ng_ml: f64,
    /// Typical steady-state trough, ng/mL.
    pub cmin_ss_ng_ml: f64,
    /// Virtual-population percentiles of the ratio (each patient's AUC over the typical normal-function AUC).
    pub population_ratio: Option<Percentiles>,
    /// Share of virtual patients within 0.75-1.25.
    pub population_share_matched: Option<f64>,
}

/// A population for the check: size and seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckPopulation {
    /// Virtual patients per renal point (1 to 100,000).
    pub size: usize,
    /// Seed.
    pub seed: u64,
}

/// Evaluates every label renal dose (70-kg patient) against the normal-function dose of its indication.
pub fn label_renal_check(
    model: &Model,
    population: Option<CheckPopulation>,
) -> Result<Vec<LabelCheckRow>, PkError> {
    if let Some(p) = population
        && !(1..=100_000).contains(&p.size)
    {
        return Err(PkError::invalid(
            "population.size",
            p.size,
            "1 to 100000 patients",
        ));
    }
    let mut out = Vec::new();
    for dose in label_renal_doses() {
        let normal = normal_dose(dose.indication);
        for &point in &dose.points {
            let patient = match point {
                RenalPoint::CrCl { crcl_ml_min } => Covariates::patient(crcl_ml_min, 70.0)?,
                RenalPoint::Dialysis => Covariates::patient_on_dialysis(70.0)?,
            };
            let s = relative_exposure(model, &patient, &dose.regimen)?;
            // Exposure is linear in dose, so the normal dose's reference AUC scales the 25-mg reference.
            let reference = s.reference_auc24_ng_h_ml / model.reference.dose_mg * normal;
            let ratio = s.auc24_ss_ng_h_ml / reference;
            let (population_ratio, population_share_matched) = match population {
                None => (None, None),
                Some(p) => {
                    let typical = model.individual(&patient, false)?;
                    let cl_hd = if dose.regimen.dialysis.is_some() {
                        typical.cl_dialysis_l_h.unwrap_or(0.0)
                    } else {
                        0.0
                    };
                    let ratios = (0..p.size)
                        .map(|i| {
                            let ind = draw(model, &typical, p.seed, i as u64, false);
                            steady_auc24(&ind, &dose.regimen, cl_hd).map(|a| a * 1000.0 / reference)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let share = ratios.iter().filter(|r| (0.75..=1.25).contains(*r)).count() as f64
                        / ratios.len() as f64;
                    (Some(Percentiles::of(&ratios)), Some(share))
                }
            };
            out.push(LabelCheckRow {
                indication: dose.indication,
                band: dose.band,
                regimen: dose.regimen.clone(),
                label_confirmed: dose.label_confirmed,
                point,
                normal_dose_mg: normal,
                ratio_to_normal_dose: ratio,
                auc_matched: (0.75..=1.25).contains(&ratio),
                cmax_ss_ng_ml: s.cmax_ss_ng_ml,
                cmin_ss_ng_ml: s.cmin_ss_ng_ml,
                population_ratio,
                population_share_matched,
            });
        }
    }
    Ok(out)
}

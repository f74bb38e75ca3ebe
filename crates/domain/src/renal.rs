//! Kidney function and the renal starting dose (label.md §2).
//!
//! The label adjusts the starting dose when creatinine clearance is below 60 mL/min; later changes follow
//! tolerance. CrCl is Cockcroft-Gault (the formula of the renal-impairment studies) with an explicit body-weight
//! basis, or a measured clearance. Dialysis patients take the dialysis row whatever their computed CrCl.

use crate::dose::Schedule;
use crate::error::InputError;
use crate::finding::{Finding, Severity};
use crate::pack::{CockcroftGault, Regimen, RenalBand, RenalRow, RulePack};
use crate::provenance::Provenance;
use crate::regimen::RegimenId;
use crate::units::CREATININE_UMOL_L_PER_MG_DL;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
}

/// Which body weight Cockcroft-Gault uses. The label does not say; actual weight is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeightBasis {
    #[default]
    Actual,
    Ideal,
    Adjusted,
}

/// Creatinine clearance in mL/min (not normalised to body surface area).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, JsonSchema)]
pub struct CrCl(f64);

impl CrCl {
    pub fn new(ml_min: f64) -> Result<CrCl, InputError> {
        if ml_min.is_finite() && (0.0..=250.0).contains(&ml_min) {
            Ok(CrCl(ml_min))
        } else {
            Err(InputError::invalid(
                "crcl_ml_min",
                ml_min,
                "a creatinine clearance from 0 to 250 mL/min",
            ))
        }
    }
    pub fn ml_min(self) -> f64 {
        self.0
    }
}

/// The inputs of Cockcroft-Gault, already checked for plausibility.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgInputs {
    pub age_years: f64,
    pub sex: Sex,
    pub weight_kg: f64,
    pub height_cm: Option<f64>,
    pub creatinine_mg_dl: f64,
    pub basis: WeightBasis,
}

/// Ideal body weight from height, as in the pack (pk-model.md §2.2).
pub fn ideal_body_weight(cg: &CockcroftGault, sex: Sex, height_cm: f64) -> f64 {
    let base = match sex {
        Sex::Male => cg.ibw_male_base_kg,
        Sex::Female => cg.ibw_female_base_kg,
    };
    base + cg.ibw_kg_per_cm * (height_cm - cg.ibw_height_pivot_cm)
}

/// Cockcroft-Gault creatinine clearance and the weight it used.
pub fn cockcroft_gault(cg: &CockcroftGault, x: CgInputs) -> Result<(CrCl, f64), InputError> {
    let weight = match x.basis {
        WeightBasis::Actual => x.weight_kg,
        WeightBasis::Ideal | WeightBasis::Adjusted => {
            let h = x.height_cm.ok_or_else(|| {
                InputError::missing(
                    "patient.height_cm",
                    "height in cm, needed for the ideal or adjusted body weight",
                )
            })?;
            let ibw = ideal_body_weight(cg, x.sex, h);
            if ibw <= 0.0 {
                return Err(InputError::invalid(
                    "patient.height_cm",
                    h,
                    "a height giving a positive ideal body weight",
                ));
            }
            match x.basis {
                WeightBasis::Ideal => ibw,
                _ => ibw + cg.adjusted_weight_factor * (x.weight_kg - ibw),
            }
        }
    };
    let factor = match x.sex {
        Sex::Male => cg.male_factor,
        Sex::Female => cg.female_factor,
    };
    let scr_umol = x.creatinine_mg_dl * CREATININE_UMOL_L_PER_MG_DL;
    let crcl = ((140.0 - x.age_years) * weight * factor / scr_umol).max(0.0);
    Ok((CrCl::new(crcl.min(250.0))?, weight))
}

/// The kidney function the engine doses from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KidneyFunction {
    pub crcl: Option<CrCl>,
    pub dialysis: bool,
}

/// The band of the renal table a patient falls in; `None` means no adjustment (CrCl >= 60).
pub fn band(pack: &RulePack, k: KidneyFunction) -> Option<RenalBand> {
    if k.dialysis {
        return Some(RenalBand::Dialysis);
    }
    let crcl = k.crcl?.ml_min();
    if crcl >= pack.renal.no_adjustment_at_least {
        None
    } else if crcl >= pack.renal.moderate_at_least {
        Some(RenalBand::Moderate)
    } else {
        Some(RenalBand::Severe)
    }
}

/// The renal starting dose for a regimen.
#[derive(Debug, Clone, PartialEq)]
pub struct RenalStart {
    pub band: Option<RenalBand>,
    pub schedule: Schedule,
    /// The rule used; for no adjustment, the band rule.
    pub provenance: Provenance,
    /// Older versions of the same row that give another dose.
    pub alternatives: Vec<(Schedule, Provenance)>,
    /// The label says patients in this range were not studied.
    pub not_studied: bool,
}

fn row_schedule(regimen_start: Schedule, row: &RenalRow) -> Schedule {
    Schedule {
        dose_mg: row.dose_mg,
        frequency: row.frequency,
        after_dialysis: row.after_dialysis,
        ..regimen_start
    }
}

/// The starting dose for this regimen at this kidney function. `k.crcl` must be known unless on dialysis.
pub fn starting_dose(pack: &RulePack, regimen: RegimenId, k: KidneyFunction) -> RenalStart {
    let r = pack.regimen(regimen);
    let not_studied = match (k.dialysis, k.crcl) {
        (true, Some(c)) => c.ml_min() < pack.renal.not_studied_dialysis_below,
        (false, Some(c)) => c.ml_min() < pack.renal.not_studied_non_dialysis_below,
        (_, None) => false,
    };
    match band(pack, k) {
        None => RenalStart {
            band: None,
            schedule: r.start,
            provenance: r.provenance.clone(),
            alternatives: Vec::new(),
            not_studied,
        },
        Some(b) => {
            let (row, older) = pack
                .renal_row(regimen, b)
                .unwrap_or_else(|| unreachable!("validated pack has every renal row"));
            let schedule = row_schedule(r.start, row);
            RenalStart {
                band: Some(b),
                schedule,
                provenance: row.provenance.clone(),
                alternatives: older
                    .into_iter()
                    .map(|o| (row_schedule(r.start, o), o.provenance.clone()))
                    .filter(|(s, _)| *s != schedule)
                    .collect(),
                not_studied,
            }
        }
    }
}

/// What the renal table says, as findings: the band and its dose, older versions, the not-studied flag and
/// the escalation note.
pub fn findings(pack: &RulePack, regimen: &Regimen, renal: &RenalStart) -> Vec<Finding> {
    let mut out = Vec::new();
    if renal.not_studied {
        let dialysis = renal.band == Some(RenalBand::Dialysis);
        let limit = if dialysis {
            pack.renal.not_studied_dialysis_below
        } else {
            pack.renal.not_studied_non_dialysis_below
        };
        out.push(
            Finding::new(
                "kidney.not_studied",
                Severity::Critical,
                format!(
                    "CrCl below {limit} mL/min{}: the label says such patients were not studied; the prescriber decides.",
                    if dialysis { " on dialysis" } else { " without dialysis" }
                ),
            )
            .blocking()
            .source(&pack.renal.not_studied_provenance),
        );
    }
    let Some(band) = renal.band else {
        return out;
    };
    let band_text = match band {
        RenalBand::Moderate => "CrCl 30 to < 60 mL/min",
        RenalBand::Severe => "CrCl < 30 mL/min, not on dialysis",
        RenalBand::Dialysis => "on dialysis",
    };
    out.push(
        Finding::new(
            "renal.starting_dose",
            Severity::Warning,
            format!(
                "Renal impairment ({band_text}): the label's starting dose for {} is {} (regimen dose {}).",
                regimen.name, renal.schedule, regimen.start.dose_mg
            ),
        )
        .source(&renal.provenance)
        .source(&pack.renal.bands_provenance),
    );
    for (alt, p) in &renal.alternatives {
        out.push(
            Finding::new(
                "renal.other_version",
                Severity::Info,
                format!(
                    "An older label version ({}) gives {alt}; the newer version is used.",
                    p.version_date
                ),
            )
            .source(p),
        );
    }
    if band == RenalBand::Moderate {
        for e in &pack.renal.escalation {
            if e.groups.contains(&regimen.renal_group) {
                out.push(
                    Finding::new("renal.escalation", Severity::Info, e.text.clone())
                        .source(&e.provenance),
                );
            }
        }
    }
    out
}

/// Is this schedule one of the renal table's starting doses for the regimen (any band, any version)?
pub fn is_renal_starting_dose(pack: &RulePack, regimen: RegimenId, s: &Schedule) -> bool {
    let group = &pack.regimen(regimen).renal_group;
    pack.renal.rows.iter().any(|r| {
        &r.group == group
            && (r.regimens.is_empty() || r.regimens.contains(&regimen))
            && r.dose_mg == s.dose_mg
            && r.frequency == s.frequency
    })
}

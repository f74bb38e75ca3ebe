//! Steady-state exposure of a regimen and its ratio to the normal-kidney-function reference: 25 mg once daily in a
//! typical 70-kg MM patient with CrCl 90 mL/min, fasted (reference/pk-model.md §3.3, "Ratio = AUC per 24 h vs 25 mg
//! daily at CrCl 90"). Cmin is the trough just before a dose (Ctrough), as in that table; because of the absorption
//! delay the true minimum lies a few minutes after the dose and is slightly lower.

use serde::Serialize;

use crate::covariates::Covariates;
use crate::engine::Engine;
use crate::error::PkError;
use crate::model::{Individual, Model, Provenance};
use crate::schedule::Schedule;

/// Haemodialysis sessions repeated every week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DialysisPattern {
    /// Weekdays with a session, 0-6.
    pub weekdays: Vec<u32>,
    /// Session start, hour of day.
    pub start_hour: f64,
    /// Session length, h.
    pub duration_h: f64,
}

impl DialysisPattern {
    /// Three 4-hour sessions a week (days 0, 2, 4) from 08:00: the common pattern, with the 4-h session length of
    /// the renal study (pk-model.md §4.1).
    pub fn three_weekly() -> Self {
        Self {
            weekdays: vec![0, 2, 4],
            start_hour: 8.0,
            duration_h: 4.0,
        }
    }
}

/// A repeating regimen whose steady state is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regimen {
    /// Dose, mg.
    pub dose_mg: f64,
    /// Dosing interval, h (24 once daily, 48 every other day).
    pub interval_h: f64,
    /// Dialysis sessions; doses on dialysis days are taken when the session ends.
    pub dialysis: Option<DialysisPattern>,
    /// Taken with a high-fat meal.
    pub fed: bool,
}

impl Regimen {
    /// `dose_mg` once daily, fasted.
    pub fn once_daily(dose_mg: f64) -> Self {
        Self {
            dose_mg,
            interval_h: 24.0,
            dialysis: None,
            fed: false,
        }
    }

    /// `dose_mg` every 48 hours, fasted.
    pub fn every_48h(dose_mg: f64) -> Self {
        Self {
            interval_h: 48.0,
            ..Self::once_daily(dose_mg)
        }
    }

    /// `dose_mg` once daily with three 4-hour dialysis sessions a week, the dose after dialysis on dialysis days
    /// (label: "5 mg once daily; on dialysis days, administer after dialysis").
    pub fn daily_after_dialysis(dose_mg: f64) -> Self {
        Self {
            dialysis: Some(DialysisPattern::three_weekly()),
            ..Self::once_daily(dose_mg)
        }
    }
}

/// Steady-state exposure and its ratio to the reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureSummary {
    /// Model name.
    pub model: &'static str,
    /// Model provenance (LEN-R1 says it is calibrated, not published).
    pub provenance: Provenance,
    /// The regimen evaluated.
    pub regimen: Regimen,
    /// The subject's parameters.
    pub individual: Individual,
    /// Terminal half-life between dialysis sessions, h.
    pub half_life_h: f64,
    /// AUC per 24 h at steady state (averaged over the dosing interval, or over a week with dialysis), ng·h/mL.
    pub auc24_ss_ng_h_ml: f64,
    /// Peak at steady state, ng/mL.
    pub cmax_ss_ng_ml: f64,
    /// Lowest pre-dose trough at steady state, ng/mL.
    pub cmin_ss_ng_ml: f64,
    /// AUC per 24 h of the reference, ng·h/mL.
    pub reference_auc24_ng_h_ml: f64,
    /// `auc24_ss_ng_h_ml / reference_auc24_ng_h_ml`.
    pub ratio_to_reference: f64,
    /// What the reference is and where that definition comes from.
    pub reference: &'static str,
    /// Extrapolation warnings.
    pub warnings: Vec<String>,
}

/// Steady-state metrics in mg/L units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SteadyState {
    pub auc24: f64,
    pub cmax: f64,
    pub cmin: f64,
}

pub(crate) fn validate_regimen(r: &Regimen) -> Result<(), PkError> {
    if !(r.dose_mg.is_finite() && r.dose_mg > 0.0 && r.dose_mg <= crate::schedule::MAX_DOSE_MG) {
        return Err(PkError::invalid(
            "regimen.dose_mg",
            r.dose_mg,
            "a dose above 0 and at most 400 mg",
        ));
    }
    if !(r.interval_h.is_finite() && (1.0..=168.0).contains(&r.interval_h)) {
        return Err(PkError::invalid(
            "regimen.interval_h",
            r.interval_h,
            "an interval from 1 to 168 h",
        ));
    }
    if r.dialysis.is_some() && r.interval_h != 24.0 {
        return Err(PkError::invalid(
            "regimen.interval_h",
            r.interval_h,
            "24 h when dialysis is given (the label's dialysis dose is once daily)",
        ));
    }
    Ok(())
}

/// Steady state of `regimen` for the parameters `ind`, exact up to the warm-up truncation (< 1e-12 relative).
pub(crate) fn steady_state(
    ind: &Individual,
    regimen: &Regimen,
    cl_dialysis: f64,
) -> Result<SteadyState, PkError> {
    let period = if regimen.dialysis.is_some() {
        168.0
    } else {
        regimen.interval_h
    };
    // Warm up for 28 slowest time constants (e^-28 < 1e-12) and at least the 20 days of pk-model.md §3.3.
    let slowest = ind.k_el().min(ind.k_tr_per_h);
    let periods = ((28.0 / slowest).max(480.0) / period).ceil() as u32;
    let days = ((f64::from(periods) + 1.0) * period / 24.0).ceil() as u32 + 1;
    let window = (f64::from(periods) * period, f64::from(periods + 1) * period);
    let (schedule, hour) = match &regimen.dialysis {
        Some(d) => {
            let hour = (d.start_hour + d.duration_h) % 24.0;
            (
                Schedule::daily_after_dialysis(
                    regimen.dose_mg,
                    days,
                    hour,
                    &d.weekdays,
                    d.start_hour,
                    d.duration_h,
                )?,
                hour,
            )
        }
        None => {
            let n = ((window.1 + period) / regimen.interval_h).ceil() as u32;
            (
                Schedule::every(regimen.dose_mg, regimen.interval_h, n, 0.0)?,
                0.0,
            )
        }
    };
    let window = (window.0 + hour, window.1 + hour);
    let engine = Engine::new(ind, &schedule, cl_dialysis);
    let auc = engine.auc(window.0, window.1);
    let (_, cmax) = engine.max_in(window.0, window.1, 0.1);
    let troughs: Vec<f64> = schedule
        .doses()
        .iter()
        .map(|d| d.time_h)
        .filter(|&t| t >= window.0 - 1e-9 && t <= window.1 + 1e-9)
        .collect();
    let (conc, _) = engine.evaluate(&troughs);
    let cmin = conc.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(SteadyState {
        auc24: auc * 24.0 / period,
        cmax,
        cmin,
    })
}

/// Steady-state AUC per 24 h, Cmax and Cmin of `regimen` and its ratio to 25 mg once daily at normal kidney function
/// in the same model (pk-model.md §3.3). Pure.
///
/// ```
/// use lenaguard_pk::{relative_exposure, Covariates, Model, Regimen};
/// let model = Model::by_name("len-r1")?;
/// let s = relative_exposure(model, &Covariates::patient(40.0, 70.0)?, &Regimen::once_daily(10.0))?;
/// assert!((s.ratio_to_reference - 0.88).abs() < 0.01); // pk-model.md §3.3
/// # Ok::<(), lenaguard_pk::PkError>(())
/// ```
pub fn relative_exposure(
    model: &Model,
    patient: &Covariates,
    regimen: &Regimen,
) -> Result<ExposureSummary, PkError> {
    validate_regimen(regimen)?;
    let ind = model.individual(patient, regimen.fed)?;
    let cl_hd = if regimen.dialysis.is_some() {
        ind.cl_dialysis_l_h.ok_or_else(|| PkError::Unsupported {
            model: model.name,
            feature: "dialysis sessions",
            reason: "the model has no dialysis clearance; use len-r1".into(),
        })?
    } else {
        0.0
    };
    let ss = steady_state(&ind, regimen, cl_hd)?;
    let reference = reference_auc24(model)?;
    Ok(ExposureSummary {
        model: model.name,
        provenance: model.provenance,
        regimen: regimen.clone(),
        half_life_h: ind.half_life_h(),
        warnings: ind.warnings.clone(),
        individual: ind,
        auc24_ss_ng_h_ml: ss.auc24 * 1000.0,
        cmax_ss_ng_ml: ss.cmax * 1000.0,
        cmin_ss_ng_ml: ss.cmin * 1000.0,
        reference_auc24_ng_h_ml: reference * 1000.0,
        ratio_to_reference: ss.auc24 / reference,
        reference: model.reference.source,
    })
}

/// Steady-state AUC per 24 h (ng·h/mL) and its ratio to the model's reference, without the concentration profile:
/// exact by mass balance when there is no dialysis, so it costs a few operations. For hot paths (a finding in every
/// assessment); [`relative_exposure`] adds Cmax, trough and half-life.
pub fn auc_ratio(
    model: &Model,
    patient: &Covariates,
    regimen: &Regimen,
) -> Result<(f64, f64), PkError> {
    validate_regimen(regimen)?;
    let ind = model.individual(patient, regimen.fed)?;
    let cl_hd = match regimen.dialysis {
        Some(_) => ind.cl_dialysis_l_h.ok_or_else(|| PkError::Unsupported {
            model: model.name,
            feature: "dialysis sessions",
            reason: "the model has no dialysis clearance; use len-r1".into(),
        })?,
        None => 0.0,
    };
    let auc = steady_auc24(&ind, regimen, cl_hd)?;
    let reference_ind = model.individual(&model.reference_covariates()?, false)?;
    let reference = steady_auc24(
        &reference_ind,
        &Regimen::once_daily(model.reference.dose_mg),
        0.0,
    )?;
    Ok((auc * 1000.0, auc / reference))
}

/// AUC per 24 h (mg·h/L) of the model's reference dose once daily in its reference subject.
pub(crate) fn reference_auc24(model: &Model) -> Result<f64, PkError> {
    let ind = model.individual(&model.reference_covariates()?, false)?;
    Ok(steady_state(&ind, &Regimen::once_daily(model.reference.dose_mg), 0.0)?.auc24)
}

/// Steady-state AUC per 24 h only (mg·h/L), cheaper than `steady_state`: with no dialysis it is F·D/CL per dosing
/// interval exactly (mass balance over one interval at steady state); with dialysis the weekly window is integrated.
pub(crate) fn steady_auc24(
    ind: &Individual,
    regimen: &Regimen,
    cl_dialysis: f64,
) -> Result<f64, PkError> {
    if regimen.dialysis.is_none() || cl_dialysis == 0.0 {
        return Ok(ind.bioavailability * regimen.dose_mg * 24.0 / regimen.interval_h / ind.cl_l_h);
    }
    let period = 168.0;
    let slowest = ind.k_el().min(ind.k_tr_per_h);
    let periods = ((28.0 / slowest).max(480.0) / period).ceil() as u32;
    let days = (periods + 1) * 7 + 1;
    let d = regimen
        .dialysis
        .as_ref()
        .map_or_else(DialysisPattern::three_weekly, Clone::clone);
    let hour = (d.start_hour + d.duration_h) % 24.0;
    let schedule = Schedule::daily_after_dialysis(
        regimen.dose_mg,
        days,
        hour,
        &d.weekdays,
        d.start_hour,
        d.duration_h,
    )?;
    let start = f64::from(periods) * period + hour;
    Ok(Engine::new(ind, &schedule, cl_dialysis).auc(start, start + period) * 24.0 / period)
}

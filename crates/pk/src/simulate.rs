//! Concentration-time profiles for one subject on any schedule (reference/pk-model.md §3.1; the units follow its
//! note: mg and L give mg/L, reported here ×1000 as ng/mL).

use serde::Serialize;

use crate::covariates::Covariates;
use crate::engine::Engine;
use crate::error::PkError;
use crate::model::{Individual, Model, Provenance};
use crate::schedule::{MAX_TIME_H, Schedule};

/// Most output points in one profile.
pub const MAX_POINTS: usize = 2_000_000;

/// How to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SimOptions {
    /// Output grid step, h (0.001 to 24).
    pub step_h: f64,
    /// End of the profile, h; `None`: 48 h after the last dose or dialysis session.
    pub horizon_h: Option<f64>,
    /// Doses taken with a high-fat meal (the model must have fed-state parameters).
    pub fed: bool,
    /// Override of the dialysis clearance, L/h (pk-model.md §7.3 suggests 2 L/h as a sensitivity run).
    pub dialysis_clearance_l_h: Option<f64>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            step_h: 0.25,
            horizon_h: None,
            fed: false,
            dialysis_clearance_l_h: None,
        }
    }
}

/// A simulated concentration-time profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Model name.
    pub model: &'static str,
    /// Model provenance (LEN-R1 says it is calibrated, not published).
    pub provenance: Provenance,
    /// The subject's parameters.
    pub individual: Individual,
    /// Output times, h.
    pub times_h: Vec<f64>,
    /// Plasma concentration at each time, ng/mL.
    pub conc_ng_ml: Vec<f64>,
    /// Highest concentration over the profile (refined between grid points), ng/mL.
    pub cmax_ng_ml: f64,
    /// Time of `cmax_ng_ml`, h.
    pub tmax_h: f64,
    /// Exact AUC from 0 to the end of the profile, ng·h/mL.
    pub auc_ng_h_ml: f64,
    /// Exact AUC of each whole 24-h day from time 0, ng·h/mL.
    pub daily_auc_ng_h_ml: Vec<f64>,
    /// Extrapolation and other warnings.
    pub warnings: Vec<String>,
}

pub(crate) fn dialysis_clearance(
    model: &Model,
    ind: &Individual,
    schedule: &Schedule,
    options: &SimOptions,
) -> Result<f64, PkError> {
    if let Some(cl) = options.dialysis_clearance_l_h {
        if !(cl.is_finite() && (0.0..=50.0).contains(&cl)) {
            return Err(PkError::invalid(
                "dialysis_clearance_l_h",
                cl,
                "a clearance from 0 to 50 L/h",
            ));
        }
        return Ok(cl);
    }
    if schedule.dialysis().is_empty() {
        return Ok(0.0);
    }
    ind.cl_dialysis_l_h.ok_or_else(|| PkError::Unsupported {
        model: model.name,
        feature: "dialysis sessions",
        reason: "the model has no dialysis clearance; give dialysis_clearance_l_h or use len-r1"
            .into(),
    })
}

/// Simulates one subject on a schedule. Pure: no I/O, no clock.
///
/// ```
/// use lenaguard_pk::{simulate, Covariates, Model, Schedule, SimOptions};
/// let model = Model::by_name("len-r1")?;
/// let patient = Covariates::patient(90.0, 70.0)?;
/// let schedule = Schedule::once_daily(25.0, 1, 0.0)?;
/// let profile = simulate(model, &patient, &schedule, &SimOptions::default())?;
/// assert!((profile.cmax_ng_ml - 326.0).abs() < 2.0); // pk-model.md §3.3
/// # Ok::<(), lenaguard_pk::PkError>(())
/// ```
pub fn simulate(
    model: &Model,
    patient: &Covariates,
    schedule: &Schedule,
    options: &SimOptions,
) -> Result<Profile, PkError> {
    if !(options.step_h.is_finite() && (0.001..=24.0).contains(&options.step_h)) {
        return Err(PkError::invalid(
            "step_h",
            options.step_h,
            "a step from 0.001 to 24 h",
        ));
    }
    let ind = model.individual(patient, options.fed)?;
    let cl_hd = dialysis_clearance(model, &ind, schedule, options)?;
    let last_event = schedule
        .dialysis()
        .last()
        .map_or(schedule.last_dose_h(), |s| {
            s.end_h().max(schedule.last_dose_h())
        });
    let horizon = options.horizon_h.unwrap_or(last_event + 48.0);
    if !(horizon.is_finite() && horizon > 0.0 && horizon <= MAX_TIME_H + 24.0 * 30.0) {
        return Err(PkError::invalid(
            "horizon_h",
            horizon,
            format!("a time above 0 and at most {} h", MAX_TIME_H + 720.0),
        ));
    }
    let count = (horizon / options.step_h).ceil() as usize;
    if count >= MAX_POINTS {
        return Err(PkError::invalid(
            "step_h",
            options.step_h,
            format!("a step that gives fewer than {MAX_POINTS} points over {horizon} h"),
        ));
    }
    let times: Vec<f64> = (0..=count)
        .map(|i| (i as f64 * options.step_h).min(horizon))
        .collect();
    let engine = Engine::new(&ind, schedule, cl_hd);
    let (conc, cum) = engine.evaluate(&times);
    let (tmax, cmax) = engine.max_in(0.0, horizon, options.step_h.min(0.1));
    let days = (horizon / 24.0).floor() as usize;
    let day_edges: Vec<f64> = (0..=days).map(|d| d as f64 * 24.0).collect();
    let (_, day_cum) = engine.evaluate(&day_edges);
    let daily = day_cum.windows(2).map(|w| (w[1] - w[0]) * 1000.0).collect();
    Ok(Profile {
        model: model.name,
        provenance: model.provenance,
        warnings: ind.warnings.clone(),
        individual: ind,
        times_h: times,
        conc_ng_ml: conc.iter().map(|c| c * 1000.0).collect(),
        cmax_ng_ml: cmax * 1000.0,
        tmax_h: tmax,
        auc_ng_h_ml: cum.last().copied().unwrap_or(0.0) * 1000.0,
        daily_auc_ng_h_ml: daily,
    })
}

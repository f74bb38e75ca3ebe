//! Virtual populations: log-normal inter-individual variability on CL/F, V/F and ktr with the model's variances
//! (reference/pk-model.md §2.3, §3.2), optional CL–V correlation (§2.4), seeded and reproducible.
//!
//! When every dose (after the lag) and every dialysis edge falls on the output grid, each patient is advanced step
//! by step with the exact one-step transition of the linear system (the closed forms of `analytic`), which costs a
//! few dozen multiply-adds per step instead of one closed-form evaluation per dose and time. Otherwise each patient
//! goes through the general exact evaluator. Both give the same numbers (tested).

use serde::Serialize;

use crate::analytic::{central_fraction, chain_transfer, erlang_cdf};
use crate::covariates::Covariates;
use crate::engine::Engine;
use crate::error::PkError;
use crate::model::{Individual, Model, Provenance};
use crate::rng::SplitMix64;
use crate::schedule::Schedule;
use crate::simulate::{MAX_POINTS, SimOptions, dialysis_clearance};

/// Largest population.
pub const MAX_POPULATION: usize = 10_000_000;
/// Largest number of stored concentrations when percentile bands are requested.
pub const MAX_BAND_VALUES: usize = 50_000_000;

/// Where each virtual patient's covariates come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CovariateSource {
    /// Every patient has the same covariates; only the random effects differ.
    Fixed(Covariates),
    /// One entry per patient (the caller draws them, e.g. CrCl from age, weight and creatinine as pk-model.md §3.2
    /// advises, rather than independently).
    PerPatient(Vec<Covariates>),
}

/// Who is simulated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationSpec {
    /// Number of virtual patients.
    pub size: usize,
    /// Seed; the same seed gives the same patients on any machine and thread count.
    pub seed: u64,
    /// Covariates.
    pub covariates: CovariateSource,
    /// Use the model's CL–V correlation (LEN-R1: 0.85, an option in pk-model.md §3.2).
    pub cl_v_correlation: bool,
}

/// How a population is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PopulationOptions {
    /// Output grid step, h.
    pub step_h: f64,
    /// End of the simulation, h.
    pub horizon_h: f64,
    /// Window in which AUC (exact), Cmax and Cmin (on the grid) are measured, h.
    pub window_h: (f64, f64),
    /// Doses taken with a high-fat meal.
    pub fed: bool,
    /// Also compute 5th/50th/95th percentile concentration bands over time (stores every concentration).
    pub bands: bool,
    /// Worker threads; `None`: all available cores.
    pub threads: Option<usize>,
    /// Override of the dialysis clearance, L/h.
    pub dialysis_clearance_l_h: Option<f64>,
}

impl Default for PopulationOptions {
    /// 28 days hourly, metrics on day 21 (steady state in pk-model.md §3.3).
    fn default() -> Self {
        Self {
            step_h: 1.0,
            horizon_h: 28.0 * 24.0,
            window_h: (20.0 * 24.0, 21.0 * 24.0),
            fed: false,
            bands: false,
            threads: None,
            dialysis_clearance_l_h: None,
        }
    }
}

/// Summary of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// 5th percentile.
    pub p5: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Percentile of sorted data, linear interpolation between order statistics (Hyndman-Fan type 7).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

impl Percentiles {
    /// Summarises a sample (NaN fields for an empty one).
    pub fn of(values: &[f64]) -> Self {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Self {
            p5: quantile(&v, 0.05),
            p10: quantile(&v, 0.10),
            p25: quantile(&v, 0.25),
            p50: quantile(&v, 0.50),
            p75: quantile(&v, 0.75),
            p90: quantile(&v, 0.90),
            p95: quantile(&v, 0.95),
            mean: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

/// One virtual patient's parameters and exposure in the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PatientExposure {
    /// CL/F, L/h.
    pub cl_l_h: f64,
    /// V/F, L.
    pub v_l: f64,
    /// ktr, 1/h.
    pub k_tr_per_h: f64,
    /// Exact AUC over the window, ng·h/mL.
    pub auc_window_ng_h_ml: f64,
    /// Highest grid concentration in the window, ng/mL.
    pub cmax_ng_ml: f64,
    /// Lowest grid concentration in the window, ng/mL.
    pub cmin_ng_ml: f64,
}

/// Concentration percentiles over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bands {
    /// Times, h.
    pub times_h: Vec<f64>,
    /// 5th percentile, ng/mL.
    pub p5_ng_ml: Vec<f64>,
    /// Median, ng/mL.
    pub p50_ng_ml: Vec<f64>,
    /// 95th percentile, ng/mL.
    pub p95_ng_ml: Vec<f64>,
}

/// A simulated population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationResult {
    /// Model name.
    pub model: &'static str,
    /// Model provenance.
    pub provenance: Provenance,
    /// Number of patients.
    pub size: usize,
    /// Seed used.
    pub seed: u64,
    /// Metric window, h.
    pub window_h: (f64, f64),
    /// AUC over the window, ng·h/mL.
    pub auc_window_ng_h_ml: Percentiles,
    /// Cmax in the window, ng/mL.
    pub cmax_ng_ml: Percentiles,
    /// Cmin in the window, ng/mL.
    pub cmin_ng_ml: Percentiles,
    /// Concentration bands, if requested.
    pub bands: Option<Bands>,
    /// Every patient, in index order (not serialised: large).
    #[serde(skip)]
    pub patients: Vec<PatientExposure>,
    /// Warnings of the typical subjects.
    pub warnings: Vec<String>,
}

/// Draws patient `index`'s parameters around `typical`.
pub(crate) fn draw(
    model: &Model,
    typical: &Individual,
    seed: u64,
    index: u64,
    correlated: bool,
) -> Individual {
    let var = model.variability;
    let mut rng = SplitMix64::for_patient(seed, index);
    let (z1, z2) = rng.normal_pair();
    let (z3, _) = rng.normal_pair();
    let rho = if correlated {
        var.cl_v_correlation.map_or(0.0, |r| r.value)
    } else {
        0.0
    };
    let eta_cl = var.omega2_cl.value.sqrt() * z1;
    let eta_v = var.omega2_v.value.sqrt() * (rho * z1 + (1.0 - rho * rho).sqrt() * z2);
    let eta_ktr = var.omega2_ktr.value.sqrt() * z3;
    Individual {
        cl_l_h: typical.cl_l_h * eta_cl.exp(),
        v_l: typical.v_l * eta_v.exp(),
        k_tr_per_h: typical.k_tr_per_h * eta_ktr.exp(),
        warnings: Vec::new(),
        ..typical.clone()
    }
}

fn on_grid(t: f64, step: f64) -> Option<usize> {
    let i = (t / step).round();
    ((t - i * step).abs() <= 1e-9 * step.max(t)).then_some(i as usize)
}

/// The shared, patient-independent layout of the grid path.
struct Grid {
    points: usize,
    step: f64,
    window: (usize, usize),
    /// (grid index at which the dose has been in the depot for `lag_rest`, amount before F).
    inputs: Vec<(usize, f64)>,
    /// (grid index of the intake, amount before F).
    doses: Vec<(usize, f64)>,
    /// Absorption lag, h.
    lag: f64,
    /// Time between the dose entering the depot and the grid point where it is added, h.
    lag_rest: f64,
    dialysis_step: Vec<bool>,
}

fn grid_layout(
    schedule: &Schedule,
    lag: f64,
    opts: &PopulationOptions,
    points: usize,
) -> Option<Grid> {
    let step = opts.step_h;
    let lag_steps = (lag / step).ceil();
    let lag_rest = lag_steps * step - lag;
    let mut inputs = Vec::with_capacity(schedule.doses().len());
    let mut doses = Vec::with_capacity(schedule.doses().len());
    for d in schedule.doses() {
        let i = on_grid(d.time_h, step)?;
        if i < points {
            doses.push((i, d.amount_mg));
        }
        if i + (lag_steps as usize) < points {
            inputs.push((i + lag_steps as usize, d.amount_mg));
        }
    }
    let mut dialysis_step = vec![false; points];
    if !schedule.dialysis().is_empty() {
        if lag > 0.0 {
            return None;
        }
        for s in schedule.dialysis() {
            let (a, b) = (on_grid(s.start_h, step)?, on_grid(s.end_h(), step)?);
            for slot in dialysis_step.iter_mut().take(b.min(points)).skip(a) {
                *slot = true;
            }
        }
    }
    let window = (
        on_grid(opts.window_h.0, step)?,
        on_grid(opts.window_h.1, step)?,
    );
    Some(Grid {
        points,
        step,
        window,
        inputs,
        doses,
        lag,
        lag_rest,
        dialysis_step,
    })
}

/// Time-invariant grid path: the unit-dose response on the grid, then a discrete convolution with the doses.
/// Past the absorption phase the response is (ktr/d)^n e^(−k t) (1 − Q), Q = e^(−d t) Σ_{i<n} (d t)^i / i!, with
/// d = ktr − k > 0. It is split into a pure exponential, summed over all doses by a first-order recursion, and a
/// short remainder −(ktr/d)^n e^(−k t) Q that is convolved explicitly only while Q is above 1e-18 (below it the
/// remainder is under the rounding of the sum).
fn impulse_patient(
    ind: &Individual,
    grid: &Grid,
    response: &mut [f64],
    conc: &mut [f64],
) -> PatientExposure {
    let n = ind.transfers;
    let (k, k_tr, h) = (ind.k_el(), ind.k_tr_per_h, grid.step);
    let d = k_tr - k;
    conc.iter_mut().for_each(|c| *c = 0.0);
    if d > 0.0 {
        let ratio = (k_tr / d).powi(n as i32);
        let mut inv_fact = vec![1.0; n as usize];
        for i in 1..n as usize {
            inv_fact[i] = inv_fact[i - 1] / i as f64;
        }
        // First grid offset after the lag, and the remainder over the offsets that matter.
        let first = (0..response.len())
            .find(|&m| m as f64 * h - grid.lag > 0.0)
            .unwrap_or(response.len());
        let mut short_len = first;
        for (m, r) in response.iter_mut().enumerate().skip(first) {
            let t = m as f64 * h - grid.lag;
            let x = d * t;
            let ek = (-k * t).exp();
            if x > f64::from(n) + 1.0 {
                let q = (-x).exp() * inv_fact.iter().rev().fold(0.0, |acc, c| acc * x + c);
                *r = -ratio * ek * q;
                short_len = m + 1;
                if q < 1e-18 {
                    break;
                }
            } else {
                *r = central_fraction(n, k_tr, k, t) - ratio * ek;
                short_len = m + 1;
            }
        }
        response[..first].iter_mut().for_each(|r| *r = 0.0);
        let inject = ratio * (-k * (first as f64 * h - grid.lag)).exp();
        for &(i, a) in &grid.doses {
            for (c, r) in conc[i..].iter_mut().zip(&response[..short_len]) {
                *c += a * r;
            }
        }
        let mut injections = vec![0.0; conc.len()];
        for &(i, a) in &grid.doses {
            if let Some(slot) = injections.get_mut(i + first) {
                *slot += a * inject;
            }
        }
        let step_k = (-k * h).exp();
        let mut tail = 0.0;
        for (c, inj) in conc.iter_mut().zip(&injections) {
            tail = tail * step_k + inj;
            *c += tail;
        }
    } else {
        for (j, r) in response.iter_mut().enumerate() {
            *r = central_fraction(n, k_tr, k, j as f64 * h - grid.lag);
        }
        for &(i, a) in &grid.doses {
            for (c, r) in conc[i..].iter_mut().zip(response.iter()) {
                *c += a * r;
            }
        }
    }
    let scale = 1000.0 * ind.bioavailability / ind.v_l;
    conc.iter_mut().for_each(|c| *c *= scale);
    let (w0, w1) = grid.window;
    let (cmin, cmax) = conc[w0..=w1]
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &c| {
            (lo.min(c), hi.max(c))
        });
    // Exact window AUC by mass balance: (drug that reached the central compartment − rise in it) / k.
    let (t0, t1) = (w0 as f64 * h, w1 as f64 * h);
    let arrived: f64 = grid
        .doses
        .iter()
        .map(|&(i, a)| {
            let s = i as f64 * h + grid.lag;
            a * (erlang_cdf(n, k_tr * (t1 - s)) - erlang_cdf(n, k_tr * (t0 - s)))
        })
        .sum::<f64>()
        * 1000.0
        * ind.bioavailability
        / ind.v_l;
    PatientExposure {
        cl_l_h: ind.cl_l_h,
        v_l: ind.v_l,
        k_tr_per_h: ind.k_tr_per_h,
        auc_window_ng_h_ml: (arrived - (conc[w1] - conc[w0])) / k,
        cmax_ng_ml: cmax,
        cmin_ng_ml: cmin,
    }
}

/// Patients advanced together on the grid path; the per-lane loops compile to SIMD.
const LANES: usize = 8;
type Lane = [f64; LANES];

/// Exact one-step transition for one elimination rate, per lane.
struct Step {
    /// Central amount per unit amount `m` transfers upstream, m = 0..=n.
    central: Vec<Lane>,
    /// Fraction of a compartment `m` transfers upstream that reaches the central compartment within the step.
    arrived: Vec<Lane>,
    k: Lane,
}

impl Step {
    fn new(inds: &[Individual; LANES], extra_cl: f64, dt: f64) -> Self {
        let n = inds[0].transfers;
        let k: Lane = std::array::from_fn(|l| (inds[l].cl_l_h + extra_cl) / inds[l].v_l);
        Self {
            central: (0..=n)
                .map(|m| std::array::from_fn(|l| central_fraction(m, inds[l].k_tr_per_h, k[l], dt)))
                .collect(),
            arrived: (0..=n)
                .map(|m| std::array::from_fn(|l| erlang_cdf(m, inds[l].k_tr_per_h * dt)))
                .collect(),
            k,
        }
    }
}

/// Simulates up to `LANES` patients on the grid (unused lanes repeat the last patient); fills `conc` rows
/// (ng/mL) if given.
fn grid_block(
    block: &[Individual],
    cl_hd: f64,
    grid: &Grid,
    mut conc: Option<&mut [f32]>,
) -> Vec<PatientExposure> {
    let inds: [Individual; LANES] = std::array::from_fn(|l| block[l.min(block.len() - 1)].clone());
    let n = inds[0].transfers as usize;
    let bio = inds[0].bioavailability;
    let chain_step: Vec<Lane> = (0..n as u32)
        .map(|s| std::array::from_fn(|l| chain_transfer(s, inds[l].k_tr_per_h * grid.step)))
        .collect();
    let off = Step::new(&inds, 0.0, grid.step);
    let on = (cl_hd > 0.0).then(|| Step::new(&inds, cl_hd, grid.step));
    // State of a unit input `lag_rest` after it entered the depot (the grid path refuses lag with dialysis).
    let lag_chain: Vec<Lane> = (0..n as u32)
        .map(|s| std::array::from_fn(|l| chain_transfer(s, inds[l].k_tr_per_h * grid.lag_rest)))
        .collect();
    let lag_central: Lane = std::array::from_fn(|l| {
        central_fraction(
            inds[0].transfers,
            inds[l].k_tr_per_h,
            inds[l].k_el(),
            grid.lag_rest,
        )
    });
    let lag_auc: Lane = std::array::from_fn(|l| {
        crate::analytic::central_integral(
            inds[0].transfers,
            inds[l].k_tr_per_h,
            inds[l].k_el(),
            grid.lag_rest,
        )
    });
    let scale: Lane = std::array::from_fn(|l| 1000.0 / inds[l].v_l);

    let mut chain: Vec<Lane> = vec![[0.0; LANES]; n];
    let mut central: Lane = [0.0; LANES];
    let mut auc: Lane = [0.0; LANES];
    let mut cmax: Lane = [f64::NEG_INFINITY; LANES];
    let mut cmin: Lane = [f64::INFINITY; LANES];
    let mut next_input = 0;
    for j in 0..grid.points {
        while next_input < grid.inputs.len() && grid.inputs[next_input].0 == j {
            let a = grid.inputs[next_input].1 * bio;
            if grid.lag_rest > 0.0 {
                for (c, lc) in chain.iter_mut().zip(&lag_chain) {
                    for l in 0..LANES {
                        c[l] += a * lc[l];
                    }
                }
                let in_window = j > grid.window.0 && j <= grid.window.1;
                for l in 0..LANES {
                    central[l] += a * lag_central[l];
                    if in_window {
                        auc[l] += a * lag_auc[l];
                    }
                }
            } else if n == 0 {
                central.iter_mut().for_each(|c| *c += a);
            } else {
                chain[0].iter_mut().for_each(|c| *c += a);
            }
            next_input += 1;
        }
        if let Some(buf) = conc.as_deref_mut() {
            for (l, row) in buf.chunks_mut(grid.points).enumerate() {
                row[j] = (central[l] * scale[l]) as f32;
            }
        }
        if j >= grid.window.0 && j <= grid.window.1 {
            for l in 0..LANES {
                let c = central[l] * scale[l];
                cmax[l] = cmax[l].max(c);
                cmin[l] = cmin[l].min(c);
            }
        }
        if j + 1 == grid.points {
            break;
        }
        let st = match (&on, grid.dialysis_step[j]) {
            (Some(on), true) => on,
            _ => &off,
        };
        let mut new_central: Lane = std::array::from_fn(|l| central[l] * st.central[0][l]);
        let mut arrived: Lane = [0.0; LANES];
        for (i, a) in chain.iter().enumerate() {
            let (gc, ga) = (&st.central[n - i], &st.arrived[n - i]);
            for l in 0..LANES {
                new_central[l] += a[l] * gc[l];
                arrived[l] += a[l] * ga[l];
            }
        }
        if j >= grid.window.0 && j < grid.window.1 {
            for l in 0..LANES {
                auc[l] += (arrived[l] + central[l] - new_central[l]) / st.k[l];
            }
        }
        central = new_central;
        // In place from the last compartment down: each update reads only compartments above it.
        for i in (0..n).rev() {
            let mut s: Lane = [0.0; LANES];
            for (a, t) in chain[..=i].iter().zip(chain_step[..=i].iter().rev()) {
                for l in 0..LANES {
                    s[l] += a[l] * t[l];
                }
            }
            chain[i] = s;
        }
    }
    (0..block.len())
        .map(|l| PatientExposure {
            cl_l_h: inds[l].cl_l_h,
            v_l: inds[l].v_l,
            k_tr_per_h: inds[l].k_tr_per_h,
            auc_window_ng_h_ml: auc[l] * scale[l],
            cmax_ng_ml: cmax[l],
            cmin_ng_ml: cmin[l],
        })
        .collect()
}

/// Simulates one patient with the general evaluator.
fn general_patient(
    ind: &Individual,
    cl_hd: f64,
    schedule: &Schedule,
    times: &[f64],
    window: (f64, f64),
    conc_out: Option<&mut [f32]>,
) -> PatientExposure {
    let engine = Engine::new(ind, schedule, cl_hd);
    let (conc, _) = engine.evaluate(times);
    let (mut cmax, mut cmin) = (f64::NEG_INFINITY, f64::INFINITY);
    for (&t, &c) in times.iter().zip(&conc) {
        if t >= window.0 - 1e-9 && t <= window.1 + 1e-9 {
            cmax = cmax.max(c * 1000.0);
            cmin = cmin.min(c * 1000.0);
        }
    }
    if let Some(buf) = conc_out {
        for (b, c) in buf.iter_mut().zip(&conc) {
            *b = (c * 1000.0) as f32;
        }
    }
    PatientExposure {
        cl_l_h: ind.cl_l_h,
        v_l: ind.v_l,
        k_tr_per_h: ind.k_tr_per_h,
        auc_window_ng_h_ml: engine.auc(window.0, window.1) * 1000.0,
        cmax_ng_ml: cmax,
        cmin_ng_ml: cmin,
    }
}

fn validate(spec: &PopulationSpec, opts: &PopulationOptions) -> Result<usize, PkError> {
    if spec.size == 0 || spec.size > MAX_POPULATION {
        return Err(PkError::invalid(
            "population.size",
            spec.size,
            format!("1 to {MAX_POPULATION} patients"),
        ));
    }
    if let CovariateSource::PerPatient(list) = &spec.covariates
        && list.len() != spec.size
    {
        return Err(PkError::invalid(
            "population.covariates",
            format!("{} entries", list.len()),
            format!("one entry per patient ({})", spec.size),
        ));
    }
    let sim = SimOptions {
        step_h: opts.step_h,
        ..SimOptions::default()
    };
    if !(sim.step_h.is_finite() && (0.001..=24.0).contains(&sim.step_h)) {
        return Err(PkError::invalid(
            "step_h",
            opts.step_h,
            "a step from 0.001 to 24 h",
        ));
    }
    if !(opts.horizon_h.is_finite()
        && opts.horizon_h > 0.0
        && opts.horizon_h <= crate::schedule::MAX_TIME_H)
    {
        return Err(PkError::invalid(
            "horizon_h",
            opts.horizon_h,
            "a time above 0 and at most five years",
        ));
    }
    let (w0, w1) = opts.window_h;
    if !(w0.is_finite() && w1.is_finite() && 0.0 <= w0 && w0 < w1 && w1 <= opts.horizon_h) {
        return Err(PkError::invalid(
            "window_h",
            format!("({w0}, {w1})"),
            format!("start < end within 0 to horizon_h ({} h)", opts.horizon_h),
        ));
    }
    let points = (opts.horizon_h / opts.step_h).round() as usize + 1;
    if points > MAX_POINTS {
        return Err(PkError::invalid(
            "step_h",
            opts.step_h,
            format!("a step giving at most {MAX_POINTS} points"),
        ));
    }
    if opts.bands && points.saturating_mul(spec.size) > MAX_BAND_VALUES {
        return Err(PkError::invalid(
            "bands",
            format!("{} patients x {points} times", spec.size),
            format!("at most {MAX_BAND_VALUES} stored values; lower the size or the resolution"),
        ));
    }
    if opts.threads == Some(0) {
        return Err(PkError::invalid(
            "threads",
            0,
            "at least 1 thread, or none for all cores",
        ));
    }
    Ok(points)
}

/// Simulates a virtual population on one schedule. Pure; uses `options.threads` worker threads.
///
/// ```
/// use lenaguard_pk::{simulate_population, CovariateSource, Covariates, Model, PopulationOptions, PopulationSpec, Schedule};
/// let spec = PopulationSpec {
///     size: 200,
///     seed: 42,
///     covariates: CovariateSource::Fixed(Covariates::patient(90.0, 70.0)?),
///     cl_v_correlation: false,
/// };
/// let schedule = Schedule::cycles(25.0, 21, 28, 1, 0.0)?;
/// let pop = simulate_population(Model::by_name("len-r1")?, &spec, &schedule, &PopulationOptions::default())?;
/// assert!(pop.auc_window_ng_h_ml.p5 < 2085.0 && 2085.0 < pop.auc_window_ng_h_ml.p95);
/// # Ok::<(), lenaguard_pk::PkError>(())
/// ```
pub fn simulate_population(
    model: &Model,
    spec: &PopulationSpec,
    schedule: &Schedule,
    options: &PopulationOptions,
) -> Result<PopulationResult, PkError> {
    let points = validate(spec, options)?;
    let typical: Vec<Individual> = match &spec.covariates {
        CovariateSource::Fixed(c) => vec![model.individual(c, options.fed)?],
        CovariateSource::PerPatient(list) => list
            .iter()
            .map(|c| model.individual(c, options.fed))
            .collect::<Result<_, _>>()?,
    };
    let sim_opts = SimOptions {
        fed: options.fed,
        dialysis_clearance_l_h: options.dialysis_clearance_l_h,
        ..SimOptions::default()
    };
    let cl_hd = dialysis_clearance(model, &typical[0], schedule, &sim_opts)?;
    let mut warnings: Vec<String> = typical
        .iter()
        .flat_map(|t| t.warnings.iter().cloned())
        .collect();
    warnings.sort();
    warnings.dedup();

    let grid = grid_layout(schedule, typical[0].lag_h, options, points);
    let times: Vec<f64> = (0..points).map(|i| i as f64 * options.step_h).collect();
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, spec.size);
    let chunk = spec.size.div_ceil(threads).next_multiple_of(LANES);
    let mut band_store = if options.bands {
        vec![0f32; points * spec.size]
    } else {
        Vec::new()
    };
    let mut patients = vec![
        PatientExposure {
            cl_l_h: 0.0,
            v_l: 0.0,
            k_tr_per_h: 0.0,
            auc_window_ng_h_ml: 0.0,
            cmax_ng_ml: 0.0,
            cmin_ng_ml: 0.0,
        };
        spec.size
    ];
    std::thread::scope(|scope| {
        let mut band_chunks = band_store.chunks_mut(chunk * points);
        for (t, out) in patients.chunks_mut(chunk).enumerate() {
            let bands = band_chunks.next();
            let (typical, grid, times) = (&typical, &grid, &times);
            scope.spawn(move || {
                let mut bands = bands;
                let draw_at = |i: usize| {
                    let index = t * chunk + i;
                    let base = if typical.len() == 1 {
                        &typical[0]
                    } else {
                        &typical[index]
                    };
                    draw(model, base, spec.seed, index as u64, spec.cl_v_correlation)
                };
                match grid {
                    Some(g) if g.dialysis_step.iter().all(|&on| !on) || cl_hd == 0.0 => {
                        let mut response = vec![0.0; points];
                        let mut conc = vec![0.0; points];
                        for (i, slot) in out.iter_mut().enumerate() {
                            *slot = impulse_patient(&draw_at(i), g, &mut response, &mut conc);
                            if let Some(rows) = bands.as_deref_mut() {
                                for (b, c) in
                                    rows[i * points..(i + 1) * points].iter_mut().zip(&conc)
                                {
                                    *b = *c as f32;
                                }
                            }
                        }
                    }
                    Some(g) => {
                        for (b, block) in out.chunks_mut(LANES).enumerate() {
                            let inds: Vec<Individual> =
                                (0..block.len()).map(|l| draw_at(b * LANES + l)).collect();
                            let rows = bands.as_deref_mut().map(|r| {
                                &mut r[b * LANES * points..(b * LANES + block.len()) * points]
                            });
                            block.copy_from_slice(&grid_block(&inds, cl_hd, g, rows));
                        }
                    }
                    None => {
                        for (i, slot) in out.iter_mut().enumerate() {
                            let row = bands
                                .as_deref_mut()
                                .map(|r| &mut r[i * points..(i + 1) * points]);
                            *slot = general_patient(
                                &draw_at(i),
                                cl_hd,
                                schedule,
                                times,
                                options.window_h,
                                row,
                            );
                        }
                    }
                }
            });
        }
    });

    let bands = options.bands.then(|| {
        let mut column = vec![0.0; spec.size];
        let mut b = Bands {
            times_h: times.clone(),
            p5_ng_ml: Vec::with_capacity(points),
            p50_ng_ml: Vec::with_capacity(points),
            p95_ng_ml: Vec::with_capacity(points),
        };
        for j in 0..points {
            for (p, c) in column.iter_mut().enumerate() {
                *c = f64::from(band_store[p * points + j]);
            }
            column.sort_by(f64::total_cmp);
            b.p5_ng_ml.push(quantile(&column, 0.05));
            b.p50_ng_ml.push(quantile(&column, 0.5));
            b.p95_ng_ml.push(quantile(&column, 0.95));
        }
        b
    });
    let pick = |f: fn(&PatientExposure) -> f64| {
        Percentiles::of(&patients.iter().map(f).collect::<Vec<_>>())
    };
    Ok(PopulationResult {
        model: model.name,
        provenance: model.provenance,
        size: spec.size,
        seed: spec.seed,
        window_h: options.window_h,
        auc_window_ng_h_ml: pick(|p| p.auc_window_ng_h_ml),
        cmax_ng_ml: pick(|p| p.cmax_ng_ml),
        cmin_ng_ml: pick(|p| p.cmin_ng_ml),
        bands,
        patients,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LEN_R1;

    fn compare(schedule: &Schedule, cov: Covariates, opts: PopulationOptions) {
        let typical = LEN_R1.individual(&cov, opts.fed).unwrap();
        let points = (opts.horizon_h / opts.step_h).round() as usize + 1;
        let grid = grid_layout(schedule, typical.lag_h, &opts, points).expect("on grid");
        let times: Vec<f64> = (0..points).map(|i| i as f64 * opts.step_h).collect();
        let cl_hd = if schedule.dialysis().is_empty() {
            0.0
        } else {
            7.0
        };
        for index in 0..20 {
            let ind = draw(&LEN_R1, &typical, 9, index, true);
            let mut a_conc = vec![0f32; points];
            let mut b_conc = vec![0f32; points];
            let b = general_patient(
                &ind,
                cl_hd,
                schedule,
                &times,
                opts.window_h,
                Some(&mut b_conc),
            );
            let a = grid_block(std::slice::from_ref(&ind), cl_hd, &grid, Some(&mut a_conc))[0];
            if cl_hd == 0.0 {
                let (mut response, mut conc) = (vec![0.0; points], vec![0.0; points]);
                let c = impulse_patient(&ind, &grid, &mut response, &mut conc);
                for (x, y) in [
                    (c.auc_window_ng_h_ml, a.auc_window_ng_h_ml),
                    (c.cmax_ng_ml, a.cmax_ng_ml),
                    (c.cmin_ng_ml, a.cmin_ng_ml),
                ] {
                    assert!(
                        (x - y).abs() <= 1e-9 * y.abs().max(1e-3),
                        "impulse {x} vs {y}"
                    );
                }
                for (x, y) in conc.iter().zip(&b_conc) {
                    assert!(
                        (*x as f32 - y).abs() <= 1e-5 * y.abs().max(1e-3),
                        "impulse conc {x} vs {y}"
                    );
                }
            }
            for (x, y) in [
                (a.auc_window_ng_h_ml, b.auc_window_ng_h_ml),
                (a.cmax_ng_ml, b.cmax_ng_ml),
                (a.cmin_ng_ml, b.cmin_ng_ml),
            ] {
                assert!((x - y).abs() <= 1e-9 * y.abs().max(1e-3), "{x} vs {y}");
            }
            for (x, y) in a_conc.iter().zip(&b_conc) {
                assert!((x - y).abs() <= 1e-5 * y.abs().max(1e-3));
            }
        }
    }

    #[test]
    fn grid_path_equals_general_path() {
        let cycle = Schedule::cycles(10.0, 21, 28, 1, 8.0).unwrap();
        compare(
            &cycle,
            Covariates::patient(40.0, 70.0).unwrap(),
            PopulationOptions::default(),
        );
        let fed = PopulationOptions {
            fed: true,
            step_h: 0.5,
            ..PopulationOptions::default()
        };
        compare(&cycle, Covariates::patient(90.0, 70.0).unwrap(), fed);
        let hd = Schedule::daily_after_dialysis(5.0, 28, 12.0, &[0, 2, 4], 8.0, 4.0).unwrap();
        compare(
            &hd,
            Covariates::patient_on_dialysis(70.0).unwrap(),
            PopulationOptions::default(),
        );
    }

    #[test]
    fn same_seed_same_population_any_thread_count() {
        let spec = PopulationSpec {
            size: 300,
            seed: 5,
            covariates: CovariateSource::Fixed(Covariates::patient(60.0, 70.0).unwrap()),
            cl_v_correlation: false,
        };
        let s = Schedule::once_daily(10.0, 28, 0.0).unwrap();
        let one = simulate_population(
            &LEN_R1,
            &spec,
            &s,
            &PopulationOptions {
                threads: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        let two = simulate_population(
            &LEN_R1,
            &spec,
            &s,
            &PopulationOptions {
                threads: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(one, two);
    }

    #[test]
    fn variability_matches_the_model_variances() {
        let typical = LEN_R1
            .individual(&Covariates::patient(90.0, 70.0).unwrap(), false)
            .unwrap();
        let n = 20_000;
        let logs: Vec<(f64, f64, f64)> = (0..n)
            .map(|i| {
                let d = draw(&LEN_R1, &typical, 3, i, true);
                (
                    (d.cl_l_h / typical.cl_l_h).ln(),
                    (d.v_l / typical.v_l).ln(),
                    (d.k_tr_per_h / typical.k_tr_per_h).ln(),
                )
            })
            .collect();
        let var = |f: fn(&(f64, f64, f64)) -> f64| {
            logs.iter().map(|x| f(x).powi(2)).sum::<f64>() / n as f64
        };
        assert!((var(|x| x.0) - 0.09).abs() < 0.005);
        assert!((var(|x| x.1) - 0.04).abs() < 0.003);
        assert!((var(|x| x.2) - 0.37).abs() < 0.02);
        let cov = logs.iter().map(|x| x.0 * x.1).sum::<f64>() / n as f64;
        let corr = cov / (var(|x| x.0) * var(|x| x.1)).sqrt();
        assert!((corr - 0.85).abs() < 0.02, "corr {corr}");
    }
}

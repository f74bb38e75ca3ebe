//! Exact evaluation of a schedule for one subject (reference/pk-model.md §3.1). Without dialysis the model is
//! time-invariant and linear, so concentrations are a superposition of single-dose responses. Dialysis makes the
//! elimination rate piecewise constant; then the state (chain amounts and central amount) is carried across each
//! constant-rate piece with the same closed forms, which is still exact: no numerical integration anywhere.

use crate::analytic::{central_fraction, central_integral, chain_transfer, erlang_cdf};
use crate::model::Individual;
use crate::schedule::Schedule;

/// One subject on one schedule, ready to evaluate. Amounts in mg, volumes in L: concentrations in mg/L.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    n: u32,
    k_tr: f64,
    k: f64,
    k_dialysis: f64,
    v: f64,
    /// (time entering the depot, bioavailable amount), sorted.
    inputs: Vec<(f64, f64)>,
    /// (start, end) of sessions, sorted, non-overlapping.
    sessions: Vec<(f64, f64)>,
}

impl Engine {
    pub(crate) fn new(ind: &Individual, schedule: &Schedule, cl_dialysis_l_h: f64) -> Self {
        let inputs = schedule
            .doses()
            .iter()
            .map(|d| (d.time_h + ind.lag_h, d.amount_mg * ind.bioavailability))
            .collect();
        let sessions = schedule
            .dialysis()
            .iter()
            .map(|s| (s.start_h, s.end_h()))
            .collect();
        Self {
            n: ind.transfers,
            k_tr: ind.k_tr_per_h,
            k: ind.cl_l_h / ind.v_l,
            k_dialysis: cl_dialysis_l_h / ind.v_l,
            v: ind.v_l,
            inputs,
            sessions,
        }
    }

    fn piecewise(&self) -> bool {
        !self.sessions.is_empty() && self.k_dialysis > 0.0
    }

    /// Concentrations (mg/L) and cumulative AUC from time 0 (mg·h/L) at sorted `times`.
    pub(crate) fn evaluate(&self, times: &[f64]) -> (Vec<f64>, Vec<f64>) {
        if self.piecewise() {
            self.sweep(times)
        } else {
            let conc = times.iter().map(|&t| self.superposed_conc(t)).collect();
            let auc = times.iter().map(|&t| self.superposed_auc(t)).collect();
            (conc, auc)
        }
    }

    /// Concentration at one time, mg/L.
    pub(crate) fn conc(&self, t: f64) -> f64 {
        if self.piecewise() {
            self.sweep(&[t]).0[0]
        } else {
            self.superposed_conc(t)
        }
    }

    /// AUC over [t0, t1], mg·h/L.
    pub(crate) fn auc(&self, t0: f64, t1: f64) -> f64 {
        if self.piecewise() {
            let (_, cum) = self.sweep(&[t0, t1]);
            cum[1] - cum[0]
        } else {
            self.inputs
                .iter()
                .take_while(|(s, _)| *s < t1)
                .map(|&(s, a)| {
                    a * (central_integral(self.n, self.k_tr, self.k, t1 - s)
                        - central_integral(self.n, self.k_tr, self.k, t0 - s))
                })
                .sum::<f64>()
                / self.v
        }
    }

    fn superposed_conc(&self, t: f64) -> f64 {
        self.inputs
            .iter()
            .take_while(|(s, _)| *s < t)
            .map(|&(s, a)| a * central_fraction(self.n, self.k_tr, self.k, t - s))
            .sum::<f64>()
            / self.v
    }

    fn superposed_auc(&self, t: f64) -> f64 {
        self.inputs
            .iter()
            .take_while(|(s, _)| *s < t)
            .map(|&(s, a)| a * central_integral(self.n, self.k_tr, self.k, t - s))
            .sum::<f64>()
            / self.v
    }

    /// State propagation across doses, session boundaries and output times.
    pub(crate) fn sweep(&self, times: &[f64]) -> (Vec<f64>, Vec<f64>) {
        #[derive(Clone, Copy)]
        enum Ev {
            Input(f64),
            Rate(bool),
            Output(usize),
        }
        let mut events: Vec<(f64, u8, Ev)> =
            Vec::with_capacity(self.inputs.len() + 2 * self.sessions.len() + times.len());
        // At equal times: rate changes first, then doses, then outputs (an output at a dose time is the pre-dose level
        // because the dose is still in the depot).
        for &(s, e) in &self.sessions {
            events.push((s, 0, Ev::Rate(true)));
            events.push((e, 0, Ev::Rate(false)));
        }
        for &(t, a) in &self.inputs {
            events.push((t, 1, Ev::Input(a)));
        }
        for (i, &t) in times.iter().enumerate() {
            events.push((t, 2, Ev::Output(i)));
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

        let n = self.n as usize;
        let mut chain = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut transfer = vec![0.0; n];
        let mut central = 0.0;
        let mut cum_auc = 0.0;
        let mut now = 0.0_f64.min(events.first().map_or(0.0, |e| e.0));
        let mut on_dialysis = false;
        let mut conc = vec![0.0; times.len()];
        let mut auc = vec![0.0; times.len()];
        for (t, _, ev) in events {
            let dt = t - now;
            if dt > 0.0 {
                let k = if on_dialysis {
                    self.k + self.k_dialysis
                } else {
                    self.k
                };
                let z = self.k_tr * dt;
                let mut input = 0.0;
                let mut new_central = central * (-k * dt).exp();
                for (j, &a) in chain.iter().enumerate() {
                    if a != 0.0 {
                        let m = self.n - j as u32;
                        input += a * erlang_cdf(m, z);
                        new_central += a * central_fraction(m, self.k_tr, k, dt);
                    }
                }
                for (s, slot) in transfer.iter_mut().enumerate() {
                    *slot = chain_transfer(s as u32, z);
                }
                for i in 0..n {
                    next[i] = (0..=i).map(|j| chain[j] * transfer[i - j]).sum();
                }
                std::mem::swap(&mut chain, &mut next);
                // Mass balance: what was eliminated is what arrived minus the rise in the central amount.
                cum_auc += ((input + central - new_central) / k).max(0.0);
                central = new_central;
                now = t;
            }
            match ev {
                Ev::Input(a) => {
                    if n == 0 {
                        central += a;
                    } else {
                        chain[0] += a;
                    }
                }
                Ev::Rate(on) => on_dialysis = on,
                Ev::Output(i) => {
                    conc[i] = central / self.v;
                    auc[i] = cum_auc / self.v;
                }
            }
        }
        (conc, auc)
    }

    /// Largest concentration in [t0, t1]: a grid of `step`, then golden-section refinement around the best point.
    pub(crate) fn max_in(&self, t0: f64, t1: f64, step: f64) -> (f64, f64) {
        let count = ((t1 - t0) / step).ceil().max(1.0) as usize;
        let grid: Vec<f64> = (0..=count)
            .map(|i| (t0 + i as f64 * step).min(t1))
            .collect();
        let (conc, _) = self.evaluate(&grid);
        let (best, &cbest) = conc
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((0, &0.0));
        let mut lo = grid[best.saturating_sub(1)];
        let mut hi = grid[(best + 1).min(grid.len() - 1)];
        let g = (5.0_f64.sqrt() - 1.0) / 2.0;
        let mut a = hi - g * (hi - lo);
        let mut b = lo + g * (hi - lo);
        let (mut fa, mut fb) = (self.conc(a), self.conc(b));
        for _ in 0..60 {
            if fa > fb {
                hi = b;
                b = a;
                fb = fa;
                a = hi - g * (hi - lo);
                fa = self.conc(a);
            } else {
                lo = a;
                a = b;
                fa = fb;
                b = lo + g * (hi - lo);
                fb = self.conc(b);
            }
            if hi - lo < 1e-7 {
                break;
            }
        }
        let tm = 0.5 * (lo + hi);
        let cm = self.conc(tm);
        if cm >= cbest {
            (tm, cm)
        } else {
            (grid[best], cbest)
        }
    }
}

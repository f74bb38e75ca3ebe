//! Property tests of the analytic solution: concentrations are never negative, lower CrCl never lowers AUC for
//! the same dose, and the response is linear in dose and additive across schedules (superposition).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use lenaguard_pk::{
    Covariates, Dose, GUGLIERI_LOPEZ_2017, LEN_R1, Model, Regimen, Schedule, SimOptions,
    relative_exposure, simulate,
};
use proptest::prelude::*;

fn model(gl: bool) -> &'static Model {
    if gl { &GUGLIERI_LOPEZ_2017 } else { &LEN_R1 }
}

fn patient(crcl: f64, wt: f64, healthy: bool) -> Covariates {
    let c = Covariates::patient(crcl, wt)
        .unwrap()
        .with_bsa(1.2 + wt / 150.0)
        .unwrap();
    if healthy { c.healthy() } else { c }
}

fn doses() -> impl Strategy<Value = Vec<Dose>> {
    prop::collection::vec((0.0..200.0f64, 0.5..50.0f64), 1..8).prop_map(|v| {
        v.into_iter()
            .map(|(time_h, amount_mg)| Dose { time_h, amount_mg })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn concentrations_are_never_negative(
        crcl in 0.0..250.0f64, wt in 20.0..300.0f64, fed in any::<bool>(), doses in doses(),
        sessions in prop::collection::vec(0u32..8, 0..3),
    ) {
        let dialysis = sessions.iter().map(|&d| lenaguard_pk::DialysisSession { start_h: f64::from(d) * 24.0 + 6.0, duration_h: 4.0 }).collect::<Vec<_>>();
        let mut dialysis = dialysis;
        dialysis.sort_by(|a, b| a.start_h.total_cmp(&b.start_h));
        dialysis.dedup_by(|a, b| a.start_h == b.start_h);
        let schedule = Schedule::new(doses, dialysis).unwrap();
        let opts = SimOptions { step_h: 0.5, fed, ..SimOptions::default() };
        let p = simulate(&LEN_R1, &patient(crcl, wt, fed), &schedule, &opts).unwrap();
        prop_assert!(p.conc_ng_ml.iter().all(|c| *c >= 0.0 && c.is_finite()));
        prop_assert!(p.daily_auc_ng_h_ml.iter().all(|a| *a >= 0.0));
    }

    #[test]
    fn lower_crcl_never_gives_lower_auc(
        a in 0.0..250.0f64, b in 0.0..250.0f64, wt in 20.0..300.0f64, dose in 2.5..25.0f64,
        every_48h in any::<bool>(), gl in any::<bool>(),
    ) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let regimen = if every_48h { Regimen::every_48h(dose) } else { Regimen::once_daily(dose) };
        let m = model(gl);
        let low = relative_exposure(m, &patient(lo, wt, false), &regimen).unwrap();
        let high = relative_exposure(m, &patient(hi, wt, false), &regimen).unwrap();
        prop_assert!(low.auc24_ss_ng_h_ml >= high.auc24_ss_ng_h_ml * (1.0 - 1e-12));
        let sd = |crcl: f64| {
            let s = Schedule::once_daily(dose, 1, 0.0).unwrap();
            simulate(m, &patient(crcl, wt, false), &s, &SimOptions { horizon_h: Some(72.0), ..SimOptions::default() }).unwrap().auc_ng_h_ml
        };
        prop_assert!(sd(lo) >= sd(hi) * (1.0 - 1e-12));
    }

    #[test]
    fn superposition_is_linear_in_dose_and_additive(
        crcl in 10.0..150.0f64, wt in 40.0..120.0f64, scale in 0.1..8.0f64, first in doses(), second in doses(),
        with_dialysis in any::<bool>(),
    ) {
        let dialysis = if with_dialysis { vec![lenaguard_pk::DialysisSession { start_h: 30.0, duration_h: 4.0 }] } else { vec![] };
        let cov = patient(crcl, wt, false);
        let opts = SimOptions { step_h: 0.5, horizon_h: Some(240.0), ..SimOptions::default() };
        let run = |d: Vec<Dose>| simulate(&LEN_R1, &cov, &Schedule::new(d, dialysis.clone()).unwrap(), &opts).unwrap();
        let base = run(first.clone());
        let scaled_doses: Vec<Dose> = first.iter().map(|d| Dose { amount_mg: (d.amount_mg * scale).min(400.0), ..*d }).collect();
        let factors: Vec<f64> = first.iter().zip(&scaled_doses).map(|(a, b)| b.amount_mg / a.amount_mg).collect();
        prop_assume!(factors.iter().all(|f| (f - scale).abs() < 1e-12));
        let scaled = run(scaled_doses);
        for (x, y) in base.conc_ng_ml.iter().zip(&scaled.conc_ng_ml) {
            prop_assert!((x * scale - y).abs() <= 1e-9 * y.abs().max(1e-6));
        }
        let both = run(first.iter().chain(&second).copied().collect());
        let other = run(second);
        for ((a, b), c) in base.conc_ng_ml.iter().zip(&other.conc_ng_ml).zip(&both.conc_ng_ml) {
            prop_assert!((a + b - c).abs() <= 1e-9 * c.abs().max(1e-6));
        }
    }
}

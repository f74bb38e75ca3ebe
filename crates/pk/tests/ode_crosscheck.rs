//! Cross-check of the analytic solution against an independent numerical ODE solution of the same model
//! (scipy solve_ivp, rtol 1e-10), stored in tests/fixtures/ode_reference.json by tools/pk/reference_ode.py.
//! The fixture's parameters were computed by the script from pk-model.md, so they are checked too.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use lenaguard_pk::{Covariates, Model, Schedule, SimOptions, simulate};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/ode_reference.json");

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("missing number {key}"))
}

fn u(v: &Value, key: &str) -> u32 {
    u32::try_from(
        v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("missing integer {key}")),
    )
    .unwrap()
}

fn covariates(c: &Value) -> Covariates {
    let mut cov = if c["dialysis"].as_bool() == Some(true) {
        Covariates::patient_on_dialysis(f(c, "weight_kg")).unwrap()
    } else {
        Covariates::patient(f(c, "crcl_ml_min"), f(c, "weight_kg")).unwrap()
    };
    if let Some(bsa) = c["bsa_m2"].as_f64() {
        cov = cov.with_bsa(bsa).unwrap();
    }
    if c["healthy"].as_bool() == Some(true) {
        cov = cov.healthy();
    }
    cov
}

fn schedule(s: &Value) -> Schedule {
    let built = match s["kind"].as_str().unwrap() {
        "once_daily" => Schedule::once_daily(f(s, "dose_mg"), u(s, "days"), f(s, "hour")),
        "cycles" => Schedule::cycles(
            f(s, "dose_mg"),
            u(s, "days_on"),
            u(s, "cycle_days"),
            u(s, "cycles"),
            f(s, "hour"),
        ),
        "every" => Schedule::every(
            f(s, "dose_mg"),
            f(s, "interval_h"),
            u(s, "doses"),
            f(s, "first_h"),
        ),
        "daily_after_dialysis" => {
            let days: Vec<u32> = s["weekdays"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as u32)
                .collect();
            Schedule::daily_after_dialysis(
                f(s, "dose_mg"),
                u(s, "days"),
                f(s, "hour"),
                &days,
                f(s, "session_start"),
                f(s, "session_h"),
            )
        }
        other => panic!("unknown schedule kind {other}"),
    }
    .unwrap();
    match s["interruption"].as_array() {
        Some(r) => built
            .with_interruption(r[0].as_u64().unwrap() as u32, r[1].as_u64().unwrap() as u32)
            .unwrap(),
        None => built,
    }
}

#[test]
fn analytic_solution_matches_the_ode_reference_to_1e_6() {
    let data: Value = serde_json::from_str(FIXTURE).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let model = Model::by_name(case["model"].as_str().unwrap()).unwrap();
        let cov = covariates(&case["covariates"]);
        let fed = case["covariates"]["fed"].as_bool().unwrap();
        let sched = schedule(&case["schedule"]);

        // The builders must give the doses and sessions the script integrated.
        let doses = case["doses"].as_array().unwrap();
        assert_eq!(sched.doses().len(), doses.len(), "{name}: dose count");
        for (d, want) in sched.doses().iter().zip(doses) {
            assert!(
                (d.time_h - f(want, "time_h")).abs() < 1e-9
                    && (d.amount_mg - f(want, "amount_mg")).abs() < 1e-12,
                "{name}: {d:?}"
            );
        }
        assert_eq!(
            sched.dialysis().len(),
            case["dialysis"].as_array().unwrap().len(),
            "{name}: sessions"
        );

        // Parameters computed independently by the script from pk-model.md.
        let ind = model.individual(&cov, fed).unwrap();
        let p = &case["params"];
        for (ours, key) in [
            (ind.cl_l_h, "cl"),
            (ind.v_l, "v"),
            (ind.k_tr_per_h, "ktr"),
            (ind.lag_h, "lag"),
            (ind.bioavailability, "f"),
        ] {
            assert!(
                (ours - f(p, key)).abs() <= 1e-12 * f(p, key).abs().max(1.0),
                "{name}: {key} {ours} vs {}",
                f(p, key)
            );
        }
        assert_eq!(ind.transfers, u(p, "n"), "{name}: transfers");

        let times: Vec<f64> = case["times_h"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect();
        let step = times[1] - times[0];
        let horizon = *times.last().unwrap();
        let options = SimOptions {
            step_h: step,
            horizon_h: Some(horizon),
            fed,
            dialysis_clearance_l_h: None,
        };
        let profile = simulate(model, &cov, &sched, &options).unwrap();
        assert_eq!(profile.times_h.len(), times.len(), "{name}: grid");
        let want_c: Vec<f64> = case["conc_ng_ml"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect();
        let want_auc: Vec<f64> = case["cum_auc_ng_h_ml"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect();
        let peak = want_c.iter().copied().fold(0.0, f64::max);
        let mut worst = 0.0_f64;
        for (i, (&ours, &want)) in profile.conc_ng_ml.iter().zip(&want_c).enumerate() {
            assert!((profile.times_h[i] - times[i]).abs() < 1e-9);
            // Relative 1e-6; values below a millionth of the peak (the first minutes after a dose) compared absolutely.
            let err = (ours - want).abs() / want.abs().max(1e-6 * peak);
            worst = worst.max(err);
            assert!(
                err < 1e-6,
                "{name}: t={} ours {ours} ode {want} (rel {err:e})",
                times[i]
            );
        }
        // Cumulative AUC checked through the daily sums and the total.
        let total = *want_auc.last().unwrap();
        assert!(
            (profile.auc_ng_h_ml - total).abs() / total < 1e-6,
            "{name}: AUC {} vs {total}",
            profile.auc_ng_h_ml
        );
        let per_day = (24.0 / step).round() as usize;
        for (d, &ours) in profile.daily_auc_ng_h_ml.iter().enumerate() {
            let want = want_auc[(d + 1) * per_day] - want_auc[d * per_day];
            assert!(
                (ours - want).abs() <= 1e-6 * want.abs().max(1e-3 * total),
                "{name}: day {d} AUC {ours} vs {want}"
            );
        }
        println!("{name}: worst relative concentration error {worst:.2e}");
    }
}

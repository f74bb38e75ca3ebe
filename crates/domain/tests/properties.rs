//! Property tests for the rules: never above the label dose, never below the floor, no resume before the count
//! threshold, lower CrCl never gives a higher dose, and no input makes the engine panic.

mod common;
use common::*;
use lenaguard_domain::assessment::Action;
use lenaguard_domain::dose::{DayWindow, DoseMg, Frequency, Schedule};
use lenaguard_domain::ladder::{Step, next_lower};
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::{self, CrCl, KidneyFunction};
use lenaguard_domain::{Snapshot, assess};
use proptest::prelude::*;
use serde_json::json;

fn regimen() -> impl Strategy<Value = RegimenId> {
    prop::sample::select(RegimenId::ALL.to_vec())
}

fn strength() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![2.5, 5.0, 10.0, 15.0, 20.0, 25.0])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn renal_dose_never_exceeds_the_label_dose_and_falls_with_crcl(r in regimen(), a in 0.0f64..250.0, b in 0.0f64..250.0, dialysis: bool) {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let at = |c: f64| renal::starting_dose(pack(), r, KidneyFunction { crcl: Some(CrCl::new(c).unwrap()), dialysis });
        let (slo, shi) = (at(lo), at(hi));
        let label = pack().regimen(r).start;
        prop_assert!(slo.schedule.dose_mg <= label.dose_mg && shi.schedule.dose_mg <= label.dose_mg);
        prop_assert!(slo.schedule.mg_per_cycle() <= shi.schedule.mg_per_cycle() + 1e-9,
            "CrCl {lo} gives {} but CrCl {hi} gives {}", slo.schedule, shi.schedule);
        prop_assert_eq!(slo.schedule.days_on, label.days_on);
    }

    #[test]
    fn the_ladder_only_goes_down_and_never_below_the_floor(r in regimen(), mg in strength(), short: bool) {
        let reg = pack().regimen(r);
        let (ladder, _) = pack().ladder(r);
        let days = if short && reg.start.days_on.last() == 28 { DayWindow::new(1, 21).unwrap() } else { reg.start.days_on };
        let current = Schedule { dose_mg: DoseMg::parse(mg).unwrap(), days_on: days, ..reg.start };
        match next_lower(ladder, &current, reg.start.days_on) {
            Step::Lower(s) => {
                prop_assert!(s.dose_mg >= ladder.floor.mg, "{s} below floor {}", ladder.floor.mg);
                prop_assert!(s.mg_per_cycle() < current.mg_per_cycle(), "{s} is not lower than {current}");
                prop_assert_eq!(s.cycle_days, current.cycle_days);
            }
            Step::AtFloor | Step::OffLadder => {}
        }
    }

    /// Whatever the counts and the history, the dose given or planned is within the label for the regimen and at
    /// or above the floor, and an interrupted patient whose count is below its resume threshold never resumes.
    #[test]
    fn assess_never_doses_above_the_label_or_below_the_floor(
        r in regimen(), mg in strength(), anc in 0.0f64..6000.0, plt in 0.0f64..400000.0,
        anc_prev in 0.0f64..6000.0, cause in 0usize..4, status in 0usize..3, days_on in 1i64..200,
        fever in 36.0f64..40.0, crcl in 5.0f64..150.0, dialysis: bool,
    ) {
        let reg = pack().regimen(r);
        let cur = json!({ "dose_mg": mg, "frequency": "once_daily", "days_on": [reg.start.days_on.first(), reg.start.days_on.last()], "cycle_days": reg.start.cycle_days });
        let causes = ["neutropenia", "thrombocytopenia", "other_toxicity", "other"];
        let mut s = match status {
            0 => not_started(r.as_str()),
            1 => active(r.as_str(), cur, days_on),
            _ => {
                let mut s = active(r.as_str(), cur, days_on + 10);
                s["treatment"]["status"] = json!("interrupted");
                s["treatment"]["interruptions"] = json!([{ "start": ago(days_on.min(6)), "cause": causes[cause] }]);
                s
            }
        };
        s["kidney"] = json!({ "measured_crcl_ml_min": crcl, "dialysis": dialysis });
        s["baseline"] = json!({ "anc": { "value": 1800, "unit": "/uL" }, "platelets": { "value": 90000, "unit": "/uL" } });
        counts(&mut s, anc_prev, plt, 4);
        counts(&mut s, anc, plt, 0);
        lab(&mut s, "temperature", fever, "Cel", 0);
        let snap: Snapshot = serde_json::from_value(s).unwrap();
        let a = assess(&snap, pack(), today()).unwrap();
        let (ladder, _) = pack().ladder(r);
        let max = reg.may_increase_to.unwrap_or(reg.start.dose_mg).max(reg.start.dose_mg);
        let planned = match &a.action {
            Action::Start { schedule } | Action::Continue { schedule } | Action::Resume { schedule } => Some(*schedule),
            Action::Interrupt { then, .. } | Action::StayInterrupted { then, .. } => *then,
            _ => None,
        };
        if let Some(p) = planned {
            prop_assert!(p.dose_mg <= max, "{} above label {}", p, max);
            prop_assert!(
                p.dose_mg >= ladder.floor.mg || renal::is_renal_starting_dose(pack(), r, &p),
                "{} below the floor {} and not a renal starting dose", p, ladder.floor.mg
            );
        }
        if let Action::Start { schedule } = &a.action {
            let k = renal::starting_dose(pack(), r, KidneyFunction { crcl: Some(CrCl::new(crcl).unwrap()), dialysis });
            prop_assert_eq!(*schedule, k.schedule);
        }
        if status == 2 && cause < 2 {
            let threshold = pack().count_rules.iter()
                .filter(|c| c.regimens.contains(&r) && c.analyte == if cause == 0 { lenaguard_domain::units::Analyte::Anc } else { lenaguard_domain::units::Analyte::Platelets })
                .map(|c| c.resume_at_least)
                .fold(f64::INFINITY, f64::min);
            let v = if cause == 0 { anc } else { plt };
            if v < threshold {
                prop_assert!(!matches!(a.action, Action::Resume { .. } | Action::Continue { .. }), "resumed at {v} below {threshold}: {:?}", a.action);
            }
        }
        if a.action.dose().is_some() {
            prop_assert!(!a.findings.iter().any(|f| f.blocking), "a dose was given despite a blocking finding: {:?}", a.findings);
        }
    }

    /// Any values at all: an answer or an input error, never a panic.
    #[test]
    fn no_input_panics(weight in -10.0f64..1000.0, scr in -1.0f64..40.0, plt in -1.0e6f64..1.0e7, unit in prop::sample::select(vec!["/uL", "10*9/L", "10*3/uL", "g/dL", "x"]), age in -5.0f64..150.0) {
        let mut s = not_started("mm_rd");
        s["patient"]["weight_kg"] = json!(weight);
        s["patient"]["age_years"] = json!(age);
        s["labs"][0]["value"] = json!(scr);
        lab(&mut s, "platelets", plt, unit, 0);
        lab(&mut s, "anc", 1500.0, "/uL", 0);
        let snap: Snapshot = serde_json::from_value(s).unwrap();
        let _ = assess(&snap, pack(), today());
    }
}

#[test]
fn every_frequency_is_a_known_value() {
    // Keeps the property above honest: the strategies cover both frequencies through the renal rows.
    let s = renal::starting_dose(
        pack(),
        RegimenId::MmRd,
        KidneyFunction {
            crcl: Some(CrCl::new(20.0).unwrap()),
            dialysis: false,
        },
    );
    assert_eq!(s.schedule.frequency, Frequency::Every48Hours);
}

//! label.md §3 (with label-verification.md §3-§5): every row of every dose-modification table, both sides of
//! every threshold, first and later episodes, floors, the MDS within/after-4-weeks and baseline rules, and the
//! MCL/FL/MZL ANC rules with duration and fever.

mod common;
use common::*;
use lenaguard_domain::assessment::Action;
use serde_json::json;

fn kind(a: &lenaguard_domain::Assessment) -> &'static str {
    a.action.kind()
}

// ---- MM with dexamethasone (verified table; ladder of strengths is an interpretation) ----

#[test]
fn mm_platelets_interrupt_below_30000_and_resume_at_next_lower() {
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 30000.0, 1);
    assert_eq!(kind(&run(&s)), "continue");

    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 29999.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "interrupt");
    assert_eq!(planned_mg(&a.action), Some(20.0));
    assert!(
        a.unverified_rules
            .contains(&"ladder.mm_combination".to_string())
    );

    // Each later drop: interrupt, resume at the next lower dose again.
    let mut s = interrupted("mm_rd", schedule(20.0, [1, 21], 28), "thrombocytopenia", 6);
    s["treatment"]["interruptions"] = json!([
        { "start": ago(40), "end": ago(30), "cause": "thrombocytopenia" },
        { "start": ago(6), "cause": "thrombocytopenia" }
    ]);
    counts(&mut s, 1500.0, 29999.0, 1);
    assert_eq!(kind(&run(&s)), "stay_interrupted");
    let mut s2 = s.clone();
    counts(&mut s2, 1500.0, 30000.0, 0);
    let a = run(&s2);
    assert_eq!(
        a.action,
        Action::Resume {
            schedule: serde_json::from_value(schedule(15.0, [1, 21], 28)).unwrap()
        }
    );
}

#[test]
fn mm_neutropenia_first_episode_resumes_at_the_starting_dose() {
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1000.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "continue");

    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 999.0, 150000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "interrupt");
    assert_eq!(
        planned_mg(&a.action),
        Some(25.0),
        "first episode, neutropenia only: starting dose"
    );

    // Renal starting dose 10 mg: "the initial starting dose" is 10 mg.
    let mut s = interrupted("mm_rd", schedule(10.0, [1, 21], 28), "neutropenia", 7);
    s["treatment"]["starting"] = schedule(10.0, [1, 21], 28);
    counts(&mut s, 999.0, 150000.0, 7);
    counts(&mut s, 1000.0, 150000.0, 0);
    let a = run(&s);
    assert_eq!(kind(&a), "resume");
    assert_eq!(planned_mg(&a.action), Some(10.0));
}

#[test]
fn mm_neutropenia_later_episode_or_other_toxicity_resumes_lower() {
    // A later episode.
    let mut s = interrupted("mm_rd", schedule(25.0, [1, 21], 28), "neutropenia", 5);
    s["treatment"]["interruptions"] = json!([{ "start": ago(60), "end": ago(50), "cause": "neutropenia" }, { "start": ago(5), "cause": "neutropenia" }]);
    counts(&mut s, 1000.0, 150000.0, 0);
    assert_eq!(planned_mg(&run(&s).action), Some(20.0));

    // First episode but another toxicity (low platelets too): next lower dose, and stay interrupted for platelets.
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 900.0, 25000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "interrupt");
    assert_eq!(planned_mg(&a.action), Some(20.0));

    // First episode with an active related grade 3 toxicity.
    let mut s = interrupted("mm_rd", schedule(25.0, [1, 21], 28), "neutropenia", 5);
    s["adverse_events"] =
        json!([{ "term": "other", "description": "diarrhea", "grade": 3, "onset": ago(6) }]);
    counts(&mut s, 1200.0, 150000.0, 0);
    let a = run(&s);
    assert_ne!(
        kind(&a),
        "resume",
        "an active grade 3 toxicity keeps the hold"
    );
}

#[test]
fn mm_floor_is_2_5_mg_and_an_event_there_needs_the_prescriber() {
    let mut s = interrupted("mm_rd", schedule(2.5, [1, 21], 28), "thrombocytopenia", 7);
    counts(&mut s, 1500.0, 40000.0, 0);
    let a = run(&s);
    assert_eq!(kind(&a), "review");
    assert!(has_finding(&a, "ladder.floor"));

    let mut s = interrupted("mm_rd", schedule(5.0, [1, 21], 28), "thrombocytopenia", 7);
    counts(&mut s, 1500.0, 40000.0, 0);
    assert_eq!(planned_mg(&run(&s).action), Some(2.5));
}

#[test]
fn mm_every_48_hours_is_off_the_ladder() {
    let mut cur = schedule(15.0, [1, 21], 28);
    cur["frequency"] = json!("every_48_hours");
    let mut s = interrupted("mm_rd", cur, "thrombocytopenia", 7);
    counts(&mut s, 1500.0, 40000.0, 0);
    let a = run(&s);
    assert_eq!(kind(&a), "review");
    assert!(has_finding(&a, "ladder.off_ladder"));
}

#[test]
fn vrd_uses_the_mm_rules_on_21_day_cycles() {
    let mut s = active("mm_vrd", schedule(25.0, [1, 14], 21), 30);
    counts(&mut s, 1500.0, 29000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "interrupt");
    let Action::Interrupt { then: Some(t), .. } = a.action else {
        panic!()
    };
    assert_eq!(
        (t.dose_mg.mg(), t.days_on.last(), t.cycle_days),
        (20.0, 14, 21)
    );
    assert!(
        a.unverified_rules.contains(&"mm_vrd".to_string())
            || a.findings.iter().any(|f| f.rests_on_unverified_rules())
    );
}

// ---- MM maintenance ----

#[test]
fn maintenance_neutropenia_500_and_the_days_1_21_floor() {
    let mut s = active("mm_maintenance", schedule(10.0, [1, 28], 28), 100);
    counts(&mut s, 500.0, 100000.0, 1);
    assert_eq!(kind(&run(&s)), "continue");
    let mut s = active("mm_maintenance", schedule(10.0, [1, 28], 28), 100);
    counts(&mut s, 499.0, 100000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "interrupt");
    assert_eq!(planned_mg(&a.action), Some(5.0));

    // At 5 mg days 1-28: resume at 5 mg days 1-21.
    let mut s = interrupted(
        "mm_maintenance",
        schedule(5.0, [1, 28], 28),
        "neutropenia",
        7,
    );
    counts(&mut s, 500.0, 100000.0, 0);
    let Action::Resume { schedule: r } = run(&s).action else {
        panic!("resume expected")
    };
    assert_eq!(
        (r.dose_mg.mg(), r.days_on.first(), r.days_on.last()),
        (5.0, 1, 21)
    );

    // At 5 mg days 1-21: the floor.
    let mut s = interrupted(
        "mm_maintenance",
        schedule(5.0, [1, 21], 28),
        "neutropenia",
        7,
    );
    counts(&mut s, 500.0, 100000.0, 0);
    assert_eq!(kind(&run(&s)), "review");
}

#[test]
fn maintenance_platelets_30000_is_unverified() {
    let mut s = active("mm_maintenance", schedule(10.0, [1, 28], 28), 100);
    counts(&mut s, 1500.0, 29999.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "interrupt");
    assert!(
        a.unverified_rules
            .contains(&"mod.mm_maintenance.platelets".to_string())
    );
}

#[test]
fn maintenance_start_needs_hematologic_recovery() {
    let mut s = not_started("mm_maintenance");
    counts(&mut s, 900.0, 70000.0, 1);
    assert_eq!(kind(&run(&s)), "defer");
    let mut s = not_started("mm_maintenance");
    counts(&mut s, 1000.0, 70000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "start");
    assert!(has_finding(&a, "maintenance.partial_recovery"));
    let mut s = not_started("mm_maintenance");
    counts(&mut s, 1000.0, 75000.0, 1);
    let a = run(&s);
    assert_eq!(planned_mg(&a.action), Some(10.0));
    assert!(!has_finding(&a, "maintenance.partial_recovery"));
}

#[test]
fn maintenance_may_increase_after_3_cycles() {
    let mut s = active("mm_maintenance", schedule(10.0, [1, 28], 28), 100);
    s["treatment"]["cycle"] = json!(4);
    counts(&mut s, 1500.0, 150000.0, 1);
    assert!(has_finding(&run(&s), "regimen.may_increase"));
    // 15 mg is within the label only after 3 cycles.
    let mut s = active("mm_maintenance", schedule(15.0, [1, 28], 28), 100);
    s["treatment"]["cycle"] = json!(2);
    counts(&mut s, 1500.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "review");
    s["treatment"]["cycle"] = json!(4);
    assert_eq!(kind(&run(&s)), "continue");
}

// ---- MCL (verified) and FL/MZL (unverified) ----

#[test]
fn mcl_platelets_50000_and_5_mg_steps() {
    let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 50000.0, 1);
    assert_eq!(kind(&run(&s)), "continue");
    let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 49999.0, 1);
    let a = run(&s);
    assert_eq!((kind(&a), planned_mg(&a.action)), ("interrupt", Some(20.0)));
    assert!(
        a.unverified_rules
            .iter()
            .all(|r| !r.starts_with("mod.mcl") && !r.starts_with("ladder.mcl"))
    );

    let mut s = interrupted("mcl", schedule(5.0, [1, 21], 28), "thrombocytopenia", 7);
    counts(&mut s, 1500.0, 50000.0, 0);
    assert_eq!(kind(&run(&s)), "review", "floor 5 mg");
}

#[test]
fn mcl_anc_below_500_or_below_1000_for_7_days_or_with_fever() {
    // Below 500: at once.
    let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 499.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "interrupt");
    // 500-999 on a single day: watch, not yet.
    let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 999.0, 150000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "continue");
    assert!(has_finding(&a, "count.anc.watch"));
    // Below 1000 for 7 days.
    let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 800.0, 150000.0, 8);
    counts(&mut s, 900.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "interrupt");
    // Below 1000 for 6 days only.
    let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 800.0, 150000.0, 7);
    counts(&mut s, 900.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "continue");
    // A normal value in between breaks the run.
    let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 800.0, 150000.0, 9);
    counts(&mut s, 1100.0, 150000.0, 5);
    counts(&mut s, 900.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "continue");
    // With fever of 38.5 C (or 101.3 F).
    for (t, unit, want) in [
        (38.5, "Cel", "interrupt"),
        (38.4, "Cel", "continue"),
        (101.3, "[degF]", "interrupt"),
    ] {
        let mut s = active("mcl", schedule(25.0, [1, 21], 28), 60);
        counts(&mut s, 900.0, 150000.0, 1);
        lab(&mut s, "temperature", t, unit, 0);
        assert_eq!(kind(&run(&s)), want, "fever {t} {unit}");
    }
    // Resume at 1000.
    let mut s = interrupted("mcl", schedule(20.0, [1, 21], 28), "neutropenia", 7);
    counts(&mut s, 999.0, 150000.0, 0);
    assert_eq!(kind(&run(&s)), "stay_interrupted");
    let mut s = interrupted("mcl", schedule(20.0, [1, 21], 28), "neutropenia", 7);
    counts(&mut s, 1000.0, 150000.0, 0);
    assert_eq!(planned_mg(&run(&s).action), Some(15.0));
}

#[test]
fn fl_and_mzl_follow_the_mcl_thresholds_unverified() {
    for regimen in ["fl", "mzl"] {
        let mut s = active(regimen, schedule(20.0, [1, 21], 28), 60);
        counts(&mut s, 1500.0, 49999.0, 1);
        let a = run(&s);
        assert_eq!(
            (kind(&a), planned_mg(&a.action)),
            ("interrupt", Some(15.0)),
            "{regimen}"
        );
        assert!(
            a.unverified_rules
                .iter()
                .any(|r| r == "mod.fl_mzl.platelets")
        );
        let mut s = active(regimen, schedule(20.0, [1, 21], 28), 60);
        counts(&mut s, 499.0, 150000.0, 1);
        assert_eq!(kind(&run(&s)), "interrupt");
        // Up to 12 cycles.
        let mut s = active(regimen, schedule(20.0, [1, 21], 28), 400);
        s["treatment"]["cycle"] = json!(13);
        counts(&mut s, 1500.0, 150000.0, 1);
        assert_eq!(kind(&run(&s)), "review");
    }
}

// ---- MDS (unverified thresholds) ----

fn mds(days_on: i64, baseline_anc: f64, baseline_plt: f64, dose: f64) -> serde_json::Value {
    let mut s = active("mds_del5q", schedule(dose, [1, 28], 28), days_on);
    s["treatment"]["starting"] = schedule(10.0, [1, 28], 28);
    s["baseline"] = json!({
        "anc": { "value": baseline_anc, "unit": "/uL" },
        "platelets": { "value": baseline_plt, "unit": "/uL" }
    });
    s
}

#[test]
fn mds_platelets_within_4_weeks_depend_on_baseline() {
    // Baseline >= 100,000: interrupt below 50,000, resume at 50,000 at 5 mg.
    let mut s = mds(10, 2000.0, 150000.0, 10.0);
    counts(&mut s, 2000.0, 49999.0, 0);
    let a = run(&s);
    assert_eq!((kind(&a), planned_mg(&a.action)), ("interrupt", Some(5.0)));
    let mut s = mds(10, 2000.0, 150000.0, 10.0);
    counts(&mut s, 2000.0, 50000.0, 0);
    assert_eq!(kind(&run(&s)), "continue");
    // Baseline 60,000 to < 100,000: interrupt at 50% of baseline; resume at 50,000.
    let mut s = mds(10, 2000.0, 80000.0, 10.0);
    counts(&mut s, 2000.0, 40000.0, 0);
    assert_eq!(kind(&run(&s)), "interrupt");
    let mut s = mds(10, 2000.0, 80000.0, 10.0);
    counts(&mut s, 2000.0, 40001.0, 0);
    assert_eq!(kind(&run(&s)), "continue");
    let mut s = mds(10, 2000.0, 80000.0, 10.0);
    s["treatment"]["status"] = json!("interrupted");
    s["treatment"]["interruptions"] = json!([{ "start": ago(3), "cause": "thrombocytopenia" }]);
    counts(&mut s, 2000.0, 49999.0, 0);
    assert_eq!(kind(&run(&s)), "stay_interrupted");
    // Baseline < 60,000: resume at 30,000.
    let mut s = mds(10, 2000.0, 50000.0, 10.0);
    s["treatment"]["status"] = json!("interrupted");
    s["treatment"]["interruptions"] = json!([{ "start": ago(3), "cause": "thrombocytopenia" }]);
    counts(&mut s, 2000.0, 30000.0, 0);
    assert_eq!(kind(&run(&s)), "resume");
}

#[test]
fn mds_platelets_after_4_weeks_and_with_transfusions() {
    let mut s = mds(40, 2000.0, 150000.0, 10.0);
    counts(&mut s, 2000.0, 29999.0, 0);
    assert_eq!(kind(&run(&s)), "interrupt");
    let mut s = mds(40, 2000.0, 150000.0, 10.0);
    counts(&mut s, 2000.0, 45000.0, 0);
    assert_eq!(kind(&run(&s)), "continue");
    s["platelet_transfusions"] = json!([ago(0)]);
    assert_eq!(
        kind(&run(&s)),
        "interrupt",
        "< 50,000 with platelet transfusions"
    );
}

#[test]
fn mds_neutrophils_within_and_after_4_weeks() {
    let mut s = mds(10, 1500.0, 150000.0, 10.0);
    counts(&mut s, 749.0, 150000.0, 0);
    assert_eq!(kind(&run(&s)), "interrupt");
    let mut s = mds(10, 1500.0, 150000.0, 10.0);
    counts(&mut s, 750.0, 150000.0, 0);
    assert_eq!(kind(&run(&s)), "continue");
    let mut s = mds(10, 800.0, 150000.0, 10.0);
    counts(&mut s, 499.0, 150000.0, 0);
    assert_eq!(kind(&run(&s)), "interrupt");
    let mut s = mds(10, 800.0, 150000.0, 10.0);
    counts(&mut s, 500.0, 150000.0, 0);
    assert_eq!(kind(&run(&s)), "continue");
    // After 4 weeks: below 500 for 7 days, or with fever.
    let mut s = mds(40, 1500.0, 150000.0, 10.0);
    counts(&mut s, 450.0, 150000.0, 7);
    counts(&mut s, 480.0, 150000.0, 0);
    assert_eq!(kind(&run(&s)), "interrupt");
    let mut s = mds(40, 1500.0, 150000.0, 10.0);
    counts(&mut s, 480.0, 150000.0, 2);
    assert_eq!(kind(&run(&s)), "continue");
    lab(&mut s, "temperature", 38.6, "Cel", 1);
    assert_eq!(kind(&run(&s)), "interrupt");
}

#[test]
fn mds_at_5_mg_steps_to_2_5_and_needs_a_baseline_early_on() {
    let mut s = mds(60, 1500.0, 150000.0, 5.0);
    s["treatment"]["status"] = json!("interrupted");
    s["treatment"]["interruptions"] = json!([{ "start": ago(7), "cause": "thrombocytopenia" }]);
    counts(&mut s, 1500.0, 30000.0, 0);
    assert_eq!(planned_mg(&run(&s).action), Some(2.5));
    // Within 4 weeks without a baseline: the rule cannot be chosen.
    let mut s = active("mds_del5q", schedule(10.0, [1, 28], 28), 10);
    counts(&mut s, 1500.0, 150000.0, 0);
    let a = run(&s);
    assert_eq!(kind(&a), "blocked");
    assert!(a.findings.iter().any(|f| f.message.contains("baseline")));
}

// ---- Non-hematologic toxicity ----

#[test]
fn permanent_discontinuation_terms() {
    for (term, grade, want) in [
        ("angioedema", 2, "discontinue"),
        ("anaphylaxis", 3, "discontinue"),
        ("rash", 4, "discontinue"),
        ("skin_exfoliation", 2, "discontinue"),
        ("bullous_dermatitis", 3, "discontinue"),
        ("stevens_johnson_syndrome", 3, "discontinue"),
        ("toxic_epidermal_necrolysis", 4, "discontinue"),
        ("dress", 3, "discontinue"),
        ("rash", 3, "continue"),
    ] {
        let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
        counts(&mut s, 1500.0, 150000.0, 1);
        s["adverse_events"] =
            json!([{ "term": term, "grade": grade, "onset": ago(2), "resolved_on": ago(1) }]);
        let a = run(&s);
        assert_eq!(kind(&a), want, "{term} grade {grade}");
    }
    // DRESS is not named by the label: discontinuation rests on an unverified interpretation.
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 1);
    s["adverse_events"] = json!([{ "term": "dress", "grade": 3, "onset": ago(2) }]);
    assert!(
        run(&s)
            .unverified_rules
            .contains(&"tox.discontinue.severe_dermatologic".to_string())
    );
    // A grade 2-3 rash is advice, not an automatic hold.
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 1);
    s["adverse_events"] = json!([{ "term": "rash", "grade": 2, "onset": ago(2) }]);
    assert!(has_finding(&run(&s), "toxicity.advice.rash"));
    // Prior grade 4 rash on thalidomide.
    let mut s = not_started("mm_rd");
    counts(&mut s, 1500.0, 150000.0, 1);
    s["history"] = json!({ "grade_4_rash_on_thalidomide": true });
    assert_eq!(kind(&run(&s)), "discontinue");
}

#[test]
fn other_grade_3_4_toxicity_holds_and_restarts_lower_at_grade_2() {
    let mut s = active("mm_rd", schedule(20.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 1);
    s["adverse_events"] =
        json!([{ "term": "other", "description": "fatigue", "grade": 3, "onset": ago(1) }]);
    let a = run(&s);
    assert_eq!((kind(&a), planned_mg(&a.action)), ("interrupt", Some(15.0)));
    // Not judged related: no hold.
    s["adverse_events"][0]["related"] = json!(false);
    assert_eq!(kind(&run(&s)), "continue");
    // Interrupted; still grade 3: stay; grade 2: restart lower.
    let mut s = interrupted("mm_rd", schedule(20.0, [1, 21], 28), "other_toxicity", 5);
    counts(&mut s, 1500.0, 150000.0, 1);
    s["adverse_events"] = json!([{ "term": "other", "grade": 3, "onset": ago(6) }]);
    assert_eq!(kind(&run(&s)), "stay_interrupted");
    s["adverse_events"][0]["current_grade"] = json!(2);
    let a = run(&s);
    assert_eq!((kind(&a), planned_mg(&a.action)), ("resume", Some(15.0)));
    // Hepatotoxicity: stop and evaluate.
    let mut s = active("mm_rd", schedule(20.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 1);
    s["adverse_events"] = json!([{ "term": "hepatotoxicity", "grade": 2, "onset": ago(1) }]);
    assert_eq!(kind(&run(&s)), "interrupt");
}

// ---- Fail closed ----

#[test]
fn stale_or_missing_counts_block() {
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 28);
    assert_eq!(kind(&run(&s)), "continue");
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 29);
    assert_eq!(kind(&run(&s)), "blocked");
    let s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    assert_eq!(kind(&run(&s)), "blocked");
    // During an interruption the CBC is weekly.
    let mut s = interrupted("mm_rd", schedule(25.0, [1, 21], 28), "thrombocytopenia", 20);
    counts(&mut s, 1500.0, 150000.0, 8);
    assert_eq!(kind(&run(&s)), "blocked");
    let mut s = interrupted("mm_rd", schedule(25.0, [1, 21], 28), "thrombocytopenia", 20);
    counts(&mut s, 1500.0, 150000.0, 7);
    assert_eq!(kind(&run(&s)), "resume");
}

#[test]
fn a_start_without_kidney_function_blocks() {
    let mut s = not_started("mm_rd");
    s["labs"] = json!([]);
    counts(&mut s, 1500.0, 150000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "blocked");
    assert!(has_finding(&a, "kidney.unknown"));
    // A creatinine older than 30 days does not count.
    let mut s = not_started("mm_rd");
    s["labs"] = json!([{ "code": "creatinine", "value": 1.0, "unit": "mg/dL", "date": ago(31) }]);
    counts(&mut s, 1500.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "blocked");
    // Dialysis alone is enough.
    s["kidney"] = json!({ "dialysis": true });
    let a = run(&s);
    assert_eq!((kind(&a), planned_mg(&a.action)), ("start", Some(5.0)));
}

#[test]
fn not_studied_and_not_adult_need_the_prescriber() {
    let mut s = not_started("mm_rd");
    s["kidney"] = json!({ "measured_crcl_ml_min": 10.0 });
    counts(&mut s, 1500.0, 150000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "review");
    assert!(has_finding(&a, "kidney.not_studied"));
    let mut s = not_started("mm_rd");
    s["patient"]["age_years"] = json!(17);
    counts(&mut s, 1500.0, 150000.0, 1);
    assert_eq!(kind(&run(&s)), "review");
}

#[test]
fn a_dose_above_the_label_is_never_continued() {
    let mut s = active("fl", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 1);
    let a = run(&s);
    assert_eq!(kind(&a), "review");
    assert!(has_finding(&a, "dose.above_label"));
}

#[test]
fn the_predicted_exposure_is_informational_and_marked_calibrated() {
    let mut s = not_started("mm_rd");
    s["kidney"] = json!({ "measured_crcl_ml_min": 40.0 });
    counts(&mut s, 1500.0, 150000.0, 1);
    let a = run(&s);
    assert_eq!(planned_mg(&a.action), Some(10.0), "the label decides");
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "pk.exposure")
        .expect("exposure finding");
    assert_eq!(f.severity, lenaguard_domain::Severity::Info);
    assert!(f.message.contains("0.88 times"), "{}", f.message);
    assert!(a.unverified_rules.contains(&"pk.len-r1".to_string()));
}

#[test]
fn dexamethasone_is_a_prescriber_choice_and_older_patients_hear_of_the_reduction() {
    let mut s = not_started("mm_rd");
    counts(&mut s, 1500.0, 150000.0, 1);
    let a = run(&s);
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "dexamethasone.not_chosen")
        .expect("choices listed");
    assert!(f.message.contains("dex_pulse_40") && f.message.contains("dex_weekly_20_over_75"));

    for (age, schedule, reduction) in [
        (76, "dex_pulse_40", true),
        (75, "dex_pulse_40", false),
        (80, "dex_weekly_20_over_75", false),
    ] {
        s["patient"]["age_years"] = json!(age);
        s["dexamethasone"] = json!(schedule);
        let a = run(&s);
        let f = a
            .findings
            .iter()
            .find(|f| f.code == "dexamethasone.schedule")
            .expect("schedule finding");
        assert_eq!(
            f.message.contains("may be reduced"),
            reduction,
            "age {age}, {schedule}: {}",
            f.message
        );
        assert_eq!(
            f.sources.iter().any(|p| p.rule == "dex.reduction_by_age"),
            reduction
        );
    }
}

//! Interactions (label.md §7), thromboprophylaxis scores (scores-criteria.md §1-§3) and monitoring schedules
//! (label.md §4), checked against the reference tables.

mod common;
use common::{active, ago, counts, interrupted, pack, run, run_err, schedule};
use lenaguard_domain::monitoring::{DueStatus, MonitoringKind};
use lenaguard_domain::thrombo::{Factor, RiskGroup, Tier};
use serde_json::{Value, json};

fn rd() -> Value {
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 40);
    counts(&mut s, 2000.0, 150000.0, 1);
    s
}

#[test]
fn medications_match_by_code_by_name_and_refuse_a_disagreement() {
    let mut s = rd();
    s["medications"] = json!([
        { "name": "DIGOXIN 0.125 MG TABLET" },
        { "rxnorm": "11289" },
        { "name": "Epoetin Alfa", "rxnorm": "105694" },
        { "name": "estradiol patch", "stop": ago(60) }
    ]);
    let a = run(&s);
    let safety = a.safety.clone().unwrap();
    let by: Vec<(String, String)> = safety
        .medications_recognised
        .iter()
        .map(|m| (m.agent.clone(), format!("{:?}", m.matched_by)))
        .collect();
    assert_eq!(
        by,
        [
            ("digoxin".to_string(), "Name".to_string()),
            ("warfarin".to_string(), "Code".to_string()),
            ("esa".to_string(), "CodeAndName".to_string()),
        ]
    );
    for code in [
        "interaction.digoxin",
        "interaction.warfarin",
        "interaction.thrombosis_risk",
    ] {
        assert!(a.findings.iter().any(|f| f.code == code), "{code}");
    }
    // Monitoring follows: digoxin levels and PT/INR are scheduled.
    let kinds: Vec<MonitoringKind> = safety.monitoring.iter().map(|m| m.kind).collect();
    assert!(
        kinds.contains(&MonitoringKind::DigoxinLevel) && kinds.contains(&MonitoringKind::PtInr)
    );
    s["medications"] = json!([{ "name": "aspirin", "rxnorm": "11289" }]);
    let e = run_err(&s);
    assert_eq!(e.field(), "medications[0].rxnorm");
}

#[test]
fn pembrolizumab_with_dexamethasone_in_myeloma_blocks_outside_trials() {
    let mut s = rd();
    s["medications"] = json!([{ "name": "pembrolizumab" }]);
    let a = run(&s);
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "interaction.pembrolizumab")
        .unwrap();
    assert!(f.blocking && f.rests_on_unverified_rules());
    s["in_clinical_trial"] = json!(true);
    let a = run(&s);
    assert!(
        !a.findings
            .iter()
            .find(|f| f.code == "interaction.pembrolizumab")
            .unwrap()
            .blocking
    );
    let mut m = active("mcl", schedule(25.0, [1, 21], 28), 40);
    m["medications"] = json!([{ "name": "pembrolizumab" }]);
    m["diagnoses"] = json!(["Chronic lymphocytic leukemia (CLL)"]);
    let a = run(&m);
    assert!(
        !a.findings
            .iter()
            .any(|f| f.code == "interaction.pembrolizumab")
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.code == "warning.cll" && f.blocking)
    );
}

fn vte(s: &Value) -> lenaguard_domain::thrombo::VteAssessment {
    run(s).safety.unwrap().vte.unwrap()
}

#[test]
fn impede_and_saved_follow_the_reference_weights() {
    // Weekly 40 mg dex: 160 mg per 28 days, "low" for IMPEDE (+2), "standard" for SAVED (+1).
    let mut s = rd();
    s["dexamethasone"] = json!("dex_weekly_40");
    s["vte"] = json!({ "prophylaxis": "none" });
    let v = vte(&s);
    assert_eq!(v.dex_mg_per_window, Some(160.0));
    assert_eq!(v.impede.total, 4 + 2);
    assert_eq!(v.impede.group, RiskGroup::Intermediate);
    assert_eq!(v.saved.total, 1);
    assert_eq!(v.saved.group, RiskGroup::Low);
    // Pulse dex (480 mg per cycle in cycles 1-4): IMPEDE high dose +4, SAVED +2, IMWG therapy factor.
    s["dexamethasone"] = json!("dex_pulse_40");
    s["vte"] = json!({ "prophylaxis": "therapeutic_anticoagulation", "history_of_vte": true, "asian_or_pacific_islander": true });
    let v = vte(&s);
    assert_eq!(v.dex_mg_per_window, Some(480.0));
    // IMiD 4 + dex high 4 + VTE 5 - Asian 3 - therapeutic anticoagulation 4 (preferred; -5 alternative).
    assert_eq!(v.impede.total, 6);
    assert_eq!(v.impede.alternative_total, Some(5));
    let item = v
        .impede
        .items
        .iter()
        .find(|i| i.factor == Factor::TherapeuticAnticoagulation)
        .unwrap();
    assert_eq!(item.points, -4);
    assert!(item.alternatives[0].starts_with("-5"));
    assert_eq!(v.saved.total, 2 + 3 - 3);
    assert_eq!(v.saved.group, RiskGroup::High);
    assert_eq!(v.imwg.tier, Tier::Higher);
    assert!(
        v.imwg
            .therapy_factors
            .contains(&"high-dose dexamethasone".to_string())
    );
}

#[test]
fn impede_risk_group_boundaries() {
    let bands = &pack().thromboprophylaxis.impede_bands.value;
    assert_eq!((bands.low_at_most, bands.intermediate_at_most), (3, 7));
    // IMiD 4 - Asian 3 = 1 (low); + CVC 2 = 3 (low); + BMI 1 = 4 (intermediate); + VTE 5 = 9 (high).
    let mut s = rd();
    s["patient"]["height_cm"] = json!(170);
    s["patient"]["weight_kg"] = json!(60);
    let cases: [(Value, i32, RiskGroup); 4] = [
        (
            json!({ "asian_or_pacific_islander": true }),
            1,
            RiskGroup::Low,
        ),
        (
            json!({ "asian_or_pacific_islander": true, "central_venous_catheter": true }),
            3,
            RiskGroup::Low,
        ),
        (
            json!({ "asian_or_pacific_islander": true, "central_venous_catheter": true, "bmi": 26.0 }),
            4,
            RiskGroup::Intermediate,
        ),
        (
            json!({ "asian_or_pacific_islander": true, "central_venous_catheter": true, "history_of_vte": true }),
            8,
            RiskGroup::High,
        ),
    ];
    for (input, total, group) in cases {
        let mut c = s.clone();
        if input.get("bmi").is_some() {
            c["patient"]["weight_kg"] = json!(75.1);
        }
        c["vte"] = input.clone();
        let v = vte(&c);
        assert_eq!((v.impede.total, v.impede.group), (total, group), "{input}");
    }
}

#[test]
fn no_prophylaxis_on_record_is_a_finding_and_a_contradiction_is_refused() {
    let mut s = rd();
    s["dexamethasone"] = json!("dex_weekly_40");
    let a = run(&s);
    assert!(a.findings.iter().any(|f| f.code == "vte.no_prophylaxis"));
    s["medications"] = json!([{ "name": "enoxaparin 40 mg" }]);
    let a = run(&s);
    assert!(!a.findings.iter().any(|f| f.code == "vte.no_prophylaxis"));
    s["vte"] = json!({ "prophylaxis": "none" });
    assert_eq!(run_err(&s).field(), "vte.prophylaxis");
}

#[test]
fn cbc_intervals_follow_the_regimen_tables() {
    // (regimen, schedule, days since start, days since last CBC, expected interval)
    let cases = [
        ("mds_del5q", schedule(10.0, [1, 28], 28), 30, 2, 7),
        ("mds_del5q", schedule(10.0, [1, 28], 28), 70, 2, 28),
        ("mcl", schedule(25.0, [1, 21], 28), 10, 2, 7),
        ("mcl", schedule(25.0, [1, 21], 28), 50, 2, 14),
        ("mcl", schedule(25.0, [1, 21], 28), 130, 2, 28),
        ("mm_rd", schedule(25.0, [1, 21], 28), 70, 2, 14),
    ];
    for (regimen, sched, start, last, interval) in cases {
        let mut s = active(regimen, sched, start);
        counts(&mut s, 2000.0, 150000.0, last);
        let items = run(&s).safety.unwrap().monitoring;
        let cbc = items
            .iter()
            .find(|m| m.kind == MonitoringKind::Cbc)
            .unwrap();
        assert_eq!(cbc.interval_days, interval, "{regimen} day {start}");
    }
    let mut s = interrupted("mm_rd", schedule(25.0, [1, 21], 28), "neutropenia", 10);
    counts(&mut s, 800.0, 150000.0, 9);
    let a = run(&s);
    let cbc = a
        .safety
        .unwrap()
        .monitoring
        .into_iter()
        .find(|m| m.kind == MonitoringKind::Cbc)
        .unwrap();
    assert_eq!(cbc.interval_days, 7);
    assert_eq!(cbc.status, DueStatus::Overdue);
    assert!(
        a.findings
            .iter()
            .any(|f| f.code == "monitoring.cbc.overdue")
    );
}

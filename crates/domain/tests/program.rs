//! The Lenalidomide REMS rules (label.md §6, label-verification.md §8): eligibility with every missing step and
//! its dates, the window guard, category checks, and bad records refused by name.

mod common;
use common::{ago, d, pack, run, run_err, today};
use jiff::ToSpan;
use lenaguard_domain::assessment::Action;
use lenaguard_domain::pack::{BUILTIN_FILES, load};
use lenaguard_domain::program::{
    Stage, WindowKind, eligibility, pregnancy_test_schedule, test_cadence_on,
};
use lenaguard_domain::{RulePack, Snapshot};
use proptest::prelude::*;
use serde_json::{Value, json};

fn plus(days: i64) -> String {
    today().checked_add(days.days()).unwrap().to_string()
}

/// An adult female who can get pregnant, to start Rd in a week, enrolled, surveyed, on contraception.
fn frp(tests: &[(i64, &str)]) -> Value {
    json!({
        "patient": { "age_years": 34, "sex": "female", "weight_kg": 65, "height_cm": 168 },
        "regimen": "mm_rd",
        "dexamethasone": "dex_weekly_40",
        "treatment": { "status": "not_started" },
        "labs": [
            { "code": "anc", "value": 2.8, "unit": "10*9/L", "date": ago(2) },
            { "code": "platelets", "value": 210, "unit": "10*9/L", "date": ago(2) },
            { "code": "creatinine", "value": 0.8, "unit": "mg/dL", "date": ago(2) }
        ],
        "program": {
            "category": "adult_female_can_get_pregnant",
            "enrolled_on": ago(16),
            "planned_start": plus(7),
            "pregnancy_tests": tests.iter().map(|(days, result)| json!({
                "date": ago(*days), "result": result, "sensitivity_miu_ml": 25
            })).collect::<Vec<_>>(),
            "contraception": [ { "start": ago(37), "methods": ["iud", "male_condom"] } ],
            "surveys": [ { "date": ago(1), "category": "adult_female_can_get_pregnant" } ]
        },
        "vte": { "prophylaxis": "aspirin" }
    })
}

fn snap(v: &Value) -> Snapshot {
    serde_json::from_value(v.clone()).expect("snapshot parses")
}

fn check(v: &Value, stage: Option<Stage>) -> lenaguard_domain::program::EligibilityReport {
    eligibility(&snap(v), pack(), today(), stage).expect("eligibility")
}

fn codes(r: &lenaguard_domain::program::EligibilityReport) -> Vec<&str> {
    r.missing.iter().map(|m| m.code.as_str()).collect()
}

#[test]
fn one_negative_test_12_days_ago_misses_the_second_test_with_its_latest_date() {
    let r = check(&frp(&[(12, "negative")]), None);
    assert_eq!(r.stage, Stage::Prescription);
    assert!(!r.eligible);
    assert_eq!(codes(&r), ["pregnancy_test.second"]);
    // The first test is 14 days old on today + 2: the last day for the second test and the prescription.
    assert_eq!(r.missing[0].latest, Some(d(&plus(2))));
    assert!(r.authorization.is_none(), "no authorization can be had yet");
}

#[test]
fn after_both_tests_she_is_eligible_and_the_authorization_lapse_is_given() {
    let r = check(&frp(&[(12, "negative"), (0, "negative")]), None);
    assert!(r.eligible, "{:?}", r.missing);
    let a = r.authorization.expect("authorization window");
    let p = &pack().program.authorization.value;
    assert_eq!(a.counted_from, today());
    assert_eq!(a.lapses_on, d(&plus(i64::from(p.frp_valid_days))));
    assert_eq!(a.last_valid_day, d(&plus(i64::from(p.frp_valid_days) - 1)));
    assert!(
        r.unverified_rules
            .contains(&"program.authorization.validity".to_string())
    );
}

#[test]
fn the_first_test_window_is_10_to_14_days_before_the_prescription() {
    // (days ago of the only test, missing codes)
    let cases: [(i64, &[&str]); 7] = [
        (9, &["pregnancy_test.first", "pregnancy_test.second"]),
        (10, &["pregnancy_test.second"]),
        (11, &["pregnancy_test.second"]),
        (14, &["pregnancy_test.second"]),
        (15, &["pregnancy_test.first", "pregnancy_test.second"]),
        (30, &["pregnancy_test.first", "pregnancy_test.second"]),
        (0, &["pregnancy_test.first"]),
    ];
    for (days, want) in cases {
        let r = check(&frp(&[(days, "negative")]), None);
        assert_eq!(codes(&r), want, "test {days} days ago");
    }
    // A too-recent test names the dates on which it can serve as the first.
    let r = check(&frp(&[(3, "negative")]), None);
    let first = &r.missing[0];
    assert_eq!(first.earliest, Some(d(&plus(7))));
    assert_eq!(first.latest, Some(d(&plus(11))));
}

#[test]
fn tests_that_do_not_meet_the_sensitivity_do_not_count() {
    let mut v = frp(&[(12, "negative"), (0, "negative")]);
    v["program"]["pregnancy_tests"][1]["sensitivity_miu_ml"] = json!(100);
    let r = check(&v, None);
    assert_eq!(codes(&r), ["pregnancy_test.second"]);
    assert!(
        r.notes.iter().any(|n| n.contains("100 mIU/mL")),
        "{:?}",
        r.notes
    );
}

fn pack_with(file: &str, from: &str, to: &str) -> RulePack {
    let files: Vec<(&str, String)> = BUILTIN_FILES
        .iter()
        .map(|(n, t)| {
            if *n == file {
                assert!(t.contains(from), "{file} lacks {from:?}");
                (*n, t.replacen(from, to, 1))
            } else {
                (*n, t.to_string())
            }
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    load(&borrowed).expect("edited pack loads")
}

#[test]
fn home_tests_follow_the_pack_switch() {
    let mut v = frp(&[(12, "negative"), (0, "negative")]);
    v["program"]["pregnancy_tests"][1]["setting"] = json!("home");
    assert!(check(&v, None).eligible);
    let strict = pack_with(
        "program.toml",
        "allowed = true\nsource = \"LREMS\"\nsection = \"Continued program modifications (COVID-19",
        "allowed = false\nsource = \"LREMS\"\nsection = \"Continued program modifications (COVID-19",
    );
    let r = eligibility(&snap(&v), &strict, today(), None).unwrap();
    assert_eq!(codes(&r), ["pregnancy_test.second"]);
}

#[test]
fn a_positive_test_always_stops_and_blocks() {
    let a = run(&frp(&[(12, "negative"), (0, "positive")]));
    assert!(
        matches!(a.action, Action::Discontinue { .. }),
        "{:?}",
        a.action
    );
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "program.pregnancy.positive")
        .unwrap();
    assert!(f.blocking);
    assert!(f.message.contains("1-800-FDA-1088"));
}

#[test]
fn a_missed_period_holds_treatment_until_a_negative_test() {
    let mut v = frp(&[(30, "negative"), (16, "negative"), (9, "negative")]);
    v["treatment"] = json!({
        "status": "active", "start_date": ago(16),
        "current": { "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 }
    });
    v["program"]["planned_start"] = Value::Null;
    v["program"]["prescriptions"] = json!([{ "date": ago(16), "days_supply": 28 }]);
    v["program"]["menstrual"] = json!({ "missed_period_on": ago(2) });
    let a = run(&v);
    assert!(
        matches!(a.action, Action::Interrupt { .. }),
        "{:?}",
        a.action
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.code == "program.pregnancy.evaluation" && f.blocking)
    );
    v["program"]["pregnancy_tests"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "date": ago(1), "result": "negative", "sensitivity_miu_ml": 25 }));
    let a = run(&v);
    assert!(
        !a.findings
            .iter()
            .any(|f| f.code == "program.pregnancy.evaluation")
    );
}

#[test]
fn an_overdue_test_on_treatment_blocks_the_dose() {
    let mut v = frp(&[(30, "negative"), (16, "negative")]);
    v["treatment"] = json!({
        "status": "active", "start_date": ago(16),
        "current": { "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 }
    });
    v["program"]["prescriptions"] = json!([{ "date": ago(16), "days_supply": 28 }]);
    v["program"]["dispenses"] = json!([{ "date": ago(16), "days_supply": 28 }]);
    let a = run(&v);
    assert!(
        a.findings
            .iter()
            .any(|f| f.code == "program.missing.pregnancy_test.due")
    );
    assert!(
        matches!(a.action, Action::Blocked { .. } | Action::Interrupt { .. }),
        "{:?}",
        a.action
    );
}

/// A male patient with a written prescription waiting to be dispensed.
fn male_dispense() -> Value {
    json!({
        "patient": { "age_years": 70, "sex": "male", "weight_kg": 80 },
        "regimen": "mm_maintenance",
        "treatment": { "status": "active", "start_date": ago(60),
            "current": { "dose_mg": 10, "frequency": "once_daily", "days_on": [1, 28], "cycle_days": 28 } },
        "labs": [ { "code": "creatinine", "value": 1.0, "unit": "mg/dL", "date": ago(3) } ],
        "program": {
            "category": "adult_male",
            "enrolled_on": ago(70),
            "surveys": [ { "date": ago(2), "category": "adult_male" } ],
            "prescriptions": [ { "date": ago(60), "days_supply": 28 }, { "date": ago(2), "days_supply": 28, "refills": 0 } ],
            "dispenses": [ { "date": ago(30), "days_supply": 28 } ],
            "authorizations": [ { "date": ago(1) } ],
            "confirmations": [ { "date": ago(0) } ]
        }
    })
}

#[test]
fn a_complete_dispense_is_eligible_and_each_gap_is_named() {
    let v = male_dispense();
    let r = check(&v, None);
    assert_eq!(r.stage, Stage::Dispense);
    assert!(r.eligible, "{:?}", r.missing);
    let cases: [(&str, Value, &str); 5] = [
        (
            "/program/prescriptions/1/days_supply",
            json!(30),
            "prescription.supply",
        ),
        (
            "/program/prescriptions/1/refills",
            json!(1),
            "prescription.supply",
        ),
        (
            "/program/confirmations/0/date",
            json!(ago(1)),
            "confirmation",
        ),
        (
            "/program/authorizations/0/date",
            json!(ago(3)),
            "authorization.lapsed",
        ),
        (
            "/program/dispenses/0/date",
            json!(ago(10)),
            "next_fill.too_early",
        ),
    ];
    for (path, value, code) in cases {
        let mut w = v.clone();
        *w.pointer_mut(path).unwrap() = value;
        if code == "authorization.lapsed" {
            w["program"]["confirmations"] = json!([]);
        }
        let r = check(&w, None);
        assert!(codes(&r).contains(&code), "{path}: {:?}", codes(&r));
    }
    // The authorization of a male counts 30 days from issue (unverified).
    let mut w = v.clone();
    w["program"]["dispenses"][0]["date"] = json!(ago(31));
    w["program"]["authorizations"][0]["date"] = json!(ago(29));
    w["program"]["prescriptions"][1]["date"] = json!(ago(29));
    assert!(!codes(&check(&w, None)).contains(&"authorization.lapsed"));
    w["program"]["authorizations"][0]["date"] = json!(ago(30));
    w["program"]["prescriptions"][1]["date"] = json!(ago(30));
    assert!(codes(&check(&w, None)).contains(&"authorization.lapsed"));
}

#[test]
fn telephone_prescriptions_follow_the_newest_switch() {
    let mut v = male_dispense();
    v["program"]["prescriptions"][1]["telephone"] = json!(true);
    assert!(check(&v, None).eligible);
    let old_only = pack_with(
        "program.toml",
        "allowed = true\nsource = \"LREMS\"\nsection = \"Continued program modifications: prescriptions",
        "allowed = false\nsource = \"LREMS\"\nsection = \"Continued program modifications: prescriptions",
    );
    let r = eligibility(&snap(&v), &old_only, today(), None).unwrap();
    assert!(codes(&r).contains(&"prescription.telephone"));
}

#[test]
fn survey_cadence_uses_the_preferred_version_and_names_the_alternative() {
    let (rule, alternatives) = pack()
        .program
        .survey(lenaguard_domain::program::RiskCategory::FemaleChildCannotGetPregnant);
    assert_eq!(rule.value.every_days, 28);
    assert_eq!(alternatives.len(), 1);
    assert_eq!(alternatives[0].value.every_days, 180);
}

#[test]
fn bad_records_are_refused_naming_the_field() {
    let base = frp(&[(12, "negative")]);
    let cases: [(&str, Value, &str); 6] = [
        (
            "/program/pregnancy_tests/0/date",
            json!(plus(1)),
            "program.pregnancy_tests[0].date",
        ),
        (
            "/program/surveys/0/category",
            json!("adult_male"),
            "program.category",
        ),
        (
            "/program/surveys/0/category",
            json!("female_child_can_get_pregnant"),
            "program.surveys[0].category",
        ),
        ("/program/category", json!("adult_male"), "program.category"),
        (
            "/program/contraception/0/methods/0",
            json!("wishful_thinking"),
            "program.contraception[0].methods[0]",
        ),
        (
            "/program/enrolled_on",
            Value::Null,
            "program.authorizations[0].date",
        ),
    ];
    for (path, value, field) in cases {
        let mut v = base.clone();
        *v.pointer_mut(path).unwrap() = value;
        if field == "program.authorizations[0].date" {
            v["program"]["authorizations"] = json!([{ "date": ago(1) }]);
        }
        let e = run_err(&v);
        let ok = e.field() == field
            || (field == "program.category" && e.field().starts_with("program."));
        assert!(ok, "{path}: got {e}");
    }
    let mut v = base.clone();
    v["program"]["pregnancy_tests"] = json!([
        { "date": ago(2), "result": "negative", "sensitivity_miu_ml": 25 },
        { "date": ago(2), "result": "positive", "sensitivity_miu_ml": 25 }
    ]);
    let e = run_err(&v);
    assert!(e.to_string().contains("disagree"), "{e}");
    let mut v = base;
    v["program"]["category"] = json!("adult_female_cannot_get_pregnant");
    v["program"]["surveys"][0]["category"] = json!("adult_female_cannot_get_pregnant");
    assert_eq!(run_err(&v).field(), "program.not_of_reproductive_potential");
}

#[test]
fn a_natural_menopause_under_24_months_is_flagged_for_reclassification() {
    let mut v = frp(&[]);
    v["patient"]["age_years"] = json!(52);
    v["program"]["category"] = json!("adult_female_cannot_get_pregnant");
    v["program"]["surveys"][0]["category"] = json!("adult_female_cannot_get_pregnant");
    v["program"]["not_of_reproductive_potential"] =
        json!({ "reason": "natural_menopause", "since": ago(300) });
    let r = check(&v, None);
    assert!(
        codes(&r).contains(&"category.reproductive_potential"),
        "{:?}",
        codes(&r)
    );
    v["program"]["not_of_reproductive_potential"]["since"] = json!(ago(800));
    assert!(!codes(&check(&v, None)).contains(&"category.reproductive_potential"));
}

#[test]
fn reclassification_needs_a_consistent_chain_and_surveys_follow_it() {
    let mut v = frp(&[(12, "negative")]);
    v["program"]["reclassifications"] = json!([{
        "date": ago(5), "from": "adult_female_cannot_get_pregnant", "to": "adult_female_can_get_pregnant",
        "reason": "menses resumed"
    }]);
    v["program"]["surveys"] = json!([
        { "date": ago(10), "category": "adult_female_cannot_get_pregnant" },
        { "date": ago(1), "category": "adult_female_can_get_pregnant" }
    ]);
    check(&v, None);
    v["program"]["surveys"][0]["category"] = json!("adult_female_can_get_pregnant");
    assert_eq!(run_err(&v).field(), "program.surveys[0].category");
    v["program"]["reclassifications"][0]["reason"] = json!(" ");
    assert_eq!(run_err(&v).field(), "program.reclassifications[0].reason");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No window is ever longer than its limit, and its dates are consistent.
    #[test]
    fn windows_never_exceed_their_limits(
        test_ago in proptest::collection::vec(0i64..40, 0..5),
        survey_ago in 0i64..60,
        auth_ago in 0i64..40,
        conf_ago in 0i64..3,
        started in any::<bool>(),
    ) {
        let tests: Vec<(i64, &str)> = test_ago.iter().map(|d| (*d, "negative")).collect();
        let mut v = frp(&tests);
        v["program"]["surveys"][0]["date"] = json!(ago(survey_ago));
        v["program"]["enrolled_on"] = json!(ago(60));
        v["program"]["authorizations"] = json!([{ "date": ago(auth_ago) }]);
        v["program"]["confirmations"] = json!([{ "date": ago(auth_ago.min(conf_ago)) }]);
        if started {
            v["treatment"] = json!({ "status": "active", "start_date": ago(45),
                "current": { "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 } });
            v["program"]["prescriptions"] = json!([{ "date": ago(45), "days_supply": 28 }]);
        }
        let a = run(&v);
        let status = a.safety.unwrap().program.unwrap();
        let p = &pack().program;
        for w in &status.windows {
            let length = (w.lapses_on - w.opened).get_days();
            prop_assert_eq!(i64::from(length), i64::from(w.limit_days));
            prop_assert!(w.last_valid_day < w.lapses_on && w.warn_from <= w.last_valid_day);
            let max = match w.kind {
                WindowKind::FirstPregnancyTest => p.initial_tests.value.first_days_before[1] + 1,
                WindowKind::PregnancyTest => p.ongoing_tests.value.weekly_every_days.max(p.ongoing_tests.value.regular_every_days).max(p.ongoing_tests.value.irregular_every_days),
                WindowKind::Authorization => p.authorization.value.frp_valid_days,
                WindowKind::Confirmation => p.confirmation.value.valid_hours.div_ceil(24),
                WindowKind::Survey => p.survey(status.category).0.value.every_days,
                WindowKind::Contraception => u16::MAX,
            };
            prop_assert!(w.limit_days <= max, "{:?} {} > {}", w.kind, w.limit_days, max);
        }
    }

    /// The test schedule never leaves a gap longer than the cadence in force, and is weekly for 4 weeks.
    #[test]
    fn the_test_schedule_never_gaps_beyond_its_cadence(start_ago in 0i64..400, span in 1i64..400, irregular in any::<bool>()) {
        let start = today().checked_sub(start_ago.days()).unwrap();
        let until = start.checked_add(span.days()).unwrap();
        let dates = pregnancy_test_schedule(pack(), start, until, irregular);
        prop_assert_eq!(dates[0], start);
        let o = &pack().program.ongoing_tests.value;
        for w in dates.windows(2) {
            let gap = (w[1] - w[0]).get_days();
            prop_assert!(gap > 0);
            prop_assert!(i64::from(gap) <= i64::from(test_cadence_on(pack(), start, w[0], irregular)));
            if (w[1] - start).get_days() <= i32::from(o.weekly_for_days) {
                prop_assert_eq!(i64::from(gap), i64::from(o.weekly_every_days));
            }
        }
        let last = *dates.last().unwrap();
        prop_assert!((until - last).get_days() < i32::from(test_cadence_on(pack(), start, last, irregular)));
    }

    /// Whatever else is on record, a positive test blocks eligibility and stops treatment.
    #[test]
    fn a_positive_test_always_blocks(neg in proptest::collection::vec(0i64..30, 0..4), pos in 0i64..30) {
        let mut tests: Vec<(i64, &str)> = neg.iter().filter(|d| **d != pos).map(|d| (*d, "negative")).collect();
        tests.push((pos, "positive"));
        let v = frp(&tests);
        let r = check(&v, None);
        prop_assert!(!r.eligible);
        prop_assert!(r.missing.iter().any(|m| m.final_stop));
        let a = run(&v);
        let stopped = matches!(a.action, Action::Discontinue { .. });
        prop_assert!(stopped, "{:?}", a.action);
    }
}

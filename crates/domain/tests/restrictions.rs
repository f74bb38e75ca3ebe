//! label.md §6: the time spans of the restrictions every door prints. Blood donation for all patients, condoms and
//! sperm donation for males, contraception for females who can get pregnant: during treatment and interruptions,
//! and for 4 weeks (28 days) after the last dose; contraception from 4 weeks before the first dose.

mod common;
use common::*;
use lenaguard_domain::program::Restriction;
use serde_json::{Value, json};

fn restrictions(s: &Value) -> Vec<Restriction> {
    run(s)
        .safety
        .expect("safety report")
        .program
        .expect("program status")
        .restrictions
}

fn find<'a>(r: &'a [Restriction], what: &str) -> Option<&'a Restriction> {
    r.iter().find(|x| x.what.contains(what))
}

fn stopped(sex: &str, category: &str) -> Value {
    let mut s = active("mm_maintenance", schedule(10.0, [1, 28], 28), 90);
    s["patient"]["sex"] = json!(sex);
    s["treatment"]["status"] = json!("discontinued");
    s["program"] = json!({ "category": category, "enrolled_on": ago(100), "last_dose": ago(10) });
    counts(&mut s, 1500.0, 150000.0, 1);
    s
}

#[test]
fn males_use_condoms_and_donate_no_sperm_or_blood_until_28_days_after_the_last_dose() {
    let r = restrictions(&stopped("male", "adult_male"));
    let last = d(&ago(10));
    let end = last.checked_add(jiff::Span::new().days(28)).unwrap();
    for what in ["condom", "no sperm donation", "no blood donation"] {
        let x = find(&r, what).unwrap_or_else(|| panic!("{what} missing: {r:?}"));
        assert_eq!(x.until, Some(end), "{what}");
        assert_eq!(
            x.from,
            Some(d(&ago(90))),
            "{what} applies from the first dose"
        );
    }
    assert!(
        find(&r, "contraception").is_none(),
        "no contraception duty for a male patient"
    );
}

#[test]
fn females_who_cannot_get_pregnant_keep_only_the_blood_donation_rule() {
    let mut s = stopped("female", "adult_female_cannot_get_pregnant");
    s["program"]["not_of_reproductive_potential"] =
        json!({ "reason": "hysterectomy", "since": "2010-01-01" });
    let r = run(&s);
    let r = r
        .safety
        .expect("safety")
        .program
        .expect("program")
        .restrictions;
    assert!(find(&r, "no blood donation").is_some());
    assert!(
        find(&r, "condom").is_none() && find(&r, "contraception").is_none(),
        "{r:?}"
    );
}

#[test]
fn contraception_runs_from_4_weeks_before_the_first_dose_to_4_weeks_after_the_last() {
    let mut s = stopped("female", "adult_female_can_get_pregnant");
    s["patient"]["age_years"] = json!(40);
    let r = restrictions(&s);
    let c = find(&r, "contraception").expect("contraception");
    assert_eq!(c.from, Some(d(&ago(90 + 28))));
    assert_eq!(
        c.until,
        Some(d(&ago(10)).checked_add(jiff::Span::new().days(28)).unwrap())
    );
    assert!(
        c.what.contains("2 contraception methods") && c.what.contains("abstinence"),
        "{}",
        c.what
    );
}

/// A dispense uses up its authorization and confirmation: their windows are not reported as lapsing afterwards.
#[test]
fn windows_of_a_used_authorization_and_confirmation_are_closed() {
    let program = |dispensed: bool| {
        let mut p = json!({
            "category": "adult_male",
            "enrolled_on": ago(70),
            "surveys": [ { "date": ago(3), "category": "adult_male" } ],
            "prescriptions": [ { "date": ago(3), "days_supply": 28, "refills": 0 } ],
            "authorizations": [ { "date": ago(3) } ],
            "confirmations": [ { "date": ago(2) } ]
        });
        if dispensed {
            p["dispenses"] = json!([ { "date": ago(2), "days_supply": 28 } ]);
        }
        p
    };
    let kinds = |dispensed: bool| {
        let mut s = active("mm_maintenance", schedule(10.0, [1, 28], 28), 60);
        s["program"] = program(dispensed);
        counts(&mut s, 1500.0, 150000.0, 1);
        run(&s)
            .safety
            .expect("safety")
            .program
            .expect("program")
            .windows
            .iter()
            .map(|w| {
                serde_json::to_value(w.kind)
                    .expect("kind")
                    .as_str()
                    .expect("str")
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let before = kinds(false);
    assert!(
        before.contains(&"authorization".to_string())
            && before.contains(&"confirmation".to_string()),
        "{before:?}"
    );
    let after = kinds(true);
    assert!(
        !after.contains(&"authorization".to_string())
            && !after.contains(&"confirmation".to_string()),
        "{after:?}"
    );
}

//! Bad input gets a clear error naming the field, the value and the accepted form: never a panic.

mod common;
use common::*;
use lenaguard_domain::{InputError, Snapshot};
use serde_json::json;

fn err_of(s: &serde_json::Value) -> InputError {
    run_err(s)
}

fn base() -> serde_json::Value {
    let mut s = active("mm_rd", schedule(25.0, [1, 21], 28), 60);
    counts(&mut s, 1500.0, 150000.0, 1);
    s
}

#[test]
fn absurd_values_name_the_field_the_value_and_the_accepted_form() {
    let mut s = base();
    s["labs"][0]["value"] = json!(0.0);
    let e = err_of(&s);
    assert_eq!(e.field(), "labs[0].value");
    assert!(
        e.to_string().contains("serum creatinine from 0.1 to 25"),
        "{e}"
    );

    let mut s = base();
    s["patient"]["weight_kg"] = json!(700);
    let e = err_of(&s);
    assert_eq!(e.field(), "patient.weight_kg");
    assert!(
        e.to_string().contains("700") && e.to_string().contains("20 to 300 kg"),
        "{e}"
    );

    // Platelets in /mcL sent as 10*9/L: 150,000 x 10^9/L.
    let mut s = base();
    lab(&mut s, "platelets", 150000.0, "10*9/L", 0);
    let e = err_of(&s);
    assert_eq!(e.field(), "labs[3].value");
    assert!(e.to_string().contains("check the unit"), "{e}");

    let mut s = base();
    s["patient"]["age_years"] = json!(-3);
    assert_eq!(err_of(&s).field(), "patient.age_years");
}

#[test]
fn unknown_units_and_terms_list_what_is_accepted() {
    let mut s = base();
    lab(&mut s, "anc", 1.5, "K/uL", 0);
    let e = err_of(&s);
    assert_eq!(e.field(), "labs[3].unit");
    assert!(
        e.to_string().contains("10*9/L") && e.to_string().contains("/mm3"),
        "{e}"
    );

    let mut s = base();
    s["adverse_events"] = json!([{ "term": "rashy", "grade": 3, "onset": ago(1) }]);
    let e = err_of(&s);
    assert_eq!(e.field(), "adverse_events[0].term");
    assert!(e.to_string().contains("angioedema"));

    let mut s = base();
    s["adverse_events"] = json!([{ "term": "rash", "grade": 6, "onset": ago(1) }]);
    assert_eq!(err_of(&s).field(), "adverse_events[0].grade");
}

#[test]
fn dates_after_today_are_refused() {
    let mut s = base();
    lab(&mut s, "anc", 1500.0, "/uL", -1);
    let e = err_of(&s);
    assert_eq!(e.field(), "labs[3].date");
    assert!(e.to_string().contains(TODAY));

    let mut s = base();
    s["treatment"]["start_date"] = json!("2027-01-01");
    assert_eq!(err_of(&s).field(), "treatment.start_date");

    let mut s = base();
    s["patient"] = json!({ "birth_date": "2030-01-01", "sex": "male", "weight_kg": 80 });
    assert_eq!(err_of(&s).field(), "patient.birth_date");
}

#[test]
fn histories_that_contradict_themselves_are_refused() {
    // Interrupted without an open interruption.
    let mut s = base();
    s["treatment"]["status"] = json!("interrupted");
    assert!(matches!(err_of(&s), InputError::Contradiction { .. }));
    // An open interruption while active.
    let mut s = base();
    s["treatment"]["interruptions"] = json!([{ "start": ago(3), "cause": "neutropenia" }]);
    assert!(matches!(err_of(&s), InputError::Contradiction { .. }));
    // Overlapping interruptions.
    let mut s = base();
    s["treatment"]["interruptions"] = json!([
        { "start": ago(20), "end": ago(10), "cause": "neutropenia" },
        { "start": ago(15), "end": ago(12), "cause": "thrombocytopenia" }
    ]);
    assert_eq!(err_of(&s).field(), "treatment.interruptions[1].start");
    // Ends before it starts.
    let mut s = base();
    s["treatment"]["interruptions"] =
        json!([{ "start": ago(10), "end": ago(12), "cause": "neutropenia" }]);
    assert_eq!(err_of(&s).field(), "treatment.interruptions[0].end");
    // An interruption before the first dose.
    let mut s = base();
    s["treatment"]["interruptions"] =
        json!([{ "start": ago(90), "end": ago(80), "cause": "neutropenia" }]);
    assert_eq!(err_of(&s).field(), "treatment.interruptions[0].start");
    // Age and birth date both.
    let mut s = base();
    s["patient"]["birth_date"] = json!("1960-01-01");
    assert!(matches!(err_of(&s), InputError::Contradiction { .. }));
    // A resolved adverse event that ends before it starts; a current grade above the worst.
    let mut s = base();
    s["adverse_events"] =
        json!([{ "term": "rash", "grade": 2, "onset": ago(2), "resolved_on": ago(5) }]);
    assert_eq!(err_of(&s).field(), "adverse_events[0].resolved_on");
    let mut s = base();
    s["adverse_events"] =
        json!([{ "term": "rash", "grade": 2, "current_grade": 3, "onset": ago(2) }]);
    assert_eq!(err_of(&s).field(), "adverse_events[0].current_grade");
    // Dosing days outside the cycle.
    let mut s = base();
    s["treatment"]["current"] =
        json!({ "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 30], "cycle_days": 28 });
    assert_eq!(err_of(&s).field(), "treatment.current.days_on");
    // A dexamethasone schedule the regimen does not use.
    let mut s = base();
    s["dexamethasone"] = json!("dex_pulse_80");
    let e = err_of(&s);
    assert_eq!(e.field(), "dexamethasone");
    assert!(e.to_string().contains("dex_pulse_40"));
}

#[test]
fn malformed_json_names_the_field() {
    let mut fields = Vec::new();
    for (text, needle) in [
        (
            r#"{"patient": {"age_years": 60, "weight_kg": 80}, "regimen": "mm_rd", "treatment": {"status": "not_started"}}"#,
            "sex",
        ),
        (
            r#"{"patient": {"age_years": 60, "sex": "male"}, "regimen": "mm", "treatment": {"status": "not_started"}}"#,
            "mm_rd",
        ),
        (
            r#"{"patient": {"age_years": 60, "sex": "male"}, "regimen": "mm_rd", "treatment": {"status": "not_started"}, "colour": 1}"#,
            "colour",
        ),
        (
            r#"{"patient": {"age_years": "sixty", "sex": "male"}, "regimen": "mm_rd", "treatment": {"status": "not_started"}}"#,
            "sixty",
        ),
        (
            r#"{"patient": {"age_years": 60, "sex": "male"}, "regimen": "mm_rd", "treatment": {"status": "active", "current": {"dose_mg": 7.5, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28}}}"#,
            "2.5, 5, 10, 15, 20, 25",
        ),
        ("{", "EOF"),
    ] {
        let e = Snapshot::from_json(text).unwrap_err();
        assert!(e.to_string().contains(needle), "{needle}: {e}");
        fields.push(e.field().to_string());
    }
    // The path of the field at fault, not only a line and column.
    assert_eq!(fields[0], "patient");
    assert_eq!(fields[1], "regimen");
    assert_eq!(fields[3], "patient.age_years");
    assert_eq!(fields[4], "treatment.current.dose_mg");
}

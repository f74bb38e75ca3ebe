//! Test helpers: the built-in pack, dates, and snapshot builders as JSON (the same form every door sends).
#![allow(dead_code)]

use jiff::civil::Date;
use lenaguard_domain::assessment::Action;
use lenaguard_domain::{Assessment, RulePack, Snapshot, assess};
use serde_json::{Value, json};
use std::sync::OnceLock;

pub const TODAY: &str = "2026-11-26";

pub fn pack() -> &'static RulePack {
    static PACK: OnceLock<RulePack> = OnceLock::new();
    PACK.get_or_init(|| RulePack::builtin().expect("the built-in pack is valid"))
}

pub fn d(s: &str) -> Date {
    s.parse().expect("test date")
}

pub fn today() -> Date {
    d(TODAY)
}

/// `today` minus `n` days, as a string.
pub fn ago(n: i64) -> String {
    today()
        .checked_sub(jiff::Span::new().days(n))
        .expect("date")
        .to_string()
}

pub fn schedule(mg: f64, days: [u16; 2], cycle: u16) -> Value {
    json!({ "dose_mg": mg, "frequency": "once_daily", "days_on": days, "cycle_days": cycle })
}

/// A patient on treatment with normal kidney function and no labs yet.
pub fn active(regimen: &str, current: Value, start_days_ago: i64) -> Value {
    json!({
        "patient": { "age_years": 60, "sex": "male", "weight_kg": 80 },
        "regimen": regimen,
        "treatment": {
            "status": "active",
            "start_date": ago(start_days_ago),
            "current": current,
        },
        "labs": [ { "code": "creatinine", "value": 1.0, "unit": "mg/dL", "date": ago(5) } ]
    })
}

/// A patient interrupted since `since_days_ago` for `cause`.
pub fn interrupted(regimen: &str, current: Value, cause: &str, since_days_ago: i64) -> Value {
    let mut s = active(regimen, current, 120);
    s["treatment"]["status"] = json!("interrupted");
    s["treatment"]["interruptions"] = json!([{ "start": ago(since_days_ago), "cause": cause }]);
    s
}

pub fn not_started(regimen: &str) -> Value {
    json!({
        "patient": { "age_years": 60, "sex": "male", "weight_kg": 80 },
        "regimen": regimen,
        "treatment": { "status": "not_started" },
        "labs": [ { "code": "creatinine", "value": 1.0, "unit": "mg/dL", "date": ago(2) } ]
    })
}

pub fn lab(s: &mut Value, code: &str, value: f64, unit: &str, days_ago: i64) {
    s["labs"]
        .as_array_mut()
        .expect("labs")
        .push(json!({ "code": code, "value": value, "unit": unit, "date": ago(days_ago) }));
}

/// ANC and platelets (per microlitre) measured `days_ago`.
pub fn counts(s: &mut Value, anc: f64, platelets: f64, days_ago: i64) {
    lab(s, "anc", anc, "/uL", days_ago);
    lab(s, "platelets", platelets, "/uL", days_ago);
}

pub fn run(s: &Value) -> Assessment {
    let snap: Snapshot = serde_json::from_value(s.clone()).expect("snapshot parses");
    assess(&snap, pack(), today()).expect("assessment")
}

pub fn run_err(s: &Value) -> lenaguard_domain::InputError {
    match serde_json::from_value::<Snapshot>(s.clone()) {
        Ok(snap) => assess(&snap, pack(), today()).expect_err("input error expected"),
        Err(e) => {
            lenaguard_domain::InputError::invalid("snapshot", e.to_string(), "a valid snapshot")
        }
    }
}

/// The mg of the dose the action gives or plans (`then` of an interruption).
pub fn planned_mg(a: &Action) -> Option<f64> {
    match a {
        Action::Start { schedule }
        | Action::Continue { schedule }
        | Action::Resume { schedule } => Some(schedule.dose_mg.mg()),
        Action::Interrupt { then, .. } | Action::StayInterrupted { then, .. } => {
            then.map(|s| s.dose_mg.mg())
        }
        _ => None,
    }
}

pub fn has_finding(a: &Assessment, code: &str) -> bool {
    a.findings.iter().any(|f| f.code == code)
}

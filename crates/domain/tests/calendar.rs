//! The treatment calendar: dose days match the regimen, and the iCalendar output is valid RFC 5545 as read by
//! an independent parser (the `icalendar` crate).

mod common;
use common::{ago, d, pack, today};
use jiff::ToSpan;
use lenaguard_domain::Snapshot;
use lenaguard_domain::calendar::{EventKind, calendar, is_dose_day, to_ics, to_text};
use proptest::prelude::*;
use serde_json::{Value, json};

fn snap(v: Value) -> Snapshot {
    serde_json::from_value(v).expect("snapshot parses")
}

fn rd(start_ago: i64) -> Value {
    json!({
        "patient": { "age_years": 64, "sex": "male", "weight_kg": 80 },
        "regimen": "mm_rd",
        "dexamethasone": "dex_pulse_40",
        "treatment": { "status": "active", "start_date": ago(start_ago),
            "current": { "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 } },
        "labs": [ { "code": "creatinine", "value": 1.0, "unit": "mg/dL", "date": ago(2) } ]
    })
}

#[test]
fn the_first_cycle_of_rd_with_pulse_dexamethasone() {
    let s = snap(rd(0));
    let cal = calendar(
        &s,
        pack(),
        today(),
        today(),
        today().checked_add(27.days()).unwrap(),
    )
    .unwrap();
    let of = |k: EventKind| {
        cal.events
            .iter()
            .filter(|e| e.kind == k)
            .map(|e| e.cycle_day.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(EventKind::Dose), (1..=21).collect::<Vec<u16>>());
    assert_eq!(of(EventKind::Rest), (22..=28).collect::<Vec<u16>>());
    // label.md §1: 40 mg on days 1-4, 9-12, 17-20 in cycles 1-4.
    let dex: Vec<u16> = [1, 2, 3, 4, 9, 10, 11, 12, 17, 18, 19, 20].into();
    assert_eq!(of(EventKind::Dexamethasone), dex);
    assert!(to_text(&cal).contains("C1D21"));
}

#[test]
fn ics_is_valid_rfc_5545_for_an_independent_parser() {
    let mut v = rd(40);
    v["medications"] = json!([{ "name": "warfarin sodium 5 mg" }]);
    v["treatment"]["status"] = json!("interrupted");
    v["treatment"]["interruptions"] = json!([{ "start": ago(3), "cause": "neutropenia" }]);
    let s = snap(v);
    let cal = calendar(&s, pack(), today(), d("2026-10-01"), d("2027-01-31")).unwrap();
    let ics = to_ics(&cal);
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "line longer than 75 octets: {line:?}");
        assert!(!line.contains('\n') && !line.contains('\r'));
    }
    let unfolded = icalendar::parser::unfold(&ics);
    let parsed = icalendar::parser::read_calendar(&unfolded).expect("parser accepts the calendar");
    let events: Vec<_> = parsed
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .collect();
    assert_eq!(events.len(), cal.events.len());
    let mut uids = std::collections::BTreeSet::new();
    for e in &events {
        let prop = |n: &str| {
            e.properties
                .iter()
                .find(|p| p.name == n)
                .map(|p| p.val.to_string())
        };
        assert!(uids.insert(prop("UID").expect("UID")), "UIDs are unique");
        assert_eq!(prop("DTSTAMP").as_deref(), Some("20261126T000000Z"));
        assert_eq!(prop("DTSTART").map(|v| v.len()), Some(8), "all-day events");
    }
    // Deterministic: the same inputs give the same bytes.
    let again = to_ics(&calendar(&s, pack(), today(), d("2026-10-01"), d("2027-01-31")).unwrap());
    assert_eq!(ics, again);
    // The interrupted days are held, and PT/INR is scheduled for a patient on warfarin in MM.
    assert!(
        cal.events
            .iter()
            .any(|e| e.kind == EventKind::Held && e.date == today())
    );
    assert!(cal.events.iter().any(|e| e.title.contains("PT/INR")));
}

#[test]
fn long_text_is_folded_without_splitting_characters() {
    let mut v = rd(0);
    v["treatment"]["current"]["after_dialysis"] = json!(true);
    v["kidney"] = json!({ "dialysis": true });
    v["treatment"]["current"]["dose_mg"] = json!(5);
    let cal = calendar(&snap(v), pack(), today(), today(), today()).unwrap();
    let ics = to_ics(&cal);
    assert!(ics.contains("\r\n "), "a long DESCRIPTION is folded");
    let unfolded = icalendar::parser::unfold(&ics);
    assert!(unfolded.contains("take the dose after dialysis"));
}

#[test]
fn a_span_that_is_backwards_or_too_long_is_refused() {
    let s = snap(rd(0));
    let e = calendar(&s, pack(), today(), today(), d("2026-01-01")).unwrap_err();
    assert_eq!(e.field(), "to");
    assert!(calendar(&s, pack(), today(), today(), d("2030-01-01")).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Every dose event falls on a dosing day of the schedule, and every dosing day has one.
    #[test]
    fn calendar_dose_days_always_match_the_regimen(
        first in 1u16..10, len in 0u16..20, extra in 0u16..10, every_48 in any::<bool>(),
        dose in prop::sample::select(vec![2.5, 5.0, 10.0, 15.0, 20.0, 25.0]), start_ago in 0i64..100, span in 1i64..120,
    ) {
        let last = first + len;
        let cycle = (last + extra).max(7);
        let mut v = rd(start_ago);
        v["dexamethasone"] = Value::Null;
        let frequency = if every_48 { "every_48_hours" } else { "once_daily" };
        v["treatment"]["current"] = json!({ "dose_mg": dose, "frequency": frequency, "days_on": [first, last], "cycle_days": cycle });
        let s = snap(v);
        let sched = s.treatment.current.unwrap();
        let from = today().checked_sub(start_ago.days()).unwrap();
        let to = from.checked_add((span - 1).days()).unwrap();
        let cal = calendar(&s, pack(), today(), from, to).unwrap();
        let mut day = from;
        while day <= to {
            let offset = (day - from).get_days();
            let cd = u16::try_from(offset % i32::from(cycle)).unwrap() + 1;
            let expected = cd >= first && cd <= last && (!every_48 || (cd - first) % 2 == 0);
            prop_assert_eq!(expected, is_dose_day(&sched, cd));
            let doses = cal.events.iter().filter(|e| e.date == day && e.kind == EventKind::Dose).count();
            prop_assert_eq!(doses, usize::from(expected), "{} cycle day {}", day, cd);
            day = day.checked_add(1.days()).unwrap();
        }
    }
}

/// A span far from the start of treatment, up to the last representable date, ends: every loop over dates stops
/// at the span's end or at the end of the calendar (the CBC schedule's day counter and the date steps used to
/// saturate and repeat forever), and every event lies in the span.
#[test]
fn a_span_decades_away_or_at_the_end_of_the_calendar_is_finite() {
    let s = snap(rd(10));
    for from in [d("2300-01-01"), d("9999-01-01"), d("9999-12-04")] {
        let to = from.checked_add(27.days()).unwrap();
        let cal = calendar(&s, pack(), today(), from, to).unwrap();
        assert!(cal.events.iter().all(|e| e.date >= from && e.date <= to));
        assert!(cal.events.len() <= 28 * 4, "{} events", cal.events.len());
    }
}

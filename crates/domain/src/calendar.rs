//! The treatment calendar for any span: lenalidomide dose and rest days from the schedule (every-48-hours
//! dosing included), dexamethasone days from the pack's schedule, blood counts and other labs (label.md §4),
//! pregnancy tests and REMS surveys (label.md §6), rendered as iCalendar (RFC 5545), JSON or text.
//!
//! Deterministic: the same snapshot, pack, span and `today` give the same bytes, including the iCalendar UIDs
//! and DTSTAMP (derived from the inputs, never from the clock).

use crate::dose::{Frequency, Schedule};
use crate::error::InputError;
use crate::monitoring::{self, MonitoringKind};
use crate::pack::RulePack;
use crate::program::{self, TestResult, second_test_deadline};
use crate::snapshot::{Snapshot, TreatmentStatus};
use jiff::ToSpan;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The longest span one calendar covers.
pub const MAX_SPAN_DAYS: i64 = 731;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Dose,
    Rest,
    /// A dosing day on which lenalidomide is interrupted.
    Held,
    Dexamethasone,
    Lab,
    PregnancyTest,
    Survey,
    /// A program deadline (e.g. the last day for the second pregnancy test and the first prescription).
    Deadline,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Dose => "dose",
            EventKind::Rest => "rest",
            EventKind::Held => "held",
            EventKind::Dexamethasone => "dexamethasone",
            EventKind::Lab => "lab",
            EventKind::PregnancyTest => "pregnancy_test",
            EventKind::Survey => "survey",
            EventKind::Deadline => "deadline",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CalendarEvent {
    #[schemars(with = "String")]
    pub date: Date,
    pub kind: EventKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle_day: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calendar {
    #[schemars(with = "String")]
    pub from: Date,
    #[schemars(with = "String")]
    pub to: Date,
    /// The day the calendar was made for (also its DTSTAMP).
    #[schemars(with = "String")]
    pub today: Date,
    pub regimen_name: String,
    pub schedule: Schedule,
    /// Where the schedule comes from (current, starting, or the label's starting dose).
    pub schedule_source: String,
    #[schemars(with = "String")]
    pub first_dose: Date,
    pub events: Vec<CalendarEvent>,
    /// A digest of the inputs; iCalendar UIDs are built from it.
    pub digest: String,
}

fn add(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).unwrap_or(d)
}

/// Move `x` forward by `days` for the next turn of a loop over dates: `false` when it cannot move (no step, or
/// past the last representable date), so that every such loop ends whatever the span asked for.
fn step(x: &mut Date, days: i64) -> bool {
    match x.checked_add(days.days()) {
        Ok(next) if days > 0 => {
            *x = next;
            true
        }
        _ => false,
    }
}

/// Is `cycle_day` (1-based) a dosing day of `schedule`? Every-48-hours dosing starts on the first dosing day.
pub fn is_dose_day(schedule: &Schedule, cycle_day: u16) -> bool {
    schedule.days_on.contains(cycle_day)
        && match schedule.frequency {
            Frequency::OnceDaily => true,
            Frequency::Every48Hours => (cycle_day - schedule.days_on.first()).is_multiple_of(2),
        }
}

/// Cycle number and day of `date`, for cycles of `cycle_days` where `anchor` is day 1 of cycle `anchor_cycle`.
pub fn cycle_position(
    anchor: Date,
    anchor_cycle: u16,
    cycle_days: u16,
    date: Date,
) -> Option<(u16, u16)> {
    let offset = i64::from((date - anchor).get_days());
    let len = i64::from(cycle_days.max(1));
    let cycle = i64::from(anchor_cycle) + offset.div_euclid(len);
    let day = offset.rem_euclid(len) + 1;
    (cycle >= 1).then(|| (u16::try_from(cycle).unwrap_or(u16::MAX), day as u16))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The calendar of `snapshot` from `from` to `to` (inclusive), as known on `today`.
pub fn calendar(
    snapshot: &Snapshot,
    pack: &RulePack,
    today: Date,
    from: Date,
    to: Date,
) -> Result<Calendar, InputError> {
    let checked = snapshot.validate(pack, today)?;
    if to < from || i64::from((to - from).get_days()) >= MAX_SPAN_DAYS {
        return Err(InputError::invalid(
            "to",
            to,
            format!("a date on or after {from}, less than {MAX_SPAN_DAYS} days later"),
        ));
    }
    let program = snapshot
        .program
        .as_ref()
        .map(|p| p.check(snapshot, checked.age_years, pack, today))
        .transpose()?;
    let t = &snapshot.treatment;
    let first_dose = t
        .start_date
        .or(program.as_ref().and_then(|p| p.record.planned_start))
        .ok_or_else(|| {
            InputError::missing(
                "treatment.start_date",
                "the first dose (treatment.start_date), or program.planned_start for a planned start",
            )
        })?;
    let regimen = pack.regimen(snapshot.regimen);
    let (schedule, schedule_source) = match (t.current, t.starting) {
        (Some(s), _) => (s, "the current schedule".to_string()),
        (None, Some(s)) => (s, "the starting schedule".to_string()),
        (None, None) => (
            regimen.start,
            format!(
                "the label starting dose for {} (a renal starting dose may be lower)",
                regimen.name
            ),
        ),
    };
    let (anchor, anchor_cycle) = match (t.cycle_start, t.cycle) {
        (Some(s), Some(c)) => (s, c),
        _ => (first_dose, 1),
    };
    let last_dose = program.as_ref().and_then(|p| p.record.last_dose);
    let stopped_after = match t.status {
        TreatmentStatus::Discontinued => Some(last_dose.unwrap_or(today)),
        _ => last_dose,
    };
    let dex = snapshot
        .dexamethasone
        .as_deref()
        .and_then(|d| pack.dex_schedule(d));
    let mut events = Vec::new();
    let mut d = from;
    while d <= to {
        let on = d >= first_dose && stopped_after.is_none_or(|s| d <= s);
        let position = cycle_position(anchor, anchor_cycle, schedule.cycle_days, d)
            .filter(|(c, _)| regimen.max_cycles.is_none_or(|m| *c <= m));
        if on && let Some((cycle, day)) = position {
            let held = t
                .interruptions
                .iter()
                .any(|i| i.start <= d && i.end.is_none_or(|e| d < e));
            let (kind, title) = match (is_dose_day(&schedule, day), held) {
                (true, false) => (
                    EventKind::Dose,
                    format!("Lenalidomide {}", schedule.dose_mg),
                ),
                (true, true) => (EventKind::Held, "No lenalidomide (interrupted)".to_string()),
                (false, _) => (EventKind::Rest, "Rest day (no lenalidomide)".to_string()),
            };
            let detail = if kind == EventKind::Dose && schedule.after_dialysis {
                "On dialysis days take the dose after dialysis.".to_string()
            } else {
                String::new()
            };
            events.push(CalendarEvent {
                date: d,
                kind,
                title,
                detail,
                cycle: Some(cycle),
                cycle_day: Some(day),
            });
            if let Some(mg) = dex.and_then(|x| x.is_dose_day(cycle, day)) {
                events.push(CalendarEvent {
                    date: d,
                    kind: EventKind::Dexamethasone,
                    title: format!("Dexamethasone {mg} mg"),
                    detail: dex.map(|x| x.description.clone()).unwrap_or_default(),
                    cycle: Some(cycle),
                    cycle_day: Some(day),
                });
            }
        }
        if !step(&mut d, 1) {
            break;
        }
    }

    let in_span = |d: Date| d >= from && d <= to;
    let lab = |date: Date, title: String, detail: String, events: &mut Vec<CalendarEvent>| {
        if in_span(date) && stopped_after.is_none_or(|s| date <= s) {
            events.push(CalendarEvent {
                date,
                kind: EventKind::Lab,
                title,
                detail,
                cycle: None,
                cycle_day: None,
            });
        }
    };
    let cbc_rule = pack.monitoring.cbc_for(snapshot.regimen);
    for date in monitoring::cbc_dates(pack, snapshot, first_dose, from, to) {
        lab(
            date,
            "Blood count (CBC)".into(),
            format!("Schedule {}", cbc_rule.provenance.rule),
            &mut events,
        );
    }
    if let Some(open) = snapshot.open_interruption() {
        let every = i64::from(pack.monitoring.cbc_during_interruption.value.every_days);
        let mut x = add(open.start, every);
        while x <= to {
            lab(
                x,
                "Blood count (CBC), weekly during the interruption".into(),
                String::new(),
                &mut events,
            );
            if !step(&mut x, every) {
                break;
            }
        }
    }
    let agents = crate::interactions::match_agents(&snapshot.medications, pack, today)?;
    let taking: Vec<&str> = agents.iter().map(|a| a.agent.as_str()).collect();
    for item in monitoring::schedule(snapshot, pack, today, &taking) {
        if item.kind == MonitoringKind::Cbc {
            continue;
        }
        let mut x = item.due;
        loop {
            lab(
                x,
                capitalised(item.kind.label()),
                item.reason.clone(),
                &mut events,
            );
            if x > to || !step(&mut x, i64::from(item.interval_days)) {
                break;
            }
        }
    }

    if let Some(p) = &program {
        let category = p.category_on(today);
        for test in &p.record.pregnancy_tests {
            if in_span(test.date) {
                events.push(CalendarEvent {
                    date: test.date,
                    kind: EventKind::PregnancyTest,
                    title: format!(
                        "Pregnancy test done: {}",
                        if test.result == TestResult::Negative {
                            "negative"
                        } else {
                            "POSITIVE"
                        }
                    ),
                    detail: String::new(),
                    cycle: None,
                    cycle_day: None,
                });
            }
        }
        if category.can_get_pregnant() && stopped_after.is_none() {
            if let Some(deadline) = second_test_deadline(snapshot, p, pack, today)
                && in_span(deadline)
            {
                events.push(CalendarEvent {
                    date: deadline,
                    kind: EventKind::Deadline,
                    title: "Last day: second pregnancy test and first prescription".into(),
                    detail:
                        "The second negative test must be within 24 hours before the prescription."
                            .into(),
                    cycle: None,
                    cycle_day: None,
                });
            }
            let irregular = p.record.menstrual.irregular_cycles;
            let last = program::last_counted_negative(p, pack);
            let mut x = program::next_pregnancy_test(pack, first_dose, last, irregular);
            while x <= to {
                if in_span(x) {
                    events.push(CalendarEvent {
                        date: x,
                        kind: EventKind::PregnancyTest,
                        title: "Pregnancy test".into(),
                        detail: format!(
                            "Every {} days at this point of treatment (also during interruptions).",
                            program::test_cadence_on(pack, first_dose, x, irregular)
                        ),
                        cycle: None,
                        cycle_day: None,
                    });
                }
                let cadence = program::test_cadence_on(pack, first_dose, x, irregular);
                if !step(&mut x, i64::from(cadence)) {
                    break;
                }
            }
        }
        if stopped_after.is_none() {
            let (rule, _) = pack.program.survey(category);
            let every = i64::from(rule.value.every_days);
            let mut x = match p.record.surveys.last() {
                Some(s) => add(s.date, every),
                None => today,
            };
            while x <= to {
                if in_span(x) {
                    events.push(CalendarEvent {
                        date: x,
                        kind: EventKind::Survey,
                        title: "REMS patient survey".into(),
                        detail: format!("Category {category}; every {every} days."),
                        cycle: None,
                        cycle_day: None,
                    });
                }
                if !step(&mut x, every) {
                    break;
                }
            }
        }
    }
    events.sort_by(|a, b| (a.date, a.kind, &a.title).cmp(&(b.date, b.kind, &b.title)));
    events.dedup();
    let mut seed = serde_json::to_string(snapshot).unwrap_or_default();
    write!(
        seed,
        "|{from}|{to}|{today}|{}|{}",
        pack.meta.id, pack.meta.version
    )
    .ok();
    Ok(Calendar {
        from,
        to,
        today,
        regimen_name: regimen.name.clone(),
        schedule,
        schedule_source,
        first_dose,
        events,
        digest: format!("{:016x}", fnv1a(seed.as_bytes())),
    })
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// RFC 5545 TEXT escaping.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Fold a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character, and end it with CRLF.
fn fold(line: &str, out: &mut String) {
    let mut rest = line;
    let mut limit = 75;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = 74;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

fn ics_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

/// The calendar as an iCalendar object: one all-day VEVENT per event.
pub fn to_ics(cal: &Calendar) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Lenaguard//lenaguard-domain//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        fold(l, &mut out);
    }
    fold(
        &format!(
            "X-WR-CALNAME:{}",
            escape(&format!("Lenalidomide: {}", cal.regimen_name))
        ),
        &mut out,
    );
    let stamp = format!("{}T000000Z", ics_date(cal.today));
    let mut seen: std::collections::BTreeMap<(Date, EventKind), u32> = Default::default();
    for e in &cal.events {
        let n = seen.entry((e.date, e.kind)).or_default();
        *n += 1;
        fold("BEGIN:VEVENT", &mut out);
        fold(
            &format!(
                "UID:{}-{}-{}-{}@lenaguard.invalid",
                ics_date(e.date),
                e.kind.as_str(),
                n,
                cal.digest
            ),
            &mut out,
        );
        fold(&format!("DTSTAMP:{stamp}"), &mut out);
        fold(
            &format!("DTSTART;VALUE=DATE:{}", ics_date(e.date)),
            &mut out,
        );
        fold(
            &format!("DTEND;VALUE=DATE:{}", ics_date(add(e.date, 1))),
            &mut out,
        );
        let summary = match (e.cycle, e.cycle_day) {
            (Some(c), Some(d)) => format!("{} (cycle {c}, day {d})", e.title),
            _ => e.title.clone(),
        };
        fold(&format!("SUMMARY:{}", escape(&summary)), &mut out);
        if !e.detail.is_empty() {
            fold(&format!("DESCRIPTION:{}", escape(&e.detail)), &mut out);
        }
        fold(
            &format!("CATEGORIES:{}", e.kind.as_str().to_uppercase()),
            &mut out,
        );
        fold("TRANSP:TRANSPARENT", &mut out);
        fold("END:VEVENT", &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    out
}

/// The calendar as pretty JSON.
pub fn to_json(cal: &Calendar) -> String {
    serde_json::to_string_pretty(cal).unwrap_or_default()
}

/// The calendar as text: one line per day with events.
pub fn to_text(cal: &Calendar) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} from {} to {}", cal.regimen_name, cal.from, cal.to);
    let _ = writeln!(out, "Schedule: {} ({})", cal.schedule, cal.schedule_source);
    let _ = writeln!(out, "First dose: {}", cal.first_dose);
    let mut i = 0;
    while i < cal.events.len() {
        let date = cal.events[i].date;
        let day: Vec<&CalendarEvent> = cal.events[i..]
            .iter()
            .take_while(|e| e.date == date)
            .collect();
        i += day.len();
        let pos = day
            .iter()
            .find_map(|e| e.cycle.zip(e.cycle_day))
            .map(|(c, d)| format!("C{c}D{d}"))
            .unwrap_or_default();
        let what: Vec<&str> = day.iter().map(|e| e.title.as_str()).collect();
        let _ = writeln!(
            out,
            "{date} {:<3} {pos:<7} {}",
            format!("{:?}", date.weekday())
                .chars()
                .take(3)
                .collect::<String>(),
            what.join("; ")
        );
    }
    out
}

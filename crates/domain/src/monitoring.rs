//! Monitoring schedules: blood counts per regimen, weekly counts during interruptions, liver, thyroid and renal
//! function, PT/INR on warfarin and digoxin levels (label.md §4; label-verification.md §2; numbers and their
//! provenance in `rules/us-lenalidomide/monitoring.toml`).
//!
//! Every schedule is an interval: the next test is due one interval after the last, and the interval is the
//! one in force on the day of the last test. That way a schedule never leaves a gap longer than its cadence.

use crate::error::InputError;
use crate::finding::{Finding, Severity};
use crate::pack::RulePack;
use crate::snapshot::{Snapshot, TreatmentStatus};
use crate::units::Analyte;
use jiff::ToSpan;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What is monitored.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MonitoringKind {
    /// Complete blood count.
    Cbc,
    LiverFunction,
    ThyroidFunction,
    RenalFunction,
    PtInr,
    DigoxinLevel,
}

impl MonitoringKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitoringKind::Cbc => "cbc",
            MonitoringKind::LiverFunction => "liver_function",
            MonitoringKind::ThyroidFunction => "thyroid_function",
            MonitoringKind::RenalFunction => "renal_function",
            MonitoringKind::PtInr => "pt_inr",
            MonitoringKind::DigoxinLevel => "digoxin_level",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MonitoringKind::Cbc => "blood count (CBC)",
            MonitoringKind::LiverFunction => "liver function tests",
            MonitoringKind::ThyroidFunction => "thyroid function tests",
            MonitoringKind::RenalFunction => "renal function (creatinine)",
            MonitoringKind::PtInr => "PT/INR",
            MonitoringKind::DigoxinLevel => "digoxin level",
        }
    }
}

impl fmt::Display for MonitoringKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A monitoring test done (input): for tests whose values the engine does not read (liver, thyroid, PT/INR,
/// digoxin). Blood counts and creatinine in `labs` count as well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringTest {
    pub kind: MonitoringKind,
    #[schemars(with = "String")]
    pub date: Date,
}

/// Where an item stands today.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DueStatus {
    Scheduled,
    DueSoon,
    Due,
    Overdue,
}

/// One monitoring item with its next due date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitoringItem {
    pub kind: MonitoringKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub last_done: Option<Date>,
    #[schemars(with = "String")]
    pub due: Date,
    pub status: DueStatus,
    /// The interval in force (days); 0 for a baseline test before the first dose.
    pub interval_days: u16,
    /// Why this interval: e.g. "weekly during an interruption".
    pub reason: String,
    /// The pack rule behind it.
    pub rule: String,
}

/// The latest date a test of this kind was done, from `labs` and `monitoring`.
pub fn last_done(snapshot: &Snapshot, kind: MonitoringKind) -> Option<Date> {
    let from_labs = snapshot
        .labs
        .iter()
        .filter(|l| match kind {
            MonitoringKind::Cbc => {
                matches!(l.code, Analyte::Anc | Analyte::Platelets | Analyte::Wbc)
            }
            MonitoringKind::RenalFunction => l.code == Analyte::Creatinine,
            _ => false,
        })
        .map(|l| l.date);
    let from_tests = snapshot
        .monitoring
        .iter()
        .filter(|t| t.kind == kind)
        .map(|t| t.date);
    from_labs.chain(from_tests).max()
}

/// Refuse monitoring records dated after today.
pub fn validate(snapshot: &Snapshot, today: Date) -> Result<(), InputError> {
    for (i, t) in snapshot.monitoring.iter().enumerate() {
        if t.date > today {
            return Err(InputError::invalid(
                format!("monitoring[{i}].date"),
                t.date,
                format!("a date not after today ({today})"),
            ));
        }
    }
    Ok(())
}

fn add_days(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).unwrap_or(d)
}

fn status(due: Date, today: Date, soon: i64) -> DueStatus {
    let until = (due - today).get_days();
    match until {
        n if n < 0 => DueStatus::Overdue,
        0 => DueStatus::Due,
        n if i64::from(n) <= soon => DueStatus::DueSoon,
        _ => DueStatus::Scheduled,
    }
}

/// Treatment day (1-based) of `date` for a treatment that started on `start`.
pub fn treatment_day(start: Date, date: Date) -> i64 {
    i64::from((date - start).get_days()) + 1
}

/// The monitoring items for this patient today. `taking` lists the agent ids (interactions.toml) the patient
/// is taking, for PT/INR and digoxin monitoring.
pub fn schedule(
    snapshot: &Snapshot,
    pack: &RulePack,
    today: Date,
    taking: &[&str],
) -> Vec<MonitoringItem> {
    let m = &pack.monitoring;
    let soon = m.due_soon.value.days;
    let t = &snapshot.treatment;
    let planned = snapshot.program.as_ref().and_then(|p| p.planned_start);
    let mut items = Vec::new();
    let on_treatment = matches!(
        t.status,
        TreatmentStatus::Active | TreatmentStatus::Interrupted
    );
    let start = match (on_treatment, t.start_date) {
        (true, Some(s)) => Some(s),
        _ => None,
    };
    let cbc = m.cbc_for(snapshot.regimen);
    let last_cbc = last_done(snapshot, MonitoringKind::Cbc);
    match (t.status, start) {
        (TreatmentStatus::NotStarted, _) => {
            let due = planned.unwrap_or(today).max(today);
            if last_cbc
                .is_none_or(|d| d < add_days(due, -i64::from(cbc.value.phases[0].every_days)))
            {
                items.push(MonitoringItem {
                    kind: MonitoringKind::Cbc,
                    last_done: last_cbc,
                    due,
                    status: status(due, today, soon),
                    interval_days: 0,
                    reason: "baseline before the first dose".into(),
                    rule: cbc.provenance.rule.clone(),
                });
            }
        }
        (TreatmentStatus::Interrupted, Some(s)) => {
            let open = snapshot.open_interruption().map(|i| i.start).unwrap_or(s);
            let every = m.cbc_during_interruption.value.every_days;
            // The weekly clock starts at the interruption even if the last count was just before it.
            let base = last_cbc.map(|d| d.max(open)).unwrap_or(open);
            let due = add_days(base, i64::from(every));
            items.push(MonitoringItem {
                kind: MonitoringKind::Cbc,
                last_done: last_cbc,
                due,
                status: status(due, today, soon),
                interval_days: every,
                reason: "weekly during an interruption".into(),
                rule: m.cbc_during_interruption.provenance.rule.clone(),
            });
        }
        (TreatmentStatus::Active, Some(s)) => {
            let (due, every) = match last_cbc {
                Some(last) if last >= s => {
                    let day = treatment_day(s, last).clamp(1, i64::from(u16::MAX)) as u16;
                    let every = cbc.value.interval_on(day);
                    (add_days(last, i64::from(every)), every)
                }
                _ => (s, 0),
            };
            items.push(MonitoringItem {
                kind: MonitoringKind::Cbc,
                last_done: last_cbc,
                due,
                status: status(due, today, soon),
                interval_days: every,
                reason: format!("schedule for {}", snapshot.regimen),
                rule: cbc.provenance.rule.clone(),
            });
        }
        _ => {}
    }
    for (regimens, p) in &m.periodic {
        if !regimens.is_empty() && !regimens.contains(&snapshot.regimen) {
            continue;
        }
        if let Some(agent) = &p.value.when_taking
            && !taking.contains(&agent.as_str())
        {
            continue;
        }
        let kind = p.value.kind;
        let last = last_done(snapshot, kind);
        let every = p.value.every_days;
        let (due, interval, reason) = match (t.status, start) {
            (TreatmentStatus::NotStarted, _) if p.value.baseline => {
                let due = planned.unwrap_or(today).max(today);
                if last.is_some_and(|d| d >= add_days(due, -i64::from(every))) {
                    continue;
                }
                (due, 0, "baseline before the first dose".to_string())
            }
            (TreatmentStatus::NotStarted, _) => continue,
            (_, Some(s)) => match last {
                Some(l) if l >= add_days(s, -i64::from(every)) => (
                    add_days(l, i64::from(every)),
                    every,
                    format!("every {every} days"),
                ),
                _ if p.value.baseline => (s, every, "baseline, not on record".to_string()),
                _ => (
                    add_days(s, i64::from(every)),
                    every,
                    format!("every {every} days"),
                ),
            },
            _ => continue,
        };
        items.push(MonitoringItem {
            kind,
            last_done: last,
            due,
            status: status(due, today, soon),
            interval_days: interval,
            reason,
            rule: p.provenance.rule.clone(),
        });
    }
    items
}

/// Findings for items that are due, due soon or overdue.
pub fn findings(items: &[MonitoringItem], pack: &RulePack) -> Vec<Finding> {
    let provenances = pack.monitoring.provenances();
    items
        .iter()
        .filter(|i| i.status != DueStatus::Scheduled)
        .map(|i| {
            let last = match i.last_done {
                Some(d) => format!("last on {d}"),
                None => "none on record".to_string(),
            };
            let (code, severity, text) = match i.status {
                DueStatus::Overdue => (
                    "overdue",
                    Severity::Warning,
                    format!(
                        "{} overdue since {} ({last}; {}).",
                        capital(i.kind.label()),
                        i.due,
                        i.reason
                    ),
                ),
                DueStatus::Due => (
                    "due",
                    Severity::Info,
                    format!(
                        "{} due today, {} ({last}; {}).",
                        capital(i.kind.label()),
                        i.due,
                        i.reason
                    ),
                ),
                _ => (
                    "due",
                    Severity::Info,
                    format!(
                        "{} due on {} ({last}; {}).",
                        capital(i.kind.label()),
                        i.due,
                        i.reason
                    ),
                ),
            };
            Finding::new(
                format!("monitoring.{}.{code}", i.kind.as_str()),
                severity,
                text,
            )
            .sources(provenances.iter().copied().filter(|p| p.rule == i.rule))
        })
        .collect()
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Dates of scheduled blood counts between `from` and `to` (inclusive) for a treatment starting on `start`.
pub fn cbc_dates(
    pack: &RulePack,
    snapshot: &Snapshot,
    start: Date,
    from: Date,
    to: Date,
) -> Vec<Date> {
    let cbc = pack.monitoring.cbc_for(snapshot.regimen);
    let last_day = treatment_day(start, to).clamp(0, i64::from(u16::MAX)) as u16;
    cbc.value
        .days(last_day)
        .into_iter()
        .map(|d| add_days(start, i64::from(d) - 1))
        .filter(|d| *d >= from && *d <= to)
        .collect()
}

//! The window guard: the date on which each program window lapses (pregnancy test, authorization,
//! confirmation, survey, contraception), a warning before it happens and the last day to act; and the
//! restrictions that run past the last dose (label.md §6).
//!
//! A window of N days opened on day D is valid through D+N-1 and lapses on D+N: never longer than its limit.

use super::eligibility::{
    Stage, authorization_window, counted_negatives, first_dose, is_first_prescription,
};
use super::record::CheckedProgram;
use super::test_cadence_on;
use crate::pack::RulePack;
use crate::snapshot::{Snapshot, TreatmentStatus};
use jiff::ToSpan;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// The first of the two tests before the first prescription: the prescription must follow within its window.
    FirstPregnancyTest,
    /// The ongoing test cadence.
    PregnancyTest,
    Authorization,
    Confirmation,
    Survey,
    /// Contraception must be in use from before the first dose until after the last.
    Contraception,
}

impl WindowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowKind::FirstPregnancyTest => "first_pregnancy_test",
            WindowKind::PregnancyTest => "pregnancy_test",
            WindowKind::Authorization => "authorization",
            WindowKind::Confirmation => "confirmation",
            WindowKind::Survey => "survey",
            WindowKind::Contraception => "contraception",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    Open,
    /// Within the warning lead time of its last valid day.
    Closing,
    Lapsed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Window {
    pub kind: WindowKind,
    #[schemars(with = "String")]
    pub opened: Date,
    /// The last day on which the window is valid: the last day to act.
    #[schemars(with = "String")]
    pub last_valid_day: Date,
    #[schemars(with = "String")]
    pub lapses_on: Date,
    /// From this day the guard warns.
    #[schemars(with = "String")]
    pub warn_from: Date,
    pub state: WindowState,
    /// What to do before it lapses.
    pub act: String,
    /// The pack rule that sets its length.
    pub rule: String,
    /// The rule's limit in days.
    pub limit_days: u16,
}

fn add(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).unwrap_or(d)
}

fn window(
    pack: &RulePack,
    today: Date,
    kind: WindowKind,
    opened: Date,
    limit_days: u16,
    act: String,
    rule: &str,
) -> Window {
    let lapses_on = add(opened, i64::from(limit_days.max(1)));
    let last_valid_day = add(lapses_on, -1);
    let warn_from = add(
        last_valid_day,
        -i64::from(pack.program.window_warning.value.warn_days_before),
    )
    .max(opened);
    let state = if today > last_valid_day {
        WindowState::Lapsed
    } else if today >= warn_from {
        WindowState::Closing
    } else {
        WindowState::Open
    };
    Window {
        kind,
        opened,
        last_valid_day,
        lapses_on,
        warn_from,
        state,
        act,
        rule: rule.to_string(),
        limit_days: limit_days.max(1),
    }
}

/// Every program window of this patient on `today`.
pub fn window_guard(
    snapshot: &Snapshot,
    program: &CheckedProgram,
    pack: &RulePack,
    today: Date,
) -> Vec<Window> {
    let rules = &pack.program;
    let r = &program.record;
    let category = program.category_on(today);
    let mut out = Vec::new();
    let stopped = snapshot.treatment.status == TreatmentStatus::Discontinued;
    let negatives = counted_negatives(program, pack);
    if category.can_get_pregnant() && !stopped {
        let first = is_first_prescription(snapshot, program, Stage::Prescription);
        let init = &rules.initial_tests;
        let [lo, hi] = init.value.first_days_before;
        if first {
            if let Some(t) = negatives
                .iter()
                .rev()
                .find(|d| add(**d, i64::from(hi)) >= today)
            {
                // The prescription (with a same-day second test) must fall 10-14 days after the first test.
                let mut w = window(
                    pack,
                    today,
                    WindowKind::FirstPregnancyTest,
                    *t,
                    hi + 1,
                    format!(
                        "write the first prescription, with a second negative test that day, between {} and {}",
                        add(*t, i64::from(lo)),
                        add(*t, i64::from(hi))
                    ),
                    &init.provenance.rule,
                );
                w.opened = *t;
                out.push(w);
            }
        } else if let Some(last) = negatives.last() {
            let start = first_dose(snapshot, program).unwrap_or(*last);
            let cadence = test_cadence_on(
                pack,
                start,
                (*last).max(start),
                r.menstrual.irregular_cycles,
            );
            out.push(window(
                pack,
                today,
                WindowKind::PregnancyTest,
                *last,
                cadence,
                format!(
                    "a negative pregnancy test by {}",
                    add(*last, i64::from(cadence) - 1)
                ),
                &rules.ongoing_tests.provenance.rule,
            ));
        }
    }
    // An authorization or a confirmation is single use: once a dispense is on record on or after it, its window
    // has done its job and must not be reported as lapsing.
    let used = |issued: Date| r.dispenses.last().is_some_and(|d| d.date >= issued);
    if !stopped
        && let (Some(auth), Some(a)) = (
            r.authorizations.last(),
            authorization_window(program, pack, today),
        )
        && !used(auth.date)
    {
        let days = (a.lapses_on - a.counted_from).get_days();
        out.push(window(
            pack,
            today,
            WindowKind::Authorization,
            a.counted_from,
            u16::try_from(days).unwrap_or(1),
            "dispense before the authorization lapses, or obtain a new one".into(),
            &a.source.rule,
        ));
    }
    if !stopped
        && let Some(c) = r.confirmations.last()
        && !used(c.date)
    {
        let conf = &rules.confirmation;
        out.push(window(
            pack,
            today,
            WindowKind::Confirmation,
            c.date,
            conf.value.valid_hours.div_ceil(24),
            "dispense (ship) within the confirmation window".into(),
            &conf.provenance.rule,
        ));
    }
    if !stopped && let Some(s) = r.surveys.last() {
        let (rule, _) = rules.survey(category);
        out.push(window(
            pack,
            today,
            WindowKind::Survey,
            s.date,
            rule.value.every_days,
            format!("the patient survey for {category}"),
            &rule.provenance.rule,
        ));
    }
    if category.can_get_pregnant() {
        let c = &rules.contraception;
        let covering = r
            .contraception
            .iter()
            .find(|x| x.start <= today && x.end.is_none_or(|e| e >= today));
        let required_until = r.last_dose.map(|d| add(d, i64::from(c.value.after_days)));
        if let Some(x) = covering
            && let Some(end) = x.end
            && required_until.is_none_or(|u| end < u)
        {
            let days = (add(end, 1) - x.start).get_days();
            out.push(window(
                pack,
                today,
                WindowKind::Contraception,
                x.start,
                u16::try_from(days).unwrap_or(u16::MAX),
                match required_until {
                    Some(u) => format!("contraception must continue until {u} (4 weeks after the last dose)"),
                    None => "contraception must continue through treatment and 4 weeks after the last dose".into(),
                },
                &c.provenance.rule,
            ));
        }
        if covering.is_none()
            && snapshot.treatment.status == TreatmentStatus::NotStarted
            && let Some(f) = first_dose(snapshot, program)
        {
            // The last day contraception can start for the planned first dose.
            let last = add(f, -i64::from(c.value.before_days));
            let opened = add(last, -i64::from(c.value.before_days));
            out.push(window(
                pack,
                today,
                WindowKind::Contraception,
                opened,
                c.value.before_days + 1,
                format!("start contraception by {last} for a first dose on {f}"),
                &c.provenance.rule,
            ));
        }
    }
    out.sort_by_key(|w| (w.last_valid_day, w.kind.as_str()));
    out
}

/// A behaviour the patient must keep, with its time span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Restriction {
    pub what: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub from: Option<Date>,
    /// Last day it applies, once the last dose is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub until: Option<Date>,
    /// The span in words.
    pub span: String,
    pub rule: String,
}

/// The restrictions of this patient's category, with their spans.
pub fn restrictions(
    snapshot: &Snapshot,
    program: &CheckedProgram,
    pack: &RulePack,
    today: Date,
) -> Vec<Restriction> {
    let rules = &pack.program;
    let r = &program.record;
    let category = program.category_on(today);
    let first = first_dose(snapshot, program);
    let after = |days: u16| r.last_dose.map(|d| add(d, i64::from(days)));
    let span = |days: u16| match r.last_dose {
        Some(d) => format!(
            "during treatment and interruptions, through {} ({days} days after the last dose on {d})",
            add(d, i64::from(days))
        ),
        None => {
            format!("during treatment and interruptions, and for {days} days after the last dose")
        }
    };
    let mut out = vec![Restriction {
        what: "no blood donation".into(),
        from: first,
        until: after(rules.blood_donation.value.after_days),
        span: span(rules.blood_donation.value.after_days),
        rule: rules.blood_donation.provenance.rule.clone(),
    }];
    if category.is_male() {
        out.push(Restriction {
            what: "latex or synthetic condom for any sexual contact with a female who is or can get pregnant, even after a vasectomy".into(),
            from: first,
            until: after(rules.male.value.condom_after_days),
            span: span(rules.male.value.condom_after_days),
            rule: rules.male.provenance.rule.clone(),
        });
        out.push(Restriction {
            what: "no sperm donation".into(),
            from: first,
            until: after(rules.sperm_donation.value.after_days),
            span: span(rules.sperm_donation.value.after_days),
            rule: rules.sperm_donation.provenance.rule.clone(),
        });
    }
    if category.can_get_pregnant() {
        let c = &rules.contraception.value;
        out.push(Restriction {
            what: format!(
                "{} contraception methods at the same time (one highly effective){}",
                c.methods_required,
                if c.abstinence_accepted {
                    ", or continuous abstinence"
                } else {
                    ""
                }
            ),
            from: first.map(|f| add(f, -i64::from(c.before_days))),
            until: after(c.after_days),
            span: format!(
                "from {} days before the first dose; {}",
                c.before_days,
                span(c.after_days)
            ),
            rule: rules.contraception.provenance.rule.clone(),
        });
    }
    out
}

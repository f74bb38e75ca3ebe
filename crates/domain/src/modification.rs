//! Lab-driven dose modifications (label.md §3): which count rule governs, whether it interrupts, when it
//! resumes. Thresholds come from the pack's `count_rule` entries; this module only walks them.

use crate::dose::Schedule;
use crate::pack::{CountRule, Regimen, RulePack};
use crate::snapshot::CheckedLab;
use crate::units::{Analyte, format_count};
use jiff::civil::Date;

/// What the governing count rule depends on, evaluated on one date.
#[derive(Debug, Clone, Copy)]
pub struct RuleInputs {
    pub dose: Schedule,
    pub days_on_starting_dose: Option<i64>,
    pub baseline: Option<f64>,
}

/// The rule that governs an analyte, or what is missing to tell.
#[derive(Debug, Clone, Copy)]
pub enum Governing<'a> {
    Rule(&'a CountRule),
    /// A rule could apply but needs data the snapshot lacks (field name, what to give).
    Missing(&'static str, &'static str),
    /// No rule of the pack covers this dose (a pack gap): the engine refuses to guess.
    NoRule,
}

pub fn governing_rule<'a>(
    pack: &'a RulePack,
    regimen: &Regimen,
    analyte: Analyte,
    x: RuleInputs,
) -> Governing<'a> {
    let mut missing = None;
    for rule in pack
        .count_rules
        .iter()
        .filter(|r| r.analyte == analyte && r.regimens.contains(&regimen.id))
    {
        let w = &rule.when;
        if w.dose_mg.is_some_and(|d| x.dose.dose_mg != d)
            || w.dose_mg_below.is_some_and(|d| x.dose.dose_mg >= d)
        {
            continue;
        }
        if w.needs_days_on_starting_dose() {
            let Some(days) = x.days_on_starting_dose else {
                missing.get_or_insert((
                    "treatment.start_date",
                    "the date of the first dose at the starting dose",
                ));
                continue;
            };
            if w.days_on_starting_dose_at_most.is_some_and(|m| days > m)
                || w.days_on_starting_dose_more_than.is_some_and(|m| days <= m)
            {
                continue;
            }
        }
        if w.needs_baseline() {
            let Some(b) = x.baseline else {
                missing.get_or_insert(match analyte {
                    Analyte::Anc => ("baseline.anc", "the ANC before treatment"),
                    _ => ("baseline.platelets", "the platelet count before treatment"),
                });
                continue;
            };
            if w.baseline_at_least.is_some_and(|m| b < m)
                || w.baseline_below.is_some_and(|m| b >= m)
            {
                continue;
            }
        }
        return Governing::Rule(rule);
    }
    match missing {
        Some((field, what)) => Governing::Missing(field, what),
        None => Governing::NoRule,
    }
}

/// Lab values and events the interrupt conditions look at.
#[derive(Debug, Clone, Copy)]
pub struct CountHistory<'a> {
    /// All labs, oldest first.
    pub labs: &'a [CheckedLab],
    pub transfusions: &'a [Date],
    pub today: Date,
}

impl<'a> CountHistory<'a> {
    pub fn latest(&self, analyte: Analyte) -> Option<&'a CheckedLab> {
        self.labs.iter().rev().find(|l| l.analyte == analyte)
    }

    /// The first date of the current run of values below `threshold` (ending at the latest value).
    pub fn low_since(&self, analyte: Analyte, threshold: f64) -> Option<Date> {
        let mut since = None;
        for l in self.labs.iter().rev().filter(|l| l.analyte == analyte) {
            if l.quantity.value() < threshold {
                since = Some(l.date);
            } else {
                break;
            }
        }
        since
    }

    fn fever_since(&self, since: Date, celsius: f64) -> Option<&'a CheckedLab> {
        self.labs.iter().find(|l| {
            l.analyte == Analyte::Temperature && l.date >= since && l.quantity.value() >= celsius
        })
    }

    fn transfusion_since(&self, since: Date) -> Option<Date> {
        self.transfusions
            .iter()
            .copied()
            .filter(|d| *d >= since)
            .max()
    }
}

/// Why a count rule interrupts, if it does.
pub fn interrupt_reason(
    rule: &CountRule,
    h: &CountHistory<'_>,
    baseline: Option<f64>,
) -> Option<String> {
    let a = rule.analyte;
    let latest = h.latest(a)?;
    let v = latest.quantity.value();
    let shown = format!("{} {} on {}", a.label(), format_count(v), latest.date);
    if let Some(t) = rule.interrupt_below
        && v < t
    {
        return Some(format!("{shown} is below {}", format_count(t)));
    }
    if let (Some(f), Some(b)) = (rule.interrupt_at_fraction_of_baseline, baseline)
        && v <= f * b
    {
        return Some(format!(
            "{shown} has fallen to {:.0}% of the baseline {} (threshold {:.0}%)",
            100.0 * v / b,
            format_count(b),
            100.0 * f
        ));
    }
    if let Some(t) = rule.interrupt_below_with_transfusion
        && v < t
        && let Some(since) = h.low_since(a, t)
        && let Some(d) = h.transfusion_since(since)
    {
        return Some(format!(
            "{shown} is below {} with a platelet transfusion on {d}",
            format_count(t)
        ));
    }
    if let Some(bd) = rule.interrupt_below_for_days
        && v < bd.below
        && let Some(since) = h.low_since(a, bd.below)
        && (latest.date - since).get_days() >= bd.days as i32
    {
        return Some(format!(
            "{shown} has been below {} since {since} ({} days or more)",
            format_count(bd.below),
            bd.days
        ));
    }
    if let Some(bf) = rule.interrupt_below_with_fever
        && v < bf.below
        && let Some(since) = h.low_since(a, bf.below)
        && let Some(fever) = h.fever_since(since, bf.celsius)
    {
        return Some(format!(
            "{shown} is below {} with fever {:.1} °C on {}",
            format_count(bf.below),
            fever.quantity.value(),
            fever.date
        ));
    }
    None
}

/// A count below a duration threshold that has not lasted long enough yet: say when it will.
pub fn watch(rule: &CountRule, h: &CountHistory<'_>) -> Option<String> {
    let bd = rule.interrupt_below_for_days?;
    let latest = h.latest(rule.analyte)?;
    if latest.quantity.value() >= bd.below {
        return None;
    }
    let since = h.low_since(rule.analyte, bd.below)?;
    let due = since.checked_add(jiff::Span::new().days(bd.days)).ok()?;
    let fever = rule
        .interrupt_below_with_fever
        .map(|f| format!(", or at once with fever of {:.1} °C or more", f.celsius))
        .unwrap_or_default();
    Some(format!(
        "{} below {} since {since}: interrupt if it is still below on {due}{fever}",
        rule.analyte.label(),
        format_count(bd.below)
    ))
}

/// The condition for resuming, in words.
pub fn resume_condition(rule: &CountRule) -> String {
    format!(
        "{} at least {}",
        rule.analyte.label(),
        format_count(rule.resume_at_least)
    )
}

/// Has the count recovered enough to resume?
pub fn recovered(rule: &CountRule, h: &CountHistory<'_>) -> Option<bool> {
    Some(h.latest(rule.analyte)?.quantity.value() >= rule.resume_at_least)
}

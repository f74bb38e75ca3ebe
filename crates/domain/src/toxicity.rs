//! Non-hematologic toxicity (label.md §3f; label-verification.md §3 and §6): permanent discontinuation, holds,
//! and other Grade 3/4 toxicity judged related to lenalidomide.

use crate::finding::{Finding, Severity};
use crate::pack::RulePack;
use crate::snapshot::{AdverseEvent, Snapshot};

/// What the adverse events in a snapshot call for.
#[derive(Debug, Clone, Default)]
pub struct ToxicityOutcome {
    /// Permanent discontinuation.
    pub discontinue: Vec<Finding>,
    /// Hold now (with the condition for resuming, when the label gives one).
    pub hold: Vec<(Finding, Option<String>)>,
    /// Active related Grade 3/4 toxicity not covered above: hold, restart at the next lower dose at Grade <= 2.
    pub other_grade_3_4: Vec<Finding>,
    /// Advice that does not change the action by itself.
    pub advisories: Vec<Finding>,
}

fn describe(ae: &AdverseEvent) -> String {
    let term = ae
        .description
        .clone()
        .unwrap_or_else(|| ae.term.replace('_', " "));
    format!("{term} (grade {}, onset {})", ae.grade, ae.onset)
}

fn current_grade(ae: &AdverseEvent) -> u8 {
    if ae.resolved_on.is_some() {
        0
    } else {
        ae.current_grade.unwrap_or(ae.grade)
    }
}

pub fn evaluate(pack: &RulePack, s: &Snapshot) -> ToxicityOutcome {
    let mut out = ToxicityOutcome::default();
    let t = &pack.toxicity;
    if s.history.grade_4_rash_on_thalidomide {
        out.discontinue.push(
            Finding::new(
                "toxicity.prior_thalidomide_grade_4_rash",
                Severity::Critical,
                "A prior Grade 4 rash on thalidomide: this patient should not receive lenalidomide.",
            )
            .blocking()
            .source(&t.prior_thalidomide_grade_4_rash),
        );
    }
    for ae in &s.adverse_events {
        let mut covered = false;
        for rule in &t.discontinue {
            if rule.terms.contains(&ae.term)
                && (rule.min_grade..=rule.max_grade).contains(&ae.grade)
            {
                covered = true;
                out.discontinue.push(
                    Finding::new(
                        format!("toxicity.discontinue.{}", ae.term),
                        Severity::Critical,
                        format!(
                            "{}: discontinue lenalidomide permanently; do not resume.",
                            describe(ae)
                        ),
                    )
                    .blocking()
                    .source(&rule.provenance),
                );
            }
        }
        let now = current_grade(ae);
        for rule in &t.hold {
            if !rule.terms.contains(&ae.term) {
                continue;
            }
            covered = true;
            if now < rule.min_grade || now > rule.max_grade {
                continue;
            }
            let text = rule
                .text
                .clone()
                .unwrap_or_else(|| "Hold lenalidomide.".into());
            let msg = format!("{}: {text}", describe(ae));
            if rule.advisory {
                out.advisories.push(
                    Finding::new(
                        format!("toxicity.advice.{}", ae.term),
                        Severity::Warning,
                        msg,
                    )
                    .source(&rule.provenance),
                );
            } else {
                let until = rule
                    .resume_when_grade_at_most
                    .map(|g| format!("{} at Grade {g} or less", ae.term.replace('_', " ")));
                out.hold.push((
                    Finding::new(
                        format!("toxicity.hold.{}", ae.term),
                        Severity::Critical,
                        msg,
                    )
                    .blocking()
                    .source(&rule.provenance),
                    until,
                ));
            }
        }
        if !covered && ae.related && (3..=4).contains(&now) {
            let (rule, _) = pack.other_grade_3_4();
            let discretion = if rule.physician_discretion {
                " at the physician's discretion"
            } else {
                ""
            };
            out.other_grade_3_4.push(
                Finding::new(
                    "toxicity.other_grade_3_4",
                    Severity::Critical,
                    format!(
                        "{}, judged related: hold lenalidomide; restart{discretion} at the next lower dose when it is Grade {} or less.",
                        describe(ae),
                        rule.resume_when_grade_at_most
                    ),
                )
                .blocking()
                .source(&rule.provenance),
            );
        }
    }
    out
}

/// Is any related Grade 3/4 toxicity active (used by "neutropenia the only toxicity")?
pub fn other_toxicity_active(s: &Snapshot) -> bool {
    s.adverse_events
        .iter()
        .any(|ae| ae.related && current_grade(ae) >= 3)
}

/// Has the toxicity behind an "other toxicity" interruption resolved to the grade the pack allows?
pub fn other_toxicity_resolved(pack: &RulePack, s: &Snapshot) -> bool {
    let (rule, _) = pack.other_grade_3_4();
    s.adverse_events
        .iter()
        .filter(|ae| ae.related)
        .all(|ae| current_grade(ae) <= rule.resume_when_grade_at_most)
}

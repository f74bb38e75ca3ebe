//! What the program adds to an assessment: its status (eligibility, windows, restrictions) and the findings
//! and actions it forces (a positive test stops treatment; a missed period holds it).

use super::eligibility::{
    EligibilityReport, counted_negatives, eligibility_checked, first_dose, open_evaluation,
    positive_test,
};
use super::record::CheckedProgram;
use super::windows::{Restriction, Window, WindowState, restrictions, window_guard};
use super::{RiskCategory, next_pregnancy_test};
use crate::assessment::Action;
use crate::finding::{Finding, Severity};
use crate::pack::RulePack;
use crate::snapshot::{Snapshot, TreatmentStatus};
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The program part of an assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProgramStatus {
    pub category: RiskCategory,
    pub eligibility: EligibilityReport,
    pub windows: Vec<Window>,
    pub restrictions: Vec<Restriction>,
    /// For a female who can get pregnant on treatment: the day the next test is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub next_pregnancy_test: Option<Date>,
}

/// Program status, findings and actions for a validated record.
pub fn review(
    snapshot: &Snapshot,
    program: &CheckedProgram,
    pack: &RulePack,
    today: Date,
) -> (ProgramStatus, Vec<Finding>, Vec<Action>) {
    let rules = &pack.program;
    let category = program.category_on(today);
    let report = eligibility_checked(snapshot, program, pack, today, None);
    let windows = window_guard(snapshot, program, pack, today);
    let status_now = snapshot.treatment.status;
    let mut findings = Vec::new();
    let mut actions = Vec::new();

    if let Some(d) = positive_test(program) {
        let why = format!(
            "Positive pregnancy test on {d}: stop lenalidomide now and report suspected fetal exposure to {}.",
            rules.positive_test.value.report_to
        );
        findings.push(
            Finding::new(
                "program.pregnancy.positive",
                Severity::Critical,
                why.clone(),
            )
            .blocking()
            .source(&rules.positive_test.provenance),
        );
        actions.push(Action::Discontinue { why });
    }
    if category.can_get_pregnant()
        && status_now != TreatmentStatus::Discontinued
        && let Some(e) = open_evaluation(program, pack)
    {
        let until = format!(
            "a negative pregnancy test on or after {e} (missed period or abnormal bleeding)"
        );
        findings.push(
            Finding::new(
                "program.pregnancy.evaluation",
                Severity::Critical,
                format!("Missed period or abnormal bleeding on {e}: hold lenalidomide, test and counsel; resume only after {until}."),
            )
            .blocking()
            .source(&rules.missed_period.provenance),
        );
        actions.push(match status_now {
            TreatmentStatus::Active => Action::Interrupt { until, then: None },
            TreatmentStatus::Interrupted => Action::StayInterrupted { until, then: None },
            _ => Action::Defer { until },
        });
    }
    if status_now != TreatmentStatus::Discontinued {
        for m in report
            .missing
            .iter()
            .filter(|m| !m.final_stop && m.code != "pregnancy_test.evaluation")
        {
            let mut text = format!(
                "Program ({:?}): missing {}. Fix: {}.",
                report.stage, m.what, m.fix
            )
            .replace("(Prescription)", "(prescription)")
            .replace("(Dispense)", "(dispense)");
            if let Some(e) = m.earliest {
                text.push_str(&format!(" Earliest: {e}."));
            }
            if let Some(l) = m.latest {
                text.push_str(&format!(" Latest valid date: {l}."));
            }
            findings.push(
                Finding::new(
                    format!("program.missing.{}", m.code),
                    Severity::Critical,
                    text,
                )
                .blocking()
                .sources(m.sources.iter()),
            );
        }
        if status_now == TreatmentStatus::NotStarted && !report.eligible {
            actions.push(Action::Defer {
                until: format!(
                    "the program steps: {}",
                    report
                        .missing
                        .iter()
                        .map(|m| m.what.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            });
        }
        if status_now == TreatmentStatus::Active
            && let Some(m) = report
                .missing
                .iter()
                .find(|m| m.code == "pregnancy_test.due")
        {
            actions.push(Action::Blocked {
                why: format!(
                    "{} is outstanding: no dose until a negative test is on record.",
                    m.what
                ),
            });
        }
        for w in windows.iter().filter(|w| w.state == WindowState::Closing) {
            let source = pack
                .program
                .provenances()
                .into_iter()
                .find(|p| p.rule == w.rule);
            let mut f = Finding::new(
                format!("program.window.{}", w.kind.as_str()),
                Severity::Warning,
                format!(
                    "The {} window lapses on {}: last day to act {} ({}).",
                    w.kind.as_str().replace('_', " "),
                    w.lapses_on,
                    w.last_valid_day,
                    w.act
                ),
            );
            if let Some(p) = source {
                f = f.source(p);
            }
            findings.push(f);
        }
    }
    let next_pregnancy_test = match (category.can_get_pregnant(), status_now) {
        (true, TreatmentStatus::Active | TreatmentStatus::Interrupted) => {
            first_dose(snapshot, program).map(|s| {
                next_pregnancy_test(
                    pack,
                    s,
                    counted_negatives(program, pack).last().copied(),
                    program.record.menstrual.irregular_cycles,
                )
            })
        }
        _ => None,
    };
    let status = ProgramStatus {
        category,
        eligibility: report,
        windows,
        restrictions: restrictions(snapshot, program, pack, today),
        next_pregnancy_test,
    };
    (status, findings, actions)
}

//! The safety review that `assess` runs beside dosing: monitoring (label.md §4), the REMS (§6), interactions
//! and regimen warnings (§5, §7) and thromboprophylaxis (scores-criteria.md). Each part lives in its own
//! module; this one validates their inputs and gathers their findings and actions.

use crate::assessment::Action;
use crate::error::InputError;
use crate::finding::Finding;
use crate::interactions::{self, AgentMatch, InteractionHit};
use crate::monitoring::{self, MonitoringItem};
use crate::pack::RulePack;
use crate::program::{self, ProgramStatus};
use crate::snapshot::{Checked, Snapshot};
use crate::thrombo::{self, VteAssessment};
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The safety part of an assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SafetyReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<ProgramStatus>,
    pub monitoring: Vec<MonitoringItem>,
    pub medications_recognised: Vec<AgentMatch>,
    pub interactions: Vec<InteractionHit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vte: Option<VteAssessment>,
}

/// The review's output: the report, and the findings and actions it adds to the assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyReview {
    pub report: SafetyReport,
    pub findings: Vec<Finding>,
    pub actions: Vec<Action>,
}

/// Review a snapshot already validated by [`Snapshot::validate`].
pub fn review(
    snapshot: &Snapshot,
    checked: &Checked,
    pack: &RulePack,
    today: Date,
) -> Result<SafetyReview, InputError> {
    monitoring::validate(snapshot, today)?;
    interactions::validate(&snapshot.medications, today)?;
    for (i, d) in snapshot.diagnoses.iter().enumerate() {
        if d.trim().is_empty() {
            return Err(InputError::invalid(
                format!("diagnoses[{i}]"),
                d,
                "a diagnosis name",
            ));
        }
    }
    let program = snapshot
        .program
        .as_ref()
        .map(|p| p.check(snapshot, checked.age_years, pack, today))
        .transpose()?;
    let agents = interactions::match_agents(&snapshot.medications, pack, today)?;
    let vte = thrombo::assess_vte(snapshot, pack, today, checked.age_years, &agents)?;

    let mut findings = Vec::new();
    let mut actions = Vec::new();
    let taking: Vec<&str> = agents.iter().map(|a| a.agent.as_str()).collect();
    let items = monitoring::schedule(snapshot, pack, today, &taking);
    findings.extend(monitoring::findings(&items, pack));
    let (hits, f) = interactions::check(snapshot, pack, &agents);
    findings.extend(f);
    if hits
        .iter()
        .any(|h| h.severity == crate::finding::Severity::Critical)
    {
        actions.push(Action::Review {
            why: hits
                .iter()
                .filter(|h| h.severity == crate::finding::Severity::Critical)
                .map(|h| h.message.clone())
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    let vte = vte.map(|(v, f)| {
        findings.extend(f);
        v
    });
    let program = program.map(|p| {
        let (status, f, a) = program::review(snapshot, &p, pack, today);
        findings.extend(f);
        actions.extend(a);
        status
    });
    Ok(SafetyReview {
        report: SafetyReport {
            program,
            monitoring: items,
            medications_recognised: agents,
            interactions: hits,
            vte,
        },
        findings,
        actions,
    })
}

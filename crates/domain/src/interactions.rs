//! Drug interactions and regimen warnings (label.md §7 and §5; label-verification.md §7;
//! `rules/us-lenalidomide/interactions.toml`): digoxin, warfarin, erythropoietic agents and estrogens,
//! pembrolizumab with a thalidomide analogue and dexamethasone, CLL outside trials.
//!
//! A medication is matched by RxNorm code and by name (case-insensitive, whole words, from the pack's curated
//! list). A medication whose code and name point at different agents is refused rather than guessed.

use crate::error::InputError;
use crate::finding::{Finding, Severity};
use crate::pack::RulePack;
use crate::regimen::RegimenId;
use crate::snapshot::Snapshot;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A medication on the patient's list (input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Medication {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RxNorm concept id (RxCUI), digits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rxnorm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub start: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub stop: Option<Date>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Code,
    Name,
    CodeAndName,
}

/// A medication recognised as an agent of the pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentMatch {
    pub agent: String,
    /// Index in `medications`.
    pub medication: usize,
    pub matched_by: MatchedBy,
    /// The pack rule of the agent's names and codes.
    pub rule: String,
}

/// An interaction or regimen warning that applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InteractionHit {
    pub rule: String,
    pub agents: Vec<String>,
    pub severity: Severity,
    pub message: String,
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Does `name` contain the words of `term`, in order and adjacent?
pub fn name_matches(name: &str, term: &str) -> bool {
    let n = words(name);
    let t = words(term);
    !t.is_empty() && n.windows(t.len()).any(|w| w == t.as_slice())
}

/// Check the medication list: each entry has a name or a code, codes are digits, dates are in order.
pub fn validate(medications: &[Medication], today: Date) -> Result<(), InputError> {
    for (i, m) in medications.iter().enumerate() {
        let f = format!("medications[{i}]");
        if m.name.as_deref().is_none_or(|n| n.trim().is_empty()) && m.rxnorm.is_none() {
            return Err(InputError::missing(f, "a name or an RxNorm code"));
        }
        if let Some(c) = &m.rxnorm
            && (c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(InputError::invalid(
                format!("{f}.rxnorm"),
                c,
                "an RxNorm concept id (digits only)",
            ));
        }
        if let Some(s) = m.start
            && s > today
        {
            return Err(InputError::invalid(
                format!("{f}.start"),
                s,
                format!("a date not after today ({today})"),
            ));
        }
        if let (Some(s), Some(e)) = (m.start, m.stop)
            && e < s
        {
            return Err(InputError::contradiction(
                format!("{f}.stop"),
                format!("{f}.start"),
                "the medication stops before it starts",
            ));
        }
    }
    Ok(())
}

/// The agents among the medications taken today. Refuses a medication whose code and name disagree.
pub fn match_agents(
    medications: &[Medication],
    pack: &RulePack,
    today: Date,
) -> Result<Vec<AgentMatch>, InputError> {
    let mut out = Vec::new();
    for (i, m) in medications.iter().enumerate() {
        if m.stop.is_some_and(|s| s < today) || m.start.is_some_and(|s| s > today) {
            continue;
        }
        let by_code = m.rxnorm.as_ref().and_then(|c| {
            pack.interactions
                .agents
                .iter()
                .find(|a| a.value.rxnorm.contains(c))
        });
        let by_name: Vec<_> = m
            .name
            .as_ref()
            .map(|n| {
                pack.interactions
                    .agents
                    .iter()
                    .filter(|a| a.value.names.iter().any(|t| name_matches(n, t)))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(c) = by_code
            && let Some(other) = by_name.iter().find(|a| a.value.id != c.value.id)
        {
            return Err(InputError::contradiction(
                format!("medications[{i}].rxnorm"),
                format!("medications[{i}].name"),
                format!(
                    "code {} is {} but the name {:?} is {}",
                    m.rxnorm.as_deref().unwrap_or_default(),
                    c.value.id,
                    m.name.as_deref().unwrap_or_default(),
                    other.value.id
                ),
            ));
        }
        if let Some(c) = by_code {
            let both = by_name.iter().any(|a| a.value.id == c.value.id);
            out.push(AgentMatch {
                agent: c.value.id.clone(),
                medication: i,
                matched_by: if both {
                    MatchedBy::CodeAndName
                } else {
                    MatchedBy::Code
                },
                rule: c.provenance.rule.clone(),
            });
        } else {
            for a in by_name {
                out.push(AgentMatch {
                    agent: a.value.id.clone(),
                    medication: i,
                    matched_by: MatchedBy::Name,
                    rule: a.provenance.rule.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Is dexamethasone part of this patient's treatment (regimen, chosen schedule or medication list)?
pub fn with_dexamethasone(snapshot: &Snapshot, agents: &[AgentMatch]) -> bool {
    snapshot.dexamethasone.is_some()
        || matches!(snapshot.regimen, RegimenId::MmRd | RegimenId::MmVrd)
        || agents.iter().any(|a| a.agent == "dexamethasone")
}

/// The interactions and regimen warnings for this patient, as hits and findings.
pub fn check(
    snapshot: &Snapshot,
    pack: &RulePack,
    agents: &[AgentMatch],
) -> (Vec<InteractionHit>, Vec<Finding>) {
    let mut hits = Vec::new();
    let mut findings = Vec::new();
    let dex = with_dexamethasone(snapshot, agents);
    for (regimens, it) in &pack.interactions.interactions {
        if !regimens.is_empty() && !regimens.contains(&snapshot.regimen) {
            continue;
        }
        if it.value.with_dexamethasone && !dex {
            continue;
        }
        let matched: Vec<&AgentMatch> = agents
            .iter()
            .filter(|a| it.value.agents.contains(&a.agent))
            .collect();
        if matched.is_empty() {
            continue;
        }
        let mut names: Vec<String> = matched
            .iter()
            .map(|a| {
                let m = &snapshot.medications[a.medication];
                let shown = m
                    .name
                    .clone()
                    .or_else(|| m.rxnorm.as_ref().map(|c| format!("RxCUI {c}")))
                    .unwrap_or_default();
                format!(
                    "{shown} (by {})",
                    match a.matched_by {
                        MatchedBy::Code => "RxNorm code",
                        MatchedBy::Name => "name",
                        MatchedBy::CodeAndName => "RxNorm code and name",
                    }
                )
            })
            .collect();
        names.dedup();
        let in_trial = snapshot.in_clinical_trial && it.value.blocking;
        let severity = if in_trial {
            Severity::Warning
        } else {
            it.value.severity
        };
        let message = format!(
            "{}{} Matched: {}.",
            it.value.message,
            if in_trial {
                " The patient is in a controlled trial."
            } else {
                ""
            },
            names.join(", ")
        );
        let mut f = Finding::new(
            format!(
                "interaction.{}",
                it.provenance.rule.trim_start_matches("interaction.")
            ),
            severity,
            message.clone(),
        )
        .source(&it.provenance);
        for a in &matched {
            if let Some(agent) = pack.interactions.agent(&a.agent) {
                f = f.source(&agent.provenance);
            }
        }
        if it.value.blocking && !in_trial {
            f = f.blocking();
        }
        findings.push(f);
        hits.push(InteractionHit {
            rule: it.provenance.rule.clone(),
            agents: matched.iter().map(|a| a.agent.clone()).collect(),
            severity,
            message,
        });
    }
    let cll = &pack.interactions.cll;
    if let Some(d) = snapshot
        .diagnoses
        .iter()
        .find(|d| cll.value.names.iter().any(|n| name_matches(d, n)))
    {
        let (severity, extra) = if snapshot.in_clinical_trial {
            (Severity::Info, " The patient is in a controlled trial.")
        } else {
            (Severity::Critical, "")
        };
        let message = format!("{}{extra} Diagnosis on record: {d:?}.", cll.value.message);
        let mut f = Finding::new("warning.cll", severity, message.clone()).source(&cll.provenance);
        if !snapshot.in_clinical_trial {
            f = f.blocking();
        }
        findings.push(f);
        hits.push(InteractionHit {
            rule: cll.provenance.rule.clone(),
            agents: Vec::new(),
            severity,
            message,
        });
    }
    (hits, findings)
}

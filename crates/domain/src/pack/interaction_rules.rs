//! `interactions.toml`: agents (names and RxNorm codes), interactions and regimen warnings (label.md §5, §7;
//! label-verification.md §7).

use super::PackError;
use super::load::{Ctx, err, no_leftovers, regimen_ids};
use super::sourced::{Sourced, many, one};
use crate::finding::Severity;
use crate::monitoring::MonitoringKind;
use crate::provenance::Provenance;
use crate::regimen::RegimenId;
use serde::{Deserialize, Serialize};
use toml::Table;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub id: String,
    /// Lower-case names, matched as whole words of a medication's name.
    pub names: Vec<String>,
    #[serde(default)]
    pub rxnorm: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub agents: Vec<String>,
    #[serde(default)]
    pub regimens: Vec<String>,
    #[serde(default)]
    pub with_dexamethasone: bool,
    pub severity: Severity,
    #[serde(default)]
    pub blocking: bool,
    #[serde(default)]
    pub monitor: Option<MonitoringKind>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CllWarning {
    pub names: Vec<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InteractionRules {
    pub agents: Vec<Sourced<Agent>>,
    pub interactions: Vec<(Vec<RegimenId>, Sourced<Interaction>)>,
    pub cll: Sourced<CllWarning>,
}

impl InteractionRules {
    pub fn agent(&self, id: &str) -> Option<&Sourced<Agent>> {
        self.agents.iter().find(|a| a.value.id == id)
    }

    pub fn provenances(&self) -> Vec<&Provenance> {
        let mut all: Vec<&Provenance> = self.agents.iter().map(|a| &a.provenance).collect();
        all.extend(self.interactions.iter().map(|(_, i)| &i.provenance));
        all.push(&self.cll.provenance);
        all
    }
}

pub(super) fn load(ctx: &Ctx<'_>, mut doc: Table) -> Result<InteractionRules, PackError> {
    let f = ctx.file;
    let agents: Vec<Sourced<Agent>> = many(ctx, &mut doc, "agent")?;
    for (i, a) in agents.iter().enumerate() {
        let entry = format!("agent[{i}] ({})", a.value.id);
        if agents.iter().filter(|b| b.value.id == a.value.id).count() > 1 {
            return Err(err(f, &entry, "duplicate agent id"));
        }
        if a.value.names.is_empty() {
            return Err(err(f, &entry, "needs at least one name"));
        }
        if let Some(n) = a
            .value
            .names
            .iter()
            .find(|n| n.trim().is_empty() || n.to_lowercase() != **n)
        {
            return Err(err(
                f,
                &entry,
                format!("name {n:?} must be non-empty lower case"),
            ));
        }
        if let Some(c) = a
            .value
            .rxnorm
            .iter()
            .find(|c| c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(err(f, &entry, format!("RxNorm code {c:?} must be digits")));
        }
        for b in &agents {
            if b.value.id != a.value.id
                && let Some(c) = a.value.rxnorm.iter().find(|c| b.value.rxnorm.contains(c))
            {
                return Err(err(
                    f,
                    &entry,
                    format!("RxNorm code {c} also belongs to agent {}", b.value.id),
                ));
            }
        }
    }
    let mut interactions = Vec::new();
    for (i, it) in many::<Interaction>(ctx, &mut doc, "interaction")?
        .into_iter()
        .enumerate()
    {
        let entry = format!("interaction[{i}] ({})", it.provenance.rule);
        if it.value.agents.is_empty() {
            return Err(err(f, &entry, "needs at least one agent"));
        }
        if let Some(a) = it
            .value
            .agents
            .iter()
            .find(|a| !agents.iter().any(|b| &b.value.id == *a))
        {
            return Err(err(f, &entry, format!("unknown agent {a:?}")));
        }
        interactions.push((regimen_ids(f, &entry, &it.value.regimens)?, it));
    }
    let cll = one(ctx, &mut doc, "cll")?;
    no_leftovers(f, &doc)?;
    if agents.iter().all(|a| a.value.id != "dexamethasone") {
        return Err(err(
            f,
            "agent",
            "an agent with id \"dexamethasone\" is required",
        ));
    }
    Ok(InteractionRules {
        agents,
        interactions,
        cll,
    })
}

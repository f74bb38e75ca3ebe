//! Loading the monitoring, program, interaction and thromboprophylaxis files of a pack, and the checks that
//! tie them together (a monitoring item that names an agent must name a known one).

use super::PackError;
use super::interaction_rules::{self, InteractionRules};
use super::load::{Ctx, err};
use super::model::{RulePack, SourceDoc};
use super::monitoring_rules::{self, MonitoringRules};
use super::program_rules::{self, ProgramRules};
use super::thrombo_rules::{self, ThromboRules};
use std::collections::BTreeMap;
use toml::Table;

/// The pack files this module reads, in `pack.toml` `files` order.
pub const FILES: [&str; 4] = [
    "monitoring.toml",
    "program.toml",
    "interactions.toml",
    "thromboprophylaxis.toml",
];

pub(super) struct SafetyRules {
    pub monitoring: MonitoringRules,
    pub program: ProgramRules,
    pub interactions: InteractionRules,
    pub thromboprophylaxis: ThromboRules,
}

pub(super) fn load(
    sources: &BTreeMap<String, SourceDoc>,
    get: &dyn Fn(&str) -> Result<Table, PackError>,
) -> Result<SafetyRules, PackError> {
    let ctx = |file| Ctx { file, sources };
    Ok(SafetyRules {
        monitoring: monitoring_rules::load(&ctx(FILES[0]), get(FILES[0])?)?,
        program: program_rules::load(&ctx(FILES[1]), get(FILES[1])?)?,
        interactions: interaction_rules::load(&ctx(FILES[2]), get(FILES[2])?)?,
        thromboprophylaxis: thrombo_rules::load(&ctx(FILES[3]), get(FILES[3])?)?,
    })
}

pub(super) fn cross_check(pack: &RulePack) -> Result<(), PackError> {
    for (_, p) in &pack.monitoring.periodic {
        if let Some(agent) = &p.value.when_taking
            && pack.interactions.agent(agent).is_none()
        {
            return Err(err(
                FILES[0],
                format!("periodic ({})", p.provenance.rule),
                format!(
                    "when_taking names {agent:?}, which is not an agent of {}",
                    FILES[2]
                ),
            ));
        }
    }
    for agent in ["aspirin", "lmwh", "doac", "warfarin", "esa"] {
        if pack.interactions.agent(agent).is_none() {
            return Err(err(
                FILES[2],
                "agent",
                format!("agent {agent:?} is required (thromboprophylaxis and IMPEDE read it)"),
            ));
        }
    }
    Ok(())
}

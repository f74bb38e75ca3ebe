//! The rule pack: the label and the program as versioned, reviewable data (`rules/` at the repository root).
//!
//! Logic lives in Rust; numbers and their provenance live in the pack. The built-in pack is compiled into the
//! binary so that a fresh install needs no files; `lenaguard rules check DIR` validates any other pack.

mod interaction_rules;
mod load;
mod model;
mod monitoring_rules;
mod program_rules;
mod safety_rules;
mod sourced;
mod thrombo_rules;

pub use interaction_rules::{Agent, CllWarning, Interaction, InteractionRules};
pub use load::{PackError, PackFiles, load};
pub use model::*;
pub use monitoring_rules::{CbcPhase, CbcSchedule, MonitoringRules, PeriodicRule};
pub use program_rules::*;
pub use sourced::{Sourced, choose};
pub use thrombo_rules::*;

/// The files of the built-in pack, `rules/us-lenalidomide/`.
pub const BUILTIN_FILES: [(&str, &str); 11] = [
    (
        "pack.toml",
        include_str!("../../../../rules/us-lenalidomide/pack.toml"),
    ),
    (
        "regimens.toml",
        include_str!("../../../../rules/us-lenalidomide/regimens.toml"),
    ),
    (
        "renal.toml",
        include_str!("../../../../rules/us-lenalidomide/renal.toml"),
    ),
    (
        "modifications.toml",
        include_str!("../../../../rules/us-lenalidomide/modifications.toml"),
    ),
    (
        "toxicity.toml",
        include_str!("../../../../rules/us-lenalidomide/toxicity.toml"),
    ),
    (
        "ctcae.toml",
        include_str!("../../../../rules/us-lenalidomide/ctcae.toml"),
    ),
    (
        "policy.toml",
        include_str!("../../../../rules/us-lenalidomide/policy.toml"),
    ),
    (
        "monitoring.toml",
        include_str!("../../../../rules/us-lenalidomide/monitoring.toml"),
    ),
    (
        "program.toml",
        include_str!("../../../../rules/us-lenalidomide/program.toml"),
    ),
    (
        "interactions.toml",
        include_str!("../../../../rules/us-lenalidomide/interactions.toml"),
    ),
    (
        "thromboprophylaxis.toml",
        include_str!("../../../../rules/us-lenalidomide/thromboprophylaxis.toml"),
    ),
];

impl RulePack {
    /// The pack shipped with this build. It is validated by the test suite, so failing here is a build defect.
    pub fn builtin() -> Result<RulePack, PackError> {
        load(&BUILTIN_FILES)
    }
}

/// The raw TOML of every entry whose `rule` (or `id`) is `rule`, with the file it is in: what a reviewer reads.
pub fn raw_entries(files: &PackFiles<'_>, rule: &str) -> Vec<(String, String)> {
    fn walk(v: &toml::Value, rule: &str, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                let hit = ["rule", "id"]
                    .iter()
                    .any(|k| t.get(*k).and_then(toml::Value::as_str) == Some(rule));
                if hit {
                    if let Ok(text) = toml::to_string(t) {
                        out.push(text);
                    }
                    return;
                }
                for child in t.values() {
                    walk(child, rule, out);
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|i| walk(i, rule, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, text) in files {
        if let Ok(table) = text.parse::<toml::Table>() {
            let mut found = Vec::new();
            walk(&toml::Value::Table(table), rule, &mut found);
            out.extend(found.into_iter().map(|t| ((*name).to_string(), t)));
        }
    }
    out
}

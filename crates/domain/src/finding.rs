//! Findings: what the engine has to say, each with its reason and its source.

use crate::provenance::Provenance;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How loudly a finding speaks. The order matters: `Critical` outranks `Warning` outranks `Info`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One thing the engine found, in words a clinician can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable machine code, e.g. `renal.starting_dose` or `count.platelets.interrupt`.
    pub code: String,
    pub severity: Severity,
    /// True when this finding alone stops a dose or a dispense until it is resolved.
    pub blocking: bool,
    /// What was found and what to do, in plain language.
    pub message: String,
    /// The rules behind it.
    pub sources: Vec<Provenance>,
}

impl Finding {
    pub fn new(code: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            code: code.into(),
            severity,
            blocking: false,
            message: message.into(),
            sources: Vec::new(),
        }
    }

    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    pub fn source(mut self, provenance: &Provenance) -> Self {
        if !self.sources.iter().any(|p| p.rule == provenance.rule) {
            self.sources.push(provenance.clone());
        }
        self
    }

    pub fn sources<'a>(mut self, provenances: impl IntoIterator<Item = &'a Provenance>) -> Self {
        for p in provenances {
            self = self.source(p);
        }
        self
    }

    /// True if any rule behind this finding is unverified.
    pub fn rests_on_unverified_rules(&self) -> bool {
        self.sources.iter().any(|p| !p.is_verified())
    }
}

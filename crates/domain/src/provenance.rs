//! Where a rule comes from and how sure we are of it.
//!
//! Every number in the rule pack carries a [`Provenance`]: the document it was read in, the section, the
//! version date of that document, what kind of evidence it is, and whether it has been verified against the
//! primary source (`rules/README.md` explains the statuses). The product prints unverified rules as such.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::ops::Deref;
use std::sync::Arc;

/// Whether a rule was read in its primary source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Read in the cited text.
    Verified,
    /// Marked NOT CONFIRMED in the reference notes, or an interpretation: still our best knowledge.
    Unverified,
}

/// What kind of evidence a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// US prescribing information (or a generic's copy of it).
    Label,
    /// The Lenalidomide REMS (or an analogous program where marked).
    Program,
    /// A clinical trial protocol, used by clinicians beyond the label.
    Trial,
    /// A published paper or guideline.
    Publication,
    /// Our reading of a rule the source leaves open (for example the ladder behind "next lower dose").
    Interpretation,
    /// A local operating policy, not a clinical source (for example how old a blood count may be).
    Policy,
}

/// The provenance of one rule, as printed next to every finding. Shared, not copied: a pack holds each one
/// once and every finding that cites it holds a reference, which keeps `assess` free of string copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Provenance(Arc<RuleSource>);

impl Provenance {
    pub fn new(source: RuleSource) -> Self {
        Provenance(Arc::new(source))
    }
}

impl Deref for Provenance {
    type Target = RuleSource;
    fn deref(&self) -> &RuleSource {
        &self.0
    }
}

/// What a provenance says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleSource {
    /// Stable rule id in the pack, e.g. `renal.mm_mcl.moderate`.
    pub rule: String,
    /// Document title.
    pub document: String,
    /// Section, table or page within the document.
    pub section: String,
    /// Version date of the document: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub version_date: String,
    pub basis: Basis,
    pub status: Status,
    /// Why the rule is unverified, or what a reader should know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RuleSource {
    pub fn is_verified(&self) -> bool {
        self.status == Status::Verified
    }

    /// One line for text output: `[unverified] renal.mm_mcl.moderate: DDL 2.6 (2022-08-29)`.
    pub fn cite(&self) -> String {
        let mark = match self.status {
            Status::Verified => "verified",
            Status::Unverified => "UNVERIFIED",
        };
        format!(
            "[{mark}] {}: {}, {} ({})",
            self.rule, self.document, self.section, self.version_date
        )
    }
}

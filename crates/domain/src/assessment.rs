//! The engine's output (`docs/schema/assessment.schema.json`): one recommended action, the dose that goes with
//! it, and every finding with its reason and sources. Every door renders this same value.

use crate::ctcae::CtcaeGrade;
use crate::dose::Schedule;
use crate::finding::Finding;
use crate::pack::RenalBand;
use crate::regimen::RegimenId;
use crate::renal::WeightBasis;
use crate::units::Analyte;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What to do today.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Start the regimen at this schedule.
    Start { schedule: Schedule },
    /// Go on with the current schedule.
    Continue { schedule: Schedule },
    /// Do not start yet; start when `until` holds.
    Defer { until: String },
    /// Interrupt now; resume when `until` holds, at `then` when the label defines it.
    Interrupt {
        until: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        then: Option<Schedule>,
    },
    /// Stay interrupted; resume when `until` holds.
    StayInterrupted {
        until: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        then: Option<Schedule>,
    },
    /// Resume at this schedule.
    Resume { schedule: Schedule },
    /// The label leaves the next step to the prescriber (floor reached, dose off the ladder, discretion).
    Review { why: String },
    /// Stop permanently.
    Discontinue { why: String },
    /// The engine cannot decide: data missing, stale or contradictory. Nothing is dosed until it is fixed.
    Blocked { why: String },
}

impl Action {
    /// How strongly an action outranks another when several rules speak (higher wins).
    pub fn rank(&self) -> u8 {
        match self {
            Action::Discontinue { .. } => 7,
            Action::Interrupt { .. } => 6,
            Action::StayInterrupted { .. } | Action::Defer { .. } => 5,
            Action::Blocked { .. } => 4,
            Action::Review { .. } => 3,
            Action::Resume { .. } => 2,
            Action::Start { .. } | Action::Continue { .. } => 1,
        }
    }

    /// The schedule to take today, if any.
    pub fn dose(&self) -> Option<&Schedule> {
        match self {
            Action::Start { schedule }
            | Action::Continue { schedule }
            | Action::Resume { schedule } => Some(schedule),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::Start { .. } => "start",
            Action::Continue { .. } => "continue",
            Action::Interrupt { .. } => "interrupt",
            Action::StayInterrupted { .. } => "stay_interrupted",
            Action::Defer { .. } => "defer",
            Action::Resume { .. } => "resume",
            Action::Review { .. } => "review",
            Action::Discontinue { .. } => "discontinue",
            Action::Blocked { .. } => "blocked",
        }
    }
}

/// How the creatinine clearance was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrClMethod {
    CockcroftGault,
    Measured,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KidneySummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crcl_ml_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<CrClMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_basis: Option<WeightBasis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_used_kg: Option<f64>,
    pub dialysis: bool,
    /// `None`: no adjustment (CrCl >= 60 mL/min).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<RenalBand>,
    /// The renal starting dose for this regimen and band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renal_starting_dose: Option<Schedule>,
    pub not_studied: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LabSummary {
    pub code: Analyte,
    /// Value in the canonical unit (`unit`).
    pub value: f64,
    pub unit: String,
    #[schemars(with = "String")]
    pub date: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctcae: Option<CtcaeGrade>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PackRef {
    pub id: String,
    pub version: String,
}

/// The engine's answer for one patient on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Assessment {
    pub pack: PackRef,
    #[schemars(with = "String")]
    pub today: Date,
    pub regimen: RegimenId,
    pub regimen_name: String,
    pub action: Action,
    /// One line a clinician can read at a glance.
    pub summary: String,
    pub kidney: KidneySummary,
    /// The latest value of each lab, graded.
    pub labs: Vec<LabSummary>,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// Ids of the unverified rules this answer rests on.
    pub unverified_rules: Vec<String>,
    /// Monitoring, program (eligibility and window guard), interactions and thromboprophylaxis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<crate::safety::SafetyReport>,
}

//! `monitoring.toml`: blood-count schedules per regimen and other periodic monitoring (label.md §4,
//! label-verification.md §2).

use super::PackError;
use super::load::{Ctx, err, no_leftovers, regimen_ids};
use super::sourced::{Sourced, many, one};
use crate::monitoring::MonitoringKind;
use crate::provenance::Provenance;
use crate::regimen::RegimenId;
use serde::{Deserialize, Serialize};
use toml::Table;

/// Counts are due every `every_days` from `from_day` (treatment day 1 = first dose) up to `to_day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CbcPhase {
    pub from_day: u16,
    #[serde(default)]
    pub to_day: Option<u16>,
    pub every_days: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CbcSchedule {
    pub regimens: Vec<String>,
    pub phases: Vec<CbcPhase>,
}

impl CbcSchedule {
    /// The longest interval allowed on treatment day `day`.
    pub fn interval_on(&self, day: u16) -> u16 {
        let mut interval = self.phases[0].every_days;
        for p in &self.phases {
            if day >= p.from_day {
                interval = p.every_days;
            }
        }
        interval
    }

    /// Treatment days (1-based) on which a count is scheduled, up to `last_day`.
    pub fn days(&self, last_day: u16) -> Vec<u16> {
        let mut out = Vec::new();
        for p in &self.phases {
            let end = p.to_day.unwrap_or(last_day).min(last_day);
            let mut d = p.from_day;
            while d <= end {
                out.push(d);
                // A step past the last treatment day a u16 holds ends the phase (saturating would repeat it).
                match d.checked_add(p.every_days) {
                    Some(next) if p.every_days > 0 => d = next,
                    _ => break,
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Every {
    pub every_days: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodicRule {
    pub kind: MonitoringKind,
    pub baseline: bool,
    pub every_days: u16,
    /// An agent id of interactions.toml: the item applies only while the patient takes it.
    #[serde(default)]
    pub when_taking: Option<String>,
    /// Empty: every regimen.
    #[serde(default)]
    pub regimens: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Days {
    pub days: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitoringRules {
    pub cbc: Vec<(Vec<RegimenId>, Sourced<CbcSchedule>)>,
    pub cbc_during_interruption: Sourced<Every>,
    pub periodic: Vec<(Vec<RegimenId>, Sourced<PeriodicRule>)>,
    pub due_soon: Sourced<Days>,
}

impl MonitoringRules {
    /// The CBC schedule of a regimen (validation guarantees exactly one).
    pub fn cbc_for(&self, regimen: RegimenId) -> &Sourced<CbcSchedule> {
        self.cbc
            .iter()
            .find(|(r, _)| r.contains(&regimen))
            .map(|(_, s)| s)
            .unwrap_or_else(|| unreachable!("validated pack has a CBC schedule per regimen"))
    }

    pub fn provenances(&self) -> Vec<&Provenance> {
        let mut all: Vec<&Provenance> = self.cbc.iter().map(|(_, s)| &s.provenance).collect();
        all.push(&self.cbc_during_interruption.provenance);
        all.extend(self.periodic.iter().map(|(_, s)| &s.provenance));
        all.push(&self.due_soon.provenance);
        all
    }
}

pub(super) fn load(ctx: &Ctx<'_>, mut doc: Table) -> Result<MonitoringRules, PackError> {
    let f = ctx.file;
    let mut cbc = Vec::new();
    for (i, s) in many::<CbcSchedule>(ctx, &mut doc, "cbc")?
        .into_iter()
        .enumerate()
    {
        let entry = format!("cbc[{i}] ({})", s.provenance.rule);
        let regimens = regimen_ids(f, &entry, &s.value.regimens)?;
        let phases = &s.value.phases;
        if phases.is_empty() {
            return Err(err(f, &entry, "needs at least one phase"));
        }
        let mut previous_end = 0u16;
        for (j, p) in phases.iter().enumerate() {
            let last = j + 1 == phases.len();
            if p.from_day <= previous_end || p.every_days == 0 {
                return Err(err(
                    f,
                    &entry,
                    format!(
                        "phases[{j}]: phases must start after the previous one and have every_days >= 1"
                    ),
                ));
            }
            match (p.to_day, last) {
                (Some(_), true) => {
                    return Err(err(f, &entry, "the last phase must be open (no to_day)"));
                }
                (None, false) => {
                    return Err(err(
                        f,
                        &entry,
                        format!("phases[{j}]: only the last phase may be open"),
                    ));
                }
                (Some(t), false) if t < p.from_day => {
                    return Err(err(
                        f,
                        &entry,
                        format!("phases[{j}]: to_day before from_day"),
                    ));
                }
                (Some(t), false) => previous_end = t,
                (None, true) => {}
            }
        }
        if phases[0].from_day != 1 {
            return Err(err(
                f,
                &entry,
                "the first phase must start on treatment day 1",
            ));
        }
        cbc.push((regimens, s));
    }
    for r in RegimenId::ALL {
        let n = cbc.iter().filter(|(rs, _)| rs.contains(&r)).count();
        if n != 1 {
            return Err(err(
                f,
                "cbc",
                format!("regimen {r} needs exactly one CBC schedule, found {n}"),
            ));
        }
    }
    let cbc_during_interruption = one::<Every>(ctx, &mut doc, "cbc_during_interruption")?;
    let mut periodic = Vec::new();
    for (i, s) in many::<PeriodicRule>(ctx, &mut doc, "periodic")?
        .into_iter()
        .enumerate()
    {
        let entry = format!("periodic[{i}] ({})", s.provenance.rule);
        if s.value.every_days == 0 {
            return Err(err(f, &entry, "every_days must be at least 1"));
        }
        periodic.push((regimen_ids(f, &entry, &s.value.regimens)?, s));
    }
    let due_soon = one::<Days>(ctx, &mut doc, "due_soon")?;
    no_leftovers(f, &doc)?;
    Ok(MonitoringRules {
        cbc,
        cbc_during_interruption,
        periodic,
        due_soon,
    })
}

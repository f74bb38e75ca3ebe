//! The rule pack as typed data. Every entry carries its [`Provenance`]; the engine reads numbers only from here.

use crate::dose::{DayWindow, DoseMg, Frequency, Schedule};
use crate::provenance::Provenance;
use crate::regimen::RegimenId;
use crate::units::{Analyte, HemoglobinUnit};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A validated rule pack.
#[derive(Debug, Clone, Serialize)]
pub struct RulePack {
    pub meta: PackMeta,
    pub sources: BTreeMap<String, SourceDoc>,
    pub population: Population,
    pub dex_reduction: DexReduction,
    pub regimens: Vec<Regimen>,
    pub dexamethasone: Vec<DexSchedule>,
    pub renal: RenalRules,
    pub ladders: Vec<Ladder>,
    pub count_rules: Vec<CountRule>,
    pub toxicity: ToxicityRules,
    pub ctcae: CtcaeRules,
    pub policy: Policy,
    pub monitoring: super::MonitoringRules,
    pub program: super::ProgramRules,
    pub interactions: super::InteractionRules,
    pub thromboprophylaxis: super::ThromboRules,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackMeta {
    pub id: String,
    pub version: String,
    pub title: String,
    pub label_version: String,
    pub effective_from: Date,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDoc {
    pub document: String,
    pub version_date: String,
    #[serde(default)]
    pub url: String,
}

/// Who the label covers.
#[derive(Debug, Clone, Serialize)]
pub struct Population {
    pub min_age_years: f64,
    pub provenance: Provenance,
}

/// Older patients may start on a reduced dexamethasone schedule.
#[derive(Debug, Clone, Serialize)]
pub struct DexReduction {
    pub older_than_years: f64,
    /// Schedules that are already the reduced ones.
    pub reduced_schedules: Vec<String>,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct Regimen {
    pub id: RegimenId,
    pub name: String,
    pub start: Schedule,
    pub renal_group: String,
    pub ladder: String,
    pub dexamethasone: Vec<String>,
    pub max_cycles: Option<u16>,
    pub start_requires_anc_at_least: Option<f64>,
    pub start_requires_platelets_at_least: Option<f64>,
    pub may_increase_after_cycles: Option<u16>,
    pub may_increase_to: Option<DoseMg>,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DexPhase {
    pub first_cycle: u16,
    #[serde(default)]
    pub last_cycle: Option<u16>,
    pub mg: f64,
    pub days: Vec<[u16; 2]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DexSchedule {
    pub id: String,
    pub description: String,
    pub phases: Vec<DexPhase>,
    pub provenance: Provenance,
}

impl DexSchedule {
    /// Dexamethasone milligrams in a given cycle (1-based), used by the VTE scores.
    pub fn mg_in_cycle(&self, cycle: u16) -> f64 {
        self.phases
            .iter()
            .filter(|p| cycle >= p.first_cycle && p.last_cycle.is_none_or(|l| cycle <= l))
            .map(|p| {
                p.mg * p
                    .days
                    .iter()
                    .map(|d| f64::from(d[1] - d[0] + 1))
                    .sum::<f64>()
            })
            .sum()
    }

    /// Is `day` of `cycle` a dexamethasone day?
    pub fn is_dose_day(&self, cycle: u16, day: u16) -> Option<f64> {
        self.phases
            .iter()
            .filter(|p| cycle >= p.first_cycle && p.last_cycle.is_none_or(|l| cycle <= l))
            .find(|p| p.days.iter().any(|d| (d[0]..=d[1]).contains(&day)))
            .map(|p| p.mg)
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RenalBand {
    /// CrCl 30 to < 60 mL/min.
    Moderate,
    /// CrCl < 30 mL/min, not on dialysis.
    Severe,
    /// On dialysis.
    Dialysis,
}

#[derive(Debug, Clone, Serialize)]
pub struct CockcroftGault {
    pub male_factor: f64,
    pub female_factor: f64,
    pub ibw_male_base_kg: f64,
    pub ibw_female_base_kg: f64,
    pub ibw_height_pivot_cm: f64,
    pub ibw_kg_per_cm: f64,
    pub adjusted_weight_factor: f64,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenalRow {
    pub group: String,
    pub band: RenalBand,
    /// Empty: every regimen of the group.
    pub regimens: Vec<RegimenId>,
    pub dose_mg: DoseMg,
    pub frequency: Frequency,
    pub after_dialysis: bool,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    pub text: String,
    pub groups: Vec<String>,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenalRules {
    pub cockcroft_gault: CockcroftGault,
    pub no_adjustment_at_least: f64,
    pub moderate_at_least: f64,
    pub bands_provenance: Provenance,
    pub not_studied_non_dialysis_below: f64,
    pub not_studied_dialysis_below: f64,
    pub not_studied_provenance: Provenance,
    pub rows: Vec<RenalRow>,
    pub escalation: Vec<Escalation>,
}

/// One level of a dose ladder. `days_on` and `frequency` override the regimen's when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub mg: DoseMg,
    #[serde(default)]
    pub days_on: Option<DayWindow>,
    #[serde(default)]
    pub frequency: Option<Frequency>,
}

impl Level {
    pub fn apply(self, base: Schedule) -> Schedule {
        Schedule {
            dose_mg: self.mg,
            days_on: self.days_on.unwrap_or(base.days_on),
            frequency: self.frequency.unwrap_or(base.frequency),
            ..base
        }
    }

    /// Does this level describe `schedule` (dose, and days/frequency where the level fixes them)?
    pub fn matches(self, schedule: &Schedule, regimen_days: DayWindow) -> bool {
        self.mg == schedule.dose_mg
            && self.days_on.unwrap_or(regimen_days) == schedule.days_on
            && self.frequency.unwrap_or(Frequency::OnceDaily) == schedule.frequency
    }
}

#[derive(Debug, Clone, Serialize)]
pub enum Steps {
    /// An explicit list of levels, highest first.
    Levels(Vec<Level>),
    /// "Resume at N mg less than the previous dose".
    StepDown(DoseMg),
}

#[derive(Debug, Clone, Serialize)]
pub struct Ladder {
    pub id: String,
    pub steps: Steps,
    pub floor: Level,
    pub provenance: Provenance,
    pub floor_provenance: Provenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BelowForDays {
    pub below: f64,
    pub days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BelowWithFever {
    pub below: f64,
    pub celsius: f64,
}

/// When a count rule applies. All given conditions must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    pub dose_mg: Option<DoseMg>,
    pub dose_mg_below: Option<DoseMg>,
    pub days_on_starting_dose_at_most: Option<i64>,
    pub days_on_starting_dose_more_than: Option<i64>,
    pub baseline_at_least: Option<f64>,
    pub baseline_below: Option<f64>,
}

impl When {
    pub fn needs_baseline(&self) -> bool {
        self.baseline_at_least.is_some() || self.baseline_below.is_some()
    }
    pub fn needs_days_on_starting_dose(&self) -> bool {
        self.days_on_starting_dose_at_most.is_some()
            || self.days_on_starting_dose_more_than.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    NextLower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstEpisodeResume {
    StartingDoseIfOnlyToxicity,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountRule {
    pub regimens: Vec<RegimenId>,
    pub analyte: Analyte,
    pub when: When,
    pub interrupt_below: Option<f64>,
    pub interrupt_below_for_days: Option<BelowForDays>,
    pub interrupt_below_with_fever: Option<BelowWithFever>,
    pub interrupt_below_with_transfusion: Option<f64>,
    pub interrupt_at_fraction_of_baseline: Option<f64>,
    pub resume_at_least: f64,
    pub resume: Resume,
    pub first_episode_resume: Option<FirstEpisodeResume>,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct TermRule {
    pub terms: Vec<String>,
    pub min_grade: u8,
    pub max_grade: u8,
    pub text: Option<String>,
    pub advisory: bool,
    pub resume_when_grade_at_most: Option<u8>,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct OtherGrade34 {
    pub resume_when_grade_at_most: u8,
    pub physician_discretion: bool,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToxicityRules {
    pub discontinue: Vec<TermRule>,
    pub hold: Vec<TermRule>,
    /// All versions; the newest is used.
    pub other_grade_3_4: Vec<OtherGrade34>,
    pub prior_thalidomide_grade_4_rash: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountGrading {
    pub term: String,
    pub analyte: Analyte,
    pub grade_2_below: f64,
    pub grade_3_below: f64,
    pub grade_4_below: f64,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct HemoglobinGrading {
    pub unit: HemoglobinUnit,
    pub grade_2_below: f64,
    pub grade_3_below: f64,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatinineGrading {
    pub grade_1_above_uln: f64,
    pub grade_2_above_uln: f64,
    pub grade_3_above_uln: f64,
    pub grade_4_above_uln: f64,
    pub grade_2_above_baseline: f64,
    pub grade_3_above_baseline: f64,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct CtcaeRules {
    pub counts: Vec<CountGrading>,
    pub hemoglobin: Vec<HemoglobinGrading>,
    pub creatinine: CreatinineGrading,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    pub fn contains(&self, v: f64) -> bool {
        v >= self.min && v <= self.max
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plausible {
    pub anc_per_ul: Range,
    pub platelets_per_ul: Range,
    pub wbc_per_ul: Range,
    pub hemoglobin_g_dl: Range,
    pub creatinine_mg_dl: Range,
    pub temperature_celsius: Range,
    pub weight_kg: Range,
    pub height_cm: Range,
    pub age_years: Range,
    pub crcl_ml_min: Range,
    pub provenance: Provenance,
}

impl Plausible {
    /// A body weight no patient has (a unit or typing mistake), refused naming `field`: every door that takes a
    /// weight (a snapshot, a stored measurement) holds it to the same range.
    pub fn check_weight_kg(&self, field: &str, w: f64) -> Result<(), crate::InputError> {
        if w.is_finite() && self.weight_kg.contains(w) {
            return Ok(());
        }
        Err(crate::InputError::invalid(
            field,
            w,
            format!(
                "a body weight from {} to {} kg",
                self.weight_kg.min, self.weight_kg.max
            ),
        ))
    }

    /// A height no patient has, refused naming `field`.
    pub fn check_height_cm(&self, field: &str, h: f64) -> Result<(), crate::InputError> {
        if h.is_finite() && self.height_cm.contains(h) {
            return Ok(());
        }
        Err(crate::InputError::invalid(
            field,
            h,
            format!(
                "a height from {} to {} cm",
                self.height_cm.min, self.height_cm.max
            ),
        ))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub cbc_max_age_start_or_resume_days: i64,
    pub cbc_max_age_on_treatment_days: i64,
    pub cbc_max_age_provenance: Provenance,
    pub creatinine_max_age_days: i64,
    pub creatinine_max_age_provenance: Provenance,
    pub plausible: Plausible,
}

impl RulePack {
    pub fn regimen(&self, id: RegimenId) -> &Regimen {
        // Validation guarantees one regimen per id.
        self.regimens
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| unreachable!("validated pack has every regimen"))
    }

    pub fn dex_schedule(&self, id: &str) -> Option<&DexSchedule> {
        self.dexamethasone.iter().find(|d| d.id == id)
    }

    /// The renal row for a regimen and band: the newest version, and the older versions that also apply.
    pub fn renal_row(
        &self,
        regimen: RegimenId,
        band: RenalBand,
    ) -> Option<(&RenalRow, Vec<&RenalRow>)> {
        let group = &self.regimen(regimen).renal_group;
        newest(
            self.renal
                .rows
                .iter()
                .filter(|r| &r.group == group && r.band == band)
                .filter(|r| r.regimens.is_empty() || r.regimens.contains(&regimen)),
            |r| &r.provenance,
        )
    }

    /// The dose ladder of a regimen: the newest version, and older ones.
    pub fn ladder(&self, regimen: RegimenId) -> (&Ladder, Vec<&Ladder>) {
        let id = &self.regimen(regimen).ladder;
        newest(self.ladders.iter().filter(|l| &l.id == id), |l| {
            &l.provenance
        })
        .unwrap_or_else(|| unreachable!("validated pack has every ladder"))
    }

    pub fn other_grade_3_4(&self) -> (&OtherGrade34, Vec<&OtherGrade34>) {
        newest(self.toxicity.other_grade_3_4.iter(), |o| &o.provenance)
            .unwrap_or_else(|| unreachable!("validated pack has the other-toxicity rule"))
    }

    /// Every provenance in the pack, for `rules list`.
    pub fn provenances(&self) -> Vec<&Provenance> {
        let mut all: Vec<&Provenance> =
            vec![&self.population.provenance, &self.dex_reduction.provenance];
        all.extend(self.regimens.iter().map(|r| &r.provenance));
        all.extend(self.dexamethasone.iter().map(|d| &d.provenance));
        all.push(&self.renal.cockcroft_gault.provenance);
        all.push(&self.renal.bands_provenance);
        all.push(&self.renal.not_studied_provenance);
        all.extend(self.renal.rows.iter().map(|r| &r.provenance));
        all.extend(self.renal.escalation.iter().map(|r| &r.provenance));
        for l in &self.ladders {
            all.push(&l.provenance);
            all.push(&l.floor_provenance);
        }
        all.extend(self.count_rules.iter().map(|r| &r.provenance));
        all.extend(self.toxicity.discontinue.iter().map(|r| &r.provenance));
        all.extend(self.toxicity.hold.iter().map(|r| &r.provenance));
        all.extend(self.toxicity.other_grade_3_4.iter().map(|r| &r.provenance));
        all.push(&self.toxicity.prior_thalidomide_grade_4_rash);
        all.extend(self.ctcae.counts.iter().map(|r| &r.provenance));
        all.extend(self.ctcae.hemoglobin.iter().map(|r| &r.provenance));
        all.push(&self.ctcae.creatinine.provenance);
        all.push(&self.policy.cbc_max_age_provenance);
        all.push(&self.policy.creatinine_max_age_provenance);
        all.push(&self.policy.plausible.provenance);
        all.extend(self.monitoring.provenances());
        all.extend(self.program.provenances());
        all.extend(self.interactions.provenances());
        all.extend(self.thromboprophylaxis.provenances());
        all
    }
}

/// Pick the entry with the newest version date; the rest are returned as alternatives, newest first.
fn newest<'a, T>(
    items: impl Iterator<Item = &'a T>,
    provenance: impl Fn(&T) -> &Provenance,
) -> Option<(&'a T, Vec<&'a T>)> {
    let mut all: Vec<&T> = items.collect();
    all.sort_by(|a, b| provenance(b).version_date.cmp(&provenance(a).version_date));
    let mut it = all.into_iter();
    let first = it.next()?;
    Some((first, it.collect()))
}

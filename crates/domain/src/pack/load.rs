//! Loading and validating a rule pack from its TOML files. Pure: the caller supplies the file contents.
//! A malformed pack is refused with an error that names the file and the entry.

use super::model::*;
use crate::dose::{DayWindow, DoseMg, Frequency, Schedule};
use crate::provenance::{Basis, Provenance, Status};
use crate::regimen::RegimenId;
use crate::units::{Analyte, HemoglobinUnit};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;
use toml::{Table, Value};

/// Why a pack was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}: {entry}: {message}")]
pub struct PackError {
    pub file: String,
    pub entry: String,
    pub message: String,
}

pub(super) fn err(file: &str, entry: impl Into<String>, message: impl Into<String>) -> PackError {
    PackError {
        file: file.to_string(),
        entry: entry.into(),
        message: message.into(),
    }
}

/// The files of a pack: `pack.toml` and the files it lists, by name.
pub type PackFiles<'a> = [(&'a str, &'a str)];

const PROVENANCE_KEYS: [&str; 7] = [
    "rule",
    "source",
    "section",
    "version_date",
    "basis",
    "status",
    "note",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    id: String,
    version: String,
    title: String,
    label_version: String,
    effective_from: String,
    files: Vec<String>,
    sources: BTreeMap<String, SourceDoc>,
}

pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    pub(super) sources: &'a BTreeMap<String, SourceDoc>,
}

impl Ctx<'_> {
    /// Split one entry into its provenance and the rest, then deserialize the rest strictly.
    pub(super) fn entry<T: DeserializeOwned>(
        &self,
        label: &str,
        mut table: Table,
    ) -> Result<(T, Provenance), PackError> {
        let name = table
            .get("rule")
            .or_else(|| table.get("id"))
            .and_then(Value::as_str)
            .map(|r| format!("{label} ({r})"))
            .unwrap_or_else(|| label.to_string());
        let mut prov = Table::new();
        for k in PROVENANCE_KEYS {
            if let Some(v) = table.remove(k) {
                prov.insert(k.to_string(), v);
            }
        }
        if let Some(id) = table.get("id") {
            prov.entry("rule").or_insert_with(|| id.clone());
        }
        let provenance = self.provenance(&name, prov)?;
        let body: T = T::deserialize(Value::Table(table))
            .map_err(|e| err(self.file, &name, e.to_string()))?;
        Ok((body, provenance))
    }

    fn provenance(&self, name: &str, prov: Table) -> Result<Provenance, PackError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            rule: String,
            source: String,
            section: String,
            #[serde(default)]
            version_date: Option<String>,
            basis: Basis,
            status: Status,
            #[serde(default)]
            note: Option<String>,
        }
        let raw = Raw::deserialize(Value::Table(prov))
            .map_err(|e| err(self.file, name, e.to_string()))?;
        let doc = self.sources.get(&raw.source).ok_or_else(|| {
            err(
                self.file,
                name,
                format!(
                    "source {:?} is not defined in pack.toml [sources]",
                    raw.source
                ),
            )
        })?;
        let version_date = raw.version_date.unwrap_or_else(|| doc.version_date.clone());
        check_version_date(&version_date).map_err(|m| err(self.file, name, m))?;
        if raw.status == Status::Unverified && raw.note.is_none() && raw.basis != Basis::Policy {
            // An unverified rule must say why, so that the output can tell the reader.
            if !matches!(raw.basis, Basis::Label | Basis::Program) {
                return Err(err(
                    self.file,
                    name,
                    "an unverified rule needs a `note` saying why",
                ));
            }
        }
        if raw.section.trim().is_empty() {
            return Err(err(self.file, name, "`section` is empty"));
        }
        Ok(Provenance::new(crate::provenance::RuleSource {
            rule: raw.rule,
            document: doc.document.clone(),
            section: raw.section,
            version_date,
            basis: raw.basis,
            status: raw.status,
            note: raw.note,
        }))
    }
}

fn check_version_date(s: &str) -> Result<(), String> {
    let ok = match s.len() {
        4 => s.chars().all(|c| c.is_ascii_digit()),
        7 => {
            s.parse::<jiff::civil::Date>().is_err()
                && format!("{s}-01").parse::<jiff::civil::Date>().is_ok()
        }
        10 => s.parse::<jiff::civil::Date>().is_ok(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "version_date {s:?} is not YYYY, YYYY-MM or YYYY-MM-DD"
        ))
    }
}

pub(super) fn tables(file: &str, doc: &mut Table, key: &str) -> Result<Vec<Table>, PackError> {
    match doc.remove(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Table(t) => Ok(t),
                _ => Err(err(file, format!("{key}[{i}]"), "expected a table")),
            })
            .collect(),
        Some(_) => Err(err(file, key, "expected an array of tables ([[...]])")),
    }
}

pub(super) fn table(file: &str, doc: &mut Table, key: &str) -> Result<Table, PackError> {
    match doc.remove(key) {
        Some(Value::Table(t)) => Ok(t),
        Some(_) => Err(err(file, key, "expected a table")),
        None => Err(err(file, key, "missing section")),
    }
}

pub(super) fn no_leftovers(file: &str, doc: &Table) -> Result<(), PackError> {
    match doc.keys().next() {
        Some(k) => Err(err(file, k.as_str(), "unknown section")),
        None => Ok(()),
    }
}

pub(super) fn regimen_ids(
    file: &str,
    entry: &str,
    names: &[String],
) -> Result<Vec<RegimenId>, PackError> {
    names
        .iter()
        .map(|n| {
            RegimenId::parse(n).ok_or_else(|| {
                err(
                    file,
                    entry,
                    format!("unknown regimen {n:?}; expected {}", RegimenId::ACCEPTED),
                )
            })
        })
        .collect()
}

/// Parse and validate a pack from its files.
pub fn load(files: &PackFiles<'_>) -> Result<RulePack, PackError> {
    let get = |name: &str| -> Result<Table, PackError> {
        let text = files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| err(name, "file", "listed in pack.toml but not found"))?;
        text.parse::<Table>()
            .map_err(|e| err(name, "syntax", e.to_string()))
    };
    let meta_table = get("pack.toml")?;
    let meta: RawMeta = RawMeta::deserialize(Value::Table(meta_table))
        .map_err(|e| err("pack.toml", "pack", e.to_string()))?;
    for (key, s) in &meta.sources {
        check_version_date(&s.version_date)
            .map_err(|m| err("pack.toml", format!("sources.{key}"), m))?;
    }
    let effective_from = meta
        .effective_from
        .parse()
        .map_err(|_| err("pack.toml", "effective_from", "expected a date YYYY-MM-DD"))?;
    let expected: BTreeSet<&str> = [
        "regimens.toml",
        "renal.toml",
        "modifications.toml",
        "toxicity.toml",
        "ctcae.toml",
        "policy.toml",
        "monitoring.toml",
        "program.toml",
        "interactions.toml",
        "thromboprophylaxis.toml",
    ]
    .into();
    let listed: BTreeSet<&str> = meta.files.iter().map(String::as_str).collect();
    if let Some(missing) = expected.difference(&listed).next() {
        return Err(err("pack.toml", "files", format!("{missing} is required")));
    }
    let sources = &meta.sources;

    let (regimens, dexamethasone, population, dex_reduction) = regimens(
        &Ctx {
            file: "regimens.toml",
            sources,
        },
        get("regimens.toml")?,
    )?;
    let renal = renal(
        &Ctx {
            file: "renal.toml",
            sources,
        },
        get("renal.toml")?,
    )?;
    let (ladders, count_rules) = modifications(
        &Ctx {
            file: "modifications.toml",
            sources,
        },
        get("modifications.toml")?,
    )?;
    let toxicity = toxicity(
        &Ctx {
            file: "toxicity.toml",
            sources,
        },
        get("toxicity.toml")?,
    )?;
    let ctcae = ctcae(
        &Ctx {
            file: "ctcae.toml",
            sources,
        },
        get("ctcae.toml")?,
    )?;
    let policy = policy(
        &Ctx {
            file: "policy.toml",
            sources,
        },
        get("policy.toml")?,
    )?;

    let safety = super::safety_rules::load(sources, &get)?;
    let pack = RulePack {
        meta: PackMeta {
            id: meta.id.clone(),
            version: meta.version.clone(),
            title: meta.title.clone(),
            label_version: meta.label_version.clone(),
            effective_from,
        },
        sources: meta.sources.clone(),
        population,
        dex_reduction,
        regimens,
        dexamethasone,
        renal,
        ladders,
        count_rules,
        toxicity,
        ctcae,
        policy,
        monitoring: safety.monitoring,
        program: safety.program,
        interactions: safety.interactions,
        thromboprophylaxis: safety.thromboprophylaxis,
    };
    cross_check(&pack)?;
    super::safety_rules::cross_check(&pack)?;
    Ok(pack)
}

type RegimenSections = (Vec<Regimen>, Vec<DexSchedule>, Population, DexReduction);

fn regimens(ctx: &Ctx<'_>, mut doc: Table) -> Result<RegimenSections, PackError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawPopulation {
        min_age_years: f64,
    }
    let (pop, pop_prov): (RawPopulation, _) =
        ctx.entry("population", table(ctx.file, &mut doc, "population")?)?;
    let population = Population {
        min_age_years: pop.min_age_years,
        provenance: pop_prov,
    };
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawDexReduction {
        older_than_years: f64,
        reduced_schedules: Vec<String>,
    }
    let (red, red_prov): (RawDexReduction, _) = ctx.entry(
        "dexamethasone_reduction",
        table(ctx.file, &mut doc, "dexamethasone_reduction")?,
    )?;
    let dex_reduction = DexReduction {
        older_than_years: red.older_than_years,
        reduced_schedules: red.reduced_schedules,
        provenance: red_prov,
    };
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        #[allow(dead_code)]
        id: String,
        name: String,
        dose_mg: f64,
        days_on: [u16; 2],
        cycle_days: u16,
        renal_group: String,
        ladder: String,
        #[serde(default)]
        dexamethasone: Vec<String>,
        #[serde(default)]
        max_cycles: Option<u16>,
        #[serde(default)]
        start_requires_anc_at_least: Option<f64>,
        #[serde(default)]
        start_requires_platelets_at_least: Option<f64>,
        #[serde(default)]
        may_increase_after_cycles: Option<u16>,
        #[serde(default)]
        may_increase_to_mg: Option<f64>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawDex {
        #[allow(dead_code)]
        id: String,
        description: String,
        phases: Vec<DexPhase>,
    }
    let mut regimens = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "regimen")?
        .into_iter()
        .enumerate()
    {
        let label = format!("regimen[{i}]");
        let (raw, provenance): (Raw, _) = ctx.entry(&label, t)?;
        let name = format!("{label} ({})", provenance.rule);
        let id = RegimenId::parse(&provenance.rule).ok_or_else(|| {
            err(
                ctx.file,
                &name,
                format!("unknown regimen id; expected {}", RegimenId::ACCEPTED),
            )
        })?;
        let dose = DoseMg::parse(raw.dose_mg).map_err(|e| err(ctx.file, &name, e.to_string()))?;
        let days_on =
            DayWindow::try_from(raw.days_on).map_err(|e| err(ctx.file, &name, e.to_string()))?;
        let start = Schedule {
            dose_mg: dose,
            frequency: Frequency::OnceDaily,
            after_dialysis: false,
            days_on,
            cycle_days: raw.cycle_days,
        };
        start
            .validate()
            .map_err(|e| err(ctx.file, &name, e.to_string()))?;
        let may_increase_to = raw
            .may_increase_to_mg
            .map(DoseMg::parse)
            .transpose()
            .map_err(|e| err(ctx.file, &name, e.to_string()))?;
        if regimens.iter().any(|r: &Regimen| r.id == id) {
            return Err(err(ctx.file, &name, "regimen defined twice"));
        }
        regimens.push(Regimen {
            id,
            name: raw.name,
            start,
            renal_group: raw.renal_group,
            ladder: raw.ladder,
            dexamethasone: raw.dexamethasone,
            max_cycles: raw.max_cycles,
            start_requires_anc_at_least: raw.start_requires_anc_at_least,
            start_requires_platelets_at_least: raw.start_requires_platelets_at_least,
            may_increase_after_cycles: raw.may_increase_after_cycles,
            may_increase_to,
            provenance,
        });
    }
    for id in RegimenId::ALL {
        if !regimens.iter().any(|r| r.id == id) {
            return Err(err(ctx.file, "regimen", format!("regimen {id} is missing")));
        }
    }
    let mut dex = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "dexamethasone")?
        .into_iter()
        .enumerate()
    {
        let label = format!("dexamethasone[{i}]");
        let (raw, provenance): (RawDex, _) = ctx.entry(&label, t)?;
        for p in &raw.phases {
            if p.mg <= 0.0 || p.days.iter().any(|d| d[0] < 1 || d[0] > d[1] || d[1] > 28) {
                return Err(err(
                    ctx.file,
                    format!("{label} ({})", provenance.rule),
                    "a phase has an invalid dose or day range",
                ));
            }
        }
        dex.push(DexSchedule {
            id: provenance.rule.clone(),
            description: raw.description,
            phases: raw.phases,
            provenance,
        });
    }
    no_leftovers(ctx.file, &doc)?;
    for r in &regimens {
        for d in &r.dexamethasone {
            if !dex.iter().any(|x| &x.id == d) {
                return Err(err(
                    ctx.file,
                    format!("regimen ({})", r.id),
                    format!("dexamethasone schedule {d:?} is not defined"),
                ));
            }
        }
    }
    for id in &dex_reduction.reduced_schedules {
        if !dex.iter().any(|x| &x.id == id) {
            return Err(err(
                ctx.file,
                "dexamethasone_reduction",
                format!("schedule {id:?} is not defined"),
            ));
        }
    }
    Ok((regimens, dex, population, dex_reduction))
}

fn renal(ctx: &Ctx<'_>, mut doc: Table) -> Result<RenalRules, PackError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawCg {
        male_factor: f64,
        female_factor: f64,
        ibw_male_base_kg: f64,
        ibw_female_base_kg: f64,
        ibw_height_pivot_cm: f64,
        ibw_kg_per_cm: f64,
        adjusted_weight_factor: f64,
        default_weight_basis: String,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawBands {
        no_adjustment_at_least: f64,
        moderate_at_least: f64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawNotStudied {
        non_dialysis_below: f64,
        dialysis_below: f64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawRow {
        group: String,
        band: RenalBand,
        #[serde(default)]
        indications: Vec<String>,
        dose_mg: f64,
        frequency: Frequency,
        #[serde(default)]
        after_dialysis: bool,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawEsc {
        text: String,
        groups: Vec<String>,
    }
    let mut cg_t = table(ctx.file, &mut doc, "cockcroft_gault")?;
    cg_t.insert("rule".into(), Value::String("renal.cockcroft_gault".into()));
    let (cg, cg_prov): (RawCg, _) = ctx.entry("cockcroft_gault", cg_t)?;
    if cg.default_weight_basis != "actual" {
        return Err(err(
            ctx.file,
            "cockcroft_gault",
            "default_weight_basis must be \"actual\"",
        ));
    }
    if [
        cg.male_factor,
        cg.female_factor,
        cg.ibw_male_base_kg,
        cg.ibw_female_base_kg,
        cg.ibw_height_pivot_cm,
        cg.ibw_kg_per_cm,
    ]
    .iter()
    .any(|v| *v <= 0.0)
        || !(0.0..=1.0).contains(&cg.adjusted_weight_factor)
    {
        return Err(err(
            ctx.file,
            "cockcroft_gault",
            "factors must be positive (adjusted_weight_factor within 0..1)",
        ));
    }
    let mut bands_t = table(ctx.file, &mut doc, "bands")?;
    bands_t.insert("rule".into(), Value::String("renal.bands".into()));
    let (bands, bands_prov): (RawBands, _) = ctx.entry("bands", bands_t)?;
    if !(bands.moderate_at_least > 0.0 && bands.moderate_at_least < bands.no_adjustment_at_least) {
        return Err(err(
            ctx.file,
            "bands",
            "need 0 < moderate_at_least < no_adjustment_at_least",
        ));
    }
    let mut ns_t = table(ctx.file, &mut doc, "not_studied")?;
    ns_t.insert("rule".into(), Value::String("renal.not_studied".into()));
    let (ns, ns_prov): (RawNotStudied, _) = ctx.entry("not_studied", ns_t)?;
    let mut rows: Vec<RenalRow> = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "row")?.into_iter().enumerate() {
        let label = format!("row[{i}]");
        let (raw, provenance): (RawRow, _) = ctx.entry(&label, t)?;
        let name = format!("{label} ({})", provenance.rule);
        let dose_mg =
            DoseMg::parse(raw.dose_mg).map_err(|e| err(ctx.file, &name, e.to_string()))?;
        if raw.after_dialysis && raw.band != RenalBand::Dialysis {
            return Err(err(
                ctx.file,
                &name,
                "after_dialysis is only meaningful in the dialysis band",
            ));
        }
        let regimens = regimen_ids(ctx.file, &name, &raw.indications)?;
        if rows.iter().any(|r| {
            r.provenance.rule == provenance.rule
                && r.provenance.version_date == provenance.version_date
                && r.regimens == regimens
        }) {
            return Err(err(
                ctx.file,
                &name,
                "two versions of one rule share a version_date",
            ));
        }
        rows.push(RenalRow {
            group: raw.group,
            band: raw.band,
            regimens,
            dose_mg,
            frequency: raw.frequency,
            after_dialysis: raw.after_dialysis,
            provenance,
        });
    }
    let mut escalation = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "escalation")?
        .into_iter()
        .enumerate()
    {
        let (raw, provenance): (RawEsc, _) = ctx.entry(&format!("escalation[{i}]"), t)?;
        escalation.push(Escalation {
            text: raw.text,
            groups: raw.groups,
            provenance,
        });
    }
    no_leftovers(ctx.file, &doc)?;
    Ok(RenalRules {
        cockcroft_gault: CockcroftGault {
            male_factor: cg.male_factor,
            female_factor: cg.female_factor,
            ibw_male_base_kg: cg.ibw_male_base_kg,
            ibw_female_base_kg: cg.ibw_female_base_kg,
            ibw_height_pivot_cm: cg.ibw_height_pivot_cm,
            ibw_kg_per_cm: cg.ibw_kg_per_cm,
            adjusted_weight_factor: cg.adjusted_weight_factor,
            provenance: cg_prov,
        },
        no_adjustment_at_least: bands.no_adjustment_at_least,
        moderate_at_least: bands.moderate_at_least,
        bands_provenance: bands_prov,
        not_studied_non_dialysis_below: ns.non_dialysis_below,
        not_studied_dialysis_below: ns.dialysis_below,
        not_studied_provenance: ns_prov,
        rows,
        escalation,
    })
}

fn modifications(
    ctx: &Ctx<'_>,
    mut doc: Table,
) -> Result<(Vec<Ladder>, Vec<CountRule>), PackError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawLadder {
        id: String,
        #[serde(default)]
        levels: Option<Vec<Level>>,
        #[serde(default)]
        step_down_mg: Option<f64>,
        floor: Table,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawCount {
        regimens: Vec<String>,
        analyte: Analyte,
        #[serde(default)]
        when: When,
        #[serde(default)]
        interrupt_below: Option<f64>,
        #[serde(default)]
        interrupt_below_for_days: Option<BelowForDays>,
        #[serde(default)]
        interrupt_below_with_fever: Option<BelowWithFever>,
        #[serde(default)]
        interrupt_below_with_transfusion: Option<f64>,
        #[serde(default)]
        interrupt_at_fraction_of_baseline: Option<f64>,
        resume_at_least: f64,
        resume: Resume,
        #[serde(default)]
        first_episode_resume: Option<FirstEpisodeResume>,
    }
    let mut ladders: Vec<Ladder> = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "ladder")?
        .into_iter()
        .enumerate()
    {
        let label = format!("ladder[{i}]");
        let (mut raw, provenance): (RawLadder, _) = ctx.entry(&label, t)?;
        let name = format!("{label} ({})", provenance.rule);
        let (floor, floor_provenance): (Level, _) =
            ctx.entry(&format!("{name}.floor"), std::mem::take(&mut raw.floor))?;
        let steps = match (raw.levels, raw.step_down_mg) {
            (Some(levels), None) => {
                if levels.len() < 2 {
                    return Err(err(ctx.file, &name, "a ladder needs at least two levels"));
                }
                for w in levels.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let lower = b.mg < a.mg
                        || (b.mg == a.mg
                            && (b.days_on.is_some() || b.frequency.is_some())
                            && a != b);
                    if !lower {
                        return Err(err(
                            ctx.file,
                            &name,
                            format!("levels must go down: {} then {}", a.mg, b.mg),
                        ));
                    }
                }
                if levels.last() != Some(&floor) {
                    return Err(err(ctx.file, &name, "the floor must be the last level"));
                }
                Steps::Levels(levels)
            }
            (None, Some(step)) => Steps::StepDown(
                DoseMg::parse(step).map_err(|e| err(ctx.file, &name, e.to_string()))?,
            ),
            _ => {
                return Err(err(
                    ctx.file,
                    &name,
                    "give exactly one of `levels` or `step_down_mg`",
                ));
            }
        };
        ladders.push(Ladder {
            id: raw.id,
            steps,
            floor,
            provenance,
            floor_provenance,
        });
    }
    let mut rules = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "count_rule")?
        .into_iter()
        .enumerate()
    {
        let label = format!("count_rule[{i}]");
        let (raw, provenance): (RawCount, _) = ctx.entry(&label, t)?;
        let name = format!("{label} ({})", provenance.rule);
        if !matches!(raw.analyte, Analyte::Anc | Analyte::Platelets) {
            return Err(err(
                ctx.file,
                &name,
                "count rules apply to anc or platelets",
            ));
        }
        let any_interrupt = raw.interrupt_below.is_some()
            || raw.interrupt_below_for_days.is_some()
            || raw.interrupt_below_with_fever.is_some()
            || raw.interrupt_below_with_transfusion.is_some()
            || raw.interrupt_at_fraction_of_baseline.is_some();
        if !any_interrupt {
            return Err(err(ctx.file, &name, "no interrupt condition"));
        }
        if raw.resume_at_least <= 0.0
            || raw.interrupt_below.is_some_and(|b| b > raw.resume_at_least)
        {
            return Err(err(
                ctx.file,
                &name,
                "resume_at_least must be positive and not below interrupt_below",
            ));
        }
        if raw
            .interrupt_at_fraction_of_baseline
            .is_some_and(|f| !(0.0..1.0).contains(&f))
        {
            return Err(err(
                ctx.file,
                &name,
                "interrupt_at_fraction_of_baseline must be within 0..1",
            ));
        }
        if raw.interrupt_at_fraction_of_baseline.is_some() && !raw.when.needs_baseline() {
            return Err(err(
                ctx.file,
                &name,
                "a baseline fraction needs a baseline condition in `when`",
            ));
        }
        rules.push(CountRule {
            regimens: regimen_ids(ctx.file, &name, &raw.regimens)?,
            analyte: raw.analyte,
            when: raw.when,
            interrupt_below: raw.interrupt_below,
            interrupt_below_for_days: raw.interrupt_below_for_days,
            interrupt_below_with_fever: raw.interrupt_below_with_fever,
            interrupt_below_with_transfusion: raw.interrupt_below_with_transfusion,
            interrupt_at_fraction_of_baseline: raw.interrupt_at_fraction_of_baseline,
            resume_at_least: raw.resume_at_least,
            resume: raw.resume,
            first_episode_resume: raw.first_episode_resume,
            provenance,
        });
    }
    no_leftovers(ctx.file, &doc)?;
    Ok((ladders, rules))
}

fn toxicity(ctx: &Ctx<'_>, mut doc: Table) -> Result<ToxicityRules, PackError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawTerm {
        terms: Vec<String>,
        #[serde(default)]
        min_grade: Option<u8>,
        #[serde(default)]
        max_grade: Option<u8>,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        advisory: bool,
        #[serde(default)]
        resume_when_grade_at_most: Option<u8>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawOther {
        resume_when_grade_at_most: u8,
        resume: Resume,
        physician_discretion: bool,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    let term_rules = |doc: &mut Table, key: &str| -> Result<Vec<TermRule>, PackError> {
        let mut out = Vec::new();
        for (i, t) in tables(ctx.file, doc, key)?.into_iter().enumerate() {
            let label = format!("{key}[{i}]");
            let (raw, provenance): (RawTerm, _) = ctx.entry(&label, t)?;
            let min_grade = raw.min_grade.unwrap_or(1);
            let max_grade = raw.max_grade.unwrap_or(5);
            if raw.terms.is_empty()
                || !(1..=5).contains(&min_grade)
                || !(min_grade..=5).contains(&max_grade)
            {
                return Err(err(
                    ctx.file,
                    format!("{label} ({})", provenance.rule),
                    "needs terms and grades within 1..5",
                ));
            }
            for term in &raw.terms {
                if !crate::snapshot::AdverseEventTerm::KNOWN.contains(&term.as_str()) {
                    return Err(err(
                        ctx.file,
                        format!("{label} ({})", provenance.rule),
                        format!("unknown term {term:?}"),
                    ));
                }
            }
            out.push(TermRule {
                terms: raw.terms,
                min_grade,
                max_grade,
                text: raw.text,
                advisory: raw.advisory,
                resume_when_grade_at_most: raw.resume_when_grade_at_most,
                provenance,
            });
        }
        Ok(out)
    };
    let discontinue = term_rules(&mut doc, "discontinue")?;
    let hold = term_rules(&mut doc, "hold")?;
    let mut other = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "other_grade_3_4")?
        .into_iter()
        .enumerate()
    {
        let (raw, provenance): (RawOther, _) = ctx.entry(&format!("other_grade_3_4[{i}]"), t)?;
        let _ = raw.resume;
        other.push(OtherGrade34 {
            resume_when_grade_at_most: raw.resume_when_grade_at_most,
            physician_discretion: raw.physician_discretion,
            provenance,
        });
    }
    if other.is_empty() {
        return Err(err(ctx.file, "other_grade_3_4", "missing"));
    }
    let (_, prior): (Empty, _) = ctx.entry(
        "prior_thalidomide_grade_4_rash",
        table(ctx.file, &mut doc, "prior_thalidomide_grade_4_rash")?,
    )?;
    no_leftovers(ctx.file, &doc)?;
    Ok(ToxicityRules {
        discontinue,
        hold,
        other_grade_3_4: other,
        prior_thalidomide_grade_4_rash: prior,
    })
}

fn ctcae(ctx: &Ctx<'_>, mut doc: Table) -> Result<CtcaeRules, PackError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawCount {
        term: String,
        analyte: Analyte,
        grade_2_below: f64,
        grade_3_below: f64,
        grade_4_below: f64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawHgb {
        unit: HemoglobinUnit,
        grade_2_below: f64,
        grade_3_below: f64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawCr {
        grade_1_above_uln: f64,
        grade_2_above_uln: f64,
        grade_3_above_uln: f64,
        grade_4_above_uln: f64,
        grade_2_above_baseline: f64,
        grade_3_above_baseline: f64,
    }
    let mut counts = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "count")?.into_iter().enumerate() {
        let label = format!("count[{i}]");
        let (r, provenance): (RawCount, _) = ctx.entry(&label, t)?;
        if !(r.analyte.is_count()
            && r.grade_2_below > r.grade_3_below
            && r.grade_3_below > r.grade_4_below
            && r.grade_4_below > 0.0)
        {
            return Err(err(
                ctx.file,
                format!("{label} ({})", provenance.rule),
                "thresholds must fall: grade 2 > grade 3 > grade 4 > 0, for a count",
            ));
        }
        counts.push(CountGrading {
            term: r.term,
            analyte: r.analyte,
            grade_2_below: r.grade_2_below,
            grade_3_below: r.grade_3_below,
            grade_4_below: r.grade_4_below,
            provenance,
        });
    }
    let mut hemoglobin = Vec::new();
    for (i, t) in tables(ctx.file, &mut doc, "hemoglobin")?
        .into_iter()
        .enumerate()
    {
        let label = format!("hemoglobin[{i}]");
        let (r, provenance): (RawHgb, _) = ctx.entry(&label, t)?;
        if !(r.grade_2_below > r.grade_3_below && r.grade_3_below > 0.0) {
            return Err(err(
                ctx.file,
                format!("{label} ({})", provenance.rule),
                "thresholds must fall",
            ));
        }
        hemoglobin.push(HemoglobinGrading {
            unit: r.unit,
            grade_2_below: r.grade_2_below,
            grade_3_below: r.grade_3_below,
            provenance,
        });
    }
    for a in [Analyte::Anc, Analyte::Platelets, Analyte::Wbc] {
        if counts.iter().filter(|c| c.analyte == a).count() != 1 {
            return Err(err(
                ctx.file,
                "count",
                format!("exactly one grading for {a} is required"),
            ));
        }
    }
    for u in [
        HemoglobinUnit::GramsPerDecilitre,
        HemoglobinUnit::GramsPerLitre,
        HemoglobinUnit::MillimolesPerLitre,
    ] {
        if hemoglobin.iter().filter(|h| h.unit == u).count() != 1 {
            return Err(err(
                ctx.file,
                "hemoglobin",
                format!("exactly one grading for {} is required", u.as_str()),
            ));
        }
    }
    let (r, provenance): (RawCr, _) =
        ctx.entry("creatinine", table(ctx.file, &mut doc, "creatinine")?)?;
    if !(r.grade_1_above_uln < r.grade_2_above_uln
        && r.grade_2_above_uln < r.grade_3_above_uln
        && r.grade_3_above_uln < r.grade_4_above_uln
        && r.grade_2_above_baseline < r.grade_3_above_baseline)
    {
        return Err(err(
            ctx.file,
            "creatinine",
            "multiples must rise with the grade",
        ));
    }
    no_leftovers(ctx.file, &doc)?;
    Ok(CtcaeRules {
        counts,
        hemoglobin,
        creatinine: CreatinineGrading {
            grade_1_above_uln: r.grade_1_above_uln,
            grade_2_above_uln: r.grade_2_above_uln,
            grade_3_above_uln: r.grade_3_above_uln,
            grade_4_above_uln: r.grade_4_above_uln,
            grade_2_above_baseline: r.grade_2_above_baseline,
            grade_3_above_baseline: r.grade_3_above_baseline,
            provenance,
        },
    })
}

fn policy(ctx: &Ctx<'_>, mut doc: Table) -> Result<Policy, PackError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawCbc {
        start_or_resume_days: i64,
        on_treatment_days: i64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawDays {
        days: i64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawPlausible {
        anc_per_ul: [f64; 2],
        platelets_per_ul: [f64; 2],
        wbc_per_ul: [f64; 2],
        hemoglobin_g_dl: [f64; 2],
        creatinine_mg_dl: [f64; 2],
        temperature_celsius: [f64; 2],
        weight_kg: [f64; 2],
        height_cm: [f64; 2],
        age_years: [f64; 2],
        crcl_ml_min: [f64; 2],
    }
    let (cbc, cbc_prov): (RawCbc, _) =
        ctx.entry("cbc_max_age", table(ctx.file, &mut doc, "cbc_max_age")?)?;
    let (cr, cr_prov): (RawDays, _) = ctx.entry(
        "creatinine_max_age",
        table(ctx.file, &mut doc, "creatinine_max_age")?,
    )?;
    let (p, p_prov): (RawPlausible, _) =
        ctx.entry("plausible", table(ctx.file, &mut doc, "plausible")?)?;
    if cbc.start_or_resume_days < 1
        || cbc.on_treatment_days < cbc.start_or_resume_days
        || cr.days < 1
    {
        return Err(err(
            ctx.file,
            "cbc_max_age",
            "ages must be positive, on-treatment at least the interrupted limit",
        ));
    }
    let range = |name: &str, r: [f64; 2]| -> Result<Range, PackError> {
        if r[0] <= r[1] && r[0] >= 0.0 {
            Ok(Range {
                min: r[0],
                max: r[1],
            })
        } else {
            Err(err(
                ctx.file,
                format!("plausible.{name}"),
                "expected [min, max] with 0 <= min <= max",
            ))
        }
    };
    no_leftovers(ctx.file, &doc)?;
    Ok(Policy {
        cbc_max_age_start_or_resume_days: cbc.start_or_resume_days,
        cbc_max_age_on_treatment_days: cbc.on_treatment_days,
        cbc_max_age_provenance: cbc_prov,
        creatinine_max_age_days: cr.days,
        creatinine_max_age_provenance: cr_prov,
        plausible: Plausible {
            anc_per_ul: range("anc_per_ul", p.anc_per_ul)?,
            platelets_per_ul: range("platelets_per_ul", p.platelets_per_ul)?,
            wbc_per_ul: range("wbc_per_ul", p.wbc_per_ul)?,
            hemoglobin_g_dl: range("hemoglobin_g_dl", p.hemoglobin_g_dl)?,
            creatinine_mg_dl: range("creatinine_mg_dl", p.creatinine_mg_dl)?,
            temperature_celsius: range("temperature_celsius", p.temperature_celsius)?,
            weight_kg: range("weight_kg", p.weight_kg)?,
            height_cm: range("height_cm", p.height_cm)?,
            age_years: range("age_years", p.age_years)?,
            crcl_ml_min: range("crcl_ml_min", p.crcl_ml_min)?,
            provenance: p_prov,
        },
    })
}

/// Checks across files: every regimen's renal column, ladder and count rules exist.
fn cross_check(pack: &RulePack) -> Result<(), PackError> {
    for r in &pack.regimens {
        let name = format!("regimen ({})", r.id);
        for band in [RenalBand::Moderate, RenalBand::Severe, RenalBand::Dialysis] {
            if pack.renal_row(r.id, band).is_none() {
                return Err(err(
                    "renal.toml",
                    &name,
                    format!("no renal row for group {:?} band {band:?}", r.renal_group),
                ));
            }
        }
        if !pack.ladders.iter().any(|l| l.id == r.ladder) {
            return Err(err(
                "regimens.toml",
                &name,
                format!("ladder {:?} is not defined in modifications.toml", r.ladder),
            ));
        }
        for a in [Analyte::Anc, Analyte::Platelets] {
            if !pack
                .count_rules
                .iter()
                .any(|c| c.analyte == a && c.regimens.contains(&r.id))
            {
                return Err(err(
                    "modifications.toml",
                    &name,
                    format!("no count rule for {a}"),
                ));
            }
        }
        if let Steps::Levels(levels) = &pack.ladder(r.id).0.steps {
            let top = levels[0].apply(r.start);
            if levels[0].mg < r.start.dose_mg && r.may_increase_to.is_none_or(|m| m != levels[0].mg)
            {
                return Err(err(
                    "modifications.toml",
                    &name,
                    format!("ladder starts at {} below the starting dose", top.dose_mg),
                ));
            }
        }
    }
    Ok(())
}

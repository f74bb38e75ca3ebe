//! `thromboprophylaxis.toml`: IMPEDE VTE, SAVED and the IMWG 2008 model (scores-criteria.md §0-§3).

use super::PackError;
use super::load::{Ctx, err, no_leftovers};
use super::sourced::{Sourced, choose, many, one};
use crate::provenance::Provenance;
use crate::thrombo::Factor;
use serde::{Deserialize, Serialize};
use toml::Table;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    pub factor: Factor,
    pub points: i32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DexWindow {
    pub days: u16,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpedeBands {
    pub low_at_most: i32,
    pub intermediate_at_most: i32,
    pub dex_high_above_mg: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedBands {
    pub high_at_least: i32,
    pub surgery_within_days: i64,
    pub dex_standard_from_mg: f64,
    pub dex_high_above_mg: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imwg {
    pub aspirin_if_factors_at_most: u32,
    pub high_dose_dex_from_mg: f64,
    pub count_myeloma_diagnosis: bool,
    pub surgery_recent_days: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Obesity {
    pub bmi_above: f64,
    pub inclusive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    pub lower: String,
    pub higher: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

#[derive(Debug, Clone, Serialize)]
pub struct ThromboRules {
    pub dex_window: Sourced<DexWindow>,
    pub impede: Vec<Sourced<Weight>>,
    pub impede_bands: Sourced<ImpedeBands>,
    pub saved: Vec<Sourced<Weight>>,
    pub saved_bands: Sourced<SavedBands>,
    pub imwg: Sourced<Imwg>,
    pub imwg_obesity: Vec<Sourced<Obesity>>,
    pub recommendation: Sourced<Recommendation>,
    pub asco: Sourced<Text>,
    pub boxed_warning: Sourced<Nothing>,
    /// The weight in force for each factor and its alternatives, as indices into `impede` and `saved`: chosen once
    /// at load, because `assess` asks for them on every call.
    #[serde(skip)]
    impede_chosen: Vec<(usize, Vec<usize>)>,
    #[serde(skip)]
    saved_chosen: Vec<(usize, Vec<usize>)>,
}

impl ThromboRules {
    /// The weight in force for each IMPEDE factor, with the alternatives it was chosen over.
    pub fn impede_weights(&self) -> Vec<(&Sourced<Weight>, Vec<&Sourced<Weight>>)> {
        resolve(&self.impede, &self.impede_chosen)
    }

    pub fn saved_weights(&self) -> Vec<(&Sourced<Weight>, Vec<&Sourced<Weight>>)> {
        resolve(&self.saved, &self.saved_chosen)
    }

    pub fn obesity(&self) -> (&Sourced<Obesity>, Vec<&Sourced<Obesity>>) {
        choose(&self.imwg_obesity)
            .unwrap_or_else(|| unreachable!("validated pack has the obesity rule"))
    }

    pub fn provenances(&self) -> Vec<&Provenance> {
        let mut all = vec![
            &self.dex_window.provenance,
            &self.impede_bands.provenance,
            &self.saved_bands.provenance,
            &self.imwg.provenance,
            &self.recommendation.provenance,
            &self.asco.provenance,
            &self.boxed_warning.provenance,
        ];
        all.extend(self.impede.iter().map(|s| &s.provenance));
        all.extend(self.saved.iter().map(|s| &s.provenance));
        all.extend(self.imwg_obesity.iter().map(|s| &s.provenance));
        all
    }
}

fn resolve<'a>(
    items: &'a [Sourced<Weight>],
    chosen: &[(usize, Vec<usize>)],
) -> Vec<(&'a Sourced<Weight>, Vec<&'a Sourced<Weight>>)> {
    chosen
        .iter()
        .map(|(i, alts)| (&items[*i], alts.iter().map(|a| &items[*a]).collect()))
        .collect()
}

/// `weights` as indices into `items`.
fn chosen_indices(items: &[Sourced<Weight>]) -> Vec<(usize, Vec<usize>)> {
    let index = |w: &Sourced<Weight>| {
        items
            .iter()
            .position(|x| std::ptr::eq(x, w))
            .unwrap_or_else(|| unreachable!("the weight comes from items"))
    };
    weights(items)
        .into_iter()
        .map(|(w, alts)| (index(w), alts.into_iter().map(index).collect()))
        .collect()
}

fn weights(items: &[Sourced<Weight>]) -> Vec<(&Sourced<Weight>, Vec<&Sourced<Weight>>)> {
    let mut factors: Vec<Factor> = items.iter().map(|w| w.value.factor).collect();
    factors.sort();
    factors.dedup();
    factors
        .into_iter()
        .filter_map(|f| choose(items.iter().filter(|w| w.value.factor == f)))
        .collect()
}

pub(super) fn load(ctx: &Ctx<'_>, mut doc: Table) -> Result<ThromboRules, PackError> {
    let f = ctx.file;
    let d = &mut doc;
    let mut rules = ThromboRules {
        dex_window: one(ctx, d, "dex_window")?,
        impede: many(ctx, d, "impede")?,
        impede_bands: one(ctx, d, "impede_bands")?,
        saved: many(ctx, d, "saved")?,
        saved_bands: one(ctx, d, "saved_bands")?,
        imwg: one(ctx, d, "imwg")?,
        imwg_obesity: many(ctx, d, "imwg_obesity")?,
        recommendation: one(ctx, d, "recommendation")?,
        asco: one(ctx, d, "asco")?,
        boxed_warning: one(ctx, d, "boxed_warning")?,
        impede_chosen: Vec::new(),
        saved_chosen: Vec::new(),
    };
    no_leftovers(f, &doc)?;
    for (key, list) in [("impede", &rules.impede), ("saved", &rules.saved)] {
        for w in list {
            if list
                .iter()
                .any(|o| o.value.factor == w.value.factor && o.provenance.rule != w.provenance.rule)
            {
                return Err(err(
                    f,
                    format!("{key} ({})", w.provenance.rule),
                    "one factor must keep one rule id across its versions",
                ));
            }
        }
    }
    if rules.dex_window.value.days == 0 {
        return Err(err(f, "dex_window", "days must be at least 1"));
    }
    let b = &rules.impede_bands.value;
    if b.low_at_most >= b.intermediate_at_most {
        return Err(err(
            f,
            "impede_bands",
            "low_at_most must be below intermediate_at_most",
        ));
    }
    if rules.imwg_obesity.is_empty() {
        return Err(err(f, "imwg_obesity", "at least one version is required"));
    }
    rules.impede_chosen = chosen_indices(&rules.impede);
    rules.saved_chosen = chosen_indices(&rules.saved);
    Ok(rules)
}

//! Pack entries with their provenance, and the choice between versions of one rule.
//!
//! Where two sources disagree the pack keeps both (same `rule`). The entry marked `preferred = true` is the
//! best belief; without a mark the newest `version_date` wins. The engine names the choice in its output.

use super::PackError;
use super::load::{Ctx, err, table, tables};
use crate::provenance::Provenance;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use toml::{Table, Value};

/// One pack entry: its values and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub provenance: Provenance,
    /// Marked as the best belief among versions of the same rule.
    pub preferred: bool,
}

fn sourced<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    label: &str,
    mut t: Table,
) -> Result<Sourced<T>, PackError> {
    let preferred = match t.remove("preferred") {
        None => false,
        Some(Value::Boolean(b)) => b,
        Some(v) => {
            return Err(err(
                ctx.file,
                label,
                format!("preferred: expected true or false, found {v}"),
            ));
        }
    };
    let (value, provenance) = ctx.entry(label, t)?;
    Ok(Sourced {
        value,
        provenance,
        preferred,
    })
}

/// A single `[key]` table.
pub(super) fn one<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    doc: &mut Table,
    key: &str,
) -> Result<Sourced<T>, PackError> {
    let t = table(ctx.file, doc, key)?;
    sourced(ctx, key, t)
}

/// An array of `[[key]]` tables; versions of one rule may not both be preferred.
pub(super) fn many<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    doc: &mut Table,
    key: &str,
) -> Result<Vec<Sourced<T>>, PackError> {
    let items: Vec<Sourced<T>> = tables(ctx.file, doc, key)?
        .into_iter()
        .enumerate()
        .map(|(i, t)| sourced(ctx, &format!("{key}[{i}]"), t))
        .collect::<Result<_, _>>()?;
    let mut preferred: BTreeMap<&str, usize> = BTreeMap::new();
    for s in items.iter().filter(|s| s.preferred) {
        *preferred.entry(s.provenance.rule.as_str()).or_default() += 1;
    }
    if let Some((rule, _)) = preferred.iter().find(|(_, n)| **n > 1) {
        return Err(err(
            ctx.file,
            format!("{key} ({rule})"),
            "more than one version is marked preferred",
        ));
    }
    Ok(items)
}

/// The version to use among `items`: the preferred one, else the newest; the others follow as alternatives.
pub fn choose<'a, T>(
    items: impl IntoIterator<Item = &'a Sourced<T>>,
) -> Option<(&'a Sourced<T>, Vec<&'a Sourced<T>>)> {
    let mut all: Vec<&Sourced<T>> = items.into_iter().collect();
    all.sort_by(|a, b| {
        b.preferred
            .cmp(&a.preferred)
            .then_with(|| b.provenance.version_date.cmp(&a.provenance.version_date))
    });
    let mut it = all.into_iter();
    let first = it.next()?;
    Some((first, it.collect()))
}

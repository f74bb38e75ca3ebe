//! `lenaguard check-dispense FILE|-`: is this patient eligible for the next prescription or dispense under the
//! Lenalidomide REMS? Exit 0 eligible, 1 not eligible (every missing step is listed), 2 bad input. Nothing is
//! stored.

use crate::input::{Context, print_json, read_source};
use crate::{Format, Outcome};
use clap::{Args, ValueEnum};
use lenaguard_domain::Snapshot;
use lenaguard_domain::program::{Stage, eligibility};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StageArg {
    Prescription,
    Dispense,
}

#[derive(Debug, Args)]
pub struct CheckDispenseArgs {
    /// Snapshot JSON file with a `program` record, or - for standard input.
    pub file: String,
    /// The step to check; by default a written, undispensed prescription means dispense, otherwise prescription.
    #[arg(long, value_enum)]
    pub stage: Option<StageArg>,
}

pub fn run(ctx: &Context, a: &CheckDispenseArgs) -> Outcome {
    let text = read_source(&a.file)?;
    let snapshot = Snapshot::from_json(&text)?;
    let stage = a.stage.map(|s| match s {
        StageArg::Prescription => Stage::Prescription,
        StageArg::Dispense => Stage::Dispense,
    });
    let report = eligibility(&snapshot, &ctx.pack, ctx.today, stage)?;
    match ctx.format {
        Format::Json => print_json(&report)?,
        _ => {
            let mut out = String::new();
            let stage = match report.stage {
                Stage::Prescription => "prescription",
                Stage::Dispense => "dispense",
            };
            let _ = writeln!(
                out,
                "Lenalidomide REMS check for a {stage} on {} ({})",
                report.on, report.category
            );
            if report.eligible {
                let _ = writeln!(out, "\nELIGIBLE");
            } else {
                let _ = writeln!(
                    out,
                    "\nNOT ELIGIBLE: {} step(s) missing",
                    report.missing.len()
                );
                for m in &report.missing {
                    let _ = writeln!(out, "\n- Missing: {}", m.what);
                    let _ = writeln!(out, "  Fix: {}", m.fix);
                    if let Some(e) = m.earliest {
                        let _ = writeln!(out, "  Earliest: {e}");
                    }
                    if let Some(l) = m.latest {
                        let _ = writeln!(out, "  Latest valid date: {l}");
                    }
                    for s in &m.sources {
                        let _ = writeln!(out, "  Source: {}", s.cite());
                    }
                }
            }
            if let Some(w) = &report.authorization {
                let _ = writeln!(
                    out,
                    "\nAuthorization {} valid through {} (lapses on {}), counted from {}. Source: {}",
                    if w.prospective {
                        "obtained today would be"
                    } else {
                        "is"
                    },
                    w.last_valid_day,
                    w.lapses_on,
                    w.counted_from,
                    w.source.cite()
                );
            }
            for n in &report.notes {
                let _ = writeln!(out, "Note: {n}");
            }
            if !report.unverified_rules.is_empty() {
                let _ = writeln!(
                    out,
                    "\nRests on unverified rules: {}",
                    report.unverified_rules.join(", ")
                );
            }
            print!("{out}");
        }
    }
    Ok(if report.eligible { 0 } else { 1 })
}

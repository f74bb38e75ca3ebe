//! `lenaguard assess FILE|-`: a snapshot in, the assessment out.

use crate::input::{Context, print_json, read_source};
use crate::{Format, Outcome, output};
use clap::Args;
use lenaguard_domain::units::format_count;
use lenaguard_domain::{Snapshot, assess};
use std::fmt::Write;

#[derive(Debug, Args)]
pub struct AssessArgs {
    /// Snapshot JSON file (docs/schema/snapshot.schema.json) or FHIR R4 Bundle, or - for standard input.
    pub file: String,
    #[command(flatten)]
    pub fhir: crate::fhir_input::FhirArgs,
}

pub fn run(ctx: &Context, a: &AssessArgs) -> Outcome {
    let text = read_source(&a.file)?;
    let snapshot = if crate::fhir_input::is_bundle(&text) {
        crate::fhir_input::snapshot(ctx, &a.fhir, &text)?
    } else {
        Snapshot::from_json(&text)?
    };
    let assessment = assess(&snapshot, &ctx.pack, ctx.today)?;
    match ctx.format {
        Format::Json => print_json(&assessment)?,
        Format::Text => {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "Lenaguard assessment for {}: {} ({})",
                assessment.today, assessment.regimen_name, assessment.regimen
            );
            let _ = writeln!(
                out,
                "\nACTION   {}",
                assessment.action.kind().to_uppercase().replace('_', " ")
            );
            let _ = writeln!(out, "         {}\n", assessment.summary);
            output::kidney(&mut out, &assessment.kidney);
            for l in &assessment.labs {
                let value = if l.unit == "/mcL" {
                    format_count(l.value)
                } else {
                    format!("{:.2} {}", l.value, l.unit)
                };
                let grade = l
                    .ctcae
                    .as_ref()
                    .map(|g| {
                        if g.is_exact() {
                            format!("; CTCAE v5.0 grade {}", g.grade)
                        } else {
                            format!("; CTCAE v5.0 grade {}-{}", g.grade, g.grade_up_to)
                        }
                    })
                    .unwrap_or_default();
                let _ = writeln!(out, "Lab      {} {value} on {}{grade}", l.code, l.date);
            }
            if let Some(safety) = &assessment.safety {
                output::safety(&mut out, safety);
            }
            output::findings(&mut out, &assessment.findings);
            output::unverified(&mut out, &assessment.unverified_rules);
            let _ = writeln!(
                out,
                "\nRule pack {} {}",
                assessment.pack.id, assessment.pack.version
            );
            print!("{out}");
        }
    }
    Ok(0)
}

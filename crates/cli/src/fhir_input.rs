//! `lenaguard assess` on a FHIR R4 Bundle instead of a snapshot: the Bundle is read by `lenaguard-interop`
//! (labs by LOINC with UCUM units, the lenalidomide orders by RxNorm or name, the indication by SNOMED CT or
//! ICD-10-CM; standards.md §3 and §4) and assessed like any snapshot. What the import skipped or derived is
//! printed to standard error, so the answer's basis is visible.

use crate::Failure;
use crate::input::Context;
use clap::Args;
use lenaguard_domain::Snapshot;
use lenaguard_domain::regimen::RegimenId;
use lenaguard_interop::fhir::Bundle;
use lenaguard_interop::{ImportOptions, InteropError, fhir_to_snapshot};

/// Facts a FHIR Bundle does not carry.
#[derive(Debug, Clone, Args)]
pub struct FhirArgs {
    /// For a FHIR Bundle: the regimen, when the coded diagnoses and orders do not single one out.
    #[arg(long = "fhir-regimen", value_name = "REGIMEN")]
    pub regimen: Option<String>,
    /// For a FHIR Bundle: the patient is on dialysis (FHIR is not read for it; without this flag, not on dialysis).
    #[arg(long = "fhir-dialysis")]
    pub dialysis: bool,
}

/// True when the JSON text is a FHIR Bundle (`"resourceType": "Bundle"` at the top level).
pub fn is_bundle(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("resourceType")?.as_str().map(|s| s == "Bundle"))
        .unwrap_or(false)
}

impl From<InteropError> for Failure {
    fn from(e: InteropError) -> Self {
        Failure::Input(format!("FHIR Bundle refused: {e}"))
    }
}

/// Read a Bundle into a snapshot, printing the import notes to standard error.
pub fn snapshot(ctx: &Context, args: &FhirArgs, text: &str) -> Result<Snapshot, Failure> {
    let regimen = args
        .regimen
        .as_deref()
        .map(|r| {
            RegimenId::parse(r).ok_or_else(|| {
                Failure::Input(format!(
                    "--fhir-regimen: {r:?} is not accepted; expected {}",
                    RegimenId::ACCEPTED
                ))
            })
        })
        .transpose()?;
    let bundle = Bundle::from_json(text)?;
    let options = ImportOptions {
        regimen,
        dialysis: Some(args.dialysis),
        ..ImportOptions::new(&ctx.pack)
    };
    let (snapshot, notes) = fhir_to_snapshot(&bundle, &options)?;
    for n in notes {
        eprintln!("note: {} ({:?}): {}", n.path, n.kind, n.message);
    }
    Ok(snapshot)
}

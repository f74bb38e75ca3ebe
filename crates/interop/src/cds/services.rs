//! The Lenaguard CDS services: discovery (standards.md §1.2), prefetch templates (§1.4) and gathering the
//! prefetched data into one Bundle (§1.3: absent keys were not prefetched; `null` means nothing was found).

use super::types::{CdsRequest, CdsService, DiscoveryResponse};
use crate::codes::{self, ObservationConcept};
use crate::error::InteropError;
use crate::fhir::{Bundle, Resource};
use std::collections::BTreeMap;

pub const ORDER_SIGN: &str = "lenalidomide-order-sign";
pub const ORDER_SELECT: &str = "lenalidomide-order-select";
pub const PATIENT_VIEW: &str = "lenalidomide-patient-view";

/// The prefetch keys every service needs: without them (and without FHIR server access) the answer is 412.
pub const REQUIRED_PREFETCH: [&str; 4] = ["patient", "labs", "conditions", "medications"];

/// The prefetch templates: the patient, recent labs and vitals by LOINC (every code of the mapping table that is
/// read), active conditions, and the lenalidomide-relevant medication orders (active ones for interactions;
/// completed, on-hold and stopped ones for the treatment state).
pub fn prefetch_templates() -> BTreeMap<String, String> {
    let loinc: Vec<String> =
        codes::loinc_codes_where(|c| !matches!(c, ObservationConcept::NotUsed(_)))
            .into_iter()
            .map(|c| format!("{}|{c}", codes::LOINC))
            .collect();
    BTreeMap::from([
        ("patient".into(), "Patient/{{context.patientId}}".into()),
        (
            "labs".into(),
            format!(
                "Observation?patient={{{{context.patientId}}}}&code={}&_sort=-date&_count=100",
                loinc.join(",")
            ),
        ),
        (
            "conditions".into(),
            "Condition?patient={{context.patientId}}&clinical-status=active".into(),
        ),
        (
            "medications".into(),
            "MedicationRequest?patient={{context.patientId}}&status=active,on-hold,completed,stopped"
                .into(),
        ),
    ])
}

/// `GET /cds-services`.
pub fn discovery() -> DiscoveryResponse {
    let usage = "Lenalidomide orders coded with RxNorm (or named lenalidomide/Revlimid); labs coded with LOINC and UCUM units; indications coded with SNOMED CT or ICD-10-CM.";
    let service = |hook: &str, id: &str, title: &str, description: &str| CdsService {
        hook: hook.into(),
        title: Some(title.into()),
        description: description.into(),
        id: id.into(),
        prefetch: prefetch_templates(),
        usage_requirements: Some(usage.into()),
        extension: None,
    };
    DiscoveryResponse {
        services: vec![
            service(
                "order-sign",
                ORDER_SIGN,
                "Lenaguard: lenalidomide order check",
                "Checks a lenalidomide order at signing against the label (renal starting dose, dose modifications, counts), the Lenalidomide REMS, interactions and thromboprophylaxis, and suggests the corrected order.",
            ),
            service(
                "order-select",
                ORDER_SELECT,
                "Lenaguard: lenalidomide order check (selection)",
                "The same check as at signing, when a lenalidomide order is selected; details may still be incomplete.",
            ),
            service(
                "patient-view",
                PATIENT_VIEW,
                "Lenaguard: lenalidomide status",
                "Today's lenalidomide action, counts, program windows and open issues for a patient on lenalidomide.",
            ),
        ],
    }
}

/// Gather the prefetched resources into one collection Bundle. Every absent key of `required` is named in one
/// error (412 unless the service can fetch them itself); a `null` key is an empty result, except the patient,
/// which must exist.
pub fn prefetch_bundle(request: &CdsRequest, required: &[&str]) -> Result<Bundle, InteropError> {
    let missing: Vec<String> = required
        .iter()
        .filter(|k| !request.prefetch.contains_key(**k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(InteropError::MissingPrefetch { keys: missing });
    }
    let mut bundle = Bundle::new("collection");
    for key in request.prefetch.keys() {
        match request.prefetched(key)? {
            None if key == "patient" => {
                return Err(InteropError::missing(
                    "prefetch.patient",
                    "the Patient of context.patientId (the client sent null)",
                ));
            }
            None => {}
            Some(Resource::OperationOutcome(o)) => {
                return Err(InteropError::malformed(
                    format!("prefetch.{key}"),
                    format!(
                        "the client could not prefetch it: {}",
                        o.issue
                            .iter()
                            .filter_map(|i| i.diagnostics.as_deref())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                ));
            }
            Some(r) => bundle.push(r),
        }
    }
    if let (Some(want), Some(Resource::Patient(p))) = (
        request.context.patient_id.as_deref(),
        bundle
            .resources()
            .find(|r| matches!(r, Resource::Patient(_))),
    ) && p.id.as_deref() != Some(want)
    {
        return Err(InteropError::invalid(
            "prefetch.patient.id",
            p.id.as_deref().unwrap_or(""),
            format!("{want} (context.patientId)"),
        ));
    }
    Ok(bundle)
}

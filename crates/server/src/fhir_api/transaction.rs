//! The transaction Bundle import (https://hl7.org/fhir/R4/http.html#transaction): lab results and lenalidomide
//! orders from an EHR become the program workflow's commands, judged by the program rules and written in one
//! database transaction, all or nothing ([`Workflow::execute_all_or_nothing`]).
//!
//! * `POST Observation`: a lab the engine reads (LOINC of the mapping table, its UCUM units) → `record_lab`,
//!   reported by the `performer` (a registered user).
//! * `POST MedicationRequest`: a lenalidomide order coded in RxNorm, one cycle as in standards.md §3 →
//!   `write_prescription` by the `requester` (a certified prescriber); the days supply is the cycle length.
//!
//! The idempotency key of an entry is its `fullUrl` (`urn:uuid:...`) for the calling client, so a retry of the
//! same Bundle the same day answers with the first outcomes (a command is judged on the day it arrives, so the
//! same entry on another day is another command: 409). Any entry that cannot be read is a 400 naming its element
//! (`Bundle.entry[3].resource.valueQuantity.code`); any entry the program refuses is a 422 naming the entry;
//! either way nothing is written.

use super::error::FhirError;
use super::ids::{self, sha256_hex};
use super::scope::Scopes;
use jiff::civil::Date;
use lenaguard_domain::snapshot::Lab;
use lenaguard_interop::InteropError;
use lenaguard_interop::codes::{self, ObservationConcept};
use lenaguard_interop::fhir::{
    Bundle, BundleEntry, MedicationRequest, Observation, Quantity, Reference, Resource,
};
use lenaguard_interop::import::lab_quantity;
use lenaguard_interop::order::{self, Drug, parse_date};
use lenaguard_storage::command::{Command, CommandRequest, PrescriptionOrder};
use lenaguard_storage::shape::MAX_CAPSULES;
use lenaguard_storage::{AllOrNothing, Answer, StorageError, Workflow};
use serde_json::json;

/// One entry turned into a command, with the patient its resource will be filed under.
struct Planned {
    request: CommandRequest,
    patient: String,
    kind: &'static str,
}

fn rebase(e: InteropError, from: &str, to: &str) -> InteropError {
    let fix = |p: String| match p.strip_prefix(from) {
        Some(rest) => format!("{to}{rest}"),
        None => p,
    };
    match e {
        InteropError::Malformed { path, detail } => InteropError::Malformed {
            path: fix(path),
            detail,
        },
        InteropError::Missing { path, expected } => InteropError::Missing {
            path: fix(path),
            expected,
        },
        InteropError::Invalid {
            path,
            value,
            expected,
        } => InteropError::Invalid {
            path: fix(path),
            value,
            expected,
        },
        InteropError::Ambiguous { path, why } => InteropError::Ambiguous {
            path: fix(path),
            why,
        },
        other => other,
    }
}

/// The program id behind `{type}/{id}` in a reference, named by `path` when it is not one.
fn referenced(
    r: Option<&Reference>,
    type_: &str,
    path: &str,
    what: &str,
) -> Result<String, InteropError> {
    let Some(text) = r.and_then(|r| r.reference.as_deref()) else {
        return Err(InteropError::missing(
            format!("{path}.reference"),
            format!("{type_}/[id]: {what}"),
        ));
    };
    text.strip_prefix(&format!("{type_}/"))
        .and_then(ids::unescape)
        .and_then(|(id, rest)| rest.is_none().then_some(id))
        .ok_or_else(|| {
            InteropError::invalid(
                format!("{path}.reference"),
                text,
                format!("{type_}/[id]: {what}"),
            )
        })
}

fn lab_codes() -> String {
    codes::LOINC_CODES
        .iter()
        .filter(|c| matches!(c.concept, ObservationConcept::Lab(_)))
        .map(|c| c.code)
        .collect::<Vec<_>>()
        .join(", ")
}

fn lab(o: &Observation, at: &str) -> Result<(String, String, Command), InteropError> {
    let entry = o
        .code
        .codes_in(codes::LOINC)
        .find_map(codes::loinc_code)
        .ok_or_else(|| {
            InteropError::invalid(
                format!("{at}.code"),
                o.code.label().unwrap_or("no code"),
                format!(
                    "a LOINC code ({}) of a lab the program records: {}",
                    codes::LOINC,
                    lab_codes()
                ),
            )
        })?;
    let ObservationConcept::Lab(analyte) = entry.concept else {
        return Err(InteropError::invalid(
            format!("{at}.code"),
            entry.code,
            format!(
                "a lab result the program records ({}); {} is not imported here",
                lab_codes(),
                entry.display
            ),
        ));
    };
    if !matches!(o.status.as_str(), "final" | "amended" | "corrected") {
        return Err(InteropError::invalid(
            format!("{at}.status"),
            &o.status,
            "final, amended or corrected: only a released result is recorded",
        ));
    }
    let patient = referenced(
        o.subject.as_ref(),
        "Patient",
        &format!("{at}.subject"),
        "the enrolled patient",
    )?;
    let performer: Option<Reference> = o
        .other
        .get("performer")
        .and_then(|p| p.get(0))
        .and_then(|p| serde_json::from_value(p.clone()).ok());
    let actor = referenced(
        performer.as_ref(),
        "Practitioner",
        &format!("{at}.performer[0]"),
        "the registered user who reports the result",
    )?;
    let date = match &o.effective_date_time {
        Some(d) => parse_date(&format!("{at}.effectiveDateTime"), d)?,
        None => {
            return Err(InteropError::missing(
                format!("{at}.effectiveDateTime"),
                "the date the sample was taken",
            ));
        }
    };
    let Some((value, unit)) = lab_quantity(o, at, entry)? else {
        return Err(InteropError::missing(
            format!("{at}.valueQuantity"),
            format!("the value, in {}", entry.accepted_units()),
        ));
    };
    let range = o.reference_range.first();
    let lab = Lab {
        code: analyte,
        value,
        unit: unit.to_string(),
        date,
        lln: limit(
            range.and_then(|r| r.low.as_ref()),
            &format!("{at}.referenceRange[0].low"),
            entry,
            unit,
        )?,
        uln: limit(
            range.and_then(|r| r.high.as_ref()),
            &format!("{at}.referenceRange[0].high"),
            entry,
            unit,
        )?,
    };
    Ok((patient.clone(), actor, Command::RecordLab { patient, lab }))
}

/// A reference range limit, in the unit of the value (the engine grades against it, so another unit is refused,
/// never converted here).
fn limit(
    q: Option<&Quantity>,
    path: &str,
    entry: &codes::LoincCode,
    unit: &str,
) -> Result<Option<f64>, InteropError> {
    let Some(q) = q else { return Ok(None) };
    let same = q.system.as_deref() == Some(codes::UCUM)
        && q.code.as_deref().and_then(|c| entry.engine_unit(c)) == Some(unit);
    match (q.value, same) {
        (Some(v), true) => Ok(Some(v)),
        (None, _) => Err(InteropError::missing(format!("{path}.value"), "a number")),
        (Some(_), false) => Err(InteropError::invalid(
            format!("{path}.code"),
            q.code.as_deref().or(q.unit.as_deref()).unwrap_or(""),
            format!("{unit} (system {}), the unit of the value", codes::UCUM),
        )),
    }
}

fn prescription(
    m: &MedicationRequest,
    at: &str,
    id: String,
) -> Result<(String, String, Command), InteropError> {
    // Paths of the order reader start with the resource's `Type/id`; without an id they start with the type,
    // which is rebased onto the entry.
    let mut m = m.clone();
    m.id = None;
    let rebased = |e| rebase(e, "MedicationRequest", at);
    match order::identify(&m).map_err(rebased)? {
        Drug::Lenalidomide { code: Some(_) } => {}
        Drug::Lenalidomide { code: None } => {
            return Err(InteropError::missing(
                format!("{at}.medicationCodeableConcept.coding"),
                format!("a lenalidomide RxNorm code ({})", codes::RXNORM),
            ));
        }
        Drug::Other { label } => {
            return Err(InteropError::invalid(
                format!("{at}.medicationCodeableConcept"),
                label,
                format!("a lenalidomide order coded in RxNorm ({})", codes::RXNORM),
            ));
        }
    }
    if m.status != "active" {
        return Err(InteropError::invalid(
            format!("{at}.status"),
            &m.status,
            "active: a signed order",
        ));
    }
    if m.intent != "order" {
        return Err(InteropError::invalid(
            format!("{at}.intent"),
            &m.intent,
            "order",
        ));
    }
    let drug = order::identify(&m).map_err(rebased)?;
    let schedule = order::read(&m, &drug).map_err(rebased)?.schedule;
    let patient = referenced(
        m.subject.as_ref(),
        "Patient",
        &format!("{at}.subject"),
        "the enrolled patient",
    )?;
    let actor = referenced(
        m.requester.as_ref(),
        "Practitioner",
        &format!("{at}.requester"),
        "the certified prescriber who signs the order",
    )?;
    let date: Date = match &m.authored_on {
        Some(d) => parse_date(&format!("{at}.authoredOn"), d)?,
        None => {
            return Err(InteropError::missing(
                format!("{at}.authoredOn"),
                "the date of the order",
            ));
        }
    };
    let dispense = m.dispense_request.as_ref();
    let qpath = format!("{at}.dispenseRequest.quantity.value");
    let quantity = dispense
        .and_then(|d| d.quantity.as_ref())
        .and_then(|q| q.value)
        .ok_or_else(|| InteropError::missing(&qpath, "the number of capsules"))?;
    if quantity.fract() != 0.0 || !(1.0..=f64::from(MAX_CAPSULES)).contains(&quantity) {
        return Err(InteropError::invalid(
            qpath,
            quantity,
            format!("a whole number of capsules from 1 to {MAX_CAPSULES}"),
        ));
    }
    let refills = dispense
        .and_then(|d| d.number_of_repeats_allowed)
        .unwrap_or(0);
    let refills = u16::try_from(refills).map_err(|_| {
        InteropError::invalid(
            format!("{at}.dispenseRequest.numberOfRepeatsAllowed"),
            refills,
            "0",
        )
    })?;
    let order = PrescriptionOrder {
        prescription: id,
        patient: patient.clone(),
        date,
        schedule,
        quantity: quantity as u32,
        // The order is one cycle (standards.md §3): it supplies the cycle's days.
        days_supply: schedule.cycle_days,
        refills,
        telephone: false,
        pharmacy: None,
    };
    Ok((patient, actor, Command::WritePrescription(order)))
}

fn plan(bundle: &Bundle, iss: &str, scopes: &Scopes, on: Date) -> Result<Vec<Planned>, FhirError> {
    if bundle.type_ != "transaction" {
        return Err(InteropError::invalid("Bundle.type", &bundle.type_, "transaction").into());
    }
    if bundle.entry.is_empty() {
        return Err(InteropError::missing("Bundle.entry", "at least one entry").into());
    }
    let mut out = Vec::new();
    for (i, e) in bundle.entry.iter().enumerate() {
        let at = format!("Bundle.entry[{i}]");
        let BundleEntry {
            full_url,
            resource,
            request,
            ..
        } = e;
        let full_url = full_url
            .as_deref()
            .filter(|u| u.starts_with("urn:uuid:") && u.len() > 9)
            .ok_or_else(|| {
                InteropError::invalid(
                    format!("{at}.fullUrl"),
                    full_url.as_deref().unwrap_or(""),
                    "urn:uuid:[uuid] naming this entry: a retry with the same fullUrl returns the first answer",
                )
            })?;
        let Some(resource) = resource else {
            return Err(
                InteropError::missing(format!("{at}.resource"), "the resource to create").into(),
            );
        };
        let type_ = resource.resource_type().to_string();
        let req = request.as_ref().ok_or_else(|| {
            InteropError::missing(format!("{at}.request"), format!("method POST, url {type_}"))
        })?;
        if req.method != "POST" {
            return Err(
                InteropError::invalid(format!("{at}.request.method"), &req.method, "POST").into(),
            );
        }
        if req.url != type_ {
            return Err(InteropError::invalid(format!("{at}.request.url"), &req.url, type_).into());
        }
        // A conditional create would need a search this import does not run; refused rather than ignored.
        if let Some(cond) = &req.if_none_exist {
            return Err(InteropError::invalid(
                format!("{at}.request.ifNoneExist"),
                cond,
                "no ifNoneExist: the entry's fullUrl is its idempotency key",
            )
            .into());
        }
        if !scopes.allows(&type_, 'c') {
            return Err(FhirError::Forbidden(format!(
                "{at}: the token's scopes do not allow create of {type_}; it needs system/{type_}.c"
            )));
        }
        // Keys are per client, so two EHRs cannot collide on a fullUrl.
        let key = format!(
            "fhir-{}",
            sha256_hex(format!("{iss}\n{full_url}").as_bytes())
        );
        let at = format!("{at}.resource");
        let (patient, actor, command, kind) = match resource {
            Resource::Observation(o) => {
                let (p, a, c) = lab(o, &at)?;
                (p, a, c, "Observation")
            }
            Resource::MedicationRequest(m) => {
                let id = format!("rx-{}", &sha256_hex(key.as_bytes())[..12]);
                let (p, a, c) = prescription(m, &at, id)?;
                (p, a, c, "MedicationRequest")
            }
            other => {
                return Err(InteropError::invalid(
                    format!("{at}.resourceType"),
                    other.resource_type(),
                    "Observation (a lab result) or MedicationRequest (a lenalidomide order)",
                )
                .into());
            }
        };
        out.push(Planned {
            request: CommandRequest {
                idempotency_key: key,
                actor,
                on,
                command,
            },
            patient,
            kind,
        });
    }
    Ok(out)
}

/// Import a transaction Bundle; the transaction-response Bundle, or why nothing was written.
pub(crate) async fn import(
    workflow: &Workflow,
    text: &str,
    iss: &str,
    scopes: &Scopes,
    on: Date,
) -> Result<Bundle, FhirError> {
    let bundle = Bundle::from_json(text)?;
    let planned = plan(&bundle, iss, scopes, on)?;
    let requests: Vec<CommandRequest> = planned.iter().map(|p| p.request.clone()).collect();
    let done = workflow
        .execute_all_or_nothing(&requests)
        .await
        .map_err(|e| match e {
            // The key is the entry's fullUrl: name the entry that reused it.
            StorageError::IdempotencyConflict { ref key, .. } => {
                let index = requests.iter().position(|r| &r.idempotency_key == key);
                FhirError::Conflict {
                    path: index.map_or("Bundle".into(), |i| format!("Bundle.entry[{i}].fullUrl")),
                    detail: format!(
                        "this fullUrl was first used for another command (another resource, or the same one judged on another day); a new resource needs a new fullUrl ({e})"
                    ),
                }
            }
            other => other.into(),
        })?;
    let outcomes = match done {
        AllOrNothing::Applied(o) => o,
        AllOrNothing::Refused { index, reasons } => {
            return Err(FhirError::Refused {
                path: format!("Bundle.entry[{index}]"),
                reasons,
            });
        }
    };
    let mut response = Bundle::new("transaction-response");
    for (p, out) in planned.iter().zip(outcomes) {
        let id = match out.accepted() {
            Some(Answer::Recorded { id }) => ids::scoped(&p.patient, id),
            _ => None,
        };
        let mut e = BundleEntry::default();
        let mut r = json!({
            "status": if out.replayed { "200 OK" } else { "201 Created" },
        });
        if let Some(id) = id {
            r["location"] = json!(format!("{}/{id}", p.kind));
        }
        e.other.insert("response".into(), r);
        response.entry.push(e);
    }
    Ok(response)
}

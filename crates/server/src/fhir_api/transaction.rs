//! The transaction Bundle import (https://hl7.org/fhir/R4/http.html#transaction): lab results, body weights and
//! lenalidomide orders from an EHR become the program workflow's commands, judged by the program rules and written
//! in one database transaction, all or nothing ([`Workflow::execute_all_or_nothing`]).
//!
//! * `POST Observation`: a lab the engine reads (LOINC of the mapping table, its UCUM units) → `record_lab`,
//!   reported by the `performer` (a registered user).
//! * `POST Observation`: a body weight (LOINC 29463-7, in the table's unit kg) → `record_measurement`, which
//!   Cockcroft-Gault needs, reported as a lab is. A body height (8302-2, cm) is recorded only with the weight of
//!   the same patient, date and performer in the same Bundle (the command holds a weight and, optionally, a
//!   height); a height alone is refused.
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
use super::resources;
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
use lenaguard_storage::command::{BodyMeasurement, Command, CommandRequest, PrescriptionOrder};
use lenaguard_storage::shape::MAX_CAPSULES;
use lenaguard_storage::{AllOrNothing, Answer, StorageError, Workflow};
use serde_json::json;

/// One entry turned into a command, with the patient its resource will be filed under.
struct Planned {
    /// The index of the Bundle entry.
    entry: usize,
    request: CommandRequest,
    patient: String,
    kind: &'static str,
}

/// A Bundle read into commands.
struct Plan {
    commands: Vec<Planned>,
    /// `(height entry, index in commands)`: a body height recorded by the command of its body weight.
    heights: Vec<(usize, usize)>,
}

/// A height entry waiting for its weight.
struct LoneHeight {
    entry: usize,
    at: String,
    patient: String,
    actor: String,
    date: Date,
    cm: f64,
}

/// Record each height with the weight of the same patient, date and performer: the command holds both.
fn pair_heights(
    commands: &mut [Planned],
    heights: Vec<LoneHeight>,
) -> Result<Vec<(usize, usize)>, InteropError> {
    let mut paired = Vec::new();
    for h in heights {
        let weights: Vec<usize> = commands
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.request.actor == h.actor
                    && matches!(&p.request.command, Command::RecordMeasurement { patient, measurement }
                        if *patient == h.patient && measurement.date == h.date)
            })
            .map(|(i, _)| i)
            .collect();
        let w = match weights.as_slice() {
            [w] => *w,
            [] => {
                return Err(InteropError::invalid(
                    format!("{}.code", h.at),
                    "8302-2",
                    "a body height (8302-2) with a body weight (29463-7) of the same patient, effectiveDateTime \
                     and performer in this Bundle: the program records a height only with a weight",
                ));
            }
            _ => {
                return Err(InteropError::ambiguous(
                    format!("{}.code", h.at),
                    "several body weights of this patient, effectiveDateTime and performer in this Bundle: \
                     send one weight with the height",
                ));
            }
        };
        if let Command::RecordMeasurement { measurement, .. } = &mut commands[w].request.command {
            if measurement.height_cm.is_some() {
                return Err(InteropError::ambiguous(
                    format!("{}.code", h.at),
                    "another body height of this patient, effectiveDateTime and performer is in this Bundle: \
                     send one height with the weight",
                ));
            }
            measurement.height_cm = Some(h.cm);
        }
        paired.push((h.entry, w));
    }
    Ok(paired)
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

/// The LOINC codes an Observation entry may carry, for error messages.
fn observation_codes() -> String {
    codes::LOINC_CODES
        .iter()
        .filter_map(|c| match c.concept {
            ObservationConcept::Lab(_) => Some(c.code.to_string()),
            ObservationConcept::BodyWeight => Some(format!("{} ({})", c.code, c.display)),
            ObservationConcept::BodyHeight => {
                Some(format!("{} ({}, with a body weight)", c.code, c.display))
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an Observation entry becomes.
enum Observed {
    Command {
        patient: String,
        actor: String,
        command: Command,
    },
    /// A body height, recorded with the body weight of the same patient, date and performer in the Bundle.
    Height {
        patient: String,
        actor: String,
        date: Date,
        cm: f64,
    },
}

fn observation(o: &Observation, at: &str) -> Result<Observed, InteropError> {
    let entry = o
        .code
        .codes_in(codes::LOINC)
        .find_map(codes::loinc_code)
        .ok_or_else(|| {
            InteropError::invalid(
                format!("{at}.code"),
                o.code.label().unwrap_or("no code"),
                format!(
                    "a LOINC code ({}) of an Observation the program records: {}",
                    codes::LOINC,
                    observation_codes()
                ),
            )
        })?;
    if !matches!(
        entry.concept,
        ObservationConcept::Lab(_)
            | ObservationConcept::BodyWeight
            | ObservationConcept::BodyHeight
    ) {
        return Err(InteropError::invalid(
            format!("{at}.code"),
            entry.code,
            format!(
                "an Observation the program records ({}); {} is not imported here",
                observation_codes(),
                entry.display
            ),
        ));
    }
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
                "the date the sample was taken or the patient measured",
            ));
        }
    };
    // Units only as the table declares them (kg, cm for the body): nothing is converted here.
    let Some((value, unit)) = lab_quantity(o, at, entry)? else {
        return Err(InteropError::missing(
            format!("{at}.valueQuantity"),
            format!("the value, in {}", entry.accepted_units()),
        ));
    };
    let command = match entry.concept {
        ObservationConcept::Lab(analyte) => {
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
            Command::RecordLab {
                patient: patient.clone(),
                lab,
            }
        }
        ObservationConcept::BodyWeight => Command::RecordMeasurement {
            patient: patient.clone(),
            measurement: BodyMeasurement {
                date,
                weight_kg: value,
                height_cm: None,
            },
        },
        _ => {
            return Ok(Observed::Height {
                patient,
                actor,
                date,
                cm: value,
            });
        }
    };
    Ok(Observed::Command {
        patient,
        actor,
        command,
    })
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

fn plan(bundle: &Bundle, iss: &str, scopes: &Scopes, on: Date) -> Result<Plan, FhirError> {
    if bundle.type_ != "transaction" {
        return Err(InteropError::invalid("Bundle.type", &bundle.type_, "transaction").into());
    }
    if bundle.entry.is_empty() {
        return Err(InteropError::missing("Bundle.entry", "at least one entry").into());
    }
    let mut out = Vec::new();
    let mut heights = Vec::new();
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
            Resource::Observation(o) => match observation(o, &at)? {
                Observed::Command {
                    patient,
                    actor,
                    command,
                } => (patient, actor, command, "Observation"),
                Observed::Height {
                    patient,
                    actor,
                    date,
                    cm,
                } => {
                    heights.push(LoneHeight {
                        entry: i,
                        at,
                        patient,
                        actor,
                        date,
                        cm,
                    });
                    continue;
                }
            },
            Resource::MedicationRequest(m) => {
                let id = format!("rx-{}", &sha256_hex(key.as_bytes())[..12]);
                let (p, a, c) = prescription(m, &at, id)?;
                (p, a, c, "MedicationRequest")
            }
            other => {
                return Err(InteropError::invalid(
                    format!("{at}.resourceType"),
                    other.resource_type(),
                    "Observation (a lab result, a body weight or height) or MedicationRequest (a lenalidomide order)",
                )
                .into());
            }
        };
        out.push(Planned {
            entry: i,
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
    let heights = pair_heights(&mut out, heights)?;
    Ok(Plan {
        commands: out,
        heights,
    })
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
    let plan = plan(&bundle, iss, scopes, on)?;
    let planned = &plan.commands;
    let requests: Vec<CommandRequest> = planned.iter().map(|p| p.request.clone()).collect();
    let done = workflow
        .execute_all_or_nothing(&requests)
        .await
        .map_err(|e| match e {
            // The key is the entry's fullUrl: name the entry that reused it.
            StorageError::IdempotencyConflict { ref key, .. } => {
                let index = planned.iter().position(|p| &p.request.idempotency_key == key);
                FhirError::Conflict {
                    path: index.map_or("Bundle".into(), |i| {
                        format!("Bundle.entry[{}].fullUrl", planned[i].entry)
                    }),
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
                path: format!(
                    "Bundle.entry[{}]",
                    planned.get(index).map_or(index, |p| p.entry)
                ),
                reasons,
            });
        }
    };
    // Per command: its status and the id of the record written.
    let answered: Vec<(&str, Option<String>)> = outcomes
        .iter()
        .map(|out| {
            let status = if out.replayed {
                "200 OK"
            } else {
                "201 Created"
            };
            let record = match out.accepted() {
                Some(Answer::Recorded { id }) => Some(id.clone()),
                _ => None,
            };
            (status, record)
        })
        .collect();
    let mut entries: Vec<BundleEntry> = vec![BundleEntry::default(); bundle.entry.len()];
    let mut respond = |entry: usize, status: &str, location: Option<String>| {
        let mut r = json!({ "status": status });
        if let Some(l) = location {
            r["location"] = json!(l);
        }
        entries[entry].other.insert("response".into(), r);
    };
    for (p, (status, record)) in planned.iter().zip(&answered) {
        let id = record.as_deref().and_then(|r| ids::scoped(&p.patient, r));
        respond(p.entry, status, id.map(|id| format!("{}/{id}", p.kind)));
    }
    for &(entry, w) in &plan.heights {
        let (status, record) = &answered[w];
        let id = record
            .as_deref()
            .and_then(|r| resources::body_height_id(&planned[w].patient, r));
        respond(entry, status, id.map(|id| format!("Observation/{id}")));
    }
    let mut response = Bundle::new("transaction-response");
    response.entry = entries;
    Ok(response)
}

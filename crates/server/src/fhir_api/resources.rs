//! Stored program records → FHIR R4 resources (standards.md §3). Every code comes from the mapping tables of
//! `lenaguard_interop::codes` (LOINC, RxNorm, SNOMED CT, UCUM); where the tables have no confirmed code for a
//! record (a lab in a unit no code accepts, an indication with several subtypes), the resource carries text
//! only, never a guessed code.
//!
//! * Patient: the enrollment (identity, sex, birth date).
//! * Observation: lab results (LOINC + UCUM) and pregnancy tests (qualitative hCG LOINC by specimen), category
//!   `laboratory`; body measurements as `vital-signs` (body weight 29463-7 in kg, and body height 8302-2 in cm when
//!   one was recorded: two Observations of one record).
//! * MedicationRequest: prescriptions (RxNorm lenalidomide, the schedule as one cycle's order), with the
//!   authorization number as an identifier once issued.
//! * MedicationDispense: dispenses, linked to their prescription.
//! * Condition: the indication the enrolled regimen treats.
//! * QuestionnaireResponse: accepted patient surveys.
//! * DetectedIssue: each reason a command about a patient was refused, from the audit trail.
//! * AuditEvent: every audit trail event (the command's name, actor, patient and outcome, not its body).

use super::ids;
use super::search::{Built, Kind};
use jiff::civil::Date;
use lenaguard_domain::renal::Sex;
use lenaguard_domain::snapshot::{Lab, TreatmentStatus};
use lenaguard_interop::codes::{self, HcgSample, Indication, ObservationConcept};
use lenaguard_interop::fhir::{
    AuditEvent, CodeableConcept, Coding, Condition, DetectedIssue, Identifier, MedicationDispense,
    MedicationRequest, Observation, Patient, Quantity, QuestionnaireResponse, Reference,
    ReferenceRange, Resource,
    workflow::{AuditAgent, AuditEntity, AuditSource, QuestionnaireAnswer, QuestionnaireItem},
};
use lenaguard_interop::order;
use lenaguard_storage::command::{BodyMeasurement, Command, PregnancyTestReport, Specimen};
use lenaguard_storage::engine::SurveyRecord;
use lenaguard_storage::records::{AuthorizationStatus, PatientFile, RecordKind};
use lenaguard_storage::{Answer, Outcome, survey};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Observation categories (standards.md §3): labs and pregnancy tests, body measurements.
const LABORATORY: &str = "laboratory";
const VITAL_SIGNS: &str = "vital-signs";

/// Where this server's own identifiers and code systems live: under the FHIR base URL.
#[derive(Debug, Clone)]
pub(crate) struct Systems {
    pub fhir_base: String,
}

impl Systems {
    fn enrollment(&self) -> String {
        format!("{}/sid/enrollment-identity", self.fhir_base)
    }
    fn authorization(&self) -> String {
        format!("{}/sid/authorization-number", self.fhir_base)
    }
    pub fn refusal(&self) -> String {
        format!("{}/CodeSystem/refusal-reason", self.fhir_base)
    }
    pub fn command(&self) -> String {
        format!("{}/CodeSystem/command", self.fhir_base)
    }
    fn questionnaire(&self, version: &str) -> String {
        format!("{}/Questionnaire/{version}", self.fhir_base)
    }
}

fn patient_ref(patient: &str) -> Option<Reference> {
    ids::escape(patient).map(|p| Reference::to(format!("Patient/{p}")))
}

/// A program user as a Practitioner reference; admin, who is no person, by display only.
fn user_ref(user: &str) -> Reference {
    match ids::escape(user) {
        Some(u) if user != lenaguard_storage::command::ADMIN => {
            Reference::to(format!("Practitioner/{u}"))
        }
        _ => Reference {
            display: Some(user.to_string()),
            ..Reference::default()
        },
    }
}

fn lenalidomide() -> CodeableConcept {
    // The ingredient, not a capsule: a stored prescription has a dose, not the capsules that make it up.
    let c = codes::lenalidomide_rxnorm("342369");
    CodeableConcept {
        text: Some("lenalidomide".into()),
        ..c.map(|c| CodeableConcept::coded(codes::RXNORM, c.code, c.display))
            .unwrap_or_default()
    }
}

fn medication_tokens(cc: &CodeableConcept) -> Vec<(&'static str, Option<String>, String)> {
    cc.coding
        .iter()
        .filter_map(|c| Some(("code", c.system.clone(), c.code.clone()?)))
        .collect()
}

/// The resources of one type built from one patient's file.
pub(crate) fn from_file(kind: Kind, file: &PatientFile, sys: &Systems) -> Vec<Built> {
    let p = &file.patient;
    let Some(subject) = patient_ref(&p.id) else {
        // An id that cannot be written as a FHIR id cannot be referenced either.
        return Vec::new();
    };
    let scoped = |record: &str| ids::scoped(&p.id, record);
    let mut out = Vec::new();
    let mut push = |id: Option<String>, date: Option<Date>, tokens, resource: Resource| {
        if let Some(id) = id {
            out.push(Built {
                id,
                patient: Some(p.id.clone()),
                date,
                tokens,
                resource,
            });
        }
    };
    match kind {
        Kind::Patient => {
            let id = ids::escape(&p.id);
            let r = Patient {
                id: id.clone(),
                identifier: vec![Identifier {
                    system: Some(sys.enrollment()),
                    value: Some(p.identity.clone()),
                    ..Identifier::default()
                }],
                gender: Some(
                    match p.sex {
                        Sex::Female => "female",
                        Sex::Male => "male",
                    }
                    .into(),
                ),
                birth_date: Some(p.birth_date.to_string()),
                ..Patient::default()
            };
            let tokens = vec![("identifier", Some(sys.enrollment()), p.identity.clone())];
            push(id, Some(p.birth_date), tokens, Resource::Patient(r));
        }
        Kind::Observation => {
            for rec in &file.records {
                let built: Vec<(Option<String>, Observation, &str)> = match rec.kind {
                    RecordKind::Lab => rec
                        .body
                        .decode::<Lab>()
                        .ok()
                        .map(|lab| (scoped(&rec.id), lab_observation(&lab), LABORATORY))
                        .into_iter()
                        .collect(),
                    RecordKind::PregnancyTest => rec
                        .body
                        .decode::<PregnancyTestReport>()
                        .ok()
                        .map(|t| (scoped(&rec.id), pregnancy_observation(&t), LABORATORY))
                        .into_iter()
                        .collect(),
                    RecordKind::Measurement => rec
                        .body
                        .decode::<BodyMeasurement>()
                        .ok()
                        .map(|m| {
                            let height = m.height_cm.and_then(|cm| {
                                body_observation(ObservationConcept::BodyHeight, cm, "cm", m.date)
                                    .map(|o| (body_height_id(&p.id, &rec.id), o, VITAL_SIGNS))
                            });
                            body_observation(
                                ObservationConcept::BodyWeight,
                                m.weight_kg,
                                "kg",
                                m.date,
                            )
                            .map(|o| (scoped(&rec.id), o, VITAL_SIGNS))
                            .into_iter()
                            .chain(height)
                            .collect()
                        })
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                for (id, mut o, category) in built {
                    o.id = id;
                    o.subject = Some(subject.clone());
                    let mut tokens: Vec<_> = o
                        .code
                        .coding
                        .iter()
                        .filter_map(|c| Some(("code", c.system.clone(), c.code.clone()?)))
                        .collect();
                    tokens.push((
                        "category",
                        Some(codes::OBSERVATION_CATEGORY.to_string()),
                        category.to_string(),
                    ));
                    push(o.id.clone(), Some(rec.on), tokens, Resource::Observation(o));
                }
            }
        }
        Kind::MedicationRequest => {
            for rx in &file.prescriptions {
                let auth = file.authorizations.iter().find(|a| a.prescription == rx.id);
                let status = if auth.is_some_and(|a| a.status == AuthorizationStatus::Used) {
                    "completed"
                } else if p.status == TreatmentStatus::Discontinued {
                    "stopped"
                } else {
                    "active"
                };
                let base = MedicationRequest {
                    id: scoped(&rx.id),
                    identifier: auth
                        .map(|a| Identifier {
                            system: Some(sys.authorization()),
                            value: Some(a.number.clone()),
                            ..Identifier::default()
                        })
                        .into_iter()
                        .collect(),
                    status: status.into(),
                    intent: "order".into(),
                    medication_codeable_concept: Some(lenalidomide()),
                    subject: Some(subject.clone()),
                    authored_on: Some(rx.date.to_string()),
                    requester: Some(user_ref(&rx.prescriber)),
                    ..MedicationRequest::default()
                };
                let mut m = order::corrected(&base, &rx.schedule);
                if let Some(d) = m.dispense_request.as_mut() {
                    d.quantity = Some(Quantity {
                        value: Some(f64::from(rx.quantity)),
                        unit: Some("capsule".into()),
                        ..Quantity::default()
                    });
                    d.number_of_repeats_allowed = Some(u32::from(rx.refills));
                }
                let mut tokens = medication_tokens(&lenalidomide());
                tokens.push(("status", None, status.to_string()));
                tokens.push(("intent", None, "order".to_string()));
                push(
                    m.id.clone(),
                    Some(rx.date),
                    tokens,
                    Resource::MedicationRequest(std::mem::take(&mut m)),
                );
            }
        }
        Kind::MedicationDispense => {
            for d in &file.dispenses {
                let rx = file
                    .authorizations
                    .iter()
                    .find(|a| a.number == d.authorization)
                    .and_then(|a| scoped(&a.prescription));
                let mut md = MedicationDispense {
                    id: scoped(&d.id),
                    status: "completed".into(),
                    medication_codeable_concept: Some(lenalidomide()),
                    subject: Some(subject.clone()),
                    authorizing_prescription: rx
                        .map(|r| Reference::to(format!("MedicationRequest/{r}")))
                        .into_iter()
                        .collect(),
                    quantity: Some(Quantity {
                        value: Some(f64::from(d.quantity)),
                        unit: Some("capsule".into()),
                        ..Quantity::default()
                    }),
                    days_supply: Some(Quantity {
                        unit: Some("days".into()),
                        ..Quantity::ucum(f64::from(d.days_supply), "d")
                    }),
                    when_handed_over: Some(d.date.to_string()),
                    ..MedicationDispense::default()
                };
                md.other.insert(
                    "performer".into(),
                    json!([{ "actor": user_ref(&d.pharmacist) }]),
                );
                push(
                    md.id.clone(),
                    Some(d.date),
                    [
                        medication_tokens(&lenalidomide()),
                        vec![("status", None, "completed".to_string())],
                    ]
                    .concat(),
                    Resource::MedicationDispense(md),
                );
            }
        }
        Kind::Condition => {
            let indication = Indication::of_regimen(p.regimen);
            let code = match indication {
                Some(i) => {
                    let mut cc = i
                        .snomed()
                        .map(|d| CodeableConcept::coded(d.system, d.code, d.display))
                        .unwrap_or_default();
                    cc.text = Some(i.name().into());
                    cc
                }
                None => CodeableConcept::text(format!("the indication of regimen {:?}", p.regimen)),
            };
            let mut c = Condition {
                id: scoped("indication"),
                code: Some(code.clone()),
                subject: Some(subject.clone()),
                ..Condition::default()
            };
            c.other.insert(
                "recordedDate".into(),
                Value::String(p.agreement_signed_on.to_string()),
            );
            c.other.insert(
                "note".into(),
                json!([{ "text": "The indication of the regimen the patient is enrolled on, not a coded diagnosis from the patient's record." }]),
            );
            push(
                c.id.clone(),
                Some(p.agreement_signed_on),
                medication_tokens(&code),
                Resource::Condition(c),
            );
        }
        Kind::QuestionnaireResponse => {
            for rec in file.records.iter().filter(|r| r.kind == RecordKind::Survey) {
                let Ok(s) = rec.body.decode::<SurveyRecord>() else {
                    continue;
                };
                let texts: HashMap<&str, &str> = survey::questions(s.category)
                    .into_iter()
                    .map(|q| (q.id, q.text))
                    .collect();
                let qr = QuestionnaireResponse {
                    id: scoped(&rec.id),
                    questionnaire: Some(sys.questionnaire(&s.submission.questionnaire)),
                    status: "completed".into(),
                    subject: Some(subject.clone()),
                    authored: Some(s.submission.date.to_string()),
                    item: s
                        .submission
                        .answers
                        .iter()
                        .map(|(q, a)| QuestionnaireItem {
                            link_id: q.clone(),
                            text: texts.get(q.as_str()).map(|t| t.to_string()),
                            answer: vec![QuestionnaireAnswer {
                                value: [("valueBoolean".to_string(), Value::Bool(*a))]
                                    .into_iter()
                                    .collect(),
                                ..QuestionnaireAnswer::default()
                            }],
                            ..QuestionnaireItem::default()
                        })
                        .collect(),
                    ..QuestionnaireResponse::default()
                };
                push(
                    qr.id.clone(),
                    Some(rec.on),
                    vec![("status", None, "completed".to_string())],
                    Resource::QuestionnaireResponse(qr),
                );
            }
        }
        Kind::DetectedIssue | Kind::AuditEvent => {}
    }
    out
}

fn lab_observation(lab: &Lab) -> Observation {
    let mapped = codes::loinc_for_lab(lab.code, &lab.unit);
    let code = loinc(mapped.map(|(c, _)| c), lab.code.as_str());
    // A unit the tables do not map is written as text, without a UCUM code.
    let quantity = |v: f64| match mapped {
        Some((_, u)) => Quantity::ucum(v, u.ucum),
        None => Quantity {
            value: Some(v),
            unit: Some(lab.unit.clone()),
            ..Quantity::default()
        },
    };
    let range = (lab.lln.is_some() || lab.uln.is_some()).then(|| ReferenceRange {
        low: lab.lln.map(quantity),
        high: lab.uln.map(quantity),
        ..ReferenceRange::default()
    });
    Observation {
        value_quantity: Some(quantity(lab.value)),
        reference_range: range.into_iter().collect(),
        ..laboratory(code, lab.date)
    }
}

/// The FHIR id of the body height of a measurement record: the weight has the record's own id, so the height
/// takes a suffix no record id has (record ids end in hex).
pub(crate) fn body_height_id(patient: &str, record: &str) -> Option<String> {
    ids::scoped(patient, &format!("{record}-height"))
}

/// A vital-signs Observation of a body measurement stored in `engine_unit`, coded from the confirmed table entry
/// that accepts that unit; `None` when the tables have none (nothing is written rather than a guessed code).
fn body_observation(
    concept: ObservationConcept,
    value: f64,
    engine_unit: &str,
    date: Date,
) -> Option<Observation> {
    let (entry, unit) = codes::LOINC_CODES
        .iter()
        .filter(|c| c.confirmed && c.concept == concept)
        .find_map(|c| {
            c.units
                .iter()
                .find(|u| u.engine == engine_unit)
                .map(|u| (c, u))
        })?;
    Some(Observation {
        status: "final".into(),
        category: vec![CodeableConcept {
            // The code system's code, without a display the reference notes do not give.
            coding: vec![Coding::new(codes::OBSERVATION_CATEGORY, VITAL_SIGNS, None)],
            ..CodeableConcept::default()
        }],
        code: loinc(Some(entry), entry.display),
        effective_date_time: Some(date.to_string()),
        value_quantity: Some(Quantity::ucum(value, unit.ucum)),
        ..Observation::default()
    })
}

/// A coded LOINC concept, or text alone when the tables have no code for it.
fn loinc(code: Option<&codes::LoincCode>, text: &str) -> CodeableConcept {
    match code {
        Some(c) => CodeableConcept {
            text: Some(c.display.into()),
            ..CodeableConcept::coded(codes::LOINC, c.code, c.display)
        },
        None => CodeableConcept::text(text),
    }
}

/// A final laboratory Observation of `code` taken on `date`.
fn laboratory(code: CodeableConcept, date: Date) -> Observation {
    Observation {
        status: "final".into(),
        category: vec![CodeableConcept::coded(
            codes::OBSERVATION_CATEGORY,
            LABORATORY,
            "Laboratory",
        )],
        code,
        effective_date_time: Some(date.to_string()),
        ..Observation::default()
    }
}

fn pregnancy_observation(t: &PregnancyTestReport) -> Observation {
    let sample = match t.specimen {
        Specimen::Urine => HcgSample::Urine,
        Specimen::Serum => HcgSample::SerumOrPlasma,
    };
    let code = loinc(codes::hcg_qualitative(sample), "pregnancy test");
    let result = serde_json::to_value(t.result)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let setting = serde_json::to_value(t.setting)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut o = Observation {
        // No code for the result in the reference notes: the words the import also reads.
        value_codeable_concept: Some(CodeableConcept::text(result)),
        ..laboratory(code, t.date)
    };
    o.other.insert(
        "note".into(),
        json!([{ "text": format!("test sensitivity {} mIU/mL; done in a {setting} setting", t.sensitivity_miu_ml) }]),
    );
    o
}

/// Who an audit event is about, followed through prescriptions and authorizations as the chain is read.
#[derive(Debug, Default)]
pub(crate) struct Attribution {
    prescriptions: HashMap<String, String>,
    authorizations: HashMap<String, String>,
}

impl Attribution {
    fn patient_of(&self, c: &Command) -> Option<String> {
        if let Some(p) = c.named_patient() {
            return Some(p.to_string());
        }
        match c {
            Command::Enroll(e) => Some(e.patient.clone()),
            Command::RequestAuthorization { prescription } => {
                self.prescriptions.get(prescription).cloned()
            }
            Command::RequestConfirmation { authorization }
            | Command::Dispense { authorization, .. } => {
                self.authorizations.get(authorization).cloned()
            }
            _ => None,
        }
    }

    fn learn(&mut self, e: &lenaguard_storage::AuditEvent) {
        let Outcome::Accepted { answer } = &e.outcome else {
            return;
        };
        match (&e.command, answer) {
            (Command::WritePrescription(o), _) => {
                self.prescriptions
                    .insert(o.prescription.clone(), o.patient.clone());
            }
            (
                Command::RequestAuthorization { prescription },
                Answer::Authorization { number, .. },
            ) => {
                if let Some(p) = self.prescriptions.get(prescription).cloned() {
                    self.authorizations.insert(number.clone(), p);
                }
            }
            _ => {}
        }
    }
}

/// The AuditEvents and DetectedIssues of audit trail events, read in chain order.
pub(crate) fn from_audit(
    kind: Kind,
    events: &[lenaguard_storage::AuditEvent],
    sys: &Systems,
) -> Vec<Built> {
    let mut who = Attribution::default();
    let mut out = Vec::new();
    for e in events {
        let patient = who.patient_of(&e.command);
        who.learn(e);
        let subject = patient.as_deref().and_then(patient_ref);
        match kind {
            Kind::AuditEvent => {
                let (outcome, desc) = match &e.outcome {
                    Outcome::Accepted { .. } => ("0", None),
                    Outcome::Refused { reasons } => (
                        "4",
                        Some(format!(
                            "refused: {}",
                            reasons
                                .iter()
                                .map(|r| r.code.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    ),
                };
                let recorded = e.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
                let a = AuditEvent {
                    id: Some(format!("audit-{}", e.seq)),
                    type_: Coding::new(&sys.command(), e.command.name(), None),
                    action: Some("E".into()),
                    recorded,
                    outcome: Some(outcome.into()),
                    outcome_desc: desc,
                    agent: vec![AuditAgent {
                        who: Some(user_ref(&e.actor)),
                        requestor: true,
                        ..AuditAgent::default()
                    }],
                    source: AuditSource {
                        observer: Reference {
                            display: Some("Lenaguard".into()),
                            ..Reference::default()
                        },
                        ..AuditSource::default()
                    },
                    entity: subject
                        .iter()
                        .map(|s| AuditEntity {
                            what: Some(s.clone()),
                            ..AuditEntity::default()
                        })
                        .collect(),
                    ..AuditEvent::default()
                };
                out.push(Built {
                    id: format!("audit-{}", e.seq),
                    patient: patient.clone(),
                    date: Some(jiff::tz::TimeZone::UTC.to_datetime(e.recorded_at).date()),
                    tokens: vec![
                        ("type", Some(sys.command()), e.command.name().to_string()),
                        ("outcome", None, outcome.to_string()),
                    ],
                    resource: Resource::AuditEvent(a),
                });
            }
            Kind::DetectedIssue => {
                let Outcome::Refused { reasons } = &e.outcome else {
                    continue;
                };
                if subject.is_none() {
                    // A refusal about no known patient (a registry command, an unknown authorization).
                    continue;
                }
                for (i, r) in reasons.iter().enumerate() {
                    let id = format!("refusal-{}-{i}", e.seq);
                    let mut detail = format!(
                        "{} refused: {}. To proceed: {}.",
                        e.command.name(),
                        r.what,
                        r.fix
                    );
                    if !r.rules.is_empty() {
                        detail.push_str(&format!(" Rules: {}.", r.rules.join(", ")));
                    }
                    let d = DetectedIssue {
                        id: Some(id.clone()),
                        status: "final".into(),
                        code: Some(CodeableConcept {
                            text: Some(r.what.clone()),
                            ..CodeableConcept::coded(&sys.refusal(), &r.code, &r.code)
                        }),
                        patient: subject.clone(),
                        identified_date_time: Some(e.on.to_string()),
                        author: None,
                        detail: Some(detail),
                        ..DetectedIssue::default()
                    };
                    out.push(Built {
                        id,
                        patient: patient.clone(),
                        date: Some(e.on),
                        tokens: vec![("code", Some(sys.refusal()), r.code.clone())],
                        resource: Resource::DetectedIssue(d),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

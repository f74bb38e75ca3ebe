//! FHIR Bundle → engine `Snapshot` (standards.md §3 resources, §4 code systems; the tables are in `codes`).
//!
//! Reads the patient (birthDate, gender), weight and height, labs by LOINC with UCUM units, the lenalidomide
//! MedicationRequests (treatment state and schedule), other active medications (interactions), and Conditions
//! (the regimen). What is missing and needed is an error naming the FHIR path; what is present but not used is
//! skipped with a recorded note; nothing is guessed. Nested Bundles (CDS Hooks prefetch searchsets) are read
//! as if flat.

use crate::codes::{self, ObservationConcept, UCUM};
use crate::error::InteropError;
use crate::fhir::{
    Bundle, CodeableConcept, Condition, MedicationRequest, Observation, Patient, Reference,
    Resource, path_of,
};
use crate::order::{self, Drug, LenalidomideOrder, parse_date};
use jiff::civil::Date;
use lenaguard_domain::interactions::Medication;
use lenaguard_domain::monitoring::MonitoringTest;
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::{Sex, WeightBasis};
use lenaguard_domain::snapshot::{self, Kidney, Lab, Treatment, TreatmentStatus};
use lenaguard_domain::{RulePack, Snapshot};
use serde::Serialize;
use std::collections::BTreeSet;

/// What the caller knows that FHIR does not carry.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions<'a> {
    /// Regimen start schedules, to tell the myeloma regimens apart by the order's schedule.
    pub pack: &'a RulePack,
    /// The regimen, when the caller knows it; checked against the coded diagnoses.
    pub regimen: Option<RegimenId>,
    /// Dialysis status: FHIR gives no code for it in the reference notes. `None` reads as "not on dialysis",
    /// with a note.
    pub dialysis: Option<bool>,
    pub weight_basis: WeightBasis,
    /// The order being checked (a CDS Hooks draft), which narrows the regimen and is not treatment history.
    pub proposed: Option<&'a MedicationRequest>,
}

impl<'a> ImportOptions<'a> {
    pub fn new(pack: &'a RulePack) -> Self {
        ImportOptions {
            pack,
            regimen: None,
            dialysis: None,
            weight_basis: WeightBasis::Actual,
            proposed: None,
        }
    }
}

/// What kind of note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// A resource or element not read, and why.
    Skipped,
    /// A value the caller did not give, taken as stated.
    Assumed,
    /// A value worked out from several elements.
    Derived,
    /// A code the reference notes mark NOT CONFIRMED was used.
    Unconfirmed,
    /// Something a prescriber must see that the engine did not evaluate (a positive pregnancy test in the EHR).
    Alert,
}

/// A note about the import: the FHIR path, what happened and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportNote {
    pub path: String,
    pub kind: NoteKind,
    pub message: String,
}

impl ImportNote {
    pub fn new(path: impl Into<String>, kind: NoteKind, message: impl Into<String>) -> Self {
        ImportNote {
            path: path.into(),
            kind,
            message: message.into(),
        }
    }
}

/// Every resource of a Bundle, nested Bundles flattened.
pub fn flatten(bundle: &Bundle) -> Vec<&Resource> {
    let mut out = Vec::new();
    for r in bundle.resources() {
        match r {
            Resource::Bundle(b) => out.extend(flatten(b)),
            other => out.push(other),
        }
    }
    out
}

struct Importer<'a> {
    opts: &'a ImportOptions<'a>,
    notes: Vec<ImportNote>,
    patient_ref: Option<String>,
}

/// Build a snapshot from a Bundle (any type: collection, searchset, transaction).
pub fn fhir_to_snapshot(
    bundle: &Bundle,
    options: &ImportOptions,
) -> Result<(Snapshot, Vec<ImportNote>), InteropError> {
    let resources = flatten(bundle);
    let mut im = Importer {
        opts: options,
        notes: Vec::new(),
        patient_ref: None,
    };
    let patient = im.patient(&resources)?;
    let mut labs = Vec::new();
    let mut weight: Option<(Date, f64)> = None;
    let mut height: Option<(Date, f64)> = None;
    let mut monitoring: Vec<MonitoringTest> = Vec::new();
    let mut conditions = Vec::new();
    let mut orders = Vec::new();
    for r in &resources {
        match r {
            Resource::Observation(o) => {
                im.subject(&path_of("Observation", o.id.as_deref()), o.subject.as_ref())?;
                im.observation(o, &mut labs, &mut weight, &mut height, &mut monitoring)?;
            }
            Resource::Condition(c) => {
                im.subject(&path_of("Condition", c.id.as_deref()), c.subject.as_ref())?;
                conditions.push(c);
            }
            Resource::MedicationRequest(m) => {
                im.subject(&m.path(), m.subject.as_ref())?;
                orders.push(m);
            }
            Resource::Patient(_) => {}
            other => im.notes.push(ImportNote::new(
                path_of(other.resource_type(), other.id()),
                NoteKind::Skipped,
                "not read for an assessment",
            )),
        }
    }
    let (diagnoses, candidates) = im.conditions(&conditions)?;
    let (treatment, medications, order_schedule) = im.orders(&orders)?;
    let regimen = im.regimen(&candidates, order_schedule.as_ref())?;
    let dialysis = match im.opts.dialysis {
        Some(d) => d,
        None => {
            im.notes.push(ImportNote::new(
                "Kidney",
                NoteKind::Assumed,
                "not on dialysis: dialysis status is not read from FHIR; the caller must say when a patient is on dialysis",
            ));
            false
        }
    };
    monitoring.sort_by_key(|m| (m.date, m.kind.as_str()));
    monitoring.dedup();
    let snapshot = Snapshot {
        patient: snapshot::Patient {
            age_years: None,
            birth_date: Some(patient.0),
            sex: patient.1,
            weight_kg: weight.map(|w| w.1),
            height_cm: height.map(|h| h.1),
        },
        regimen,
        dexamethasone: None,
        kidney: Kidney {
            dialysis,
            measured_crcl_ml_min: None,
            weight_basis: im.opts.weight_basis,
        },
        treatment,
        labs,
        baseline: None,
        adverse_events: Vec::new(),
        platelet_transfusions: Vec::new(),
        history: Default::default(),
        program: None,
        medications,
        vte: None,
        monitoring,
        diagnoses,
        in_clinical_trial: false,
    };
    Ok((snapshot, im.notes))
}

fn lower_words(cc: &CodeableConcept) -> String {
    cc.words().join(" ").to_lowercase()
}

impl<'a> Importer<'a> {
    fn patient(&mut self, resources: &[&Resource]) -> Result<(Date, Sex), InteropError> {
        let patients: Vec<&Patient> = resources
            .iter()
            .filter_map(|r| match r {
                Resource::Patient(p) => Some(p),
                _ => None,
            })
            .collect();
        let p = match patients.as_slice() {
            [] => {
                return Err(InteropError::missing(
                    "Patient",
                    "one Patient resource with gender and birthDate",
                ));
            }
            [p] => *p,
            [first, rest @ ..] => {
                if rest.iter().any(|p| p.id != first.id) {
                    return Err(InteropError::ambiguous(
                        "Patient",
                        "the Bundle holds more than one patient",
                    ));
                }
                first
            }
        };
        let path = path_of("Patient", p.id.as_deref());
        self.patient_ref = p.id.as_ref().map(|id| format!("Patient/{id}"));
        let birth = p.birth_date.as_deref().ok_or_else(|| {
            InteropError::missing(format!("{path}.birthDate"), "the birth date YYYY-MM-DD")
        })?;
        if birth.len() != 10 {
            return Err(InteropError::invalid(
                format!("{path}.birthDate"),
                birth,
                "a full birth date YYYY-MM-DD (age decides adult dosing and Cockcroft-Gault)",
            ));
        }
        let birth = parse_date(&format!("{path}.birthDate"), birth)?;
        let sex = match p.gender.as_deref() {
            Some("female") => Sex::Female,
            Some("male") => Sex::Male,
            Some(other) => {
                return Err(InteropError::invalid(
                    format!("{path}.gender"),
                    other,
                    "female or male: Cockcroft-Gault and the program categories need one of them",
                ));
            }
            None => {
                return Err(InteropError::missing(
                    format!("{path}.gender"),
                    "female or male",
                ));
            }
        };
        Ok((birth, sex))
    }

    /// Refuse a resource about another patient: a mixed-up prefetch must not dose the wrong person.
    fn subject(&self, path: &str, subject: Option<&Reference>) -> Result<(), InteropError> {
        if let (Some(want), Some(got)) = (
            self.patient_ref.as_deref(),
            subject.and_then(|s| s.reference.as_deref()),
        ) && !(got == want || got.ends_with(&format!("/{want}")))
        {
            return Err(InteropError::invalid(
                format!("{path}.subject.reference"),
                got,
                format!("{want}: every resource must be about the same patient"),
            ));
        }
        Ok(())
    }

    fn observation(
        &mut self,
        o: &Observation,
        labs: &mut Vec<Lab>,
        weight: &mut Option<(Date, f64)>,
        height: &mut Option<(Date, f64)>,
        monitoring: &mut Vec<MonitoringTest>,
    ) -> Result<(), InteropError> {
        let path = path_of("Observation", o.id.as_deref());
        let Some(entry) = o.code.codes_in(codes::LOINC).find_map(codes::loinc_code) else {
            let shown = o.code.label().unwrap_or("no code");
            self.notes.push(ImportNote::new(
                format!("{path}.code"),
                NoteKind::Skipped,
                format!(
                    "{shown}: not a LOINC code in the mapping table (codes.rs, standards.md §4.1)"
                ),
            ));
            return Ok(());
        };
        if !matches!(o.status.as_str(), "final" | "amended" | "corrected") {
            self.notes.push(ImportNote::new(
                format!("{path}.status"),
                NoteKind::Skipped,
                format!(
                    "{} with status {:?}: only final, amended or corrected results are read",
                    entry.display, o.status
                ),
            ));
            return Ok(());
        }
        if let ObservationConcept::NotUsed(why) = entry.concept {
            self.notes.push(ImportNote::new(
                format!("{path}.code"),
                NoteKind::Skipped,
                why,
            ));
            return Ok(());
        }
        if !entry.confirmed {
            self.notes.push(ImportNote::new(
                format!("{path}.code"),
                NoteKind::Unconfirmed,
                format!(
                    "LOINC {} ({}) is marked NOT CONFIRMED in standards.md §4.1",
                    entry.code, entry.display
                ),
            ));
        }
        let date = match (&o.effective_date_time, &o.effective_period) {
            (Some(d), _) => parse_date(&format!("{path}.effectiveDateTime"), d)?,
            (None, Some(p)) if p.start.is_some() => parse_date(
                &format!("{path}.effectivePeriod.start"),
                p.start.as_deref().unwrap_or_default(),
            )?,
            _ => {
                return Err(InteropError::missing(
                    format!("{path}.effectiveDateTime"),
                    "the date the sample was taken",
                ));
            }
        };
        match entry.concept {
            ObservationConcept::Lab(analyte) => {
                let Some((value, unit)) = self.quantity(o, &path, entry)? else {
                    return Ok(());
                };
                let range = o.reference_range.first();
                let limit = |q: Option<&crate::fhir::Quantity>,
                             which: &str,
                             notes: &mut Vec<ImportNote>| {
                    let q = q?;
                    if q.code.as_deref().and_then(|c| entry.engine_unit(c)) == Some(unit) {
                        q.value
                    } else {
                        notes.push(ImportNote::new(
                            format!("{path}.referenceRange[0].{which}"),
                            NoteKind::Skipped,
                            "not in the unit of the value",
                        ));
                        None
                    }
                };
                let lln = limit(range.and_then(|r| r.low.as_ref()), "low", &mut self.notes);
                let uln = limit(range.and_then(|r| r.high.as_ref()), "high", &mut self.notes);
                labs.push(Lab {
                    code: analyte,
                    value,
                    unit: unit.to_string(),
                    date,
                    lln,
                    uln,
                });
            }
            ObservationConcept::BodyWeight | ObservationConcept::BodyHeight => {
                let Some((value, _)) = self.quantity(o, &path, entry)? else {
                    return Ok(());
                };
                let slot = if entry.concept == ObservationConcept::BodyWeight {
                    weight
                } else {
                    height
                };
                if slot.is_none_or(|(d, _)| date > d) {
                    *slot = Some((date, value));
                }
            }
            ObservationConcept::Monitoring(kind) => monitoring.push(MonitoringTest { kind, date }),
            ObservationConcept::HcgQualitative(_) => {
                let words = o
                    .value_codeable_concept
                    .as_ref()
                    .map(lower_words)
                    .or_else(|| o.value_string.as_ref().map(|s| s.to_lowercase()))
                    .unwrap_or_default();
                let negative = words.contains("negative") || words.contains("not detected");
                let positive =
                    !negative && (words.contains("positive") || words.contains("detected"));
                self.pregnancy_note(&path, date, positive, negative, &words);
            }
            ObservationConcept::PregnancyStatus => {
                let cc = o.value_codeable_concept.as_ref();
                let has =
                    |code: &str| cc.is_some_and(|c| c.codes_in(codes::SNOMED).any(|x| x == code));
                let words = cc.map(lower_words).unwrap_or_default();
                self.pregnancy_note(
                    &path,
                    date,
                    has(codes::SNOMED_PREGNANT),
                    has(codes::SNOMED_NOT_PREGNANT),
                    &words,
                );
            }
            ObservationConcept::HcgQuantitative => {
                self.notes.push(ImportNote::new(
                    format!("{path}.valueQuantity"),
                    NoteKind::Skipped,
                    format!("quantitative hCG on {date} is not interpreted (no positivity threshold in the reference notes); the program record keeps pregnancy tests"),
                ));
            }
            ObservationConcept::NotUsed(_) => {}
        }
        Ok(())
    }

    fn pregnancy_note(
        &mut self,
        path: &str,
        date: Date,
        positive: bool,
        negative: bool,
        words: &str,
    ) {
        let (kind, message) = if positive {
            (
                NoteKind::Alert,
                format!(
                    "POSITIVE pregnancy result on {date} in the EHR ({words}): not evaluated by the program record here; verify before any dose"
                ),
            )
        } else if negative {
            (
                NoteKind::Skipped,
                format!(
                    "negative pregnancy result on {date}: the program record, which keeps the test sensitivity, is not built from FHIR"
                ),
            )
        } else {
            (
                NoteKind::Alert,
                format!(
                    "pregnancy result on {date} could not be read ({words:?}): verify before any dose"
                ),
            )
        };
        self.notes
            .push(ImportNote::new(format!("{path}.value[x]"), kind, message));
    }

    /// The value and the engine unit of a valueQuantity. `None` when the result is absent with a reason.
    fn quantity(
        &mut self,
        o: &Observation,
        path: &str,
        entry: &codes::LoincCode,
    ) -> Result<Option<(f64, &'static str)>, InteropError> {
        let q = lab_quantity(o, path, entry)?;
        if q.is_none() {
            self.notes.push(ImportNote::new(
                format!("{path}.dataAbsentReason"),
                NoteKind::Skipped,
                format!(
                    "{}: no value ({})",
                    entry.display,
                    o.data_absent_reason
                        .as_ref()
                        .and_then(|r| r.label())
                        .unwrap_or("absent")
                ),
            ));
        }
        Ok(q)
    }

    fn conditions(
        &mut self,
        conditions: &[&Condition],
    ) -> Result<(Vec<String>, BTreeSet<RegimenId>), InteropError> {
        let mut names = Vec::new();
        let mut candidates = BTreeSet::new();
        for c in conditions {
            let path = path_of("Condition", c.id.as_deref());
            let clinical = c
                .clinical_status
                .as_ref()
                .and_then(|s| s.coding.iter().find_map(|x| x.code.as_deref()));
            let verification = c
                .verification_status
                .as_ref()
                .and_then(|s| s.coding.iter().find_map(|x| x.code.as_deref()));
            if clinical.is_some_and(|s| !matches!(s, "active" | "recurrence" | "relapse"))
                || verification.is_some_and(|v| matches!(v, "refuted" | "entered-in-error"))
            {
                self.notes.push(ImportNote::new(
                    path,
                    NoteKind::Skipped,
                    format!("not active or not confirmed (clinicalStatus {clinical:?}, verificationStatus {verification:?})"),
                ));
                continue;
            }
            let Some(code) = &c.code else { continue };
            if let Some(name) = code.label() {
                names.push(name.to_string());
            }
            let found = code
                .coding
                .iter()
                .find_map(|x| codes::diagnosis(x.system.as_deref()?, x.code.as_deref()?));
            match found {
                Some(d) => {
                    if !d.confirmed {
                        self.notes.push(ImportNote::new(
                            format!("{path}.code"),
                            NoteKind::Unconfirmed,
                            format!(
                                "{} {} ({}) is marked NOT CONFIRMED in standards.md §4.2",
                                d.system, d.code, d.display
                            ),
                        ));
                    }
                    candidates.extend(d.indication.regimens().iter().copied());
                }
                None => self.notes.push(ImportNote::new(
                    format!("{path}.code"),
                    NoteKind::Skipped,
                    format!(
                        "{}: not an indication in the mapping table",
                        code.label().unwrap_or("uncoded")
                    ),
                )),
            }
        }
        Ok((names, candidates))
    }

    /// Treatment state from the lenalidomide orders; other active orders become the medication list.
    fn orders(
        &mut self,
        orders: &[&MedicationRequest],
    ) -> Result<
        (
            Treatment,
            Vec<Medication>,
            Option<lenaguard_domain::dose::Schedule>,
        ),
        InteropError,
    > {
        let mut medications = Vec::new();
        let mut history: Vec<(&MedicationRequest, LenalidomideOrder, Date)> = Vec::new();
        let mut proposed = None;
        for m in orders {
            let drug = order::identify(m)?;
            match (&drug, m.status.as_str()) {
                (_, "cancelled" | "entered-in-error") => self.notes.push(ImportNote::new(
                    m.path(),
                    NoteKind::Skipped,
                    format!("status {}", m.status),
                )),
                (Drug::Other { label }, "active") => {
                    let rxnorm = m
                        .medication_codeable_concept
                        .as_ref()
                        .and_then(|c| {
                            c.codes_in(codes::RXNORM)
                                .find(|c| c.bytes().all(|b| b.is_ascii_digit()))
                        })
                        .map(str::to_string);
                    medications.push(Medication {
                        name: Some(label.clone()),
                        rxnorm,
                        start: None,
                        stop: None,
                    });
                }
                (Drug::Other { .. }, _) => {}
                (Drug::Lenalidomide { .. }, "draft") => {
                    let o = order::read(m, &drug)?;
                    proposed = Some(o.schedule);
                    self.notes.push(ImportNote::new(
                        m.path(),
                        NoteKind::Derived,
                        format!("draft order read as the proposed schedule ({}), not as treatment history", o.schedule),
                    ));
                }
                (Drug::Lenalidomide { .. }, "on-hold" | "stopped") => {
                    return Err(InteropError::ambiguous(
                        format!("{}.status", m.path()),
                        format!(
                            "a lenalidomide order {}: the interruption's start and cause (or the discontinuation) are not in the order; give them in a snapshot",
                            m.status
                        ),
                    ));
                }
                (Drug::Lenalidomide { .. }, "active" | "completed") => {
                    let o = order::read(m, &drug)?;
                    let start = match (o.cycle_start, m.authored_on.as_deref()) {
                        (Some(s), _) => s,
                        (None, Some(a)) => {
                            let d = parse_date(&format!("{}.authoredOn", m.path()), a)?;
                            self.notes.push(ImportNote::new(
                                format!("{}.authoredOn", m.path()),
                                NoteKind::Assumed,
                                format!("cycle day 1 taken as the order date {d} (no timing.repeat.boundsPeriod.start)"),
                            ));
                            d
                        }
                        (None, None) => {
                            return Err(InteropError::missing(
                                format!(
                                    "{}.dosageInstruction[0].timing.repeat.boundsPeriod.start",
                                    m.path()
                                ),
                                "the first day of the cycle this order covers",
                            ));
                        }
                    };
                    history.push((m, o, start));
                }
                (Drug::Lenalidomide { .. }, other) => self.notes.push(ImportNote::new(
                    format!("{}.status", m.path()),
                    NoteKind::Skipped,
                    format!("lenalidomide order with status {other:?} not read"),
                )),
            }
        }
        if let Some(p) = self.opts.proposed {
            let drug = order::identify(p)?;
            if matches!(drug, Drug::Lenalidomide { .. }) {
                proposed = Some(order::read(p, &drug)?.schedule);
            }
        }
        history.sort_by_key(|h| h.2);
        let active: Vec<_> = history.iter().filter(|h| h.0.status == "active").collect();
        if active.len() > 1 {
            return Err(InteropError::ambiguous(
                active[1].0.path(),
                format!(
                    "two active lenalidomide orders ({} and {})",
                    active[0].0.path(),
                    active[1].0.path()
                ),
            ));
        }
        let Some(last) = history.last() else {
            return Ok((
                Treatment {
                    status: TreatmentStatus::NotStarted,
                    start_date: None,
                    cycle: None,
                    cycle_start: None,
                    current: None,
                    starting: None,
                    interruptions: Vec::new(),
                },
                medications,
                proposed,
            ));
        };
        let current = active.first().copied().unwrap_or(last);
        if current.0.status != "active" {
            self.notes.push(ImportNote::new(
                current.0.path(),
                NoteKind::Derived,
                "treatment taken as under way: the latest cycle order is completed and none is stopped or on hold",
            ));
        }
        let first = &history[0];
        let starting = (first.1.schedule != current.1.schedule).then_some(first.1.schedule);
        Ok((
            Treatment {
                status: TreatmentStatus::Active,
                start_date: Some(first.2),
                cycle: None,
                cycle_start: Some(current.2),
                current: Some(current.1.schedule),
                starting,
                interruptions: Vec::new(),
            },
            medications,
            proposed.or(Some(current.1.schedule)),
        ))
    }

    fn regimen(
        &mut self,
        candidates: &BTreeSet<RegimenId>,
        schedule: Option<&lenaguard_domain::dose::Schedule>,
    ) -> Result<RegimenId, InteropError> {
        let list = || {
            candidates
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(r) = self.opts.regimen {
            if !candidates.is_empty() && !candidates.contains(&r) {
                return Err(InteropError::ambiguous(
                    "Condition",
                    format!(
                        "regimen {r} was given but the coded diagnoses point to {}",
                        list()
                    ),
                ));
            }
            return Ok(r);
        }
        match candidates.len() {
            0 => Err(InteropError::missing(
                "Condition.code",
                "an active Condition coded with an indication of standards.md §4.2 (SNOMED CT or ICD-10-CM), or the regimen from the caller",
            )),
            1 => Ok(*candidates.iter().next().unwrap_or(&RegimenId::MmRd)),
            _ => {
                let Some(s) = schedule else {
                    return Err(InteropError::ambiguous(
                        "Condition",
                        format!(
                            "the diagnoses fit several regimens ({}) and no lenalidomide order tells them apart; give the regimen",
                            list()
                        ),
                    ));
                };
                let fits: Vec<RegimenId> = candidates
                    .iter()
                    .copied()
                    .filter(|r| {
                        let start = self.opts.pack.regimen(*r).start;
                        start.days_on == s.days_on && start.cycle_days == s.cycle_days
                    })
                    .collect();
                match fits.as_slice() {
                    [one] => {
                        self.notes.push(ImportNote::new(
                            "Condition",
                            NoteKind::Derived,
                            format!("regimen {one}: of {}, the only one dosed on days {}-{} of {}-day cycles like the order", list(), s.days_on.first(), s.days_on.last(), s.cycle_days),
                        ));
                        Ok(*one)
                    }
                    _ => Err(InteropError::ambiguous(
                        "Condition",
                        format!(
                            "the diagnoses fit several regimens ({}) and the order's schedule ({s}) does not single one out; give the regimen",
                            list()
                        ),
                    )),
                }
            }
        }
    }
}

/// The value of a lab Observation in the engine's unit for its table entry: the UCUM code is read (the free-text
/// unit only when no system is given and it is itself a UCUM code of the table, since many EHRs send `unit`
/// alone). `None` when there is no value and a `dataAbsentReason` says why; an error names the path otherwise.
pub fn lab_quantity(
    o: &Observation,
    path: &str,
    entry: &codes::LoincCode,
) -> Result<Option<(f64, &'static str)>, InteropError> {
    let Some(q) = &o.value_quantity else {
        if o.data_absent_reason.is_some() {
            return Ok(None);
        }
        return Err(InteropError::missing(
            format!("{path}.valueQuantity"),
            format!(
                "the {} as a Quantity in {}",
                entry.display,
                entry.accepted_units()
            ),
        ));
    };
    let value = q
        .value
        .ok_or_else(|| InteropError::missing(format!("{path}.valueQuantity.value"), "a number"))?;
    if let Some(c) = &q.comparator {
        return Err(InteropError::invalid(
            format!("{path}.valueQuantity.comparator"),
            c,
            "an exact value: a censored result (<, >) is not dosed from",
        ));
    }
    let (field, unit) = match (q.system.as_deref(), q.code.as_deref(), q.unit.as_deref()) {
        (Some(UCUM), Some(code), _) => ("code", code),
        (None, None, Some(unit)) => ("unit", unit),
        (Some(other), _, _) if other != UCUM => {
            return Err(InteropError::invalid(
                format!("{path}.valueQuantity.system"),
                other,
                entry.accepted_units(),
            ));
        }
        (_, _, u) => {
            return Err(InteropError::missing(
                format!("{path}.valueQuantity.code"),
                format!(
                    "{} (unit sent: {:?})",
                    entry.accepted_units(),
                    u.unwrap_or("")
                ),
            ));
        }
    };
    let engine = entry.engine_unit(unit).ok_or_else(|| {
        InteropError::invalid(
            format!("{path}.valueQuantity.{field}"),
            unit,
            format!("{} for LOINC {}", entry.accepted_units(), entry.code),
        )
    })?;
    Ok(Some((value, engine)))
}

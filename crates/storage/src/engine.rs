//! The bridge from stored rows to the domain engine: a patient's file becomes the engine's `Snapshot` (with its
//! REMS record), so every command is judged by the same pure rules every other door uses.

use crate::command::{
    BodyMeasurement, ContraceptionAttestation, PregnancyTestReport, Reason, SurveySubmission,
};
use crate::error::StorageError;
use crate::records::{PatientFile, RecordKind};
use jiff::civil::Date;
use lenaguard_domain::InputError;
use lenaguard_domain::pack::RulePack;
use lenaguard_domain::program::{
    self, Authorization, CheckedProgram, Confirmation, ContraceptionRecord, Dispense,
    EligibilityReport, PregnancyTest, Prescription, ProgramRecord, Reclassification, Stage, Survey,
};
use lenaguard_domain::snapshot::{
    AdverseEvent, Interruption, InterruptionCause, Lab, Patient, Snapshot, Treatment,
};
use serde::{Deserialize, Serialize};

/// The body of an interruption record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterruptionBody {
    pub cause: InterruptionCause,
}

/// The body of a discontinuation record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscontinuationBody {
    pub reason: String,
}

fn body<T: serde::de::DeserializeOwned>(
    file: &PatientFile,
    r: &crate::records::RecordRow,
) -> Result<T, StorageError> {
    r.body.decode().map_err(|e| {
        StorageError::corrupt(
            format!(
                "{} record {} of patient {}",
                r.kind.as_str(),
                r.id,
                file.patient.id
            ),
            e,
        )
    })
}

/// The engine's snapshot of a stored patient.
pub fn snapshot(file: &PatientFile) -> Result<Snapshot, StorageError> {
    let p = &file.patient;
    let mut record = ProgramRecord {
        category: p.category,
        enrolled_on: Some(p.agreement_signed_on),
        not_of_reproductive_potential: p.not_of_reproductive_potential.clone(),
        reclassifications: Vec::new(),
        planned_start: p.planned_start,
        last_dose: p.last_dose,
        pregnancy_tests: Vec::new(),
        menstrual: Default::default(),
        contraception: Vec::new(),
        surveys: Vec::new(),
        prescriptions: Vec::new(),
        authorizations: Vec::new(),
        confirmations: Vec::new(),
        dispenses: Vec::new(),
    };
    let mut interruptions: Vec<Interruption> = Vec::new();
    let mut labs: Vec<Lab> = Vec::new();
    let mut adverse: Vec<AdverseEvent> = Vec::new();
    // The snapshot carries one weight and height: those of the latest measurement by date (the later record on
    // the same date). The builder is not given the business date, but a measurement is never dated after the
    // day it is recorded, so the latest by date is the latest on or before any later business date. How old a
    // weight may be is the domain's to judge.
    let mut measured: Option<BodyMeasurement> = None;
    for r in &file.records {
        match r.kind {
            RecordKind::Reclassification => record
                .reclassifications
                .push(body::<Reclassification>(file, r)?),
            RecordKind::PregnancyTest => {
                let t: PregnancyTestReport = body(file, r)?;
                record.pregnancy_tests.push(PregnancyTest {
                    date: t.date,
                    result: t.result,
                    sensitivity_miu_ml: t.sensitivity_miu_ml,
                    setting: t.setting,
                });
            }
            RecordKind::Contraception => {
                let c: ContraceptionAttestation = body(file, r)?;
                // A new attestation supersedes the open one: it ends the day before the new one starts.
                if let Some(prev) = record.contraception.last_mut()
                    && prev.end.is_none_or(|e| e >= c.start)
                {
                    prev.end = c.start.yesterday().ok();
                }
                record.contraception.push(ContraceptionRecord {
                    start: c.start,
                    end: c.end,
                    methods: c.methods,
                    abstinence: c.abstinence,
                });
            }
            RecordKind::Survey => {
                let s: SurveyRecord = body(file, r)?;
                record.surveys.push(Survey {
                    date: s.submission.date,
                    category: s.category,
                });
            }
            RecordKind::Interruption => {
                let b: InterruptionBody = body(file, r)?;
                interruptions.push(Interruption {
                    start: r.on,
                    end: None,
                    cause: b.cause,
                });
            }
            RecordKind::Resumption => {
                if let Some(open) = interruptions.iter_mut().rev().find(|i| i.end.is_none()) {
                    open.end = Some(r.on);
                }
            }
            RecordKind::Discontinuation | RecordKind::FetalExposure => {}
            RecordKind::AdverseEvent => adverse.push(body(file, r)?),
            RecordKind::Lab => labs.push(body(file, r)?),
            RecordKind::Measurement => {
                let m: BodyMeasurement = body(file, r)?;
                if measured.as_ref().is_none_or(|latest| m.date >= latest.date) {
                    measured = Some(m);
                }
            }
        }
    }
    for x in &file.prescriptions {
        record.prescriptions.push(Prescription {
            date: x.date,
            days_supply: x.days_supply,
            refills: x.refills,
            telephone: x.telephone,
        });
    }
    for a in &file.authorizations {
        record.authorizations.push(Authorization {
            date: a.issued_on,
            number: Some(a.number.clone()),
        });
    }
    for c in &file.confirmations {
        record.confirmations.push(Confirmation {
            date: c.issued_on,
            number: Some(c.number.clone()),
        });
    }
    for d in &file.dispenses {
        record.dispenses.push(Dispense {
            date: d.date,
            days_supply: d.days_supply,
        });
    }
    // The schedule in force is that of the last dispensed prescription.
    let current = file
        .dispenses
        .last()
        .and_then(|d| {
            file.authorizations
                .iter()
                .find(|a| a.number == d.authorization)
        })
        .and_then(|a| file.prescriptions.iter().find(|x| x.id == a.prescription))
        .map(|x| x.schedule);
    // Built field by field, not through JSON: the sweep builds one for every patient in the registry.
    Ok(Snapshot {
        patient: Patient {
            age_years: None,
            birth_date: Some(p.birth_date),
            sex: p.sex,
            weight_kg: measured.as_ref().map(|m| m.weight_kg),
            height_cm: measured.as_ref().and_then(|m| m.height_cm),
        },
        regimen: p.regimen,
        dexamethasone: None,
        kidney: Default::default(),
        treatment: Treatment {
            status: p.status,
            start_date: p.start_date,
            cycle: None,
            cycle_start: None,
            current,
            starting: None,
            interruptions,
        },
        labs,
        baseline: None,
        adverse_events: adverse,
        platelet_transfusions: Vec::new(),
        history: Default::default(),
        program: Some(record),
        medications: Vec::new(),
        vte: None,
        monitoring: Vec::new(),
        diagnoses: Vec::new(),
        in_clinical_trial: false,
    })
}

/// The body of a survey record: the submission and the category it was taken for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyRecord {
    pub category: program::RiskCategory,
    pub submission: SurveySubmission,
}

/// Validate the snapshot and its REMS record as the engine would.
pub fn check(snap: &Snapshot, pack: &RulePack, on: Date) -> Result<CheckedProgram, InputError> {
    let checked = snap.validate(pack, on)?;
    let record = snap
        .program
        .as_ref()
        .ok_or_else(|| InputError::missing("program", "the patient's REMS record"))?;
    record.check(snap, checked.age_years, pack, on)
}

/// Eligibility at a stage, or the input problem as a refusal reason.
pub fn eligibility(
    snap: &Snapshot,
    pack: &RulePack,
    on: Date,
    stage: Stage,
) -> Result<EligibilityReport, Reason> {
    program::eligibility(snap, pack, on, Some(stage)).map_err(|e| invalid_record(&e))
}

/// A stored record set the engine refuses (a contradiction the new fact would create).
pub fn invalid_record(e: &InputError) -> Reason {
    Reason::new(
        "record.invalid",
        e.to_string(),
        "correct the data named; the engine refuses records that contradict each other",
    )
}

/// The engine's missing steps as refusal reasons.
pub fn missing_steps(report: &EligibilityReport, ignore: &[&str]) -> Vec<Reason> {
    report
        .missing
        .iter()
        .filter(|m| !ignore.contains(&m.code.as_str()))
        .map(|m| {
            let mut what = m.what.clone();
            if let Some(d) = m.latest {
                what.push_str(&format!(" (act by {d})"));
            }
            Reason {
                code: m.code.clone(),
                what,
                fix: m.fix.clone(),
                rules: m.sources.iter().map(|s| s.rule.clone()).collect(),
            }
        })
        .collect()
}

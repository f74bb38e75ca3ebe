//! `lenaguard program ...`: every step of the pregnancy-prevention program as a command against the store, so the
//! whole program is scriptable end to end. Each command prints whether it was accepted (with its answer: a
//! number, a window) or refused (with every reason and what fixes it), and the audit event that records it.
//!
//! Exit codes: 0 accepted, 1 refused by the program rules, 2 bad input, 3 internal error.

use crate::db::{DbArgs, block_on, workflow};
use crate::input::{Context, parse_date};
use crate::{Failure, Format, Outcome};
use clap::{Args, Subcommand};
use jiff::civil::Date;
use lenaguard_storage::command::{
    BodyMeasurement, Command, CommandOutcome, CommandRequest, ContraceptionAttestation,
    Counselling, Enrollment, PregnancyTestReport, PrescriptionOrder, SurveySubmission,
};
use lenaguard_storage::{Answer, Outcome as Judged, engine};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

#[derive(Debug, Args)]
pub struct ProgramArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The user issuing the command (`admin` for registry administration).
    #[arg(
        long = "as",
        env = "LENAGUARD_ACTOR",
        value_name = "USER",
        global = true
    )]
    pub actor: Option<String>,
    /// Idempotency key: repeat a command with the same key to retry it safely. Default: a new random key.
    #[arg(long, value_name = "KEY", global = true)]
    pub key: Option<String>,
    #[command(subcommand)]
    pub step: Step,
}

#[derive(Debug, Subcommand)]
pub enum Step {
    /// Register a clinic or pharmacy (as admin or program staff).
    RegisterOrganisation {
        #[arg(long)]
        id: String,
        /// clinic or pharmacy
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
    },
    /// Register a user of an organisation with a role: prescriber, pharmacist or program_staff.
    RegisterUser {
        #[arg(long)]
        id: String,
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
    },
    /// Certify a prescriber in the program until a date.
    CertifyPrescriber {
        #[arg(long)]
        user: String,
        #[arg(long, value_name = "DATE")]
        expires: String,
    },
    /// Certify a pharmacy in the program until a date.
    CertifyPharmacy {
        #[arg(long)]
        organisation: String,
        #[arg(long, value_name = "DATE")]
        expires: String,
    },
    /// Enroll a patient (the signed Patient-Physician Agreement Form), as the enrolling prescriber.
    Enroll {
        #[arg(long)]
        patient: String,
        /// What the registry is unique on, e.g. CLINIC:MRN.
        #[arg(long)]
        identity: String,
        /// female or male
        #[arg(long)]
        sex: String,
        #[arg(long, value_name = "DATE")]
        birth_date: String,
        /// adult_female_can_get_pregnant, female_child_can_get_pregnant, adult_female_cannot_get_pregnant,
        /// female_child_cannot_get_pregnant, adult_male, male_child
        #[arg(long)]
        category: String,
        #[arg(long, value_name = "DATE")]
        agreement_signed: String,
        /// Regimen id (see `lenaguard dose --help`), e.g. mm_rd.
        #[arg(long)]
        regimen: String,
        /// Parent or guardian who signed for a minor.
        #[arg(long)]
        guardian: Option<String>,
        #[arg(long, value_name = "DATE")]
        planned_start: Option<String>,
        /// For a female who cannot get pregnant: REASON:DATE, REASON one of natural_menopause, hysterectomy,
        /// bilateral_oophorectomy.
        #[arg(long, value_name = "REASON:DATE")]
        not_reproductive: Option<String>,
    },
    /// Change a patient's risk category, with the reason.
    Reclassify {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: String,
        #[arg(long, value_name = "REASON:DATE")]
        not_reproductive: Option<String>,
    },
    /// Record a pregnancy test.
    PregnancyTest {
        #[arg(long)]
        patient: String,
        /// Defaults to --today.
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// urine or serum
        #[arg(long)]
        specimen: String,
        /// hCG sensitivity in mIU/mL.
        #[arg(long)]
        sensitivity: f64,
        /// negative or positive
        #[arg(long)]
        result: String,
        /// lab or home
        #[arg(long, default_value = "lab")]
        setting: String,
    },
    /// Record a contraception attestation (repeat --method; or --abstinence).
    Contraception {
        #[arg(long)]
        patient: String,
        #[arg(long, value_name = "DATE")]
        start: String,
        #[arg(long, value_name = "DATE")]
        end: Option<String>,
        #[arg(long = "method")]
        methods: Vec<String>,
        #[arg(long)]
        abstinence: bool,
    },
    /// Submit the patient survey: repeat --answer QUESTION=yes|no (see `program questions`).
    Survey {
        #[arg(long)]
        patient: String,
        #[arg(long = "answer", value_name = "QUESTION=yes|no")]
        answers: Vec<String>,
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
    /// The survey questions for a patient's category and the answers the program requires.
    Questions {
        #[arg(long)]
        patient: String,
    },
    /// Write a prescription (at most the pack's maximum supply, no refills).
    Prescribe {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        prescription: String,
        /// Dose in mg (a capsule strength).
        #[arg(long)]
        dose: f64,
        /// once_daily or every_other_day
        #[arg(long, default_value = "once_daily")]
        frequency: String,
        /// First and last dosing day of the cycle, e.g. 1-21.
        #[arg(long, value_name = "FIRST-LAST")]
        days_on: String,
        #[arg(long, value_name = "DAYS")]
        cycle: u16,
        /// Capsules.
        #[arg(long)]
        quantity: u32,
        #[arg(long)]
        days_supply: u16,
        #[arg(long, default_value_t = 0)]
        refills: u16,
        #[arg(long)]
        telephone: bool,
        /// The certified pharmacy the prescription is routed to (only it may confirm and dispense it).
        #[arg(long, value_name = "ORGANISATION")]
        pharmacy: Option<String>,
    },
    /// Request the authorization number of a prescription (as its prescriber).
    Authorize {
        #[arg(long)]
        prescription: String,
    },
    /// Obtain the pharmacy confirmation number for an authorization (as a pharmacist).
    Confirm {
        #[arg(long)]
        authorization: String,
    },
    /// Dispense under an authorization and confirmation, after counselling (as a pharmacist).
    Dispense {
        #[arg(long)]
        authorization: String,
        #[arg(long)]
        confirmation: String,
        #[arg(long)]
        days_supply: u16,
        #[arg(long)]
        quantity: u32,
        /// The education and counselling checklist was completed.
        #[arg(long)]
        checklist_completed: bool,
        /// The Medication Guide was given.
        #[arg(long)]
        medication_guide_given: bool,
    },
    /// Interrupt treatment: neutropenia, thrombocytopenia, other_toxicity or other.
    Interrupt {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        cause: String,
    },
    /// Resume an interrupted treatment.
    Resume {
        #[arg(long)]
        patient: String,
    },
    /// Stop treatment for good.
    Discontinue {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        reason: String,
    },
    /// Report an adverse event (CTCAE term and grade).
    AdverseEvent {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        term: String,
        #[arg(long)]
        grade: u8,
        #[arg(long, value_name = "DATE")]
        onset: String,
    },
    /// Record a lab result (code anc, platelets, wbc, hemoglobin, creatinine, temperature).
    Lab {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        value: f64,
        #[arg(long)]
        unit: String,
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
    /// Record a body weight in kg (and height in cm), which Cockcroft-Gault needs with a creatinine.
    Measurement {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        weight_kg: f64,
        #[arg(long)]
        height_cm: Option<f64>,
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
    /// Report a suspected fetal exposure.
    FetalExposure {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        description: String,
    },
    /// Submit a raw command (JSON, the storage API's `Command`) from a file or - for standard input.
    Submit { file: String },
    /// The patient's stored record judged today: what the program still needs before a prescription or a dispense.
    Status {
        #[arg(long)]
        patient: String,
    },
}

fn named<T: DeserializeOwned>(flag: &str, value: &str, accepted: &str) -> Result<T, Failure> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        Failure::Input(format!(
            "{flag}: {value:?} is not accepted; expected {accepted}"
        ))
    })
}

fn opt_date(flag: &str, v: &Option<String>) -> Result<Option<Date>, Failure> {
    v.as_deref().map(|s| parse_date(flag, s)).transpose()
}

fn not_reproductive(
    v: &Option<String>,
) -> Result<Option<lenaguard_domain::program::NotReproductive>, Failure> {
    let Some(v) = v else { return Ok(None) };
    let form = "REASON:DATE with REASON natural_menopause, hysterectomy or bilateral_oophorectomy";
    let (reason, date) = v.split_once(':').ok_or_else(|| {
        Failure::Input(format!(
            "--not-reproductive: {v:?} is not accepted; expected {form}"
        ))
    })?;
    Ok(Some(lenaguard_domain::program::NotReproductive {
        reason: named("--not-reproductive", reason, form)?,
        since: parse_date("--not-reproductive", date)?,
    }))
}

fn build(ctx: &Context, actor: &str, step: &Step) -> Result<Command, Failure> {
    let today = ctx.today;
    let category_form = lenaguard_domain::program::RiskCategory::ACCEPTED;
    Ok(match step {
        Step::RegisterOrganisation { id, kind, name } => Command::RegisterOrganisation {
            organisation: id.clone(),
            kind: named("--kind", kind, "clinic or pharmacy")?,
            name: name.clone(),
        },
        Step::RegisterUser { id, organisation, name, role } => Command::RegisterUser {
            user: id.clone(),
            organisation: organisation.clone(),
            name: name.clone(),
            role: named("--role", role, "prescriber, pharmacist or program_staff")?,
        },
        Step::CertifyPrescriber { user, expires } => Command::CertifyPrescriber {
            user: user.clone(),
            expires_on: parse_date("--expires", expires)?,
        },
        Step::CertifyPharmacy { organisation, expires } => Command::CertifyPharmacy {
            organisation: organisation.clone(),
            expires_on: parse_date("--expires", expires)?,
        },
        Step::Enroll {
            patient,
            identity,
            sex,
            birth_date,
            category,
            agreement_signed,
            regimen,
            guardian,
            planned_start,
            not_reproductive: nr,
        } => Command::Enroll(Enrollment {
            patient: patient.clone(),
            identity: identity.clone(),
            sex: named("--sex", sex, "female or male")?,
            birth_date: parse_date("--birth-date", birth_date)?,
            category: named("--category", category, category_form)?,
            agreement_signed_on: parse_date("--agreement-signed", agreement_signed)?,
            guardian: guardian.clone(),
            prescriber: actor.to_string(),
            regimen: named("--regimen", regimen, "a regimen id such as mm_rd, mm_maintenance, mds_del5q, mcl, fl, mzl, mm_vrd")?,
            not_of_reproductive_potential: not_reproductive(nr)?,
            planned_start: opt_date("--planned-start", planned_start)?,
        }),
        Step::Reclassify { patient, to, reason, not_reproductive: nr } => Command::Reclassify {
            patient: patient.clone(),
            to: named("--to", to, category_form)?,
            reason: reason.clone(),
            not_of_reproductive_potential: not_reproductive(nr)?,
        },
        Step::PregnancyTest { patient, date, specimen, sensitivity, result, setting } => {
            Command::RecordPregnancyTest {
                patient: patient.clone(),
                test: PregnancyTestReport {
                    date: opt_date("--date", date)?.unwrap_or(today),
                    specimen: named("--specimen", specimen, "urine or serum")?,
                    sensitivity_miu_ml: *sensitivity,
                    result: named("--result", result, "negative or positive")?,
                    setting: named("--setting", setting, "lab or home")?,
                },
            }
        }
        Step::Contraception { patient, start, end, methods, abstinence } => Command::AttestContraception {
            patient: patient.clone(),
            attestation: ContraceptionAttestation {
                start: parse_date("--start", start)?,
                end: opt_date("--end", end)?,
                methods: methods.clone(),
                abstinence: *abstinence,
            },
        },
        Step::Survey { patient, answers, date } => {
            let mut map = BTreeMap::new();
            for a in answers {
                let parsed = a.split_once('=').and_then(|(q, v)| match v {
                    "yes" | "true" => Some((q.to_string(), true)),
                    "no" | "false" => Some((q.to_string(), false)),
                    _ => None,
                });
                let (q, v) = parsed.ok_or_else(|| {
                    Failure::Input(format!("--answer: {a:?} is not accepted; expected QUESTION=yes or QUESTION=no"))
                })?;
                map.insert(q, v);
            }
            Command::SubmitSurvey {
                patient: patient.clone(),
                survey: SurveySubmission {
                    date: opt_date("--date", date)?.unwrap_or(today),
                    questionnaire: lenaguard_storage::survey::QUESTIONNAIRE.into(),
                    answers: map,
                },
            }
        }
        Step::Prescribe {
            patient,
            prescription,
            dose,
            frequency,
            days_on,
            cycle,
            quantity,
            days_supply,
            refills,
            telephone,
            pharmacy,
        } => {
            let form = "FIRST-LAST days of the cycle, e.g. 1-21";
            let (a, b) = days_on
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
                .ok_or_else(|| Failure::Input(format!("--days-on: {days_on:?} is not accepted; expected {form}")))?;
            let schedule = serde_json::from_value(serde_json::json!({
                "dose_mg": dose, "frequency": frequency, "days_on": [a, b], "cycle_days": cycle
            }))
            .map_err(|e| Failure::Input(format!("--dose/--frequency/--days-on/--cycle: {e}")))?;
            Command::WritePrescription(PrescriptionOrder {
                prescription: prescription.clone(),
                patient: patient.clone(),
                date: today,
                schedule,
                quantity: *quantity,
                days_supply: *days_supply,
                refills: *refills,
                telephone: *telephone,
                pharmacy: pharmacy.clone(),
            })
        }
        Step::Authorize { prescription } => Command::RequestAuthorization { prescription: prescription.clone() },
        Step::Confirm { authorization } => Command::RequestConfirmation { authorization: authorization.clone() },
        Step::Dispense {
            authorization,
            confirmation,
            days_supply,
            quantity,
            checklist_completed,
            medication_guide_given,
        } => Command::Dispense {
            authorization: authorization.clone(),
            confirmation: confirmation.clone(),
            days_supply: *days_supply,
            quantity: *quantity,
            counselling: Counselling {
                checklist_completed: *checklist_completed,
                medication_guide_given: *medication_guide_given,
            },
        },
        Step::Interrupt { patient, cause } => Command::Interrupt {
            patient: patient.clone(),
            cause: named("--cause", cause, "neutropenia, thrombocytopenia, other_toxicity or other")?,
        },
        Step::Resume { patient } => Command::Resume { patient: patient.clone() },
        Step::Discontinue { patient, reason } => Command::Discontinue { patient: patient.clone(), reason: reason.clone() },
        Step::AdverseEvent { patient, term, grade, onset } => Command::ReportAdverseEvent {
            patient: patient.clone(),
            event: serde_json::from_value(serde_json::json!({
                "term": term, "grade": grade, "onset": parse_date("--onset", onset)?
            }))
            .map_err(|e| Failure::Input(format!("--term/--grade: {e}")))?,
        },
        Step::Lab { patient, code, value, unit, date } => Command::RecordLab {
            patient: patient.clone(),
            lab: serde_json::from_value(serde_json::json!({
                "code": code, "value": value, "unit": unit,
                "date": opt_date("--date", date)?.unwrap_or(today)
            }))
            .map_err(|_| Failure::Input(format!("--code: {code:?} is not accepted; expected anc, platelets, wbc, hemoglobin, creatinine or temperature")))?,
        },
        Step::Measurement { patient, weight_kg, height_cm, date } => Command::RecordMeasurement {
            patient: patient.clone(),
            measurement: BodyMeasurement {
                date: opt_date("--date", date)?.unwrap_or(today),
                weight_kg: *weight_kg,
                height_cm: *height_cm,
            },
        },
        Step::FetalExposure { patient, description } => Command::ReportFetalExposure {
            patient: patient.clone(),
            description: description.clone(),
        },
        Step::Submit { file } => {
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(file)
            }
            .map_err(|e| Failure::Input(format!("FILE: {file:?} cannot be read: {e}")))?;
            serde_json::from_str(&text)
                .map_err(|e| Failure::Input(format!("FILE: {file:?} is not a command: {e}")))?
        }
        Step::Questions { .. } | Step::Status { .. } => {
            return Err(Failure::Internal("not a command".into()));
        }
    })
}

pub fn run(ctx: &Context, args: &ProgramArgs) -> Outcome {
    match &args.step {
        Step::Questions { patient } => return questions(ctx, args, patient),
        Step::Status { patient } => return status(ctx, args, patient),
        _ => {}
    }
    let actor = args.actor.clone().ok_or_else(|| {
        Failure::Input(
            "--as: missing; expected the user issuing the command (or set LENAGUARD_ACTOR)".into(),
        )
    })?;
    let command = build(ctx, &actor, &args.step)?;
    let key = args
        .key
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let request = CommandRequest {
        idempotency_key: key.clone(),
        actor,
        on: ctx.today,
        command,
    };
    let out = block_on(async {
        let wf = workflow(ctx, &args.db).await?;
        Ok::<_, Failure>(wf.execute(request).await?)
    })??;
    print(ctx, &key, &out);
    Ok(if out.accepted().is_some() { 0 } else { 1 })
}

fn print(ctx: &Context, key: &str, out: &CommandOutcome) {
    if ctx.format == Format::Json {
        let mut v = serde_json::to_value(out).unwrap_or_default();
        v["idempotency_key"] = serde_json::Value::String(key.to_string());
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let again = if out.replayed {
        " (a retry: the first answer)"
    } else {
        ""
    };
    match &out.outcome {
        Judged::Accepted { answer } => {
            let what = match answer {
                Answer::Recorded { id } => format!("recorded {id}"),
                Answer::Authorization {
                    number,
                    prescription,
                    valid_through,
                    ..
                } => {
                    format!(
                        "authorization {number} for {prescription}, valid through {valid_through}"
                    )
                }
                Answer::Confirmation {
                    number,
                    authorization,
                    valid_through,
                    ..
                } => {
                    format!(
                        "confirmation {number} for {authorization}, valid through {valid_through}"
                    )
                }
                Answer::Dispensed {
                    id,
                    authorization,
                    days_supply,
                } => {
                    format!("dispensed {id}: {days_supply} days under {authorization}")
                }
            };
            println!(
                "ACCEPTED{again}: {what} (audit event {}, key {key}).",
                out.audit_seq
            );
            let unverified = match answer {
                Answer::Authorization {
                    unverified_rules, ..
                }
                | Answer::Confirmation {
                    unverified_rules, ..
                } => unverified_rules.as_slice(),
                _ => &[],
            };
            if !unverified.is_empty() {
                println!(
                    "  This answer rests on {} unverified rule(s): {}.",
                    unverified.len(),
                    unverified.join(", ")
                );
            }
        }
        Judged::Refused { reasons } => {
            println!("REFUSED{again} (audit event {}, key {key}):", out.audit_seq);
            for r in reasons {
                println!("  - [{}] {}", r.code, r.what);
                println!("    fix: {}", r.fix);
                if !r.rules.is_empty() {
                    println!("    rules: {}", r.rules.join(", "));
                }
            }
        }
    }
}

fn questions(ctx: &Context, args: &ProgramArgs, patient: &str) -> Outcome {
    let file = block_on(async {
        let wf = workflow(ctx, &args.db).await?;
        Ok::<_, Failure>(wf.store().patient_file(patient).await?)
    })??
    .ok_or_else(|| Failure::Input(format!("--patient: {patient:?} is not an enrolled patient")))?;
    let qs = lenaguard_storage::survey::questions(file.patient.category);
    for q in &qs {
        let yes = if q.required { "yes" } else { "no" };
        println!("{}={yes}   {} (required: {yes}; {})", q.id, q.text, q.rule);
    }
    Ok(0)
}

fn status(ctx: &Context, args: &ProgramArgs, patient: &str) -> Outcome {
    let file = block_on(async {
        let wf = workflow(ctx, &args.db).await?;
        Ok::<_, Failure>(wf.store().patient_file(patient).await?)
    })??
    .ok_or_else(|| Failure::Input(format!("--patient: {patient:?} is not an enrolled patient")))?;
    let snap = engine::snapshot(&file)?;
    let report = lenaguard_domain::program::eligibility(&snap, &ctx.pack, ctx.today, None)?;
    if ctx.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "{patient} ({}), {:?} on {}: {}",
            report.category,
            report.stage,
            report.on,
            if report.eligible {
                "eligible"
            } else {
                "NOT eligible"
            }
        );
        for m in &report.missing {
            let by = m.latest.map(|d| format!(" (by {d})")).unwrap_or_default();
            println!("  - [{}] {}{by}\n    fix: {}", m.code, m.what, m.fix);
        }
        for n in &report.notes {
            println!("  note: {n}");
        }
    }
    Ok(if report.eligible { 0 } else { 1 })
}

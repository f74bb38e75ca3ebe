//! A synthetic registry for demonstrations and load tests: patients of every adult category on treatment for up
//! to six months, with monthly prescriptions, authorizations, confirmations and dispenses, pregnancy tests on the
//! label's cadence (some missed), surveys, blood counts drifting over the cycles, a few discontinuations and a
//! few authorizations left to lapse. Deterministic from a seed: the same seed and date give the same registry.
//!
//! Synthetic history is written in bulk by one `synthesize_registry` command per batch, whose audit event records
//! the generator's parameters; it is not judged step by step like real commands, and a sweep over it is expected
//! to find the missed tests and lapsed windows it contains.

use crate::command::{
    ContraceptionAttestation, Counselling, PregnancyTestReport, Specimen, SurveySubmission,
};
use crate::engine::SurveyRecord;
use crate::records::{
    AuthorizationRow, AuthorizationStatus, Body, ConfirmationRow, DispenseRow, PatientRow,
    PrescriptionRow, RecordKind, RecordRow, Write,
};
use crate::survey;
use jiff::ToSpan;
use jiff::civil::Date;
use lenaguard_domain::dose::Schedule;
use lenaguard_domain::pack::{AuthorizationBase, RulePack};
use lenaguard_domain::program::{NotReproductive, NotReproductiveReason, RiskCategory, TestResult};
use lenaguard_domain::renal::Sex;
use lenaguard_domain::snapshot::TreatmentStatus;
use serde_json::json;

/// The registry the synthetic patients belong to (created by the CLI before the first batch).
pub const CLINIC: &str = "syn-clinic";
pub const PRESCRIBER: &str = "syn-dr";
pub const PHARMACY: &str = "syn-pharmacy";
pub const PHARMACIST: &str = "syn-ph";

/// SplitMix64: small, fast and good enough to vary synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn add(d: Date, n: i64) -> Date {
    d.checked_add(n.days()).unwrap_or(d)
}

fn record(
    id: String,
    patient: &str,
    kind: RecordKind,
    on: Date,
    body: serde_json::Value,
) -> Result<Write, serde_json::Error> {
    Ok(Write::InsertRecord(RecordRow {
        id,
        patient: patient.to_string(),
        kind,
        on,
        body: Body::of(&body)?,
    }))
}

/// The writes of synthetic patient `index` as of `today`, with the pack's windows.
pub fn patient(
    seed: u64,
    index: u32,
    today: Date,
    pack: &RulePack,
    schedule: &Schedule,
) -> Result<Vec<Write>, serde_json::Error> {
    let mut r = Rng(seed ^ (u64::from(index) << 20) ^ 0x5EED);
    let id = format!("syn-{index:07}");
    let category = match r.below(100) {
        0..=39 => RiskCategory::AdultMale,
        40..=59 => RiskCategory::AdultFemaleCanGetPregnant,
        _ => RiskCategory::AdultFemaleCannotGetPregnant,
    };
    // Females who cannot get pregnant here are past menopause by at least five years.
    let age = match category {
        RiskCategory::AdultFemaleCanGetPregnant => 25 + r.below(25),
        RiskCategory::AdultFemaleCannotGetPregnant => 56 + r.below(30),
        _ => 40 + r.below(45),
    };
    let birth = add(today, -(age as i64 * 365 + r.below(365) as i64));
    let start = add(today, -(r.below(180) as i64));
    let enrolled = add(start, -40);
    let discontinued = r.chance(5);
    let mut w = Vec::new();
    // Dates of the negative tests written, in order: an authorization's window is counted from the last one.
    let mut tests: Vec<Date> = Vec::new();
    let mut n = 0;
    let mut rid = |kind: &str| {
        n += 1;
        format!("{id}-{kind}-{n}")
    };
    let cycles = ((today - start).get_days() / 28 + 1) as i64;
    let last_dose = discontinued.then(|| add(start, (cycles - 1) * 28 + 10).min(today));
    w.push(Write::InsertPatient(PatientRow {
        id: id.clone(),
        identity: format!("synthetic:{seed}:{index}"),
        sex: if category.is_male() {
            Sex::Male
        } else {
            Sex::Female
        },
        birth_date: birth,
        category,
        agreement_signed_on: enrolled,
        guardian: None,
        prescriber: PRESCRIBER.into(),
        regimen: lenaguard_domain::regimen::RegimenId::MmRd,
        not_of_reproductive_potential: (category == RiskCategory::AdultFemaleCannotGetPregnant)
            .then(|| NotReproductive {
                reason: NotReproductiveReason::NaturalMenopause,
                since: add(birth, 51 * 365),
            }),
        planned_start: Some(start),
        status: if discontinued {
            TreatmentStatus::Discontinued
        } else {
            TreatmentStatus::Active
        },
        start_date: Some(start),
        last_dose,
    }));
    if category.can_get_pregnant() {
        let c = ContraceptionAttestation {
            start: add(start, -35),
            end: None,
            methods: vec!["iud".into(), "male_condom".into()],
            abstinence: false,
        };
        w.push(record(
            rid("c"),
            &id,
            RecordKind::Contraception,
            c.start,
            json!(c),
        )?);
        // Two tests before the first prescription, weekly for 4 weeks, then every 4 weeks; about 8% missed.
        let mut dates = vec![add(start, -12), start];
        dates.extend((1..=4).map(|k| add(start, 7 * k)));
        let mut d = add(start, 56);
        while d <= today {
            dates.push(d);
            d = add(d, 28);
        }
        for (k, d) in dates.into_iter().filter(|d| *d <= today).enumerate() {
            if k >= 2 && r.chance(8) {
                continue;
            }
            let t = PregnancyTestReport {
                date: d,
                specimen: if r.chance(50) {
                    Specimen::Urine
                } else {
                    Specimen::Serum
                },
                sensitivity_miu_ml: 25.0,
                result: TestResult::Negative,
                setting: Default::default(),
            };
            tests.push(d);
            w.push(record(
                rid("t"),
                &id,
                RecordKind::PregnancyTest,
                d,
                json!(t),
            )?);
        }
    }
    let questions = survey::questions(category);
    let anc0 = 2.5 + 2.5 * r.unit();
    let plt0 = 150.0 + 200.0 * r.unit();
    for k in 0..cycles {
        let day = add(start, 28 * k);
        if last_dose.is_some_and(|l| day > l) || day > today {
            break;
        }
        let monthly = !category.is_male() || k > 0;
        let fnrp_due = category == RiskCategory::AdultFemaleCannotGetPregnant && k % 6 == 0;
        if (category.can_get_pregnant() || category.is_male()) && monthly || fnrp_due {
            let s = SurveyRecord {
                category,
                submission: SurveySubmission {
                    date: day,
                    questionnaire: survey::QUESTIONNAIRE.into(),
                    answers: questions
                        .iter()
                        .map(|q| (q.id.to_string(), q.required))
                        .collect(),
                },
            };
            w.push(record(rid("s"), &id, RecordKind::Survey, day, json!(s))?);
        }
        // Blood counts on day 1 of each cycle, drifting down with noise.
        let anc = (anc0 - 0.25 * k as f64 + 0.6 * (r.unit() - 0.5)).max(0.3);
        let plt = (plt0 - 12.0 * k as f64 + 30.0 * (r.unit() - 0.5)).max(20.0);
        for (code, value) in [("anc", anc), ("platelets", plt.round())] {
            w.push(record(
                rid("l"),
                &id,
                RecordKind::Lab,
                day,
                json!({ "code": code, "value": (value * 10.0).round() / 10.0, "unit": "10*9/L", "date": day }),
            )?);
        }
        let rx = format!("{id}-rx{k}");
        let auth = format!("{id}-A{k}");
        let conf = format!("{id}-C{k}");
        w.push(Write::InsertPrescription(PrescriptionRow {
            id: rx.clone(),
            patient: id.clone(),
            prescriber: PRESCRIBER.into(),
            date: day,
            schedule: *schedule,
            quantity: 21,
            days_supply: 28,
            refills: 0,
            telephone: false,
            pharmacy: Some(PHARMACY.into()),
        }));
        // The newest authorization is sometimes left unused, to lapse.
        let lapse = k == cycles - 1 && k > 0 && r.chance(5);
        let a = &pack.program.authorization.value;
        // The window the workflow would have issued: for a female who can get pregnant, counted from the last
        // negative test when the pack says so (a missed test on the day of the prescription moves it earlier).
        let (base, valid_days) = if category.can_get_pregnant() {
            let base = match a.frp_counted_from {
                AuthorizationBase::LastPregnancyTest => tests
                    .iter()
                    .rev()
                    .find(|t| **t <= day)
                    .copied()
                    .unwrap_or(day),
                AuthorizationBase::Issue => day,
            };
            (base, i64::from(a.frp_valid_days))
        } else {
            (day, i64::from(a.other_valid_days))
        };
        let auth_through = add(base, valid_days - 1);
        w.push(Write::InsertAuthorization(AuthorizationRow {
            number: auth.clone(),
            prescription: rx,
            patient: id.clone(),
            issued_on: day,
            valid_through: auth_through,
            status: AuthorizationStatus::Active,
        }));
        if lapse {
            continue;
        }
        w.push(Write::InsertConfirmation(ConfirmationRow {
            number: conf.clone(),
            authorization: auth.clone(),
            pharmacy: PHARMACY.into(),
            issued_on: day,
            valid_through: add(
                day,
                i64::from(
                    pack.program
                        .confirmation
                        .value
                        .valid_hours
                        .div_ceil(24)
                        .max(1),
                ) - 1,
            )
            .min(auth_through),
        }));
        w.push(Write::InsertDispense(DispenseRow {
            id: format!("{id}-D{k}"),
            authorization: auth,
            confirmation: conf,
            patient: id.clone(),
            pharmacy: PHARMACY.into(),
            pharmacist: PHARMACIST.into(),
            date: day,
            days_supply: 28,
            quantity: 21,
            counselling: Counselling {
                checklist_completed: true,
                medication_guide_given: true,
            },
        }));
    }
    if let Some(l) = last_dose {
        w.push(record(
            rid("x"),
            &id,
            RecordKind::Discontinuation,
            l,
            json!({ "reason": "synthetic: progression" }),
        )?);
    }
    Ok(w)
}

/// The writes of synthetic patients `first..first + count`, in order, generated on every core (each patient
/// depends only on the seed and its index, so the result is the one [`patient`] gives one by one).
pub fn patients(
    seed: u64,
    first: u32,
    count: u32,
    today: Date,
    pack: &RulePack,
    schedule: &Schedule,
) -> Result<Vec<Write>, serde_json::Error> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let one = |range: std::ops::Range<u32>| -> Result<Vec<Write>, serde_json::Error> {
        let mut w = Vec::new();
        for i in range {
            w.extend(patient(seed, i, today, pack, schedule)?);
        }
        Ok(w)
    };
    let end = first.saturating_add(count);
    if threads < 2 || count < 256 {
        return one(first..end);
    }
    let chunk = count.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (first..end)
            .step_by(chunk as usize)
            .map(|a| {
                let b = a.saturating_add(chunk).min(end);
                s.spawn(move || one(a..b))
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?);
        }
        Ok(out)
    })
}

/// The schedule every synthetic prescription uses (Rd: 25 mg days 1-21 of 28).
pub fn schedule() -> Result<Schedule, serde_json::Error> {
    serde_json::from_value(json!(
        { "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 }
    ))
}

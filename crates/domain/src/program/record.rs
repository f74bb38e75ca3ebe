//! The program record of a snapshot (input) and its validation. Bad records are refused with the field, the
//! value and the accepted form; records that contradict each other are refused naming both.

use super::RiskCategory;
use crate::error::InputError;
use crate::pack::RulePack;
use crate::renal::Sex;
use crate::snapshot::Snapshot;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestResult {
    Negative,
    Positive,
}

/// Where a pregnancy test was done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestSetting {
    /// Clinic or laboratory (urine or serum).
    #[default]
    Lab,
    /// Over-the-counter home test, at the prescriber's discretion where the pack allows it.
    Home,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PregnancyTest {
    #[schemars(with = "String")]
    pub date: Date,
    pub result: TestResult,
    /// Test sensitivity in mIU/mL (hCG).
    pub sensitivity_miu_ml: f64,
    #[serde(default)]
    pub setting: TestSetting,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Menstrual {
    /// Irregular cycles: tests every 2 weeks instead of every 4 after the first month.
    #[serde(default)]
    pub irregular_cycles: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub missed_period_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub abnormal_bleeding_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContraceptionRecord {
    #[schemars(with = "String")]
    pub start: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub end: Option<Date>,
    /// Methods used at the same time (see program.toml `contraception_methods`).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Continuous abstinence from heterosexual intercourse.
    #[serde(default)]
    pub abstinence: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    #[schemars(with = "String")]
    pub date: Date,
    /// The category the survey was taken for.
    pub category: RiskCategory,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prescription {
    #[schemars(with = "String")]
    pub date: Date,
    pub days_supply: u16,
    #[serde(default)]
    pub refills: u16,
    /// Telephoned to the pharmacy.
    #[serde(default)]
    pub telephone: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[schemars(with = "String")]
    pub date: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    #[schemars(with = "String")]
    pub date: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dispense {
    #[schemars(with = "String")]
    pub date: Date,
    pub days_supply: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotReproductiveReason {
    /// Natural menopause for at least 24 consecutive months.
    NaturalMenopause,
    Hysterectomy,
    BilateralOophorectomy,
}

/// Why a female cannot get pregnant (the reproductive-potential definition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotReproductive {
    pub reason: NotReproductiveReason,
    /// Last menses (natural menopause) or the date of surgery.
    #[schemars(with = "String")]
    pub since: Date,
}

/// A change of risk category, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reclassification {
    #[schemars(with = "String")]
    pub date: Date,
    pub from: RiskCategory,
    pub to: RiskCategory,
    pub reason: String,
}

/// The patient's REMS record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramRecord {
    /// The current risk category.
    pub category: RiskCategory,
    /// Date of the Patient-Physician Agreement Form (enrollment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub enrolled_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_of_reproductive_potential: Option<NotReproductive>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reclassifications: Vec<Reclassification>,
    /// Planned first dose, for a patient who has not started (may be in the future).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub planned_start: Option<Date>,
    /// Last dose, once treatment has stopped: the after-treatment spans count from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub last_dose: Option<Date>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pregnancy_tests: Vec<PregnancyTest>,
    #[serde(default)]
    pub menstrual: Menstrual,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contraception: Vec<ContraceptionRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub surveys: Vec<Survey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prescriptions: Vec<Prescription>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizations: Vec<Authorization>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirmations: Vec<Confirmation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dispenses: Vec<Dispense>,
}

/// A validated record: lists sorted by date, the category timeline checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedProgram {
    pub record: ProgramRecord,
    pub age_years: f64,
}

impl CheckedProgram {
    /// The category in force on a date (reclassifications switch it on their date).
    pub fn category_on(&self, date: Date) -> RiskCategory {
        let r = &self.record;
        let mut cat = r
            .reclassifications
            .first()
            .map(|x| x.from)
            .unwrap_or(r.category);
        for x in &r.reclassifications {
            if x.date <= date {
                cat = x.to;
            }
        }
        cat
    }
}

/// The field's name is built only for an error: a sweep checks every record once for each day it judges.
fn not_future(field: impl FnOnce() -> String, d: Date, today: Date) -> Result<(), InputError> {
    if d > today {
        Err(InputError::invalid(
            field(),
            d,
            format!("a date not after today ({today})"),
        ))
    } else {
        Ok(())
    }
}

impl ProgramRecord {
    /// Validate against the patient, the pack and today.
    pub fn check(
        &self,
        snapshot: &Snapshot,
        age_years: f64,
        pack: &RulePack,
        today: Date,
    ) -> Result<CheckedProgram, InputError> {
        let p = &pack.program;
        let mut r = self.clone();
        let f = "program";
        let female = snapshot.patient.sex == Sex::Female;
        let adult = age_years >= p.categories.value.adult_from_years;
        if r.category.is_female() != female {
            return Err(InputError::contradiction(
                format!("{f}.category"),
                "patient.sex",
                format!(
                    "category {} does not match sex {:?}",
                    r.category.as_str(),
                    snapshot.patient.sex
                )
                .to_lowercase(),
            ));
        }
        if r.category.is_adult() != adult {
            return Err(InputError::contradiction(
                format!("{f}.category"),
                "patient.age_years",
                format!(
                    "category {} does not match age {age_years} (adult from {} years)",
                    r.category.as_str(),
                    p.categories.value.adult_from_years
                ),
            ));
        }
        match (&r.not_of_reproductive_potential, r.category) {
            (Some(_), c) if !c.is_female() || c.can_get_pregnant() => {
                return Err(InputError::contradiction(
                    format!("{f}.not_of_reproductive_potential"),
                    format!("{f}.category"),
                    format!(
                        "a reason for not being able to get pregnant is given, but the category is {}",
                        c.as_str()
                    ),
                ));
            }
            (
                None,
                RiskCategory::AdultFemaleCannotGetPregnant
                | RiskCategory::FemaleChildCannotGetPregnant,
            ) => {
                return Err(InputError::missing(
                    format!("{f}.not_of_reproductive_potential"),
                    "the reason (natural_menopause, hysterectomy or bilateral_oophorectomy) and its date, for a female who cannot get pregnant",
                ));
            }
            (Some(n), _) => not_future(
                || format!("{f}.not_of_reproductive_potential.since"),
                n.since,
                today,
            )?,
            _ => {}
        }
        if let Some(d) = r.enrolled_on {
            not_future(|| format!("{f}.enrolled_on"), d, today)?;
        }
        if let Some(d) = r.last_dose {
            not_future(|| format!("{f}.last_dose"), d, today)?;
        }
        if let (Some(d), Some(s)) = (r.last_dose, snapshot.treatment.start_date)
            && d < s
        {
            return Err(InputError::contradiction(
                format!("{f}.last_dose"),
                "treatment.start_date",
                "the last dose is before the first dose",
            ));
        }
        for (i, x) in r.reclassifications.iter().enumerate() {
            let field = || format!("{f}.reclassifications[{i}]");
            not_future(|| format!("{}.date", field()), x.date, today)?;
            if x.reason.trim().is_empty() {
                return Err(InputError::missing(
                    format!("{}.reason", field()),
                    "why the category changed",
                ));
            }
            if x.from == x.to {
                return Err(InputError::invalid(
                    format!("{}.to", field()),
                    x.to.as_str(),
                    "a category other than `from`",
                ));
            }
        }
        r.reclassifications.sort_by_key(|x| x.date);
        for w in r.reclassifications.windows(2) {
            if w[1].from != w[0].to {
                return Err(InputError::contradiction(
                    format!("{f}.reclassifications"),
                    format!("{f}.reclassifications"),
                    format!(
                        "the change on {} starts from {} but the previous change ended at {}",
                        w[1].date,
                        w[1].from.as_str(),
                        w[0].to.as_str()
                    ),
                ));
            }
        }
        if let Some(last) = r.reclassifications.last()
            && last.to != r.category
        {
            return Err(InputError::contradiction(
                format!("{f}.category"),
                format!("{f}.reclassifications"),
                format!(
                    "the last reclassification ends at {}, not {}",
                    last.to.as_str(),
                    r.category.as_str()
                ),
            ));
        }
        let min = p.sensitivity.value.min_miu_ml;
        for (i, t) in r.pregnancy_tests.iter().enumerate() {
            let field = || format!("{f}.pregnancy_tests[{i}]");
            not_future(|| format!("{}.date", field()), t.date, today)?;
            if !t.sensitivity_miu_ml.is_finite()
                || t.sensitivity_miu_ml <= 0.0
                || t.sensitivity_miu_ml > 10_000.0
            {
                return Err(InputError::invalid(
                    format!("{}.sensitivity_miu_ml", field()),
                    t.sensitivity_miu_ml,
                    format!("a test sensitivity in mIU/mL (at most {min} to count)"),
                ));
            }
        }
        r.pregnancy_tests.sort_by_key(|t| t.date);
        for w in r.pregnancy_tests.windows(2) {
            if w[0].date == w[1].date && w[0].result != w[1].result {
                return Err(InputError::contradiction(
                    format!("{f}.pregnancy_tests"),
                    format!("{f}.pregnancy_tests"),
                    format!(
                        "two tests on {} disagree (one negative, one positive): record the confirmed result",
                        w[0].date
                    ),
                ));
            }
        }
        if let Some(d) = r.menstrual.missed_period_on {
            not_future(|| format!("{f}.menstrual.missed_period_on"), d, today)?;
        }
        if let Some(d) = r.menstrual.abnormal_bleeding_on {
            not_future(|| format!("{f}.menstrual.abnormal_bleeding_on"), d, today)?;
        }
        let methods = &p.contraception_methods.value;
        let accepted: Vec<&str> = methods
            .highly_effective
            .iter()
            .chain(&methods.additional)
            .map(String::as_str)
            .collect();
        for (i, c) in r.contraception.iter().enumerate() {
            let field = || format!("{f}.contraception[{i}]");
            not_future(|| format!("{}.start", field()), c.start, today)?;
            if let Some(e) = c.end
                && e < c.start
            {
                return Err(InputError::contradiction(
                    format!("{}.end", field()),
                    format!("{}.start", field()),
                    "contraception ends before it starts",
                ));
            }
            if !c.abstinence && c.methods.is_empty() {
                return Err(InputError::missing(
                    format!("{}.methods", field()),
                    "the methods used, or abstinence = true",
                ));
            }
            for (j, m) in c.methods.iter().enumerate() {
                if !accepted.contains(&m.as_str()) {
                    return Err(InputError::invalid(
                        format!("{}.methods[{j}]", field()),
                        m,
                        format!("one of {}", accepted.join(", ")),
                    ));
                }
            }
        }
        r.contraception.sort_by_key(|c| c.start);
        for (i, w) in r.contraception.windows(2).enumerate() {
            if w[0].end.is_none_or(|e| e >= w[1].start) {
                return Err(InputError::contradiction(
                    format!("{f}.contraception[{}]", i + 1),
                    format!("{f}.contraception[{i}]"),
                    "contraception records overlap: end the earlier record before the next starts",
                ));
            }
        }
        let checked = CheckedProgram {
            record: r,
            age_years,
        };
        let r = &checked.record;
        for (i, s) in r.surveys.iter().enumerate() {
            let field = || format!("{f}.surveys[{i}]");
            not_future(|| format!("{}.date", field()), s.date, today)?;
            let expected = checked.category_on(s.date);
            if s.category != expected {
                return Err(InputError::invalid(
                    format!("{}.category", field()),
                    s.category.as_str(),
                    format!(
                        "the patient's category on {} ({})",
                        s.date,
                        expected.as_str()
                    ),
                ));
            }
        }
        for (i, x) in r.prescriptions.iter().enumerate() {
            let field = || format!("{f}.prescriptions[{i}]");
            not_future(|| format!("{}.date", field()), x.date, today)?;
            if x.days_supply == 0 {
                return Err(InputError::invalid(
                    format!("{}.days_supply", field()),
                    0,
                    "a supply of at least 1 day",
                ));
            }
        }
        for (i, x) in r.authorizations.iter().enumerate() {
            let field = || format!("{f}.authorizations[{i}].date");
            not_future(field, x.date, today)?;
            match r.enrolled_on {
                Some(e) if x.date < e => {
                    return Err(InputError::contradiction(
                        field(),
                        format!("{f}.enrolled_on"),
                        "an authorization dated before enrollment",
                    ));
                }
                None => {
                    return Err(InputError::contradiction(
                        field(),
                        format!("{f}.enrolled_on"),
                        "an authorization without an enrollment date",
                    ));
                }
                _ => {}
            }
        }
        for (i, x) in r.confirmations.iter().enumerate() {
            let field = || format!("{f}.confirmations[{i}].date");
            not_future(field, x.date, today)?;
            if !r.authorizations.iter().any(|a| a.date <= x.date) {
                return Err(InputError::contradiction(
                    field(),
                    format!("{f}.authorizations"),
                    "a confirmation without an earlier authorization",
                ));
            }
        }
        for (i, x) in r.dispenses.iter().enumerate() {
            let field = || format!("{f}.dispenses[{i}]");
            not_future(|| format!("{}.date", field()), x.date, today)?;
            if x.days_supply == 0 {
                return Err(InputError::invalid(
                    format!("{}.days_supply", field()),
                    0,
                    "a supply of at least 1 day",
                ));
            }
            if !r.prescriptions.iter().any(|p| p.date <= x.date) {
                return Err(InputError::contradiction(
                    format!("{}.date", field()),
                    format!("{f}.prescriptions"),
                    "a dispense without an earlier prescription",
                ));
            }
        }
        let mut sorted = checked;
        sorted.record.surveys.sort_by_key(|s| s.date);
        sorted.record.prescriptions.sort_by_key(|s| s.date);
        sorted.record.authorizations.sort_by_key(|s| s.date);
        sorted.record.confirmations.sort_by_key(|s| s.date);
        sorted.record.dispenses.sort_by_key(|s| s.date);
        Ok(sorted)
    }
}

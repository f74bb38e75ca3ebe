//! The engine's input: one patient, one regimen, today's data (`docs/schema/snapshot.schema.json`).
//!
//! A snapshot arrives as JSON from any door. [`Snapshot::validate`] turns it into checked domain values or
//! refuses it with an [`InputError`] naming the field, the value and the accepted form.

use crate::dose::Schedule;
use crate::error::InputError;
use crate::pack::RulePack;
use crate::regimen::RegimenId;
use crate::renal::{Sex, WeightBasis};
use crate::units::{Analyte, Quantity};
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A patient's data for one assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub patient: Patient,
    /// The regimen (indication) being dosed.
    pub regimen: RegimenId,
    /// Chosen dexamethasone schedule (an id from the rule pack), for regimens with dexamethasone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dexamethasone: Option<String>,
    #[serde(default)]
    pub kidney: Kidney,
    pub treatment: Treatment,
    /// Lab results and temperatures, any order.
    #[serde(default)]
    pub labs: Vec<Lab>,
    /// Counts before treatment (needed by the MDS tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    #[serde(default)]
    pub adverse_events: Vec<AdverseEvent>,
    /// Dates of platelet transfusions.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub platelet_transfusions: Vec<Date>,
    #[serde(default)]
    pub history: History,
    /// The patient's Lenalidomide REMS record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<crate::program::ProgramRecord>,
    /// Other medications, matched against the pack's interaction list by RxNorm code and name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub medications: Vec<crate::interactions::Medication>,
    /// VTE risk factors and thromboprophylaxis on record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vte: Option<crate::thrombo::VteInput>,
    /// Monitoring tests done whose values the engine does not read (liver, thyroid, PT/INR, digoxin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitoring: Vec<crate::monitoring::MonitoringTest>,
    /// Diagnoses by name, for regimen warnings (CLL outside trials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<String>,
    /// The patient is treated within a controlled clinical trial.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_clinical_trial: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    /// Age in whole years; give this or `birth_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_years: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub birth_date: Option<Date>,
    pub sex: Sex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_kg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_cm: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kidney {
    #[serde(default)]
    pub dialysis: bool,
    /// A measured creatinine clearance (mL/min), used instead of Cockcroft-Gault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_crcl_ml_min: Option<f64>,
    #[serde(default)]
    pub weight_basis: WeightBasis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentStatus {
    NotStarted,
    Active,
    Interrupted,
    Discontinued,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Treatment {
    pub status: TreatmentStatus,
    /// First dose of this regimen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub start_date: Option<Date>,
    /// Current cycle number (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<u16>,
    /// Day 1 of the current cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub cycle_start: Option<Date>,
    /// The schedule the patient is on (or was on when interrupted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Schedule>,
    /// The schedule the regimen started at (defaults to the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting: Option<Schedule>,
    /// Interruptions, past and present; at most one without an end, and only while interrupted.
    #[serde(default)]
    pub interruptions: Vec<Interruption>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InterruptionCause {
    Neutropenia,
    Thrombocytopenia,
    /// Another Grade 3/4 toxicity judged related to lenalidomide.
    OtherToxicity,
    /// Anything else (surgery, patient choice): resuming is a prescriber decision.
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interruption {
    #[schemars(with = "String")]
    pub start: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub end: Option<Date>,
    pub cause: InterruptionCause,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    pub code: Analyte,
    pub value: f64,
    pub unit: String,
    #[schemars(with = "String")]
    pub date: Date,
    /// The lab's lower limit of normal, in the same unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lln: Option<f64>,
    /// The lab's upper limit of normal, in the same unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uln: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anc: Option<Measurement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platelets: Option<Measurement>,
    /// Serum creatinine before treatment, for CTCAE "x baseline" grades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creatinine: Option<Measurement>,
}

/// Adverse-event terms the rules know. Anything else is `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdverseEventTerm;

impl AdverseEventTerm {
    pub const KNOWN: [&'static str; 13] = [
        "angioedema",
        "anaphylaxis",
        "rash",
        "skin_exfoliation",
        "bullous_dermatitis",
        "stevens_johnson_syndrome",
        "toxic_epidermal_necrolysis",
        "dress",
        "severe_dermatologic_reaction",
        "hypersensitivity",
        "hepatotoxicity",
        "tumor_flare",
        "other",
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdverseEvent {
    /// One of the known terms (see `AdverseEventTerm::KNOWN`), or `other`.
    pub term: String,
    /// Worst CTCAE grade (1-5).
    pub grade: u8,
    /// Grade today, if it has improved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_grade: Option<u8>,
    #[schemars(with = "String")]
    pub onset: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub resolved_on: Option<Date>,
    /// Judged related to lenalidomide.
    #[serde(default = "yes")]
    pub related: bool,
    /// Free-text CTCAE term for `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// A Grade 4 rash on thalidomide in the past.
    #[serde(default)]
    pub grade_4_rash_on_thalidomide: bool,
}

/// A lab value after unit normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedLab {
    pub analyte: Analyte,
    pub quantity: Quantity,
    pub date: Date,
    /// Limits normalised like the value.
    pub lln: Option<f64>,
    pub uln: Option<f64>,
}

/// A snapshot whose values have been checked against each other, the pack's plausibility limits and `today`.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub age_years: f64,
    /// Labs sorted by date (oldest first).
    pub labs: Vec<CheckedLab>,
    pub baseline_anc: Option<f64>,
    pub baseline_platelets: Option<f64>,
    pub baseline_creatinine: Option<f64>,
}

impl Snapshot {
    /// Parse a snapshot from JSON; serde's message names the field and the line.
    pub fn from_json(text: &str) -> Result<Snapshot, InputError> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = if path.is_empty() || path == "." {
                format!(
                    "snapshot (line {}, column {})",
                    inner.line(),
                    inner.column()
                )
            } else {
                path
            };
            InputError::invalid(
                field,
                inner.to_string(),
                "a snapshot as described by docs/schema/snapshot.schema.json",
            )
        })
    }

    /// Check every value against the pack's plausibility limits, against `today` and against each other.
    pub fn validate(&self, pack: &RulePack, today: Date) -> Result<Checked, InputError> {
        let p = &pack.policy.plausible;
        let age_years = match (self.patient.age_years, self.patient.birth_date) {
            (Some(_), Some(_)) => {
                return Err(InputError::contradiction(
                    "patient.age_years",
                    "patient.birth_date",
                    "give one of them, not both",
                ));
            }
            (None, None) => {
                return Err(InputError::missing(
                    "patient.age_years",
                    "age in years, or patient.birth_date",
                ));
            }
            (Some(a), None) => {
                if !a.is_finite() || !p.age_years.contains(a) {
                    return Err(InputError::invalid(
                        "patient.age_years",
                        a,
                        "an age from 0 to 120 years",
                    ));
                }
                a
            }
            (None, Some(b)) => {
                if b > today {
                    return Err(InputError::invalid(
                        "patient.birth_date",
                        b,
                        format!("a date not after today ({today})"),
                    ));
                }
                let years = whole_years(b, today)
                    .ok_or_else(|| InputError::invalid("patient.birth_date", b, "a valid date"))?;
                if !p.age_years.contains(years) {
                    return Err(InputError::invalid(
                        "patient.birth_date",
                        b,
                        "a birth date giving an age up to 120 years",
                    ));
                }
                years
            }
        };
        if let Some(w) = self.patient.weight_kg {
            p.check_weight_kg("patient.weight_kg", w)?;
        }
        if let Some(h) = self.patient.height_cm {
            p.check_height_cm("patient.height_cm", h)?;
        }
        if let Some(c) = self.kidney.measured_crcl_ml_min
            && (!c.is_finite() || !p.crcl_ml_min.contains(c))
        {
            return Err(InputError::invalid(
                "kidney.measured_crcl_ml_min",
                c,
                format!(
                    "a clearance from {} to {} mL/min",
                    p.crcl_ml_min.min, p.crcl_ml_min.max
                ),
            ));
        }
        if let Some(d) = &self.dexamethasone {
            let allowed = &pack.regimen(self.regimen).dexamethasone;
            if !allowed.contains(d) {
                let expected = if allowed.is_empty() {
                    format!("no dexamethasone schedule for regimen {}", self.regimen)
                } else {
                    format!("one of {}", allowed.join(", "))
                };
                return Err(InputError::invalid("dexamethasone", d, expected));
            }
        }

        let mut labs = Vec::with_capacity(self.labs.len());
        for (i, lab) in self.labs.iter().enumerate() {
            labs.push(check_lab(pack, lab, today).map_err(|e| e.within(&format!("labs[{i}]")))?);
        }
        labs.sort_by_key(|l| l.date);

        let baseline = self.baseline.clone().unwrap_or_default();
        let base = |m: &Option<Measurement>,
                    analyte: Analyte,
                    field: &str|
         -> Result<Option<f64>, InputError> {
            m.as_ref()
                .map(|m| {
                    let q =
                        Quantity::parse(analyte, m.value, &m.unit).map_err(|e| e.within(field))?;
                    plausible(pack, analyte, q).map_err(|e| e.within(field))?;
                    Ok(q.value())
                })
                .transpose()
        };
        let baseline_anc = base(&baseline.anc, Analyte::Anc, "baseline.anc")?;
        let baseline_platelets = base(
            &baseline.platelets,
            Analyte::Platelets,
            "baseline.platelets",
        )?;
        let baseline_creatinine = base(
            &baseline.creatinine,
            Analyte::Creatinine,
            "baseline.creatinine",
        )?;

        self.check_treatment(today)?;
        for (i, ae) in self.adverse_events.iter().enumerate() {
            check_adverse_event(ae, today)
                .map_err(|e| e.within(&format!("adverse_events[{i}]")))?;
        }
        for (i, d) in self.platelet_transfusions.iter().enumerate() {
            if *d > today {
                return Err(InputError::invalid(
                    format!("platelet_transfusions[{i}]"),
                    d,
                    format!("a date not after today ({today})"),
                ));
            }
        }
        Ok(Checked {
            age_years,
            labs,
            baseline_anc,
            baseline_platelets,
            baseline_creatinine,
        })
    }

    fn check_treatment(&self, today: Date) -> Result<(), InputError> {
        let t = &self.treatment;
        let not_future = |field: &str, d: Option<Date>| -> Result<(), InputError> {
            match d {
                Some(d) if d > today => Err(InputError::invalid(
                    field,
                    d,
                    format!("a date not after today ({today})"),
                )),
                _ => Ok(()),
            }
        };
        not_future("treatment.start_date", t.start_date)?;
        not_future("treatment.cycle_start", t.cycle_start)?;
        for (name, s) in [
            ("treatment.current", &t.current),
            ("treatment.starting", &t.starting),
        ] {
            if let Some(s) = s {
                s.validate().map_err(|e| e.within(name))?;
            }
        }
        if let (Some(start), Some(cs)) = (t.start_date, t.cycle_start)
            && cs < start
        {
            return Err(InputError::contradiction(
                "treatment.cycle_start",
                "treatment.start_date",
                format!("cycle day 1 ({cs}) is before the first dose ({start})"),
            ));
        }
        if t.cycle == Some(0) {
            return Err(InputError::invalid(
                "treatment.cycle",
                0,
                "a cycle number from 1",
            ));
        }
        let on = matches!(
            t.status,
            TreatmentStatus::Active | TreatmentStatus::Interrupted
        );
        if on {
            if t.start_date.is_none() {
                return Err(InputError::missing(
                    "treatment.start_date",
                    "the date of the first dose, for a treatment under way",
                ));
            }
            if t.current.is_none() {
                return Err(InputError::missing(
                    "treatment.current",
                    "the schedule the patient is on",
                ));
            }
        }
        let mut open = 0;
        let mut previous_end: Option<Date> = None;
        for (i, it) in t.interruptions.iter().enumerate() {
            let field = format!("treatment.interruptions[{i}]");
            if it.start > today {
                return Err(InputError::invalid(
                    format!("{field}.start"),
                    it.start,
                    format!("a date not after today ({today})"),
                ));
            }
            if let Some(s) = t.start_date
                && it.start < s
            {
                return Err(InputError::contradiction(
                    format!("{field}.start"),
                    "treatment.start_date",
                    format!(
                        "the interruption ({}) starts before the first dose ({s})",
                        it.start
                    ),
                ));
            }
            match it.end {
                Some(end) if end < it.start => {
                    return Err(InputError::contradiction(
                        format!("{field}.end"),
                        format!("{field}.start"),
                        "the interruption ends before it starts",
                    ));
                }
                Some(end) if end > today => {
                    return Err(InputError::invalid(
                        format!("{field}.end"),
                        end,
                        format!("a date not after today ({today})"),
                    ));
                }
                None => open += 1,
                _ => {}
            }
            if let Some(pe) = previous_end
                && it.start < pe
            {
                return Err(InputError::contradiction(
                    format!("{field}.start"),
                    format!("treatment.interruptions[{}]", i - 1),
                    "interruptions overlap or are out of order (list them oldest first)",
                ));
            }
            if it.end.is_none() && i + 1 != t.interruptions.len() {
                return Err(InputError::contradiction(
                    format!("{field}.end"),
                    "treatment.interruptions",
                    "only the last interruption may be open",
                ));
            }
            previous_end = it.end.or(Some(it.start));
        }
        match (t.status, open) {
            (TreatmentStatus::Interrupted, 0) => Err(InputError::contradiction(
                "treatment.status",
                "treatment.interruptions",
                "status is interrupted but no interruption is open (without an end date)",
            )),
            (
                TreatmentStatus::Active
                | TreatmentStatus::NotStarted
                | TreatmentStatus::Discontinued,
                1..,
            ) => Err(InputError::contradiction(
                "treatment.status",
                "treatment.interruptions",
                "an interruption is open (no end date) but status is not interrupted",
            )),
            _ => Ok(()),
        }
    }

    /// The open interruption, if any.
    pub fn open_interruption(&self) -> Option<&Interruption> {
        self.treatment
            .interruptions
            .iter()
            .rev()
            .find(|i| i.end.is_none())
    }
}

fn whole_years(birth: Date, today: Date) -> Option<f64> {
    let span = birth.until((jiff::Unit::Year, today)).ok()?;
    Some(f64::from(span.get_years()))
}

fn check_lab(pack: &RulePack, lab: &Lab, today: Date) -> Result<CheckedLab, InputError> {
    if lab.date > today {
        return Err(InputError::invalid(
            "date",
            lab.date,
            format!("a date not after today ({today})"),
        ));
    }
    let quantity = Quantity::parse(lab.code, lab.value, &lab.unit)?;
    plausible(pack, lab.code, quantity)?;
    let limit = |v: Option<f64>, name: &str| -> Result<Option<f64>, InputError> {
        v.map(|v| {
            let q = Quantity::parse(lab.code, v, &lab.unit).map_err(|e| e.within(name))?;
            if q.value() <= 0.0 {
                return Err(InputError::invalid(
                    name,
                    v,
                    "a positive limit in the lab's unit",
                ));
            }
            Ok(q.value())
        })
        .transpose()
    };
    Ok(CheckedLab {
        analyte: lab.code,
        quantity,
        date: lab.date,
        lln: limit(lab.lln, "lln")?,
        uln: limit(lab.uln, "uln")?,
    })
}

/// Refuse values no patient has: they are unit mistakes (platelets in /mcL sent as 10*9/L) or typing errors.
fn plausible(pack: &RulePack, analyte: Analyte, q: Quantity) -> Result<(), InputError> {
    let p = &pack.policy.plausible;
    let (range, v, what) = match analyte {
        Analyte::Anc => (p.anc_per_ul, q.value(), "cells/uL"),
        Analyte::Platelets => (p.platelets_per_ul, q.value(), "cells/uL"),
        Analyte::Wbc => (p.wbc_per_ul, q.value(), "cells/uL"),
        Analyte::Hemoglobin => (
            p.hemoglobin_g_dl,
            q.hemoglobin_g_dl().unwrap_or(f64::NAN),
            "g/dL",
        ),
        Analyte::Creatinine => (p.creatinine_mg_dl, q.value(), "mg/dL"),
        Analyte::Temperature => (p.temperature_celsius, q.value(), "degrees Celsius"),
    };
    if range.contains(v) {
        Ok(())
    } else {
        Err(InputError::invalid(
            "value",
            format!("{v} {what} after unit conversion"),
            format!(
                "a {} from {} to {} {what} (check the unit)",
                analyte.label(),
                range.min,
                range.max
            ),
        ))
    }
}

fn check_adverse_event(ae: &AdverseEvent, today: Date) -> Result<(), InputError> {
    if !AdverseEventTerm::KNOWN.contains(&ae.term.as_str()) {
        return Err(InputError::invalid(
            "term",
            &ae.term,
            format!("one of {}", AdverseEventTerm::KNOWN.join(", ")),
        ));
    }
    if !(1..=5).contains(&ae.grade) {
        return Err(InputError::invalid(
            "grade",
            ae.grade,
            "a CTCAE grade from 1 to 5",
        ));
    }
    if let Some(c) = ae.current_grade
        && c > ae.grade
    {
        return Err(InputError::contradiction(
            "current_grade",
            "grade",
            "the current grade is worse than the worst grade",
        ));
    }
    if ae.onset > today {
        return Err(InputError::invalid(
            "onset",
            ae.onset,
            format!("a date not after today ({today})"),
        ));
    }
    if let Some(r) = ae.resolved_on {
        if r < ae.onset {
            return Err(InputError::contradiction(
                "resolved_on",
                "onset",
                "resolved before it began",
            ));
        }
        if r > today {
            return Err(InputError::invalid(
                "resolved_on",
                r,
                format!("a date not after today ({today})"),
            ));
        }
    }
    Ok(())
}

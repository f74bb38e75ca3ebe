//! A lenalidomide MedicationRequest, read into the engine's `Schedule` and written back with a corrected one.
//!
//! R4 has no on/off-cycle element, so an order follows the one-request-per-cycle pattern of standards.md §3: the
//! dose in `doseAndRate.doseQuantity` (mg), `timing.repeat` once daily (or every 48 hours) bounded to the dosing
//! days (`boundsDuration` in days, or `boundsPeriod` from day 1 to the last dosing day), and the cycle length in
//! `dispenseRequest.expectedSupplyDuration`. The drug is matched by RxNorm code (label-verification.md §9) or by
//! name. Whatever cannot be read is refused with its path, never filled in.

use crate::codes::{self, RXNORM, RxNormCode, UCUM};
use crate::error::InteropError;
use crate::fhir::{MedicationRequest, Period, Quantity};
use jiff::ToSpan;
use jiff::civil::Date;
use lenaguard_domain::dose::{DayWindow, DoseMg, Frequency, Schedule};
use lenaguard_domain::interactions::name_matches;

/// What drug an order is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drug {
    /// Lenalidomide; `code` is the RxNorm concept when the order is coded with one of ours.
    Lenalidomide { code: Option<&'static RxNormCode> },
    /// Another drug, named as the order names it.
    Other { label: String },
}

/// Identify the drug of an order by RxNorm code, then by name. A code and a name that disagree are refused.
pub fn identify(order: &MedicationRequest) -> Result<Drug, InteropError> {
    let codes: Vec<&str> = order
        .medication_codeable_concept
        .as_ref()
        .map(|c| c.codes_in(RXNORM).collect())
        .unwrap_or_default();
    let coded = codes.iter().find_map(|c| codes::lenalidomide_rxnorm(c));
    let named = order
        .medication_words()
        .iter()
        .any(|w| codes::LENALIDOMIDE_NAMES.iter().any(|n| name_matches(w, n)));
    let label = || {
        order
            .medication_codeable_concept
            .as_ref()
            .and_then(|c| c.label())
            .or_else(|| {
                order
                    .medication_reference
                    .as_ref()
                    .and_then(|r| r.display.as_deref())
            })
            .unwrap_or("an unnamed medication")
            .to_string()
    };
    match (coded, named, codes.is_empty()) {
        (Some(code), _, _) => Ok(Drug::Lenalidomide { code: Some(code) }),
        (None, true, true) => Ok(Drug::Lenalidomide { code: None }),
        (None, true, false) => Err(InteropError::ambiguous(
            format!("{}.medicationCodeableConcept", order.path()),
            format!(
                "the text names lenalidomide but the RxNorm code ({}) is not a lenalidomide concept",
                codes.join(", ")
            ),
        )),
        (None, false, _) => Ok(Drug::Other { label: label() }),
    }
}

/// A lenalidomide order as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LenalidomideOrder {
    pub schedule: Schedule,
    /// Day 1 of the cycle the order covers, when it is bounded by a period.
    pub cycle_start: Option<Date>,
}

/// The date of a FHIR date or dateTime (the calendar date as written). Partial dates are refused.
pub fn parse_date(path: &str, s: &str) -> Result<Date, InteropError> {
    s.get(..10)
        .and_then(|d| d.parse::<Date>().ok())
        .ok_or_else(|| InteropError::invalid(path, s, "a full date YYYY-MM-DD (or a dateTime)"))
}

fn days(q: &Quantity) -> Option<f64> {
    let unit = q.code.as_deref().or(q.unit.as_deref())?;
    let v = q.value?;
    match unit {
        "d" | "day" | "days" => Some(v),
        "wk" => Some(v * 7.0),
        _ => None,
    }
}

fn whole(v: f64) -> Option<u16> {
    (v.fract() == 0.0 && (1.0..=366.0).contains(&v)).then_some(v as u16)
}

/// Read the schedule of a lenalidomide order.
pub fn read(order: &MedicationRequest, drug: &Drug) -> Result<LenalidomideOrder, InteropError> {
    let base = order.path();
    let dosage = match order.dosage_instruction.as_slice() {
        [d] => d,
        [] => {
            return Err(InteropError::missing(
                format!("{base}.dosageInstruction"),
                "one dosage instruction with the dose, the daily timing and the dosing days",
            ));
        }
        _ => {
            return Err(InteropError::ambiguous(
                format!("{base}.dosageInstruction"),
                "several dosage instructions; one per cycle order is read",
            ));
        }
    };
    let dpath = format!("{base}.dosageInstruction[0]");
    let qpath = format!("{dpath}.doseAndRate[0].doseQuantity");
    let q = dosage
        .dose_and_rate
        .first()
        .and_then(|d| d.dose_quantity.as_ref())
        .ok_or_else(|| {
            InteropError::missing(
                &qpath,
                "the dose, e.g. {value: 10, unit: \"mg\", system: UCUM, code: \"mg\"}",
            )
        })?;
    let value = q
        .value
        .ok_or_else(|| InteropError::missing(format!("{qpath}.value"), "the dose as a number"))?;
    let strength = match drug {
        Drug::Lenalidomide { code: Some(c) } => c.strength_tenths_mg,
        _ => None,
    };
    let unit = q.code.as_deref().or(q.unit.as_deref()).unwrap_or("");
    let mg = if unit == "mg" && q.system.as_deref().is_none_or(|s| s == UCUM) {
        value
    } else if matches!(unit, "{capsule}" | "capsule" | "capsules")
        && let Some(t) = strength
    {
        value * f64::from(t) / 10.0
    } else {
        return Err(InteropError::invalid(
            format!("{qpath}.code"),
            unit,
            "mg (UCUM), or capsules of an order coded with a capsule strength (RxNorm SCD/SBD)",
        ));
    };
    let dose = DoseMg::parse(mg).map_err(|_| {
        InteropError::invalid(
            format!("{qpath}.value"),
            format!("{mg} mg"),
            DoseMg::ACCEPTED,
        )
    })?;

    let tpath = format!("{dpath}.timing.repeat");
    let repeat = dosage
        .timing
        .as_ref()
        .and_then(|t| t.repeat.as_ref())
        .ok_or_else(|| {
            InteropError::missing(
                &tpath,
                "frequency 1 per period 1 d (or 2 d for every 48 hours), bounded to the dosing days",
            )
        })?;
    let f = repeat.frequency.unwrap_or(1);
    // Compare whole hours: "period 1 d" and "period 24 h" are the same timing.
    let hours = match (repeat.period, repeat.period_unit.as_deref()) {
        (Some(p), Some("d")) => Some(p * 24.0),
        (Some(p), Some("h")) => Some(p),
        _ => None,
    };
    let frequency = match (f, hours.filter(|h| h.fract() == 0.0).map(|h| h as i64)) {
        (1, Some(24)) => Frequency::OnceDaily,
        (1, Some(48)) => Frequency::Every48Hours,
        _ => {
            return Err(InteropError::invalid(
                &tpath,
                format!(
                    "frequency {f} per {} {}",
                    repeat
                        .period
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "?".into()),
                    repeat.period_unit.as_deref().unwrap_or("?")
                ),
                "once daily (frequency 1, period 1, periodUnit d) or every 48 hours (period 2 d or 48 h)",
            ));
        }
    };
    let mut cycle_start = None;
    let dosing_days = if let Some(d) = &repeat.bounds_duration {
        days(d).and_then(whole).ok_or_else(|| {
            InteropError::invalid(
                format!("{tpath}.boundsDuration"),
                format!("{:?} {:?}", d.value, d.code.as_ref().or(d.unit.as_ref())),
                "a whole number of days (UCUM code d)",
            )
        })?
    } else if let Some(Period {
        start: Some(s),
        end: Some(e),
        ..
    }) = &repeat.bounds_period
    {
        let start = parse_date(&format!("{tpath}.boundsPeriod.start"), s)?;
        let end = parse_date(&format!("{tpath}.boundsPeriod.end"), e)?;
        cycle_start = Some(start);
        let n = (end - start).get_days() + 1;
        u16::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
            InteropError::invalid(
                format!("{tpath}.boundsPeriod"),
                format!("{s} to {e}"),
                "a period from cycle day 1 to the last dosing day",
            )
        })?
    } else {
        return Err(InteropError::missing(
            format!("{tpath}.boundsDuration"),
            "the dosing days: boundsDuration in days, or boundsPeriod from day 1 to the last dosing day",
        ));
    };
    let spath = format!("{base}.dispenseRequest.expectedSupplyDuration");
    let supply = order
        .dispense_request
        .as_ref()
        .and_then(|d| d.expected_supply_duration.as_ref())
        .ok_or_else(|| {
            InteropError::missing(
                &spath,
                "the cycle length, e.g. {value: 28, system: UCUM, code: \"d\"}",
            )
        })?;
    let cycle_days = days(supply).and_then(whole).ok_or_else(|| {
        InteropError::invalid(
            &spath,
            format!(
                "{:?} {:?}",
                supply.value,
                supply.code.as_ref().or(supply.unit.as_ref())
            ),
            "the cycle length as a whole number of days (UCUM code d)",
        )
    })?;
    let days_on = DayWindow::new(1, dosing_days)
        .map_err(|e| InteropError::invalid(&tpath, dosing_days, e.to_string()))?;
    let schedule = Schedule {
        dose_mg: dose,
        frequency,
        after_dialysis: false,
        days_on,
        cycle_days,
    };
    schedule
        .validate()
        .map_err(|e| InteropError::invalid(&base, schedule, e.to_string()))?;
    Ok(LenalidomideOrder {
        schedule,
        cycle_start,
    })
}

/// Doses (capsules) in one cycle of a schedule.
pub fn capsules_per_cycle(s: &Schedule) -> u16 {
    let days = s.days_on.last() - s.days_on.first() + 1;
    match s.frequency {
        Frequency::OnceDaily => days,
        Frequency::Every48Hours => days.div_ceil(2),
    }
}

/// The order with its dose and schedule replaced by `schedule`: same id, same everything else. A strength-coded
/// medication is recoded to the capsule of the new strength (generic stays generic, brand stays brand), because a
/// "10 mg" dose of a "25 MG Oral Capsule" is not a valid order.
pub fn corrected(order: &MedicationRequest, schedule: &Schedule) -> MedicationRequest {
    let mut out = order.clone();
    if let Some(cc) = out.medication_codeable_concept.as_mut() {
        let mut recoded = None;
        for c in cc.coding.iter_mut() {
            if c.system.as_deref() != Some(RXNORM) {
                continue;
            }
            let Some(old) = c.code.as_deref().and_then(codes::lenalidomide_rxnorm) else {
                continue;
            };
            if old.strength_tenths_mg.is_some()
                && let Some(new) = codes::lenalidomide_capsule(schedule.dose_mg.tenths(), old.brand)
            {
                c.code = Some(new.code.to_string());
                c.display = Some(new.display.to_string());
                recoded = Some(new.display);
            }
        }
        if let Some(d) = recoded {
            cc.text = Some(d.to_string());
        }
    }
    let mut dosage = out.dosage_instruction.first().cloned().unwrap_or_default();
    dosage.text = Some(format!("{schedule}"));
    let timing = dosage.timing.get_or_insert_with(Default::default);
    let repeat = timing.repeat.get_or_insert_with(Default::default);
    repeat.frequency = Some(1);
    let (period, unit) = match schedule.frequency {
        Frequency::OnceDaily => (1.0, "d"),
        Frequency::Every48Hours => (2.0, "d"),
    };
    repeat.period = Some(period);
    repeat.period_unit = Some(unit.to_string());
    let n = schedule.days_on.last() - schedule.days_on.first() + 1;
    let start = repeat
        .bounds_period
        .as_ref()
        .and_then(|p| p.start.as_deref())
        .and_then(|s| s.get(..10)?.parse::<Date>().ok());
    match start {
        Some(start) => {
            let end = start.checked_add(i64::from(n - 1).days()).unwrap_or(start);
            let p = repeat.bounds_period.get_or_insert_with(Default::default);
            p.end = Some(end.to_string());
            repeat.bounds_duration = None;
        }
        None => {
            repeat.bounds_period = None;
            repeat.bounds_duration = Some(Quantity {
                unit: Some("days".into()),
                ..Quantity::ucum(f64::from(n), "d")
            });
        }
    }
    let mut dr = dosage.dose_and_rate.first().cloned().unwrap_or_default();
    dr.dose_quantity = Some(Quantity::ucum(schedule.dose_mg.mg(), "mg"));
    dosage.dose_and_rate = vec![dr];
    out.dosage_instruction = vec![dosage];

    let dispense = out.dispense_request.get_or_insert_with(Default::default);
    let mut qty = dispense.quantity.clone().unwrap_or_default();
    qty.value = Some(f64::from(capsules_per_cycle(schedule)));
    if qty.unit.is_none() {
        qty.unit = Some("capsule".into());
    }
    dispense.quantity = Some(qty);
    dispense.expected_supply_duration = Some(Quantity {
        unit: Some("days".into()),
        ..Quantity::ucum(f64::from(schedule.cycle_days), "d")
    });
    out
}

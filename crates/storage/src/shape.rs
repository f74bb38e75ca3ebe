//! Checks a command can pass without reading any state: ids, keys, non-empty text, numbers in range. A command
//! that fails here is malformed input: it is rejected with the field, the value and the accepted form, and
//! nothing is written (not even an audit event, since it is not a command the program could judge).

use crate::command::{Command, CommandRequest};
use lenaguard_domain::InputError;

/// The most capsules one prescription or dispense may carry: a bound on input, not a program rule (the program's
/// supply limits are judged by the engine).
pub const MAX_CAPSULES: u32 = 1000;

const ID_FORM: &str = "1 to 64 characters from A-Z a-z 0-9 . _ : -";

pub fn id(field: &str, value: &str) -> Result<(), InputError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(InputError::invalid(field, value, ID_FORM))
    }
}

fn text(field: &str, value: &str, what: &str) -> Result<(), InputError> {
    if value.trim().is_empty() || value.len() > 2000 {
        Err(InputError::invalid(
            field,
            value,
            format!("{what} (1 to 2000 characters)"),
        ))
    } else {
        Ok(())
    }
}

pub fn request(req: &CommandRequest) -> Result<(), InputError> {
    let k = &req.idempotency_key;
    if k.is_empty() || k.len() > 128 || !k.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InputError::invalid(
            "idempotency_key",
            k,
            "1 to 128 printable ASCII characters without spaces",
        ));
    }
    id("actor", &req.actor)?;
    command(&req.command, req.on)
}

fn command(c: &Command, on: jiff::civil::Date) -> Result<(), InputError> {
    match c {
        Command::RegisterOrganisation {
            organisation, name, ..
        } => {
            id("organisation", organisation)?;
            text("name", name, "the organisation's name")
        }
        Command::RegisterUser {
            user,
            organisation,
            name,
            ..
        } => {
            id("user", user)?;
            id("organisation", organisation)?;
            text("name", name, "the user's name")
        }
        Command::CertifyPrescriber { user, expires_on } => {
            id("user", user)?;
            future("expires_on", *expires_on, on)
        }
        Command::CertifyPharmacy {
            organisation,
            expires_on,
        } => {
            id("organisation", organisation)?;
            future("expires_on", *expires_on, on)
        }
        Command::Enroll(e) => {
            id("patient", &e.patient)?;
            text(
                "identity",
                &e.identity,
                "the identity the registry is unique on",
            )?;
            id("prescriber", &e.prescriber)?;
            if let Some(g) = &e.guardian {
                text("guardian", g, "the name of the parent or guardian")?;
            }
            Ok(())
        }
        Command::Reclassify {
            patient, reason, ..
        } => {
            id("patient", patient)?;
            text("reason", reason, "why the category changes")
        }
        Command::RecordPregnancyTest { patient, .. }
        | Command::AttestContraception { patient, .. }
        | Command::Interrupt { patient, .. }
        | Command::Resume { patient }
        | Command::ReportAdverseEvent { patient, .. }
        | Command::RecordLab { patient, .. }
        | Command::RecordMeasurement { patient, .. } => id("patient", patient),
        Command::SubmitSurvey { patient, survey } => {
            id("patient", patient)?;
            text(
                "survey.questionnaire",
                &survey.questionnaire,
                "a questionnaire version",
            )
        }
        Command::WritePrescription(p) => {
            id("prescription", &p.prescription)?;
            id("patient", &p.patient)?;
            if let Some(pharmacy) = &p.pharmacy {
                id("pharmacy", pharmacy)?;
            }
            p.schedule.validate().map_err(|e| e.within("schedule"))?;
            capsules(p.quantity)?;
            if p.days_supply == 0 || p.days_supply > 366 {
                return Err(InputError::invalid(
                    "days_supply",
                    p.days_supply,
                    "1 to 366 days",
                ));
            }
            Ok(())
        }
        Command::RequestAuthorization { prescription } => id("prescription", prescription),
        Command::RequestConfirmation { authorization } => id("authorization", authorization),
        Command::Dispense {
            authorization,
            confirmation,
            days_supply,
            quantity,
            ..
        } => {
            id("authorization", authorization)?;
            id("confirmation", confirmation)?;
            if *days_supply == 0 || *days_supply > 366 {
                return Err(InputError::invalid(
                    "days_supply",
                    days_supply,
                    "1 to 366 days",
                ));
            }
            capsules(*quantity)?;
            Ok(())
        }
        Command::Discontinue { patient, reason } => {
            id("patient", patient)?;
            text("reason", reason, "why treatment stops")
        }
        Command::SynthesizeRegistry { count, first, .. } => {
            if *count == 0 || *count > 10_000 {
                return Err(InputError::invalid(
                    "count",
                    count,
                    "1 to 10000 patients per batch",
                ));
            }
            if first.checked_add(*count).is_none_or(|end| end > 9_999_999) {
                return Err(InputError::invalid(
                    "first",
                    first,
                    "patients numbered below 9999999",
                ));
            }
            Ok(())
        }
        Command::ReportFetalExposure {
            patient,
            description,
        } => {
            id("patient", patient)?;
            text("description", description, "what happened")
        }
    }
}

fn future(field: &str, d: jiff::civil::Date, on: jiff::civil::Date) -> Result<(), InputError> {
    if d < on {
        Err(InputError::invalid(
            field,
            d,
            format!("a date from {on} on"),
        ))
    } else {
        Ok(())
    }
}

fn capsules(quantity: u32) -> Result<(), InputError> {
    if quantity == 0 || quantity > MAX_CAPSULES {
        return Err(InputError::invalid(
            "quantity",
            quantity,
            format!("1 to {MAX_CAPSULES} capsules"),
        ));
    }
    Ok(())
}

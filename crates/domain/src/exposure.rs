//! Predicted exposure of today's dose (population PK, `lenaguard-pk`; reference/pk-model.md). Informational
//! only: it explains the label's renal doses and never overrides them.

use crate::dose::{Frequency, Schedule};
use crate::finding::{Finding, Severity};
use crate::provenance::{Basis, Provenance, Status};
use lenaguard_pk::{Covariates, LEN_R1, ProvenanceStatus, Regimen, auc_ratio};

/// A finding with the predicted steady-state exposure of `schedule` relative to 25 mg once daily at normal
/// kidney function, or `None` when the model cannot answer (no CrCl, no weight, or out of its range).
pub fn finding(
    schedule: &Schedule,
    crcl_ml_min: Option<f64>,
    dialysis: bool,
    weight_kg: Option<f64>,
) -> Option<Finding> {
    let weight = weight_kg?;
    let covariates = if dialysis {
        Covariates::patient_on_dialysis(weight).ok()?
    } else {
        Covariates::patient(crcl_ml_min?, weight).ok()?
    };
    let mg = schedule.dose_mg.mg();
    let regimen = match (schedule.frequency, schedule.after_dialysis && dialysis) {
        (_, true) => Regimen::daily_after_dialysis(mg),
        (Frequency::OnceDaily, false) => Regimen::once_daily(mg),
        (Frequency::Every48Hours, false) => Regimen::every_48h(mg),
    };
    // The AUC alone, by mass balance: the full profile (`lenaguard pk`) costs too much for every assessment.
    let (auc24, ratio) = auc_ratio(&LEN_R1, &covariates, &regimen).ok()?;
    let model = &LEN_R1;
    let provenance = Provenance::new(crate::provenance::RuleSource {
        rule: format!("pk.{}", model.name),
        document: model.provenance.source.to_string(),
        section: "reference/pk-model.md §3 (LEN-R1)".into(),
        version_date: "2026-11-26".into(),
        basis: Basis::Publication,
        status: if model.provenance.status == ProvenanceStatus::Published {
            Status::Verified
        } else {
            Status::Unverified
        },
        note: Some(model.provenance.note.to_string()),
    });
    Some(
        Finding::new(
            "pk.exposure",
            Severity::Info,
            format!(
                "Predicted steady-state exposure of {} mg {}: AUC0-24 {:.0} ng·h/mL, {:.2} times that of 25 mg once daily at normal kidney function (profile: lenaguard pk). Model {} (calibrated, not published); informational, the label decides the dose.",
                mg,
                schedule.frequency,
                auc24,
                ratio,
                model.name
            ),
        )
        .source(&provenance),
    )
}

//! A body weight recorded in the program store reaches the engine: with a creatinine, the stored patient's
//! assessment computes a Cockcroft-Gault clearance and a renal starting dose instead of asking for kidney
//! function. A weight no patient has is refused naming the field and the range, and a retry answers the first
//! answer. Run against SQLite and PostgreSQL.

use anyhow::{Context, Result, bail, ensure};
use lenaguard_domain::{Action, Assessment, assess};
use lenaguard_storage::command::{ADMIN, BodyMeasurement, Command, CommandRequest};
use lenaguard_storage::{Outcome, Store, engine, verify_audit};
use lenaguard_tests_storage::*;
use std::sync::Arc;

const PATIENT: &str = "pat-kidney";

fn measurement(weight_kg: f64, height_cm: Option<f64>, on: jiff::civil::Date) -> Command {
    Command::RecordMeasurement {
        patient: PATIENT.into(),
        measurement: BodyMeasurement {
            date: on,
            weight_kg,
            height_cm,
        },
    }
}

async fn assessment(store: &dyn Store) -> Result<Assessment> {
    let file = store.patient_file(PATIENT).await?.context("stored")?;
    let snap = engine::snapshot(&file)?;
    Ok(assess(&snap, &pack(), DAY)?)
}

fn has(a: &Assessment, code: &str) -> bool {
    a.findings.iter().any(|f| f.code == code)
}

/// The only reason of a refusal.
fn refusal(out: &lenaguard_storage::CommandOutcome) -> Result<&lenaguard_storage::Reason> {
    match &out.outcome {
        Outcome::Refused { reasons } if reasons.len() == 1 => Ok(&reasons[0]),
        other => bail!("expected one refusal reason: {other:?}"),
    }
}

async fn measurements(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;
    rems_ready_patient(&wf, PATIENT).await?;
    let creatinine = serde_json::from_value(serde_json::json!({
        "command": "record_lab", "patient": PATIENT,
        "lab": {"code": "creatinine", "value": 0.8, "unit": "mg/dL", "date": days(DAY, -1)}
    }))?;
    ok(&wf, "dr-ada", DAY, creatinine).await?;

    // A creatinine without a weight: the starting dose is blocked on kidney function.
    let before = assessment(store.as_ref()).await?;
    ensure!(
        matches!(before.action, Action::Blocked { .. }),
        "{:?}",
        before.action
    );
    ensure!(has(&before, "kidney.unknown") && has(&before, "kidney.weight_missing"));
    ensure!(before.kidney.crcl_ml_min.is_none());

    // Admin records no patient data, as for a lab.
    let out = run(&wf, ADMIN, DAY, measurement(60.0, Some(165.0), DAY)).await?;
    ensure!(refusal(&out)?.code == "actor.admin", "{out:?}");

    // A weight no patient has is refused, naming the field, the value and the range; only the refusal is written.
    let records = store
        .patient_file(PATIENT)
        .await?
        .context("stored")?
        .records
        .len();
    let events = store.audit_rows(0, 1_000_000).await?.len();
    for (bad, field, value, range) in [
        (
            measurement(700.0, None, DAY),
            "measurement.weight_kg",
            "700",
            "from 20 to 300 kg",
        ),
        (
            measurement(60.0, Some(16.5), DAY),
            "measurement.height_cm",
            "16.5",
            "from 100 to 250 cm",
        ),
        (
            measurement(60.0, None, days(DAY, 1)),
            "measurement.date",
            "2026-11-27",
            "not after today",
        ),
    ] {
        let out = run(&wf, "dr-ada", DAY, bad).await?;
        let reason = refusal(&out)?;
        ensure!(reason.code == "record.invalid", "{reason:?}");
        for part in [field, value, range] {
            ensure!(reason.what.contains(part), "{part} in {:?}", reason.what);
        }
    }
    let file = store.patient_file(PATIENT).await?.context("stored")?;
    ensure!(file.records.len() == records, "a refusal stores no record");
    ensure!(store.audit_rows(0, 1_000_000).await?.len() == events + 3);

    // The weight is stored; a retry with the same key answers the first answer and stores nothing more.
    let request = CommandRequest {
        idempotency_key: "weigh-in-1".into(),
        actor: "dr-ada".into(),
        on: DAY,
        command: measurement(60.0, Some(165.0), DAY),
    };
    let first = wf.execute(request.clone()).await?;
    ensure!(first.accepted().is_some() && !first.replayed, "{first:?}");
    let events = store.audit_rows(0, 1_000_000).await?.len();
    let again = wf.execute(request).await?;
    ensure!(again.replayed && again.audit_seq == first.audit_seq && again.outcome == first.outcome);
    ensure!(store.audit_rows(0, 1_000_000).await?.len() == events);
    let file = store.patient_file(PATIENT).await?.context("stored")?;
    ensure!(file.records.len() == records + 1);

    // Now the engine computes the clearance, in the pack's SI form: (140 - 35 years) x 60 kg x 1.04 (female) /
    // 70.72 umol/L (0.8 mg/dL) = 92.6 mL/min.
    let after = assessment(store.as_ref()).await?;
    ensure!(
        !has(&after, "kidney.unknown") && !has(&after, "kidney.weight_missing"),
        "{:?}",
        after.findings
    );
    let crcl = after.kidney.crcl_ml_min.context("a CrCl")?;
    ensure!((crcl - 92.6).abs() < 0.05, "{crcl}");
    ensure!(
        after.kidney.renal_starting_dose.is_some(),
        "{:?}",
        after.kidney
    );
    ensure!(after.kidney.weight_used_kg == Some(60.0));

    // An older measurement recorded later does not replace the latest one.
    ok(&wf, "dr-ada", DAY, measurement(90.0, None, days(DAY, -30))).await?;
    let snap = engine::snapshot(&store.patient_file(PATIENT).await?.context("stored")?)?;
    ensure!(snap.patient.weight_kg == Some(60.0) && snap.patient.height_cm == Some(165.0));

    let report = verify_audit(store.as_ref()).await?;
    ensure!(report.intact(), "{report:?}");
    Ok(())
}

#[tokio::test]
async fn measurements_on_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    measurements(Arc::new(store)).await
}

#[tokio::test]
async fn measurements_on_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let result = measurements(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    result
}

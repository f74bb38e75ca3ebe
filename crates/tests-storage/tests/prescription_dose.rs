//! A prescription is held to the dose the label fixes for the patient: with a creatinine and a weight that put
//! the creatinine clearance in the moderate band, a first prescription of 25 mg is refused naming the renal
//! starting dose, and nothing is written; the starting dose itself, or less, is accepted. With counts the label
//! says not to start on, any dose is refused with the engine's reason. Run against SQLite and PostgreSQL.

use anyhow::{Result, bail, ensure};
use lenaguard_domain::dose::Schedule;
use lenaguard_storage::command::Command;
use lenaguard_storage::{Outcome, Store};
use lenaguard_tests_storage::*;
use std::sync::Arc;

const PATIENT: &str = "pat-dose";

fn order(id: &str, dose_mg: f64) -> Result<Command> {
    order_for(PATIENT, id, dose_mg)
}

fn order_for(patient: &str, id: &str, dose_mg: f64) -> Result<Command> {
    let Command::WritePrescription(mut o) = prescription(patient, id, 28) else {
        bail!("not a prescription");
    };
    o.schedule = serde_json::from_value::<Schedule>(serde_json::json!(
        { "dose_mg": dose_mg, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 }
    ))?;
    Ok(Command::WritePrescription(o))
}

async fn prescriptions(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;
    ready_patient(&wf, PATIENT).await?;
    // Born 1991, 50 kg, creatinine 2.0 mg/dL: Cockcroft-Gault about 31 mL/min (the 30-60 band).
    labs_and_weight(
        &wf,
        PATIENT,
        DAY,
        &[
            ("anc", 2.5, "10*9/L"),
            ("platelets", 180.0, "10*9/L"),
            ("creatinine", 2.0, "mg/dL"),
        ],
        50.0,
    )
    .await?;

    let out = run(&wf, "dr-ada", DAY, order("rx-25", 25.0)?).await?;
    let Outcome::Refused { reasons } = &out.outcome else {
        bail!(
            "25 mg accepted at a CrCl of about 31 mL/min: {:?}",
            out.outcome
        );
    };
    let dose = reasons
        .iter()
        .find(|r| r.code == "prescription.dose")
        .ok_or_else(|| anyhow::anyhow!("no dose reason: {reasons:?}"))?;
    ensure!(
        dose.what.contains("25 mg") && dose.fix.contains("10 mg"),
        "{dose:?}"
    );
    ensure!(!dose.rules.is_empty(), "the label's rules are named");
    let file = store.patient_file(PATIENT).await?.expect("stored");
    ensure!(
        file.prescriptions.is_empty(),
        "a refused order is not written"
    );

    // The renal starting dose, or a lower one, is the prescriber's to write.
    ok(&wf, "dr-ada", DAY, order("rx-10", 10.0)?).await?;
    ok(&wf, "dr-ada", DAY, order("rx-5", 5.0)?).await?;
    let file = store.patient_file(PATIENT).await?.expect("stored");
    ensure!(file.prescriptions.len() == 2);

    // Neutrophils of 0.4 x 10^9/L before the first dose: the label says not to start, so no dose is prescribed,
    // not even the lowest, and the refusal carries the count rule behind it.
    let low = "pat-low";
    rems_ready_patient(&wf, low).await?;
    labs_and_weight(
        &wf,
        low,
        DAY,
        &[
            ("anc", 0.4, "10*9/L"),
            ("platelets", 180.0, "10*9/L"),
            ("creatinine", 0.8, "mg/dL"),
        ],
        62.0,
    )
    .await?;
    let out = run(&wf, "dr-ada", DAY, order_for(low, "rx-low", 2.5)?).await?;
    let Outcome::Refused { reasons } = &out.outcome else {
        bail!(
            "a prescription accepted at an ANC of 0.4: {:?}",
            out.outcome
        );
    };
    let held = reasons
        .iter()
        .find(|r| r.code == "prescription.deferred")
        .ok_or_else(|| anyhow::anyhow!("no deferral: {reasons:?}"))?;
    ensure!(held.fix.starts_with("prescribe once"), "{held:?}");
    ensure!(
        held.rules
            .iter()
            .any(|r| r.contains("anc") || r.contains("count")),
        "{held:?}"
    );
    let file = store.patient_file(low).await?.expect("stored");
    ensure!(file.prescriptions.is_empty());

    // On treatment, the dose is the prescriber's to change by tolerance, within the label: a schedule in 21-day
    // cycles for a regimen of 28-day cycles is refused, naming the rule; the regimen's own schedule is accepted.
    let on = "pat-on";
    let (auth, conf) = authorized(&wf, on).await?;
    ok(&wf, "ph-bo", DAY, dispense(&auth, &conf)).await?;
    let Command::WritePrescription(mut short) = prescription(on, "rx-short", 21) else {
        bail!("not a prescription");
    };
    short.schedule = serde_json::from_value::<Schedule>(serde_json::json!(
        { "dose_mg": 25.0, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 21 }
    ))?;
    let out = run(&wf, "dr-ada", DAY, Command::WritePrescription(short)).await?;
    let Outcome::Refused { reasons } = &out.outcome else {
        bail!(
            "21-day cycles accepted for a 28-day regimen: {:?}",
            out.outcome
        );
    };
    let off = reasons
        .iter()
        .find(|r| r.code == "prescription.dose")
        .ok_or_else(|| anyhow::anyhow!("no dose reason: {reasons:?}"))?;
    ensure!(off.what.contains("28-day"), "{off:?}");
    ensure!(!off.rules.is_empty(), "{off:?}");
    let out = run(&wf, "dr-ada", DAY, prescription(on, "rx-next", 28)).await?;
    ensure!(
        !matches!(&out.outcome, Outcome::Refused { reasons } if reasons.iter().any(|r| r.code == "prescription.dose")),
        "the regimen's own schedule is within the label: {:?}",
        out.outcome
    );
    Ok(())
}

#[tokio::test]
async fn prescriptions_on_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    prescriptions(Arc::new(store)).await
}

#[tokio::test]
async fn prescriptions_on_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let result = prescriptions(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    result
}

//! A synthetic registry on both backends: every generated patient is readable by the engine (no blocked
//! records), the sweep finds the missed tests and lapsed windows the generator plants, a repeated batch is a
//! retry, and the audit chain holds.

use anyhow::{Result, ensure};
use lenaguard_storage::command::{ADMIN, Command, CommandRequest};
use lenaguard_storage::sweep::{Task, sweep, tasks_for};
use lenaguard_storage::synth::{CLINIC, PHARMACY, PRESCRIBER};
use lenaguard_storage::{Store, verify_audit};
use lenaguard_tests_storage::*;
use std::sync::Arc;

async fn story(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    synthetic_registry(&wf).await?;
    let batch = CommandRequest {
        idempotency_key: "synth-7-0-300".into(),
        actor: ADMIN.into(),
        on: DAY,
        command: Command::SynthesizeRegistry {
            seed: 7,
            first: 0,
            count: 300,
        },
    };
    let first = wf.execute(batch.clone()).await?;
    ensure!(first.accepted().is_some(), "{first:?}");
    let again = wf.execute(batch).await?;
    ensure!(again.replayed && again.audit_seq == first.audit_seq);
    ensure!(store.patient_ids().await?.len() == 300);
    // The bulk load routes every prescription to the synthetic pharmacy.
    let routed = store
        .patient_list(
            &lenaguard_storage::accounts::PatientScope::Pharmacy(PHARMACY.into()),
            "",
            1_000,
        )
        .await?;
    ensure!(routed.len() == 300, "{} patients routed", routed.len());
    let r = store
        .patient_relations("syn-0000000")
        .await?
        .expect("a synthetic patient");
    ensure!(
        r.pharmacies == [PHARMACY] && r.prescriber == PRESCRIBER && r.clinic == CLINIC,
        "{r:?}"
    );
    let file = store.patient_file("syn-0000000").await?.expect("patient");
    ensure!(
        !file.prescriptions.is_empty()
            && file
                .prescriptions
                .iter()
                .all(|p| p.pharmacy.as_deref() == Some(PHARMACY))
    );

    let report = sweep(store.as_ref(), &pack(), DAY, 128, false, &mut |_, _| {}).await?;
    ensure!(
        report.blocked == 0,
        "{report:?}: {:#?}",
        store.tasks(5).await?
    );
    let tasks = store.tasks(100_000).await?;
    ensure!(
        tasks
            .iter()
            .any(|t| t.kind == "window.pregnancy_test" && t.state == "lapsed"),
        "no missed test found"
    );
    ensure!(
        tasks
            .iter()
            .any(|t| t.kind == "window.authorization" && t.state == "lapsed"),
        "no lapsed authorization found"
    );
    // The sweep's lapsed authorizations are exactly the ones a one-query reading of the stored rows finds
    // (active, stored window ended, patient not discontinued): the stored window is the one the engine computes.
    let mut stored = std::collections::BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = store.patient_files(&after, 128).await?;
        let Some(last) = page.last() else { break };
        after = last.patient.id.clone();
        for f in &page {
            if f.patient.status == lenaguard_domain::snapshot::TreatmentStatus::Discontinued {
                continue;
            }
            for a in &f.authorizations {
                if a.status == lenaguard_storage::records::AuthorizationStatus::Active
                    && a.valid_through < DAY
                {
                    stored.insert(a.patient.clone());
                }
            }
        }
    }
    let swept: std::collections::BTreeSet<String> = tasks
        .iter()
        .filter(|t| t.kind == "window.authorization" && t.state == "lapsed")
        .map(|t| t.patient.clone())
        .collect();
    ensure!(swept == stored, "sweep {swept:?} != stored rows {stored:?}");
    // The bulk sweep (pages, judged on every core, tasks written in batches) gives exactly the answers of
    // judging each patient alone from the one-patient loader.
    let mut alone = Vec::new();
    for id in store.patient_ids().await? {
        let file = store.patient_file(&id).await?;
        let file = file.ok_or_else(|| anyhow::anyhow!("no file for {id}"))?;
        alone.extend(tasks_for(&file, wf.pack(), DAY));
    }
    let by_key = |t: &Task| (t.patient.clone(), t.kind.clone());
    alone.sort_by_key(by_key);
    let mut bulk = tasks.clone();
    bulk.sort_by_key(by_key);
    ensure!(
        !bulk.is_empty() && bulk == alone,
        "bulk sweep and per-patient judgement differ"
    );
    ensure!(verify_audit(store.as_ref()).await?.intact());
    Ok(())
}

#[tokio::test]
async fn synthetic_registry_on_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    story(Arc::new(store)).await
}

#[tokio::test]
async fn synthetic_registry_on_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = story(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

/// The parallel generator writes exactly what generating the patients one by one writes, in the same order.
#[test]
fn parallel_generation_is_the_sequential_one() -> Result<()> {
    use lenaguard_storage::synth::{patient, patients, schedule};
    let pack = pack();
    let schedule = schedule()?;
    let bulk = patients(7, 40, 600, DAY, &pack, &schedule)?;
    let mut one_by_one = Vec::new();
    for i in 40..640 {
        one_by_one.extend(patient(7, i, DAY, &pack, &schedule)?);
    }
    ensure!(bulk.len() > 600, "{} writes", bulk.len());
    ensure!(bulk == one_by_one);
    Ok(())
}

//! `Workflow::execute_all_or_nothing` (the FHIR transaction import's storage step), on SQLite and PostgreSQL:
//! a refused command leaves nothing of its batch, a retried batch answers with the first outcomes, and batches
//! over several patients running at the same time as single commands on the same patients neither deadlock nor
//! fork the chain.

use anyhow::{Context, Result, bail, ensure};
use lenaguard_domain::snapshot::Lab;
use lenaguard_domain::units::Analyte;
use lenaguard_storage::command::{Command, CommandRequest};
use lenaguard_storage::{AllOrNothing, Store, verify_audit};
use lenaguard_tests_storage::*;
use std::sync::Arc;

fn lab(patient: &str, value: f64) -> Command {
    Command::RecordLab {
        patient: patient.into(),
        lab: Lab {
            code: Analyte::Anc,
            value,
            unit: "10*9/L".into(),
            date: DAY,
            lln: None,
            uln: None,
        },
    }
}

fn request(command: Command) -> CommandRequest {
    CommandRequest {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        actor: "dr-ada".into(),
        on: DAY,
        command,
    }
}

async fn everything(store: &dyn Store) -> Result<(usize, String)> {
    let rows = store.audit_rows(0, 1_000_000).await?.len();
    let mut files = String::new();
    for p in store.patient_ids().await? {
        files.push_str(&format!("{:?}\n", store.patient_file(&p).await?));
    }
    Ok((rows, files))
}

async fn all_or_nothing(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;
    ready_patient(&wf, "pat-a").await?;
    ok(
        &wf,
        "dr-ada",
        days(DAY, -40),
        Command::Enroll(enrollment("pat-b")),
    )
    .await?;

    // The second command is refused (pat-b has no pregnancy test): the first is not written either, and the
    // refusal is the one audit event.
    let before = everything(store.as_ref()).await?;
    let batch = [
        request(lab("pat-a", 2.0)),
        request(prescription("pat-b", "rx-b", 28)),
    ];
    match wf.execute_all_or_nothing(&batch).await? {
        AllOrNothing::Refused { index: 1, reasons } if !reasons.is_empty() => {}
        other => bail!("expected the second command refused, got {other:?}"),
    }
    let after = everything(store.as_ref()).await?;
    ensure!(after.1 == before.1, "a refused batch wrote a record");
    ensure!(after.0 == before.0 + 1, "one audit event: the refusal");
    let last = store
        .audit_rows(0, 1_000_000)
        .await?
        .pop()
        .context("the refusal's event")?;
    ensure!(
        last.event.contains(&batch[1].idempotency_key) && last.event.contains("refused"),
        "{}",
        last.event
    );
    // A retry answers the stored refusal and records nothing more.
    match wf.execute_all_or_nothing(&batch).await? {
        AllOrNothing::Refused { index: 1, .. } => {}
        other => bail!("expected the stored refusal, got {other:?}"),
    }
    ensure!(everything(store.as_ref()).await? == after);

    // Accepted: both commands, each seeing the one before (the prescription after the lab), one audit event each.
    let batch = [
        request(lab("pat-a", 2.0)),
        request(prescription("pat-a", "rx-a", 28)),
    ];
    let AllOrNothing::Applied(first) = wf.execute_all_or_nothing(&batch).await? else {
        bail!("the batch was refused");
    };
    ensure!(first.len() == 2 && first.iter().all(|o| !o.replayed));
    ensure!(first[1].audit_seq == first[0].audit_seq + 1);
    let AllOrNothing::Applied(again) = wf.execute_all_or_nothing(&batch).await? else {
        bail!("the retry was refused");
    };
    ensure!(again.iter().all(|o| o.replayed));
    ensure!(
        again.iter().map(|o| o.audit_seq).collect::<Vec<_>>()
            == first.iter().map(|o| o.audit_seq).collect::<Vec<_>>()
    );
    let file = store.patient_file("pat-a").await?.expect("patient");
    ensure!(file.prescriptions.len() == 1);
    ensure!(verify_audit(store.as_ref()).await?.intact());
    Ok(())
}

/// Batches over two patients (in both orders) and single commands on each, all at once.
async fn batches_and_commands_at_once(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;
    for p in ["pat-x", "pat-y"] {
        ok(
            &wf,
            "dr-ada",
            days(DAY, -40),
            Command::Enroll(enrollment(p)),
        )
        .await?;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let wf = wf.clone();
        tasks.spawn(async move {
            let (a, b) = if i % 2 == 0 {
                ("pat-x", "pat-y")
            } else {
                ("pat-y", "pat-x")
            };
            if i % 3 == 0 {
                run(&wf, "dr-ada", DAY, lab(a, 1.0 + f64::from(i))).await?;
                Ok::<usize, anyhow::Error>(1)
            } else {
                let batch = [
                    request(lab(a, 1.0 + f64::from(i))),
                    request(lab(b, 1.0 + f64::from(i))),
                ];
                match wf.execute_all_or_nothing(&batch).await? {
                    AllOrNothing::Applied(o) => Ok(o.len()),
                    AllOrNothing::Refused { reasons, .. } => bail!("refused: {reasons:?}"),
                }
            }
        });
    }
    let mut written = 0;
    while let Some(done) = tasks.join_next().await {
        written += done??;
    }
    let mut labs = 0;
    for p in ["pat-x", "pat-y"] {
        labs += store.patient_file(p).await?.expect("patient").records.len();
    }
    ensure!(
        labs == written,
        "{labs} lab records for {written} accepted commands"
    );
    ensure!(verify_audit(store.as_ref()).await?.intact());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_written_whole_or_not_at_all_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    all_or_nothing(Arc::new(store)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_written_whole_or_not_at_all_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = all_or_nothing(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_and_single_commands_at_once_keep_one_chain_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    batches_and_commands_at_once(Arc::new(store)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_and_single_commands_at_once_keep_one_chain_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = batches_and_commands_at_once(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

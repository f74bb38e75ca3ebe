//! The invariants the database enforces, under concurrency (tasks in one process, and two processes on one
//! database), and the audit chain catching a row edited with raw SQL. Each runs on SQLite and PostgreSQL.

use anyhow::{Result, ensure};
use lenaguard_storage::{Store, verify_audit};
use lenaguard_tests_storage::*;
use std::process::Stdio;
use std::sync::Arc;

async fn tasks_race(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    let (auth, conf) = authorized(&wf, "pat-race").await?;
    let accepted = dispense_race(&wf, &auth, &conf, 16).await?;
    ensure!(
        accepted == 1,
        "{accepted} dispenses accepted on one authorization"
    );
    let file = store.patient_file("pat-race").await?.expect("patient");
    ensure!(file.dispenses.len() == 1);
    let report = verify_audit(store.as_ref()).await?;
    ensure!(report.intact());
    // The last sequence number, read without the chain's lock, counts every event after the race.
    ensure!(
        store.audit_last_seq().await? == report.events,
        "last seq {} of {} events",
        store.audit_last_seq().await?,
        report.events
    );
    Ok(())
}

/// Two OS processes, each with 8 concurrent attempts, on one database.
async fn process_race(store: Arc<dyn Store>, url: &str) -> Result<()> {
    let wf = workflow(store.clone());
    let (auth, conf) = authorized(&wf, "pat-procs").await?;
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_dispense-race"))
            .args([url, &auth, &conf, "8"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    };
    let (a, b) = (spawn()?, spawn()?);
    let (a, b) = tokio::try_join!(a.wait_with_output(), b.wait_with_output())?;
    let mut accepted = 0;
    for out in [a, b] {
        ensure!(
            out.status.success(),
            "helper failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        accepted += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()?;
    }
    ensure!(
        accepted == 1,
        "{accepted} dispenses accepted across two processes"
    );
    ensure!(
        store
            .patient_file("pat-procs")
            .await?
            .expect("patient")
            .dispenses
            .len()
            == 1
    );
    ensure!(verify_audit(store.as_ref()).await?.intact());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_dispense_per_authorization_under_concurrent_tasks_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    tasks_race(Arc::new(store)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_dispense_per_authorization_under_concurrent_tasks_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = tasks_race(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dispense_per_authorization_across_two_processes_sqlite() -> Result<()> {
    let (store, dir) = sqlite().await?;
    let url = format!("sqlite://{}", dir.path().join("lenaguard.db").display());
    process_race(Arc::new(store), &url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dispense_per_authorization_across_two_processes_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = process_race(Arc::new(store.clone()), &db.url).await;
    db.drop_database(store).await?;
    r
}

/// Commands about 12 patients at once (each walked to a dispense): patients are judged in parallel and only the
/// appends are serial, so the chain must come out whole: one event per acknowledged command, positions 1..n
/// without a gap or a fork, every hash verified.
async fn many_patients_one_chain(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;
    let before = store.audit_rows(0, 1_000_000).await?.len();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let wf = wf.clone();
        tasks.spawn(async move {
            let patient = format!("pat-many-{i}");
            let (auth, conf) = authorized(&wf, &patient).await?;
            ok(&wf, "ph-bo", DAY, dispense(&auth, &conf)).await?;
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let rows = store.audit_rows(0, 1_000_000).await?;
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    ensure!(
        seqs == (1..=rows.len() as i64).collect::<Vec<_>>(),
        "audit positions are not 1..n: {seqs:?}"
    );
    let per_patient = (rows.len() - before) / 12;
    ensure!(
        rows.len() - before == per_patient * 12 && per_patient >= 8,
        "{} events for 12 patients",
        rows.len() - before
    );
    ensure!(verify_audit(store.as_ref()).await?.intact());
    for i in 0..12 {
        let file = store
            .patient_file(&format!("pat-many-{i}"))
            .await?
            .expect("patient");
        ensure!(file.dispenses.len() == 1);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_patients_at_once_keep_one_chain_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    many_patients_one_chain(Arc::new(store)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_patients_at_once_keep_one_chain_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = many_patients_one_chain(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

async fn tamper(store: Arc<dyn Store>, edit: impl AsyncFnOnce(i64) -> Result<()>) -> Result<()> {
    let wf = workflow(store.clone());
    let (auth, conf) = authorized(&wf, "pat-tamper").await?;
    ok(&wf, "ph-bo", DAY, dispense(&auth, &conf)).await?;
    ensure!(verify_audit(store.as_ref()).await?.intact());
    // Event 3 registers the prescriber "Dr Ada".
    let target = 3;
    edit(target).await?;
    let report = verify_audit(store.as_ref()).await?;
    let broken = report.broken.expect("verification must fail after an edit");
    ensure!(broken.seq == target, "{broken:?}");
    ensure!(broken.why.contains("edited"), "{broken:?}");
    Ok(())
}

#[tokio::test]
async fn audit_verify_finds_an_edited_row_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    let pool = store.pool().clone();
    tamper(Arc::new(store), async |seq| {
        let done = sqlx::query(
            "UPDATE audit_events SET event = replace(event, 'Dr Ada', 'Dr Eve') WHERE seq = ?1",
        )
        .bind(seq)
        .execute(&pool)
        .await?;
        ensure!(done.rows_affected() == 1, "the edit changed no row");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn audit_verify_finds_an_edited_row_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let pool = store.pool().clone();
    let r = tamper(Arc::new(store.clone()), async |seq| {
        let done = sqlx::query(
            "UPDATE audit_events SET event = replace(event, 'Dr Ada', 'Dr Eve') WHERE seq = $1",
        )
        .bind(seq)
        .execute(&pool)
        .await?;
        ensure!(done.rows_affected() == 1, "the edit changed no row");
        Ok(())
    })
    .await;
    db.drop_database(store).await?;
    r
}

#[tokio::test]
async fn database_refuses_a_second_dispense_row_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    let pool = store.pool().clone();
    let store: Arc<dyn Store> = Arc::new(store);
    let wf = workflow(store.clone());
    let (auth, conf) = authorized(&wf, "pat-raw").await?;
    ok(&wf, "ph-bo", DAY, dispense(&auth, &conf)).await?;
    let r = sqlx::query(
        "INSERT INTO dispenses (id, authorization_number, confirmation, patient, pharmacy, pharmacist, date,
            days_supply, quantity, counselling, seq)
         SELECT 'raw-2', authorization_number, confirmation, patient, pharmacy, pharmacist, date, days_supply,
            quantity, counselling, seq FROM dispenses",
    )
    .execute(&pool)
    .await;
    let e = r.expect_err("the database accepted a second dispense of one authorization");
    ensure!(
        e.to_string().contains("dispenses.authorization_number"),
        "{e}"
    );
    Ok(())
}

//! The sweep on both backends: the page loader returns the same files as the one-patient loader, and a sweep
//! days later finds the authorization that lapsed without a dispense.

use anyhow::{Result, ensure};
use lenaguard_storage::command::Command;
use lenaguard_storage::sweep::sweep;
use lenaguard_storage::{Answer, Store};
use lenaguard_tests_storage::*;
use std::sync::Arc;

async fn story(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    // pat-a dispensed; pat-b authorized but never dispensed; pat-c only enrolled.
    let (auth, conf) = authorized(&wf, "pat-a").await?;
    ok(&wf, "ph-bo", DAY, dispense(&auth, &conf)).await?;
    ready_patient(&wf, "pat-b").await?;
    ok(&wf, "dr-ada", DAY, prescription("pat-b", "rx-b", 28)).await?;
    let Answer::Authorization { valid_through, .. } = ok(
        &wf,
        "dr-ada",
        DAY,
        Command::RequestAuthorization {
            prescription: "rx-b".into(),
        },
    )
    .await?
    else {
        anyhow::bail!("no authorization")
    };
    ok(
        &wf,
        "dr-ada",
        days(DAY, -40),
        Command::Enroll(enrollment("pat-c")),
    )
    .await?;

    // Pages of two return exactly what the one-patient loader returns.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.patient_files(&after, 2).await?;
        let Some(last) = page.last() else { break };
        after = last.patient.id.clone();
        paged.extend(page);
    }
    ensure!(paged.len() == 3);
    for f in &paged {
        ensure!(
            Some(f) == store.patient_file(&f.patient.id).await?.as_ref(),
            "{}",
            f.patient.id
        );
    }

    let on = days(valid_through, 1);
    let mut calls = 0;
    let report = sweep(store.as_ref(), &pack(), on, 2, false, &mut |_, _| {
        calls += 1
    })
    .await?;
    ensure!(
        report.patients == 3
            && report.full
            && report.judged == 3
            && report.swept == 3
            && calls == 2,
        "{report:?}"
    );
    let tasks = store.tasks(1000).await?;
    ensure!(tasks.len() == report.tasks);
    ensure!(
        tasks.iter().any(|t| t.patient == "pat-b"
            && t.kind == "window.authorization"
            && t.state == "lapsed"),
        "{tasks:#?}"
    );
    ensure!(
        tasks.windows(2).all(|w| w[0].due <= w[1].due),
        "not sorted by due date"
    );
    ensure!(!tasks.iter().any(|t| t.state == "blocked"), "{tasks:#?}");
    // A second sweep replaces the tasks rather than adding to them.
    sweep(store.as_ref(), &pack(), on, 2, true, &mut |_, _| {}).await?;
    ensure!(store.tasks(1000).await?.len() == tasks.len());
    Ok(())
}

#[tokio::test]
async fn sweep_on_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    story(Arc::new(store)).await
}

#[tokio::test]
async fn sweep_on_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = story(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

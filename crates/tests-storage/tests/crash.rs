//! Kill the process during a stream of writes, reopen the database, and check that the audit chain verifies, that
//! no acknowledged command is lost (a retry with its key returns the first answer) and that the invariants hold.

use anyhow::{Result, ensure};
use lenaguard_storage::command::{Command, CommandRequest};
use lenaguard_storage::{Store, verify_audit};
use lenaguard_tests_storage::*;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};

async fn crash(store: Arc<dyn Store>, url: &str) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;
    ok(
        &wf,
        "dr-ada",
        days(DAY, -40),
        Command::Enroll(enrollment("pat-crash")),
    )
    .await?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_write-stream"))
        .args([url, "pat-crash", "100000"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut acked: Vec<(String, i64)> = Vec::new();
    // Kill it after 50 acknowledgements, in the middle of the stream (SIGKILL: no cleanup runs).
    while let Some(line) = lines.next_line().await? {
        let mut parts = line.split_whitespace().skip(1);
        let (Some(key), Some(seq)) = (parts.next(), parts.next()) else {
            continue;
        };
        acked.push((key.to_string(), seq.parse()?));
        if acked.len() == 50 {
            child.start_kill()?;
            break;
        }
    }
    child.wait().await?;
    ensure!(acked.len() == 50, "the stream ended early: {acked:?}");

    // Reopen as a new process would.
    let reopened = open(url).await?;
    let report = verify_audit(reopened.as_ref()).await?;
    ensure!(report.intact(), "{report:?}");
    let wf = workflow(reopened.clone());
    for (key, seq) in &acked {
        let i: usize = key.trim_start_matches("stream-").parse()?;
        let lab = serde_json::from_value(serde_json::json!(
            { "code": "anc", "value": 1.5 + (i % 10) as f64 / 10.0, "unit": "10*9/L", "date": DAY }
        ))?;
        let again = wf
            .execute(CommandRequest {
                idempotency_key: key.clone(),
                actor: "dr-ada".into(),
                on: DAY,
                command: Command::RecordLab {
                    patient: "pat-crash".into(),
                    lab,
                },
            })
            .await?;
        ensure!(
            again.replayed && again.audit_seq == *seq,
            "{key}: {again:?}"
        );
    }
    let file = reopened.patient_file("pat-crash").await?.expect("patient");
    let labs = file.records.len();
    // Every stored record has its audit event and vice versa: none half-written.
    ensure!(
        labs >= acked.len(),
        "{labs} records for {} acknowledged writes",
        acked.len()
    );
    ensure!(
        labs as i64 == report.events - 7,
        "{labs} records, {} events",
        report.events
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_stream_loses_no_acknowledged_write_sqlite() -> Result<()> {
    let (store, dir) = sqlite().await?;
    let url = format!("sqlite://{}", dir.path().join("lenaguard.db").display());
    crash(Arc::new(store), &url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_stream_loses_no_acknowledged_write_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let r = crash(Arc::new(store.clone()), &db.url).await;
    db.drop_database(store).await?;
    r
}

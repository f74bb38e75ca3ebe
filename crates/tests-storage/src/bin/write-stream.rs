//! Test helper: `write-stream URL PATIENT COUNT` records COUNT lab results for PATIENT, one command at a time with
//! the keys `stream-0`, `stream-1`, ..., and prints `ack KEY SEQ` after each acknowledged command. The crash test
//! kills it mid-stream and checks that every acknowledged command survived.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use lenaguard_storage::command::{Command, CommandRequest};
use lenaguard_tests_storage::DAY;
use std::io::Write;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, patient, count] = args.as_slice() else {
        anyhow::bail!("usage: write-stream URL PATIENT COUNT");
    };
    let count: usize = count.parse().context("COUNT: a whole number")?;
    let wf = lenaguard_tests_storage::workflow(lenaguard_tests_storage::open(url).await?);
    let mut out = std::io::stdout().lock();
    for i in 0..count {
        let lab = serde_json::from_value(serde_json::json!(
            { "code": "anc", "value": 1.5 + (i % 10) as f64 / 10.0, "unit": "10*9/L", "date": DAY }
        ))?;
        let key = format!("stream-{i}");
        let done = wf
            .execute(CommandRequest {
                idempotency_key: key.clone(),
                actor: "dr-ada".into(),
                on: DAY,
                command: Command::RecordLab {
                    patient: patient.clone(),
                    lab,
                },
            })
            .await?;
        anyhow::ensure!(done.accepted().is_some(), "refused: {:?}", done.outcome);
        writeln!(out, "ack {key} {}", done.audit_seq)?;
        out.flush()?;
    }
    Ok(())
}

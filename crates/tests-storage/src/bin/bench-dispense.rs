//! Benchmark: `bench-dispense URL N [CONCURRENCY]` prepares N authorized, confirmed prescriptions (one patient
//! each), then times N dispense commands (audit chain, idempotency, engine checks, one transaction each) issued
//! by CONCURRENCY tasks, and prints commands per second and latency percentiles. Results: docs/benchmarks.md.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use lenaguard_storage::Answer;
use lenaguard_storage::command::Command;
use lenaguard_tests_storage::*;
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .context("usage: bench-dispense URL N [CONCURRENCY]")?;
    let n: usize = args.get(2).context("N")?.parse()?;
    let conc: usize = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let wf = workflow(open(url).await?);
    registry(&wf).await?;
    let prep = Instant::now();
    let mut work = Vec::with_capacity(n);
    for i in 0..n {
        let p = format!("pat-{i}");
        ready_patient(&wf, &p).await?;
        let rx = format!("rx-{i}");
        ok(&wf, "dr-ada", DAY, prescription(&p, &rx, 28)).await?;
        let Answer::Authorization { number: a, .. } = ok(
            &wf,
            "dr-ada",
            DAY,
            Command::RequestAuthorization { prescription: rx },
        )
        .await?
        else {
            anyhow::bail!("no authorization")
        };
        let Answer::Confirmation { number: c, .. } = ok(
            &wf,
            "ph-bo",
            DAY,
            Command::RequestConfirmation {
                authorization: a.clone(),
            },
        )
        .await?
        else {
            anyhow::bail!("no confirmation")
        };
        work.push((a, c));
    }
    let prep = prep.elapsed();
    let prep_commands = n * 8;
    let chunks: Vec<Vec<(String, String)>> = work
        .chunks(n.div_ceil(conc).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in chunks {
        let wf = wf.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(chunk.len());
            for (a, c) in chunk {
                let t = Instant::now();
                ok(&wf, "ph-bo", DAY, dispense(&a, &c)).await?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, anyhow::Error>(lat)
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r??);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "{} dispenses, concurrency {conc}: {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; preparation {} commands in {:.1} s ({:.0}/s)",
        lat.len(),
        lat.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        prep_commands,
        prep.as_secs_f64(),
        prep_commands as f64 / prep.as_secs_f64()
    );
    Ok(())
}

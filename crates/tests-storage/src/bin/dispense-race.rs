//! Test helper: `dispense-race URL AUTHORIZATION CONFIRMATION ATTEMPTS` tries that many concurrent dispenses of
//! one authorization against the database at URL and prints how many were accepted. The concurrency tests run
//! two of these processes at once on one database.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, auth, conf, attempts] = args.as_slice() else {
        anyhow::bail!("usage: dispense-race URL AUTHORIZATION CONFIRMATION ATTEMPTS");
    };
    let attempts: usize = attempts.parse().context("ATTEMPTS: a whole number")?;
    let store = lenaguard_tests_storage::open(url).await?;
    let wf = lenaguard_tests_storage::workflow(store);
    let accepted = lenaguard_tests_storage::dispense_race(&wf, auth, conf, attempts).await?;
    println!("{accepted}");
    Ok(())
}

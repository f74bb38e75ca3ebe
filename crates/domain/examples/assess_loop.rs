//! Runs `assess` on the benchmark snapshot N times: a fixed workload for profilers
//! (`valgrind --tool=callgrind target/release/examples/assess_loop 2000`).

use lenaguard_domain::{RulePack, Snapshot, assess};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let pack = RulePack::builtin().expect("pack");
    let snapshot: Snapshot =
        serde_json::from_str(include_str!("../../../examples/mm-rd-platelets-low.json"))
            .expect("example");
    let today = "2026-11-26".parse().expect("date");
    let mut findings = 0;
    for _ in 0..n {
        findings += assess(&snapshot, &pack, today)
            .map(|a| a.findings.len())
            .unwrap_or(0);
    }
    println!("{findings}");
}

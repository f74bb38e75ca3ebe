//! A fixed workload for instruction-counting profilers, which give the same count however loaded the machine is:
//! `valgrind --tool=callgrind target/release/examples/assess_loop 2000` (assess), `... 2000 parse` (parse the
//! snapshot JSON only: the baseline any door pays), `... 0` (start-up, to subtract).

use lenaguard_domain::{RulePack, Snapshot, assess};

const SNAPSHOT: &str = include_str!("../../../examples/mm-rd-platelets-low.json");

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let parse_only = args.next().as_deref() == Some("parse");
    let pack = RulePack::builtin().expect("pack");
    let snapshot: Snapshot = serde_json::from_str(SNAPSHOT).expect("example");
    let today = "2026-11-26".parse().expect("date");
    let mut total = 0;
    for _ in 0..n {
        total += if parse_only {
            serde_json::from_str::<Snapshot>(std::hint::black_box(SNAPSHOT))
                .map(|s| s.labs.len())
                .unwrap_or(0)
        } else {
            assess(&snapshot, &pack, today)
                .map(|a| a.findings.len())
                .unwrap_or(0)
        };
    }
    println!("{total}");
}

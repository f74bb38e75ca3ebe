//! `cargo bench -p lenaguard-domain --bench assess`: one assessment of a realistic snapshot, the same snapshot
//! parsed from JSON and assessed (what a door pays), and a batch of 100,000 varied snapshots over all cores.
//! Results and the machine they ran on: docs/benchmarks.md.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jiff::civil::Date;
use lenaguard_domain::{RulePack, Snapshot, assess};
use std::hint::black_box;

const SNAPSHOT: &str = include_str!("../../../examples/mm-rd-platelets-low.json");

fn today() -> Date {
    "2026-11-26".parse().expect("date")
}

/// 100,000 snapshots across regimens, statuses and counts, built once outside the timed loop.
fn batch(n: usize) -> Vec<Snapshot> {
    let base: Snapshot = serde_json::from_str(SNAPSHOT).expect("example");
    let regimens = ["mm_rd", "mcl", "fl", "mm_vrd"];
    (0..n)
        .map(|i| {
            let mut v = serde_json::to_value(&base).expect("value");
            v["regimen"] = serde_json::json!(regimens[i % regimens.len()]);
            if v["regimen"] != "mm_rd" {
                v.as_object_mut().expect("object").remove("dexamethasone");
            }
            let days = if v["regimen"] == "mm_vrd" { [1, 14] } else { [1, 21] };
            let cycle = if v["regimen"] == "mm_vrd" { 21 } else { 28 };
            let dose = if v["regimen"] == "fl" { 20 } else { 25 };
            v["treatment"]["current"] = serde_json::json!({"dose_mg": dose, "frequency": "once_daily", "days_on": days, "cycle_days": cycle});
            v["treatment"]["starting"] = v["treatment"]["current"].clone();
            v["labs"][2]["value"] = serde_json::json!(10_000 + (i * 7919) % 200_000);
            v["labs"][1]["value"] = serde_json::json!(300 + (i * 104_729) % 4000);
            serde_json::from_value(v).expect("snapshot")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pack = RulePack::builtin().expect("pack");
    let snapshot: Snapshot = serde_json::from_str(SNAPSHOT).expect("example");
    let today = today();

    let mut g = c.benchmark_group("assess");
    g.bench_function("one snapshot", |b| {
        b.iter(|| assess(black_box(&snapshot), &pack, today))
    });
    // Baseline for the ratio in docs/benchmarks.md: what any door pays to read the same snapshot.
    g.bench_function("parse JSON only (baseline)", |b| {
        b.iter(|| serde_json::from_str::<Snapshot>(black_box(SNAPSHOT)).expect("parse"))
    });
    g.bench_function("parse JSON and assess", |b| {
        b.iter(|| {
            let s: Snapshot = serde_json::from_str(black_box(SNAPSHOT)).expect("parse");
            assess(&s, &pack, today)
        })
    });
    g.bench_function("load the rule pack (startup)", |b| {
        b.iter(RulePack::builtin)
    });
    g.finish();

    let n = 100_000;
    let snapshots = batch(n);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("100k snapshots on {threads} threads"), |b| {
        b.iter_batched(
            || (),
            |_| {
                std::thread::scope(|scope| {
                    let chunk = n.div_ceil(threads);
                    let handles: Vec<_> = snapshots
                        .chunks(chunk)
                        .map(|part| {
                            let pack = &pack;
                            scope.spawn(move || {
                                part.iter()
                                    .filter(|s| assess(s, pack, today).is_ok())
                                    .count()
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("thread"))
                        .sum::<usize>()
                })
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("100k snapshots on 1 thread", |b| {
        b.iter(|| {
            snapshots
                .iter()
                .filter(|s| assess(s, &pack, today).is_ok())
                .count()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(5)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);

//! Population benchmark (docs/benchmarks.md, "Population PK"): 100,000 virtual LEN-R1 patients, 25 mg days 1-21 of
//! a 28-day cycle, simulated hourly for 28 days with AUC, Cmax and Cmin on day 21. Covariates are a deterministic
//! low-discrepancy spread (CrCl 20-120 mL/min, weight 50-100 kg) that tools/pk/bench_numpy.py reproduces exactly.

use criterion::{Criterion, criterion_group, criterion_main};
use lenaguard_pk::{
    CovariateSource, Covariates, LEN_R1, PopulationOptions, PopulationSpec, Schedule,
    simulate_population,
};

const PATIENTS: usize = 100_000;

fn covariates() -> Vec<Covariates> {
    (0..PATIENTS)
        .map(|i| {
            let u = (i as f64 * 0.618_033_988_749_895).fract();
            let w = (i as f64 * 0.754_877_666_246_693).fract();
            Covariates::patient(20.0 + 100.0 * u, 50.0 + 50.0 * w).expect("in range")
        })
        .collect()
}

fn population(c: &mut Criterion) {
    let spec = PopulationSpec {
        size: PATIENTS,
        seed: 2026,
        covariates: CovariateSource::PerPatient(covariates()),
        cl_v_correlation: false,
    };
    let schedule = Schedule::cycles(25.0, 21, 28, 1, 0.0).expect("valid schedule");
    let options = PopulationOptions::default();
    // Printed once so the run can be compared with tools/pk/bench_numpy.py.
    let check = simulate_population(&LEN_R1, &spec, &schedule, &options).expect("simulates");
    for (name, p) in [
        ("AUC day 21 ng*h/mL", check.auc_window_ng_h_ml),
        ("Cmax ng/mL", check.cmax_ng_ml),
        ("Cmin ng/mL", check.cmin_ng_ml),
    ] {
        println!("{name}: p5 {:.1} p50 {:.1} p95 {:.1}", p.p5, p.p50, p.p95);
    }
    let mut group = c.benchmark_group("population");
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(10));
    group.bench_function("len_r1_100k_patients_28d_hourly", |b| {
        b.iter(|| simulate_population(&LEN_R1, &spec, &schedule, &options).expect("simulates"));
    });
    // One thread, for a per-core comparison with numpy (which runs on one core).
    let single = PopulationOptions {
        threads: Some(1),
        ..options
    };
    group.bench_function("len_r1_100k_patients_28d_hourly_1_thread", |b| {
        b.iter(|| simulate_population(&LEN_R1, &spec, &schedule, &single).expect("simulates"));
    });
    group.finish();
}

criterion_group!(benches, population);
criterion_main!(benches);

//! Prints the tables of docs/pk.md (validation against reference/pk-model.md and the label renal-dose check)
//! as Markdown: `cargo run -p lenaguard-pk --example validation_tables`.

use lenaguard_pk::{
    CheckPopulation, Covariates, LEN_R1, PkError, Regimen, RenalPoint, Schedule, SimOptions,
    label_renal_check, relative_exposure, simulate,
};

fn main() -> Result<(), PkError> {
    let sd = simulate(
        &LEN_R1,
        &Covariates::patient(90.0, 70.0)?,
        &Schedule::once_daily(25.0, 1, 0.0)?,
        &SimOptions {
            step_h: 0.01,
            horizon_h: Some(24.0),
            ..SimOptions::default()
        },
    )?;
    println!(
        "single 25 mg, CrCl 90: Cmax {:.1} at {:.2} h, C24 {:.2}, AUCinf {:.0}, t1/2 {:.2}\n",
        sd.cmax_ng_ml,
        sd.tmax_h,
        sd.conc_ng_ml.last().copied().unwrap_or(f64::NAN),
        25_000.0 / sd.individual.cl_l_h,
        sd.individual.half_life_h()
    );
    println!(
        "| Scenario | CL/F L/h | t½ h | Cmax,ss | Cmin,ss | AUC/24h | Ratio |\n|---|---|---|---|---|---|---|"
    );
    let rows: [(Option<f64>, Regimen, &str); 12] = [
        (Some(90.0), Regimen::once_daily(25.0), "CrCl 90, 25 mg qd"),
        (Some(120.0), Regimen::once_daily(25.0), "CrCl 120, 25 mg qd"),
        (Some(65.0), Regimen::once_daily(25.0), "CrCl 65, 25 mg qd"),
        (Some(55.0), Regimen::once_daily(25.0), "CrCl 55, 25 mg qd"),
        (Some(55.0), Regimen::once_daily(10.0), "CrCl 55, 10 mg qd"),
        (Some(40.0), Regimen::once_daily(10.0), "CrCl 40, 10 mg qd"),
        (Some(40.0), Regimen::once_daily(25.0), "CrCl 40, 25 mg qd"),
        (Some(30.0), Regimen::once_daily(10.0), "CrCl 30, 10 mg qd"),
        (Some(23.0), Regimen::every_48h(15.0), "CrCl 23, 15 mg q48h"),
        (Some(23.0), Regimen::once_daily(25.0), "CrCl 23, 25 mg qd"),
        (
            None,
            Regimen::once_daily(5.0),
            "ESRD (no dialysis), 5 mg qd",
        ),
        (
            None,
            Regimen::once_daily(25.0),
            "ESRD (no dialysis), 25 mg qd",
        ),
    ];
    for (crcl, regimen, name) in rows {
        let cov = match crcl {
            Some(c) => Covariates::patient(c, 70.0)?,
            None => Covariates::patient_on_dialysis(70.0)?,
        };
        let s = relative_exposure(&LEN_R1, &cov, &regimen)?;
        println!(
            "| {name} | {:.2} | {:.1} | {:.0} | {:.1} | {:.0} | {:.2} |",
            s.individual.cl_l_h,
            s.half_life_h,
            s.cmax_ss_ng_ml,
            s.cmin_ss_ng_ml,
            s.auc24_ss_ng_h_ml,
            s.ratio_to_reference
        );
    }
    let hd = relative_exposure(
        &LEN_R1,
        &Covariates::patient_on_dialysis(70.0)?,
        &Regimen::daily_after_dialysis(5.0),
    )?;
    println!(
        "\nESRD with three 4-h sessions/week, 5 mg after dialysis: AUC/24h {:.0}, Cmax {:.0}, lowest trough {:.1}, ratio {:.2}\n",
        hd.auc24_ss_ng_h_ml, hd.cmax_ss_ng_ml, hd.cmin_ss_ng_ml, hd.ratio_to_reference
    );
    println!(
        "| Indication | Band | Dose | Label confirmed | Renal point | Ratio (typical) | Matched | Population p5–p50–p95 | Share within 0.75–1.25 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in label_renal_check(
        &LEN_R1,
        Some(CheckPopulation {
            size: 2000,
            seed: 2026,
        }),
    )? {
        let point = match r.point {
            RenalPoint::CrCl { crcl_ml_min } => format!("CrCl {crcl_ml_min}"),
            RenalPoint::Dialysis => "dialysis 3×4 h/week".to_string(),
        };
        let p = r
            .population_ratio
            .unwrap_or(lenaguard_pk::Percentiles::of(&[]));
        println!(
            "| {:?} | {} | {} mg q{}h{} | {} | {point} | {:.2} | {} | {:.2}–{:.2}–{:.2} | {:.0}% |",
            r.indication,
            r.band,
            r.regimen.dose_mg,
            r.regimen.interval_h,
            if r.regimen.dialysis.is_some() {
                " after HD"
            } else {
                ""
            },
            if r.label_confirmed { "yes" } else { "no" },
            r.ratio_to_normal_dose,
            if r.auc_matched { "yes" } else { "no" },
            p.p5,
            p.p50,
            p.p95,
            r.population_share_matched.unwrap_or(f64::NAN) * 100.0
        );
    }
    Ok(())
}

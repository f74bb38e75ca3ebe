//! `lenaguard pk`: predicted exposure of a dose at a kidney function, against 25 mg once daily at normal kidney
//! function and against the unadjusted dose, with the model's provenance and an optional SVG chart.

use crate::input::{Context, print_json};
use crate::{Failure, Format, Outcome};
use clap::Args;
use lenaguard_pk::{
    Covariates, ExposureSummary, Model, PkError, Regimen, Schedule, SimOptions, label_renal_check,
    relative_exposure, simulate, svg_plot,
};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PkArgs {
    /// Creatinine clearance in mL/min.
    #[arg(long, required_unless_present_any = ["dialysis", "label_check"])]
    pub crcl: Option<f64>,
    /// The patient is on dialysis (three sessions a week).
    #[arg(long)]
    pub dialysis: bool,
    /// Body weight in kg.
    #[arg(long, default_value_t = 70.0)]
    pub weight: f64,
    /// Dose in mg.
    #[arg(long, required_unless_present = "label_check")]
    pub dose: Option<f64>,
    /// once_daily or every_48_hours.
    #[arg(long, default_value = "once_daily")]
    pub frequency: String,
    /// Dosing days per cycle, for the chart.
    #[arg(long, default_value_t = 21)]
    pub days_on: u32,
    /// Cycle length in days, for the chart.
    #[arg(long, default_value_t = 28)]
    pub cycle_days: u32,
    /// Model: len-r1 (calibrated) or guglieri-lopez-2017 (published structure, third-party code).
    #[arg(long, default_value = "len-r1")]
    pub model: String,
    /// Write a concentration-time chart of the first cycle (SVG) to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Instead: check every label renal dose against the normal-function dose.
    #[arg(long)]
    pub label_check: bool,
}

fn pk(e: PkError) -> Failure {
    Failure::Input(e.to_string())
}

fn regimen(a: &PkArgs, mg: f64) -> Result<Regimen, Failure> {
    Ok(match (a.frequency.as_str(), a.dialysis) {
        ("once_daily", true) => Regimen::daily_after_dialysis(mg),
        ("once_daily", false) => Regimen::once_daily(mg),
        ("every_48_hours", false) => Regimen::every_48h(mg),
        (f, d) => {
            return Err(Failure::Input(format!(
                "--frequency: {f:?} is not accepted{}; expected once_daily or every_48_hours (once_daily with --dialysis)",
                if d { " with --dialysis" } else { "" }
            )));
        }
    })
}

pub fn run(ctx: &Context, a: &PkArgs) -> Outcome {
    let model = Model::by_name(&a.model).map_err(pk)?;
    if a.label_check {
        let rows = label_renal_check(model, None).map_err(pk)?;
        match ctx.format {
            Format::Json => print_json(&rows)?,
            Format::Text => {
                let mut out = format!(
                    "Model {}: {} ({:?})\n\n",
                    model.name, model.provenance.source, model.provenance.status
                );
                for r in &rows {
                    let at = match r.point {
                        lenaguard_pk::RenalPoint::CrCl { crcl_ml_min } => {
                            format!("at CrCl {crcl_ml_min:>3}")
                        }
                        lenaguard_pk::RenalPoint::Dialysis => "on dialysis".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "{:?} {:<42} {at:<12} {:>5} mg every {:>2} h{}  ratio to normal dose {:.2} {}{}",
                        r.indication,
                        r.band,
                        r.regimen.dose_mg,
                        r.regimen.interval_h,
                        if r.regimen.dialysis.is_some() {
                            " after dialysis"
                        } else {
                            ""
                        },
                        r.ratio_to_normal_dose,
                        if r.auc_matched {
                            "(within 25%)"
                        } else {
                            "(outside 25%)"
                        },
                        if r.label_confirmed {
                            ""
                        } else {
                            "  [label column unverified]"
                        }
                    );
                }
                print!("{out}");
            }
        }
        return Ok(0);
    }
    let mg = a
        .dose
        .ok_or_else(|| Failure::Input("--dose: missing; expected a dose in mg".into()))?;
    let covariates = if a.dialysis {
        Covariates::patient_on_dialysis(a.weight)
    } else {
        Covariates::patient(a.crcl.unwrap_or(f64::NAN), a.weight)
    }
    .map_err(pk)?;
    let this = relative_exposure(model, &covariates, &regimen(a, mg)?).map_err(pk)?;
    let unadjusted = relative_exposure(model, &covariates, &regimen(a, 25.0)?).map_err(pk)?;
    if let Some(path) = &a.svg {
        let cycle = Schedule::cycles(mg, a.days_on, a.cycle_days, 1, 8.0).map_err(pk)?;
        let normal = Covariates::patient(90.0, a.weight).map_err(pk)?;
        let reference = Schedule::cycles(25.0, a.days_on, a.cycle_days, 1, 8.0).map_err(pk)?;
        let p1 = simulate(model, &covariates, &cycle, &SimOptions::default()).map_err(pk)?;
        let p2 = simulate(model, &normal, &reference, &SimOptions::default()).map_err(pk)?;
        let label = if a.dialysis {
            "dialysis".to_string()
        } else {
            format!("CrCl {}", a.crcl.unwrap_or_default())
        };
        let svg = svg_plot(
            &[
                (&format!("{label}, {mg} mg"), &p1),
                ("normal kidney function, 25 mg", &p2),
            ],
            &format!("{} ({:?})", model.name, model.provenance.status),
        );
        std::fs::write(path, svg)
            .map_err(|e| Failure::Input(format!("{}: cannot write ({e})", path.display())))?;
    }
    match ctx.format {
        Format::Json => {
            print_json(&serde_json::json!({ "dose": this, "unadjusted_25_mg": unadjusted }))?
        }
        Format::Text => print!("{}", text(model, a, &this, &unadjusted)),
    }
    Ok(0)
}

fn text(model: &Model, a: &PkArgs, this: &ExposureSummary, unadjusted: &ExposureSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Model {} ({:?}): {}",
        model.name, model.provenance.status, model.provenance.source
    );
    let _ = writeln!(out, "  {}", model.provenance.note);
    let _ = writeln!(
        out,
        "Reference: {} (AUC0-24 {:.0} ng·h/mL)\n",
        this.reference, this.reference_auc24_ng_h_ml
    );
    let who = if a.dialysis {
        "on dialysis".to_string()
    } else {
        format!("CrCl {} mL/min", a.crcl.unwrap_or_default())
    };
    for (label, e) in [
        (format!("{} mg", this.regimen.dose_mg), this),
        ("25 mg (unadjusted)".to_string(), unadjusted),
    ] {
        let verdict = if (0.75..=1.25).contains(&e.ratio_to_reference) {
            "within 25% of the reference"
        } else if e.ratio_to_reference > 2.0 {
            "more than twice the reference"
        } else if e.ratio_to_reference > 1.25 {
            "above the reference by more than 25%"
        } else {
            "below the reference by more than 25%"
        };
        let _ = writeln!(
            out,
            "{who}, {label} every {} h: AUC0-24 {:.0} ng·h/mL = {:.2} x reference ({verdict}); Cmax {:.0} ng/mL, trough {:.1} ng/mL, half-life {:.1} h",
            e.regimen.interval_h,
            e.auc24_ss_ng_h_ml,
            e.ratio_to_reference,
            e.cmax_ss_ng_ml,
            e.cmin_ss_ng_ml,
            e.half_life_h
        );
        for w in &e.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
    }
    let _ = writeln!(
        out,
        "\nInformational: the label, not the model, sets the dose."
    );
    out
}

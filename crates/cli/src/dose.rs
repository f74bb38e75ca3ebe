//! `lenaguard dose`: the label's starting dose from flags.

use crate::input::{Context, print_json};
use crate::{Failure, Format, Outcome, output};
use clap::Args;
use lenaguard_domain::quick::{self, DoseQuestion, KidneyInput};
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::{Sex, WeightBasis};
use std::fmt::Write;

#[derive(Debug, Args)]
pub struct DoseArgs {
    /// Regimen: mm_rd, mm_maintenance, mds_del5q, mcl, fl, mzl, mm_vrd.
    #[arg(long, alias = "indication", value_name = "REGIMEN")]
    pub regimen: String,
    /// A known creatinine clearance in mL/min.
    #[arg(long, value_name = "ML_MIN", conflicts_with_all = ["age", "creatinine"])]
    pub crcl: Option<f64>,
    /// Age in years (Cockcroft-Gault).
    #[arg(long)]
    pub age: Option<f64>,
    /// female or male (Cockcroft-Gault).
    #[arg(long)]
    pub sex: Option<String>,
    /// Body weight in kg (Cockcroft-Gault).
    #[arg(long)]
    pub weight: Option<f64>,
    /// Height in cm (for the ideal or adjusted weight basis).
    #[arg(long)]
    pub height: Option<f64>,
    /// Serum creatinine (Cockcroft-Gault).
    #[arg(long)]
    pub creatinine: Option<f64>,
    /// Unit of --creatinine: mg/dL or umol/L.
    #[arg(long, default_value = "mg/dL")]
    pub creatinine_unit: String,
    /// Body weight for Cockcroft-Gault: actual, ideal or adjusted.
    #[arg(long, default_value = "actual")]
    pub weight_basis: String,
    /// The patient is on dialysis.
    #[arg(long)]
    pub dialysis: bool,
}

fn question(a: &DoseArgs) -> Result<DoseQuestion, Failure> {
    let regimen = RegimenId::parse(&a.regimen).ok_or_else(|| {
        Failure::Input(format!(
            "--regimen: {:?} is not accepted; expected {}",
            a.regimen,
            RegimenId::ACCEPTED
        ))
    })?;
    let kidney = if let Some(c) = a.crcl {
        KidneyInput::Measured { crcl_ml_min: c }
    } else if a.age.is_some() || a.creatinine.is_some() || a.weight.is_some() {
        let need = |v: Option<f64>, flag: &str, what: &str| {
            v.ok_or_else(|| Failure::Input(format!("{flag}: missing; expected {what} (Cockcroft-Gault needs age, sex, weight and creatinine)")))
        };
        let sex = match a.sex.as_deref() {
            Some("female") => Sex::Female,
            Some("male") => Sex::Male,
            other => {
                return Err(Failure::Input(format!(
                    "--sex: {other:?} is not accepted; expected female or male"
                )));
            }
        };
        let basis = match a.weight_basis.as_str() {
            "actual" => WeightBasis::Actual,
            "ideal" => WeightBasis::Ideal,
            "adjusted" => WeightBasis::Adjusted,
            other => {
                return Err(Failure::Input(format!(
                    "--weight-basis: {other:?} is not accepted; expected actual, ideal or adjusted"
                )));
            }
        };
        KidneyInput::CockcroftGault {
            age_years: need(a.age, "--age", "age in years")?,
            sex,
            weight_kg: need(a.weight, "--weight", "body weight in kg")?,
            height_cm: a.height,
            creatinine: need(a.creatinine, "--creatinine", "serum creatinine")?,
            creatinine_unit: a.creatinine_unit.clone(),
            basis,
        }
    } else {
        KidneyInput::Unknown
    };
    Ok(DoseQuestion {
        regimen,
        kidney,
        dialysis: a.dialysis,
    })
}

pub fn run(ctx: &Context, a: &DoseArgs) -> Outcome {
    let answer = quick::starting_dose(&ctx.pack, &question(a)?)?;
    match ctx.format {
        Format::Json => print_json(&answer)?,
        Format::Text => {
            let mut out = String::new();
            let _ = writeln!(out, "{}", answer.summary);
            output::kidney(&mut out, &answer.kidney);
            output::findings(&mut out, &answer.findings);
            output::unverified(&mut out, &answer.unverified_rules);
            let _ = writeln!(
                out,
                "\nRule pack {} {}",
                ctx.pack.meta.id, ctx.pack.meta.version
            );
            print!("{out}");
        }
    }
    Ok(0)
}

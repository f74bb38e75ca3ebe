//! The population-PK models, kept as data with provenance. Source of every number: reference/pk-model.md
//! (§2.3 Guglieri-López 2017 as coded by Hughes et al.; §3 LEN-R1). Each parameter carries the note's tag:
//! [C] confirmed in published text, [3P] third-party code or summary, [D] derived or calibrated here.

use serde::Serialize;

use crate::covariates::{Covariates, RenalFunction, SubjectKind};
use crate::error::PkError;

/// How far a number can be trusted, using the tags of pk-model.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Tag {
    /// Seen in retrieved published text.
    #[serde(rename = "[C]")]
    Confirmed,
    /// Third party: public code or a secondary summary.
    #[serde(rename = "[3P]")]
    ThirdParty,
    /// Derived by calculation or calibration, not published.
    #[serde(rename = "[D]")]
    Derived,
    /// Recollection or inference.
    #[serde(rename = "NOT CONFIRMED")]
    NotConfirmed,
}

/// One model parameter with its unit, tag and source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Param {
    /// The value in `unit`.
    pub value: f64,
    /// Unit of `value`.
    pub unit: &'static str,
    /// Evidence tag from pk-model.md.
    pub tag: Tag,
    /// Where the number comes from.
    pub source: &'static str,
}

const fn p(value: f64, unit: &'static str, tag: Tag, source: &'static str) -> Param {
    Param {
        value,
        unit,
        tag,
        source,
    }
}

/// Status of a whole model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvenanceStatus {
    /// Structure and values from a published paper.
    Published,
    /// Values from public third-party code, not checked against the paper.
    ThirdPartyCode,
    /// Calibrated here to published summary data; not a published model.
    Calibrated,
}

/// Where a model comes from; printed with every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// Citation.
    pub source: &'static str,
    /// Published, third-party code or calibrated.
    pub status: ProvenanceStatus,
    /// What the user must know before relying on it.
    pub note: &'static str,
}

/// Apparent clearance CL/F as a function of CrCl.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum ClearanceModel {
    /// CL/F = cl_ref · (1 + slope · (CrCl − crcl_ref)).
    LinearCrCl {
        /// CL/F at the reference CrCl.
        cl_ref: Param,
        /// Fractional change per mL/min.
        slope: Param,
        /// Reference CrCl.
        crcl_ref: Param,
    },
    /// CL/F = CLnr + CLr,max · CrCl^γ / (CrCl50^γ + CrCl^γ); on dialysis CL/F = CLnr.
    HillCrCl {
        /// Non-renal (and residual) clearance.
        cl_nonrenal: Param,
        /// Maximal renal clearance.
        cl_renal_max: Param,
        /// CrCl at half-maximal renal clearance.
        crcl50: Param,
        /// Hill exponent γ.
        hill: Param,
    },
}

/// Apparent volume V/F as a function of body size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum VolumeModel {
    /// V/F = v_ref · (1 + slope · (BSA − bsa_ref)).
    LinearBsa {
        /// V/F at the reference BSA.
        v_ref: Param,
        /// Fractional change per m².
        slope: Param,
        /// Reference BSA.
        bsa_ref: Param,
        /// Lowest BSA accepted by this model: the linear term drives V/F toward zero below it (V/F = 0 at 1.0 m²).
        bsa_min: f64,
    },
    /// V/F = v_ref · WT / weight_ref.
    LinearWeight {
        /// V/F at the reference weight.
        v_ref: Param,
        /// Reference weight.
        weight_ref: Param,
    },
}

/// Absorption: `transfers` first-order steps of rate `k_tr` from the dose to the central compartment,
/// after a lag. One transfer is plain first-order absorption with rate ka.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Absorption {
    /// Number of first-order transfers (depot plus transit compartments).
    pub transfers: u32,
    /// Rate of every transfer (ktr, or ka when `transfers` = 1).
    pub k_tr: Param,
    /// Absorption lag.
    pub lag_h: Param,
    /// Relative bioavailability (1 for the fasted reference).
    pub bioavailability: Param,
}

/// Inter-individual variability: log-normal, variances of the log.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Variability {
    /// ω² of CL/F.
    pub omega2_cl: Param,
    /// ω² of V/F.
    pub omega2_v: Param,
    /// ω² of ktr.
    pub omega2_ktr: Param,
    /// Optional CL–V correlation (off unless requested).
    pub cl_v_correlation: Option<Param>,
}

/// The reference subject and regimen for "exposure relative to 25 mg at normal kidney function".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reference {
    /// CrCl, mL/min.
    pub crcl_ml_min: f64,
    /// Weight, kg.
    pub weight_kg: f64,
    /// BSA, m².
    pub bsa_m2: f64,
    /// Once-daily dose, mg.
    pub dose_mg: f64,
    /// Where the definition comes from.
    pub source: &'static str,
}

/// A population-PK model: one compartment, linear elimination, transit-chain absorption.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Model {
    /// Name used to select the model (`Model::by_name`).
    pub name: &'static str,
    /// Human title.
    pub title: &'static str,
    /// Provenance of the model as a whole.
    pub provenance: Provenance,
    /// CL/F model.
    pub clearance: ClearanceModel,
    /// V/F model.
    pub volume: VolumeModel,
    /// Fasted absorption.
    pub fasted: Absorption,
    /// Absorption after a high-fat meal, if the model has it.
    pub fed: Option<Absorption>,
    /// CL/F and V/F of patients relative to healthy subjects (healthy = patient / factor), if the model has it.
    pub patient_to_healthy: Option<Param>,
    /// Extra clearance during a haemodialysis session, if the model has it.
    pub dialysis_clearance: Option<Param>,
    /// Inter-individual variability.
    pub variability: Variability,
    /// CrCl range of the data behind the model; outside it a warning is attached to outputs.
    pub crcl_data_range_ml_min: (f64, f64),
    /// The normal-kidney-function reference.
    pub reference: Reference,
}

const HUGHES_LOPEZ: &str =
    "GitHub jhhughes256/LEN_PK, crcl_app/app_files/model_lopez.R (pk-model.md §2.3)";
const HUGHES_DEV: &str = "GitHub jhhughes256/LEN_PK, crcl_app/pmb-lenapoppk/model_cov.R, Hughes 2019 development values (pk-model.md §2.4)";

/// Guglieri-López et al. 2017 as coded by Hughes et al.: the code-verification model.
pub const GUGLIERI_LOPEZ_2017: Model = Model {
    name: "guglieri-lopez-2017",
    title: "Guglieri-López 2017 (15 MM patients), as coded by Hughes et al.",
    provenance: Provenance {
        source: "Guglieri-López B et al., Cancer Chemother Pharmacol 2017, doi:10.1007/s00280-016-3228-y; values from public code by Hughes et al.",
        status: ProvenanceStatus::ThirdPartyCode,
        note: "Whether the coded values match the paper's table is NOT CONFIRMED. Fitted on 15 patients with CrCl 31.8-175.2 mL/min; too shallow in renal impairment, do not use it to explain renal doses (pk-model.md §7.5).",
    },
    clearance: ClearanceModel::LinearCrCl {
        cl_ref: p(14.0, "L/h", Tag::ThirdParty, HUGHES_LOPEZ),
        slope: p(0.0065, "per mL/min", Tag::ThirdParty, HUGHES_LOPEZ),
        crcl_ref: p(90.0, "mL/min", Tag::ThirdParty, HUGHES_LOPEZ),
    },
    volume: VolumeModel::LinearBsa {
        v_ref: p(57.0, "L", Tag::ThirdParty, HUGHES_LOPEZ),
        slope: p(1.37, "per m²", Tag::ThirdParty, HUGHES_LOPEZ),
        bsa_ref: p(1.73, "m²", Tag::ThirdParty, HUGHES_LOPEZ),
        bsa_min: 1.2,
    },
    fasted: Absorption {
        transfers: 4,
        k_tr: p(6.55, "1/h", Tag::ThirdParty, HUGHES_LOPEZ),
        lag_h: p(0.0, "h", Tag::ThirdParty, HUGHES_LOPEZ),
        bioavailability: p(
            1.0,
            "fraction",
            Tag::ThirdParty,
            "apparent parameters (CL/F, V/F)",
        ),
    },
    fed: None,
    patient_to_healthy: None,
    dialysis_clearance: None,
    variability: Variability {
        omega2_cl: p(0.0961, "log variance", Tag::ThirdParty, HUGHES_LOPEZ),
        omega2_v: p(0.04, "log variance", Tag::ThirdParty, HUGHES_LOPEZ),
        omega2_ktr: p(0.3721, "log variance", Tag::ThirdParty, HUGHES_LOPEZ),
        cl_v_correlation: None,
    },
    crcl_data_range_ml_min: (31.8, 175.2),
    reference: Reference {
        crcl_ml_min: 90.0,
        weight_kg: 70.0,
        bsa_m2: 1.73,
        dose_mg: 25.0,
        source: "model reference covariates CrCl 90 mL/min, BSA 1.73 m² (pk-model.md §2.3)",
    },
};

const CALIBRATED: &str =
    "calibrated here to the renal-impairment study group means (pk-model.md §3.2, §4.1)";

/// LEN-R1: published structure, Hughes-type transit absorption, renal term calibrated to Chen 2007.
pub const LEN_R1: Model = Model {
    name: "len-r1",
    title: "LEN-R1 (calibrated lenalidomide model)",
    provenance: Provenance {
        source: "reference/pk-model.md §3: structure from published models; renal curve calibrated to Chen N et al., J Clin Pharmacol 2007 (doi:10.1177/0091270007309563)",
        status: ProvenanceStatus::Calibrated,
        note: "CALIBRATED, NOT PUBLISHED: the renal curve (CLnr, CLr,max, CrCl50, γ) is an empirical fit to group means of 5-7 non-cancer subjects; dialysis clearance and fed absorption are approximations. Replace with Connarn 2018 / Chen 2013 values when available.",
    },
    clearance: ClearanceModel::HillCrCl {
        cl_nonrenal: p(
            2.6,
            "L/h",
            Tag::Derived,
            "ESRD AUC ≈ 4.6 × pooled normal+mild [C] (pk-model.md §3.2)",
        ),
        cl_renal_max: p(
            11.4,
            "L/h",
            Tag::Derived,
            "so that CL/F(CrCl 90) = 12.0 L/h (pk-model.md §3.2)",
        ),
        crcl50: p(56.0, "mL/min", Tag::Derived, CALIBRATED),
        hill: p(3.25, "dimensionless", Tag::Derived, CALIBRATED),
    },
    volume: VolumeModel::LinearWeight {
        v_ref: p(68.8, "L", Tag::ThirdParty, HUGHES_DEV),
        weight_ref: p(
            70.0,
            "kg",
            Tag::Derived,
            "V/F linear in WT/70 (pk-model.md §3.1); functional form NOT CONFIRMED",
        ),
    },
    fasted: Absorption {
        transfers: 8,
        k_tr: p(13.5, "1/h", Tag::ThirdParty, HUGHES_DEV),
        lag_h: p(0.0, "h", Tag::ThirdParty, HUGHES_DEV),
        bioavailability: p(
            1.0,
            "fraction",
            Tag::Derived,
            "F = 1 fasted; apparent parameters (pk-model.md §3.1)",
        ),
    },
    fed: Some(Absorption {
        transfers: 1,
        k_tr: p(
            0.71,
            "1/h",
            Tag::Derived,
            "fitted to food effect Cmax −50%, Tmax +1.63 h [C] (pk-model.md §3.2)",
        ),
        lag_h: p(
            0.18,
            "h",
            Tag::Derived,
            "fitted to food effect (pk-model.md §3.2)",
        ),
        bioavailability: p(
            0.80,
            "fraction",
            Tag::Derived,
            "high-fat meal AUC −20% [C] (pk-model.md §3.2, §4)",
        ),
    }),
    patient_to_healthy: Some(p(
        0.71,
        "ratio",
        Tag::Confirmed,
        "Connarn 2018: CL/F and V/F 29% lower in patients (pk-model.md §2.1, §3.1)",
    )),
    dialysis_clearance: Some(p(
        7.0,
        "L/h",
        Tag::Derived,
        "4-h session removes 31% of body drug [C]; the '10% of dose in dialysate' figure implies ≈2.2 L/h, run 2 L/h as sensitivity (pk-model.md §3.2, §7.3)",
    )),
    variability: Variability {
        omega2_cl: p(
            0.09,
            "log variance",
            Tag::ThirdParty,
            "Guglieri-López as coded [3P]; MDS AUC CV 32% (pk-model.md §3.2)",
        ),
        omega2_v: p(
            0.04,
            "log variance",
            Tag::ThirdParty,
            "Guglieri-López as coded [3P] (pk-model.md §3.2)",
        ),
        omega2_ktr: p(
            0.37,
            "log variance",
            Tag::ThirdParty,
            "Hughes ktr 0.367 [3P] (pk-model.md §3.2)",
        ),
        cl_v_correlation: Some(p(
            0.85,
            "correlation",
            Tag::ThirdParty,
            "Hughes development Ω block, option (pk-model.md §2.4, §3.2)",
        )),
    },
    crcl_data_range_ml_min: (17.0, 145.0),
    reference: Reference {
        crcl_ml_min: 90.0,
        weight_kg: 70.0,
        bsa_m2: 1.73,
        dose_mg: 25.0,
        source: "typical MM patient, 70 kg, fasted, CrCl 90 mL/min, 25 mg once daily at steady state: AUC/24 h 2085 ng·h/mL (pk-model.md §3.3)",
    },
};

/// All built-in models.
pub const MODELS: [&Model; 2] = [&LEN_R1, &GUGLIERI_LOPEZ_2017];

impl Model {
    /// Looks a built-in model up by name (`len-r1`, `guglieri-lopez-2017`).
    pub fn by_name(name: &str) -> Result<&'static Model, PkError> {
        let wanted = name.trim().to_ascii_lowercase();
        MODELS
            .iter()
            .copied()
            .find(|m| m.name == wanted)
            .ok_or_else(|| PkError::UnknownModel {
                value: name.to_string(),
                expected: MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
            })
    }

    /// The typical (no-variability) individual parameters of a subject.
    pub fn individual(&self, cov: &Covariates, fed: bool) -> Result<Individual, PkError> {
        let mut warnings = Vec::new();
        let cl = match (self.clearance, cov.renal) {
            (
                ClearanceModel::LinearCrCl {
                    cl_ref,
                    slope,
                    crcl_ref,
                },
                RenalFunction::CrCl { crcl_ml_min },
            ) => cl_ref.value * (1.0 + slope.value * (crcl_ml_min.ml_min() - crcl_ref.value)),
            (ClearanceModel::LinearCrCl { .. }, RenalFunction::EsrdOnDialysis) => {
                return Err(PkError::Unsupported {
                    model: self.name,
                    feature: "renal = esrd_on_dialysis",
                    reason: "fitted on CrCl 31.8-175.2 mL/min and extrapolates poorly below 30 (pk-model.md §7.5); use len-r1".into(),
                });
            }
            (
                ClearanceModel::HillCrCl {
                    cl_nonrenal,
                    cl_renal_max,
                    crcl50,
                    hill,
                },
                renal,
            ) => {
                let renal_part = match renal {
                    RenalFunction::CrCl { crcl_ml_min } => {
                        let x = crcl_ml_min.ml_min();
                        // Written as 1/(1 + (c50/x)^γ) so CrCl 0 gives exactly 0 without 0/0.
                        if x > 0.0 {
                            cl_renal_max.value / (1.0 + (crcl50.value / x).powf(hill.value))
                        } else {
                            0.0
                        }
                    }
                    RenalFunction::EsrdOnDialysis => 0.0,
                };
                cl_nonrenal.value + renal_part
            }
        };
        if let Some(crcl) = cov.crcl_ml_min() {
            let (lo, hi) = self.crcl_data_range_ml_min;
            if crcl < lo || crcl > hi {
                warnings.push(format!(
                    "CrCl {crcl} mL/min is outside the {lo}-{hi} mL/min range of the data behind {}; the result is an extrapolation",
                    self.name
                ));
            }
        }
        let v = match self.volume {
            VolumeModel::LinearBsa {
                v_ref,
                slope,
                bsa_ref,
                bsa_min,
            } => {
                let bsa = cov.bsa.ok_or_else(|| {
                    PkError::invalid(
                        "bsa_m2",
                        "none",
                        format!("a body surface area (m²), required by {}", self.name),
                    )
                })?;
                if bsa.m2() < bsa_min {
                    return Err(PkError::invalid(
                        "bsa_m2",
                        bsa.m2(),
                        format!(
                            "at least {bsa_min} m² for {} (its linear BSA term drives V/F to zero at 1.0 m²)",
                            self.name
                        ),
                    ));
                }
                v_ref.value * (1.0 + slope.value * (bsa.m2() - bsa_ref.value))
            }
            VolumeModel::LinearWeight { v_ref, weight_ref } => {
                v_ref.value * cov.weight.kg() / weight_ref.value
            }
        };
        let (cl, v) = match cov.kind {
            SubjectKind::Patient => (cl, v),
            SubjectKind::Healthy => {
                let factor = self.patient_to_healthy.ok_or_else(|| PkError::Unsupported {
                    model: self.name,
                    feature: "kind = healthy",
                    reason: "the model was fitted on patients only and has no healthy-volunteer factor; use len-r1".into(),
                })?;
                (cl / factor.value, v / factor.value)
            }
        };
        let absorption = if fed {
            self.fed.ok_or_else(|| PkError::Unsupported {
                model: self.name,
                feature: "fed = true",
                reason:
                    "the model has no fed-state absorption parameters; use len-r1 or fed = false"
                        .into(),
            })?
        } else {
            self.fasted
        };
        Ok(Individual {
            cl_l_h: cl,
            v_l: v,
            k_tr_per_h: absorption.k_tr.value,
            transfers: absorption.transfers,
            lag_h: absorption.lag_h.value,
            bioavailability: absorption.bioavailability.value,
            cl_dialysis_l_h: self.dialysis_clearance.map(|c| c.value),
            warnings,
        })
    }

    /// Covariates of the normal-kidney-function reference subject.
    pub fn reference_covariates(&self) -> Result<Covariates, PkError> {
        Covariates::patient(self.reference.crcl_ml_min, self.reference.weight_kg)?
            .with_bsa(self.reference.bsa_m2)
    }
}

/// The parameters of one subject (typical or with random effects), in the units the equations use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Individual {
    /// CL/F, L/h.
    pub cl_l_h: f64,
    /// V/F, L.
    pub v_l: f64,
    /// Transfer rate, 1/h.
    pub k_tr_per_h: f64,
    /// Number of transfers from dose to central.
    pub transfers: u32,
    /// Absorption lag, h.
    pub lag_h: f64,
    /// Relative bioavailability.
    pub bioavailability: f64,
    /// Extra clearance during dialysis, L/h, if the model has one.
    pub cl_dialysis_l_h: Option<f64>,
    /// Extrapolation warnings.
    pub warnings: Vec<String>,
}

impl Individual {
    /// Elimination rate constant CL/V, 1/h.
    pub fn k_el(&self) -> f64 {
        self.cl_l_h / self.v_l
    }

    /// Terminal half-life ln 2 / k (transit absorption is faster than elimination in every built-in model), h.
    pub fn half_life_h(&self) -> f64 {
        std::f64::consts::LN_2 / self.k_el()
    }
}

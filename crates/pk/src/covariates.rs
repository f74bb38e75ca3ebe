//! Patient covariates as validated newtypes. The accepted ranges are plausibility bounds chosen here for adults
//! and large children, wide enough for any real patient and narrow enough to reject unit mix-ups (e.g. CrCl in
//! mL/s, weight in pounds). Source of the covariate definitions: reference/pk-model.md §2.2 and §3.1.

use serde::Serialize;

use crate::error::PkError;

fn finite_in(
    field: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    unit: &str,
) -> Result<f64, PkError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(PkError::invalid(
            field,
            value,
            format!("a number from {lo} to {hi} {unit}"),
        ))
    }
}

/// Creatinine clearance in mL/min, not normalised to 1.73 m² (pk-model.md §2.2). Accepted: 0 to 250 mL/min.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct CreatinineClearance(f64);

impl CreatinineClearance {
    /// Lowest accepted value, mL/min.
    pub const MIN: f64 = 0.0;
    /// Highest accepted value, mL/min. Measured values above this are almost always a unit error.
    pub const MAX: f64 = 250.0;

    /// Validates a CrCl in mL/min.
    pub fn parse(ml_min: f64) -> Result<Self, PkError> {
        finite_in("crcl_ml_min", ml_min, Self::MIN, Self::MAX, "mL/min").map(Self)
    }

    /// The value in mL/min.
    pub fn ml_min(self) -> f64 {
        self.0
    }
}

/// Total body weight in kg. Accepted: 20 to 300 kg.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct BodyWeight(f64);

impl BodyWeight {
    /// Lowest accepted value, kg.
    pub const MIN: f64 = 20.0;
    /// Highest accepted value, kg.
    pub const MAX: f64 = 300.0;

    /// Validates a body weight in kg.
    pub fn parse(kg: f64) -> Result<Self, PkError> {
        finite_in("weight_kg", kg, Self::MIN, Self::MAX, "kg").map(Self)
    }

    /// The value in kg.
    pub fn kg(self) -> f64 {
        self.0
    }
}

/// Body surface area in m². Accepted: 0.5 to 3.5 m² (a model may narrow this, see `Model`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct BodySurfaceArea(f64);

impl BodySurfaceArea {
    /// Lowest accepted value, m².
    pub const MIN: f64 = 0.5;
    /// Highest accepted value, m².
    pub const MAX: f64 = 3.5;

    /// Validates a BSA in m².
    pub fn parse(m2: f64) -> Result<Self, PkError> {
        finite_in("bsa_m2", m2, Self::MIN, Self::MAX, "m²").map(Self)
    }

    /// The value in m².
    pub fn m2(self) -> f64 {
        self.0
    }
}

/// Kidney function as the models use it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RenalFunction {
    /// A creatinine clearance (Cockcroft-Gault or measured; the label's weight basis is NOT CONFIRMED, pk-model.md §2.2).
    CrCl {
        /// mL/min.
        crcl_ml_min: CreatinineClearance,
    },
    /// End-stage renal disease on haemodialysis: only non-renal clearance remains between sessions
    /// (pk-model.md §3.1); sessions themselves are part of the `Schedule`.
    EsrdOnDialysis,
}

/// Who the subject is. Patients have 29% lower CL/F and V/F than healthy volunteers (Connarn 2018, tag \[C\],
/// pk-model.md §3.2); the models' typical values are for patients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A patient with multiple myeloma or another haematological malignancy (the models' reference).
    #[default]
    Patient,
    /// A healthy volunteer or non-cancer subject (e.g. the renal-impairment study subjects).
    Healthy,
}

/// The covariates of one subject.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Covariates {
    /// Kidney function.
    pub renal: RenalFunction,
    /// Body weight (LEN-R1 scales V/F with it).
    pub weight: BodyWeight,
    /// Body surface area (the Guglieri-López model scales V/F with it); `None` if unknown.
    pub bsa: Option<BodySurfaceArea>,
    /// Patient or healthy subject.
    pub kind: SubjectKind,
}

impl Covariates {
    /// A patient with a creatinine clearance and body weight, BSA unknown. Validates both numbers.
    pub fn patient(crcl_ml_min: f64, weight_kg: f64) -> Result<Self, PkError> {
        Ok(Self {
            renal: RenalFunction::CrCl {
                crcl_ml_min: CreatinineClearance::parse(crcl_ml_min)?,
            },
            weight: BodyWeight::parse(weight_kg)?,
            bsa: None,
            kind: SubjectKind::Patient,
        })
    }

    /// A patient with end-stage renal disease on haemodialysis.
    pub fn patient_on_dialysis(weight_kg: f64) -> Result<Self, PkError> {
        Ok(Self {
            renal: RenalFunction::EsrdOnDialysis,
            weight: BodyWeight::parse(weight_kg)?,
            bsa: None,
            kind: SubjectKind::Patient,
        })
    }

    /// Sets the body surface area (validated).
    pub fn with_bsa(mut self, bsa_m2: f64) -> Result<Self, PkError> {
        self.bsa = Some(BodySurfaceArea::parse(bsa_m2)?);
        Ok(self)
    }

    /// Marks the subject as a healthy volunteer.
    pub fn healthy(mut self) -> Self {
        self.kind = SubjectKind::Healthy;
        self
    }

    /// CrCl in mL/min, or `None` on dialysis.
    pub fn crcl_ml_min(&self) -> Option<f64> {
        match self.renal {
            RenalFunction::CrCl { crcl_ml_min } => Some(crcl_ml_min.ml_min()),
            RenalFunction::EsrdOnDialysis => None,
        }
    }
}

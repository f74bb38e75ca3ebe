//! Laboratory quantities and their units. Values are normalised at the edge: counts to cells per microlitre
//! (the label's /mcL), creatinine to mg/dL, temperature to degrees Celsius. Hemoglobin keeps the unit the lab
//! used, because CTCAE gives a threshold for each unit. An unknown unit is an error, never a guess.

use crate::error::InputError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a lab value measures.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Analyte {
    /// Absolute neutrophil count.
    Anc,
    Platelets,
    /// White blood cells.
    Wbc,
    Hemoglobin,
    /// Serum creatinine.
    Creatinine,
    /// Body temperature.
    Temperature,
}

impl Analyte {
    pub const ACCEPTED: &'static str =
        "one of anc, platelets, wbc, hemoglobin, creatinine, temperature";

    pub fn as_str(self) -> &'static str {
        match self {
            Analyte::Anc => "anc",
            Analyte::Platelets => "platelets",
            Analyte::Wbc => "wbc",
            Analyte::Hemoglobin => "hemoglobin",
            Analyte::Creatinine => "creatinine",
            Analyte::Temperature => "temperature",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Analyte::Anc => "ANC",
            Analyte::Platelets => "platelets",
            Analyte::Wbc => "WBC",
            Analyte::Hemoglobin => "hemoglobin",
            Analyte::Creatinine => "serum creatinine",
            Analyte::Temperature => "temperature",
        }
    }

    pub fn is_count(self) -> bool {
        matches!(self, Analyte::Anc | Analyte::Platelets | Analyte::Wbc)
    }

    /// The units accepted for this analyte, as shown in errors.
    pub fn accepted_units(self) -> &'static str {
        match self {
            Analyte::Anc | Analyte::Platelets | Analyte::Wbc => {
                "one of 10*9/L, 10^9/L, 10*3/uL, 10^3/uL, /mm3, /uL, /mcL, cells/uL"
            }
            Analyte::Hemoglobin => "one of g/dL, g/L, mmol/L",
            Analyte::Creatinine => "one of mg/dL, umol/L (µmol/L)",
            Analyte::Temperature => "one of Cel, degC, °C, [degF], degF, °F",
        }
    }
}

impl fmt::Display for Analyte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Units of hemoglobin concentration, each graded with its own CTCAE thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HemoglobinUnit {
    #[serde(rename = "g/dL")]
    GramsPerDecilitre,
    #[serde(rename = "g/L")]
    GramsPerLitre,
    #[serde(rename = "mmol/L")]
    MillimolesPerLitre,
}

impl HemoglobinUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            HemoglobinUnit::GramsPerDecilitre => "g/dL",
            HemoglobinUnit::GramsPerLitre => "g/L",
            HemoglobinUnit::MillimolesPerLitre => "mmol/L",
        }
    }
}

/// A lab value in the engine's canonical unit for its analyte.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Quantity {
    /// Cells per microlitre.
    Count(f64),
    /// Hemoglobin in the unit the lab reported.
    Hemoglobin(f64, HemoglobinUnit),
    /// mg/dL.
    Creatinine(f64),
    /// Degrees Celsius.
    Temperature(f64),
}

impl Quantity {
    /// Parse a value and its unit for an analyte. The unit is matched exactly (after trimming), from a closed
    /// list: an unknown unit is refused with the list of accepted ones.
    pub fn parse(analyte: Analyte, value: f64, unit: &str) -> Result<Quantity, InputError> {
        if !value.is_finite() {
            return Err(InputError::invalid("value", value, "a finite number"));
        }
        let unit_error = || InputError::invalid("unit", unit, analyte.accepted_units());
        let u = unit.trim();
        Ok(match analyte {
            Analyte::Anc | Analyte::Platelets | Analyte::Wbc => {
                let per_ul = match u {
                    "10*9/L" | "10^9/L" | "10*3/uL" | "10^3/uL" | "10*3/mcL" | "10^3/mcL" => 1000.0,
                    "/mm3" | "/uL" | "/µL" | "/mcL" | "cells/uL" | "{cells}/uL" | "cells/mcL" => {
                        1.0
                    }
                    _ => return Err(unit_error()),
                };
                // Round away binary noise (1.1 x 1000 = 1100.0000000000002) so boundaries compare exactly.
                Quantity::Count(((value * per_ul) * 1000.0).round() / 1000.0)
            }
            Analyte::Hemoglobin => {
                let unit = match u {
                    "g/dL" => HemoglobinUnit::GramsPerDecilitre,
                    "g/L" => HemoglobinUnit::GramsPerLitre,
                    "mmol/L" => HemoglobinUnit::MillimolesPerLitre,
                    _ => return Err(unit_error()),
                };
                Quantity::Hemoglobin(value, unit)
            }
            Analyte::Creatinine => match u {
                "mg/dL" => Quantity::Creatinine(value),
                // Creatinine molar mass 113.12 g/mol: 1 mg/dL = 88.4 umol/L.
                "umol/L" | "µmol/L" | "μmol/L" => {
                    Quantity::Creatinine(value / CREATININE_UMOL_L_PER_MG_DL)
                }
                _ => return Err(unit_error()),
            },
            Analyte::Temperature => match u {
                "Cel" | "degC" | "°C" | "C" => Quantity::Temperature(value),
                "[degF]" | "degF" | "°F" | "F" => {
                    Quantity::Temperature((value - 32.0) * 5.0 / 9.0)
                }
                _ => return Err(unit_error()),
            },
        })
    }

    /// The value in the canonical unit (hemoglobin: the reported unit).
    pub fn value(self) -> f64 {
        match self {
            Quantity::Count(v) | Quantity::Creatinine(v) | Quantity::Temperature(v) => v,
            Quantity::Hemoglobin(v, _) => v,
        }
    }

    /// Hemoglobin in g/dL, for plausibility checks only (grading uses the reported unit).
    pub fn hemoglobin_g_dl(self) -> Option<f64> {
        match self {
            Quantity::Hemoglobin(v, HemoglobinUnit::GramsPerDecilitre) => Some(v),
            Quantity::Hemoglobin(v, HemoglobinUnit::GramsPerLitre) => Some(v / 10.0),
            // The CTCAE table pairs 10.0 g/dL with 6.2 mmol/L.
            Quantity::Hemoglobin(v, HemoglobinUnit::MillimolesPerLitre) => Some(v * 10.0 / 6.2),
            _ => None,
        }
    }
}

/// micromoles per litre of creatinine in one mg/dL.
pub const CREATININE_UMOL_L_PER_MG_DL: f64 = 88.4;

/// Format a count the way the label writes it: `30,000/mcL`.
pub fn format_count(per_ul: f64) -> String {
    let rounded = per_ul.round() as i64;
    let s = rounded.abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if rounded < 0 {
        out.insert(0, '-');
    }
    format!("{out}/mcL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_normalise_to_per_microlitre() {
        let cases = [
            (1.5, "10*9/L", 1500.0),
            (1.5, "10^9/L", 1500.0),
            (75.0, "10*3/uL", 75000.0),
            (1100.0, "/mm3", 1100.0),
            (1.1, "10*9/L", 1100.0),
            (0.5, "10*9/L", 500.0),
            (999.0, "/uL", 999.0),
        ];
        for (v, u, want) in cases {
            assert_eq!(
                Quantity::parse(Analyte::Anc, v, u).unwrap(),
                Quantity::Count(want),
                "{v} {u}"
            );
        }
    }

    #[test]
    fn unknown_units_are_refused_with_the_accepted_list() {
        let err = Quantity::parse(Analyte::Platelets, 150.0, "K/uL").unwrap_err();
        assert_eq!(err.field(), "unit");
        assert!(err.to_string().contains("10*9/L"), "{err}");
        assert!(Quantity::parse(Analyte::Hemoglobin, 10.0, "g/dl").is_err());
        assert!(Quantity::parse(Analyte::Creatinine, 1.0, "mmol/L").is_err());
    }

    #[test]
    fn creatinine_in_umol_per_litre() {
        let q = Quantity::parse(Analyte::Creatinine, 88.4, "umol/L").unwrap();
        assert!((q.value() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn fahrenheit_to_celsius() {
        let q = Quantity::parse(Analyte::Temperature, 101.3, "[degF]").unwrap();
        assert!((q.value() - 38.5).abs() < 1e-9);
    }

    #[test]
    fn count_formatting() {
        assert_eq!(format_count(30000.0), "30,000/mcL");
        assert_eq!(format_count(500.0), "500/mcL");
        assert_eq!(format_count(1000000.0), "1,000,000/mcL");
    }
}

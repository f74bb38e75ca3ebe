//! Doses and schedules. A dose is a US capsule strength; a schedule is a dose, a frequency and the dosing days
//! of a cycle (label.md §1 and §9).

use crate::error::InputError;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A lenalidomide dose in milligrams, restricted to the US capsule strengths (2.5, 5, 10, 15, 20, 25 mg).
/// Stored in tenths of a milligram so that comparisons are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DoseMg(u16);

impl DoseMg {
    /// US capsule strengths, in tenths of a milligram, highest first.
    const STRENGTHS: [u16; 6] = [250, 200, 150, 100, 50, 25];
    pub const ACCEPTED: &'static str = "one of 2.5, 5, 10, 15, 20, 25 (mg, US capsule strengths)";
    pub const MAX: DoseMg = DoseMg(250);

    pub fn parse(mg: f64) -> Result<Self, InputError> {
        let tenths = (mg * 10.0).round();
        if mg.is_finite() && (mg * 10.0 - tenths).abs() < 1e-6 {
            let t = tenths as i64;
            if let Some(&s) = Self::STRENGTHS.iter().find(|&&s| i64::from(s) == t) {
                return Ok(DoseMg(s));
            }
        }
        Err(InputError::invalid("dose_mg", mg, Self::ACCEPTED))
    }

    /// Every capsule strength, highest first (what a prescription may be written in).
    pub fn strengths() -> impl Iterator<Item = DoseMg> {
        Self::STRENGTHS.into_iter().map(DoseMg)
    }

    pub fn mg(self) -> f64 {
        f64::from(self.0) / 10.0
    }

    pub fn tenths(self) -> u16 {
        self.0
    }

    /// The dose `step` milligrams lower, if it is still a capsule strength.
    pub fn minus(self, step: DoseMg) -> Option<DoseMg> {
        let t = self.0.checked_sub(step.0)?;
        Self::STRENGTHS.contains(&t).then_some(DoseMg(t))
    }
}

impl fmt::Display for DoseMg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(10) {
            write!(f, "{} mg", self.0 / 10)
        } else {
            write!(f, "{}.{} mg", self.0 / 10, self.0 % 10)
        }
    }
}

impl Serialize for DoseMg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.mg())
    }
}

impl<'de> Deserialize<'de> for DoseMg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mg = f64::deserialize(d)?;
        DoseMg::parse(mg).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for DoseMg {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DoseMg".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Lenalidomide dose in mg: a US capsule strength",
            "type": "number",
            "enum": [2.5, 5, 10, 15, 20, 25]
        })
    }
}

/// How often the dose is taken on dosing days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    OnceDaily,
    /// Every other day (every 48 hours).
    #[serde(rename = "every_48_hours")]
    Every48Hours,
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Frequency::OnceDaily => "once daily",
            Frequency::Every48Hours => "every 48 hours (every other day)",
        })
    }
}

/// Dosing days within a cycle, inclusive: `[1, 21]` is days 1 to 21.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "[u16; 2]", into = "[u16; 2]")]
pub struct DayWindow {
    first: u16,
    last: u16,
}

impl DayWindow {
    pub fn new(first: u16, last: u16) -> Result<Self, InputError> {
        if first >= 1 && first <= last && last <= 42 {
            Ok(DayWindow { first, last })
        } else {
            Err(InputError::invalid(
                "days_on",
                format!("[{first}, {last}]"),
                "[first, last] with 1 <= first <= last <= 42",
            ))
        }
    }
    pub fn first(self) -> u16 {
        self.first
    }
    pub fn last(self) -> u16 {
        self.last
    }
    pub fn contains(self, day: u16) -> bool {
        (self.first..=self.last).contains(&day)
    }
}

impl JsonSchema for DayWindow {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DayWindow".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Dosing days within a cycle, inclusive: [first, last]",
            "type": "array",
            "items": { "type": "integer", "minimum": 1, "maximum": 42 },
            "minItems": 2,
            "maxItems": 2
        })
    }
}

impl TryFrom<[u16; 2]> for DayWindow {
    type Error = InputError;
    fn try_from(v: [u16; 2]) -> Result<Self, Self::Error> {
        DayWindow::new(v[0], v[1])
    }
}

impl From<DayWindow> for [u16; 2] {
    fn from(w: DayWindow) -> Self {
        [w.first, w.last]
    }
}

/// A complete lenalidomide schedule: what a prescription says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub dose_mg: DoseMg,
    pub frequency: Frequency,
    /// On dialysis days, take the dose after dialysis.
    #[serde(default)]
    pub after_dialysis: bool,
    pub days_on: DayWindow,
    pub cycle_days: u16,
}

impl Schedule {
    pub fn validate(&self) -> Result<(), InputError> {
        if !(7..=42).contains(&self.cycle_days) {
            return Err(InputError::invalid(
                "cycle_days",
                self.cycle_days,
                "a cycle length of 7 to 42 days",
            ));
        }
        if self.days_on.last() > self.cycle_days {
            return Err(InputError::contradiction(
                "days_on",
                "cycle_days",
                format!(
                    "dosing day {} falls outside a {}-day cycle",
                    self.days_on.last(),
                    self.cycle_days
                ),
            ));
        }
        Ok(())
    }

    /// Lenalidomide milligrams per cycle, the quantity a 28-day supply is counted in.
    pub fn mg_per_cycle(&self) -> f64 {
        let days = f64::from(self.days_on.last() - self.days_on.first() + 1);
        let doses = match self.frequency {
            Frequency::OnceDaily => days,
            Frequency::Every48Hours => (days / 2.0).ceil(),
        };
        doses * self.dose_mg.mg()
    }

    /// The same schedule at another dose or with other dosing days, as a ladder step produces.
    pub fn with_dose(self, dose_mg: DoseMg) -> Self {
        Schedule { dose_mg, ..self }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on days {}-{} of {}-day cycles",
            self.dose_mg,
            self.frequency,
            self.days_on.first(),
            self.days_on.last(),
            self.cycle_days
        )?;
        if self.after_dialysis {
            write!(f, "; on dialysis days give the dose after dialysis")?;
        }
        Ok(())
    }
}

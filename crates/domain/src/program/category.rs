//! The six risk categories of the patient agreement forms (label.md §6; THALOMID analogue, unverified).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskCategory {
    AdultFemaleCanGetPregnant,
    FemaleChildCanGetPregnant,
    AdultFemaleCannotGetPregnant,
    FemaleChildCannotGetPregnant,
    AdultMale,
    MaleChild,
}

impl RiskCategory {
    pub const ALL: [RiskCategory; 6] = [
        RiskCategory::AdultFemaleCanGetPregnant,
        RiskCategory::FemaleChildCanGetPregnant,
        RiskCategory::AdultFemaleCannotGetPregnant,
        RiskCategory::FemaleChildCannotGetPregnant,
        RiskCategory::AdultMale,
        RiskCategory::MaleChild,
    ];
    pub const ACCEPTED: &'static str = "one of adult_female_can_get_pregnant, female_child_can_get_pregnant, adult_female_cannot_get_pregnant, female_child_cannot_get_pregnant, adult_male, male_child";

    pub fn as_str(self) -> &'static str {
        match self {
            RiskCategory::AdultFemaleCanGetPregnant => "adult_female_can_get_pregnant",
            RiskCategory::FemaleChildCanGetPregnant => "female_child_can_get_pregnant",
            RiskCategory::AdultFemaleCannotGetPregnant => "adult_female_cannot_get_pregnant",
            RiskCategory::FemaleChildCannotGetPregnant => "female_child_cannot_get_pregnant",
            RiskCategory::AdultMale => "adult_male",
            RiskCategory::MaleChild => "male_child",
        }
    }

    /// A female of reproductive potential: pregnancy tests and contraception apply.
    pub fn can_get_pregnant(self) -> bool {
        matches!(
            self,
            RiskCategory::AdultFemaleCanGetPregnant | RiskCategory::FemaleChildCanGetPregnant
        )
    }

    pub fn is_female(self) -> bool {
        !self.is_male()
    }

    pub fn is_male(self) -> bool {
        matches!(self, RiskCategory::AdultMale | RiskCategory::MaleChild)
    }

    pub fn is_adult(self) -> bool {
        matches!(
            self,
            RiskCategory::AdultFemaleCanGetPregnant
                | RiskCategory::AdultFemaleCannotGetPregnant
                | RiskCategory::AdultMale
        )
    }

    /// The category for a patient of this sex, age group and reproductive potential.
    pub fn classify(female: bool, adult: bool, can_get_pregnant: bool) -> RiskCategory {
        match (female, adult, can_get_pregnant) {
            (true, true, true) => RiskCategory::AdultFemaleCanGetPregnant,
            (true, false, true) => RiskCategory::FemaleChildCanGetPregnant,
            (true, true, false) => RiskCategory::AdultFemaleCannotGetPregnant,
            (true, false, false) => RiskCategory::FemaleChildCannotGetPregnant,
            (false, true, _) => RiskCategory::AdultMale,
            (false, false, _) => RiskCategory::MaleChild,
        }
    }
}

impl fmt::Display for RiskCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RiskCategory::AdultFemaleCanGetPregnant => "adult female who can get pregnant",
            RiskCategory::FemaleChildCanGetPregnant => "female child who can get pregnant",
            RiskCategory::AdultFemaleCannotGetPregnant => "adult female who cannot get pregnant",
            RiskCategory::FemaleChildCannotGetPregnant => "female child who cannot get pregnant",
            RiskCategory::AdultMale => "adult male",
            RiskCategory::MaleChild => "male child",
        })
    }
}

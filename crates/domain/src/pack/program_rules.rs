//! `program.toml`: the Lenalidomide REMS as parameters (label.md §6, label-verification.md §8).

use super::PackError;
use super::load::{Ctx, err, no_leftovers};
use super::sourced::{Sourced, choose, many, one};
use crate::program::RiskCategory;
use crate::provenance::Provenance;
use serde::{Deserialize, Serialize};
use toml::Table;

macro_rules! strict {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }
    };
}

strict!(
    pub struct ReproductivePotential {
        pub menses_within_months: u16,
    }
);
strict!(
    pub struct Categories {
        pub adult_from_years: f64,
    }
);
strict!(
    pub struct InitialTests {
        /// The first test: from `[0]` to `[1]` days before the first prescription.
        pub first_days_before: [u16; 2],
        pub second_within_hours: u16,
    }
);
strict!(
    pub struct OngoingTests {
        pub weekly_for_days: u16,
        pub weekly_every_days: u16,
        pub regular_every_days: u16,
        pub irregular_every_days: u16,
    }
);
strict!(
    pub struct Sensitivity {
        pub min_miu_ml: f64,
    }
);
strict!(
    pub struct Switch {
        pub allowed: bool,
    }
);
strict!(
    pub struct Empty {}
);
strict!(
    pub struct PositiveTest {
        pub report_to: String,
    }
);
strict!(
    pub struct Contraception {
        pub methods_required: u8,
        pub before_days: u16,
        pub after_days: u16,
        pub abstinence_accepted: bool,
    }
);
strict!(
    pub struct ContraceptionMethods {
        pub highly_effective: Vec<String>,
        pub additional: Vec<String>,
    }
);
strict!(
    pub struct Male {
        pub condom_after_days: u16,
    }
);
strict!(
    pub struct After {
        pub after_days: u16,
    }
);
strict!(
    pub struct Supply {
        pub max_supply_days: u16,
        pub max_refills: u16,
    }
);
strict!(
    pub struct Confirmation {
        pub valid_hours: u16,
    }
);
strict!(
    pub struct NextFill {
        pub max_days_remaining: u16,
    }
);
strict!(
    pub struct SurveyRule {
        pub category: RiskCategory,
        pub before_first: bool,
        pub every_days: u16,
    }
);
strict!(
    pub struct WindowWarning {
        pub warn_days_before: u16,
    }
);

/// What the authorization of a female who can get pregnant is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationBase {
    LastPregnancyTest,
    Issue,
}

strict!(
    pub struct Authorization {
        pub frp_valid_days: u16,
        pub frp_counted_from: AuthorizationBase,
        pub other_valid_days: u16,
    }
);

#[derive(Debug, Clone, Serialize)]
pub struct ProgramRules {
    pub reproductive_potential: Sourced<ReproductivePotential>,
    pub categories: Sourced<Categories>,
    pub initial_tests: Sourced<InitialTests>,
    pub ongoing_tests: Sourced<OngoingTests>,
    pub sensitivity: Sourced<Sensitivity>,
    pub home_tests: Vec<Sourced<Switch>>,
    pub missed_period: Sourced<Empty>,
    pub positive_test: Sourced<PositiveTest>,
    pub contraception: Sourced<Contraception>,
    pub contraception_methods: Sourced<ContraceptionMethods>,
    pub male: Sourced<Male>,
    pub sperm_donation: Sourced<After>,
    pub blood_donation: Sourced<After>,
    pub prescription: Sourced<Supply>,
    pub telephone_prescriptions: Vec<Sourced<Switch>>,
    pub authorization: Sourced<Authorization>,
    pub confirmation: Sourced<Confirmation>,
    pub next_fill: Sourced<NextFill>,
    pub surveys: Vec<Sourced<SurveyRule>>,
    pub window_warning: Sourced<WindowWarning>,
}

impl ProgramRules {
    /// The home-test switch in force (validation guarantees one).
    pub fn home_tests(&self) -> &Sourced<Switch> {
        choose(&self.home_tests)
            .map(|(s, _)| s)
            .unwrap_or_else(|| unreachable!("validated pack has the home-test switch"))
    }

    /// The telephone-prescription switch in force, and the versions it supersedes.
    pub fn telephone(&self) -> (&Sourced<Switch>, Vec<&Sourced<Switch>>) {
        choose(&self.telephone_prescriptions)
            .unwrap_or_else(|| unreachable!("validated pack has the telephone switch"))
    }

    /// The survey cadence of a category in force, and the alternatives.
    pub fn survey(
        &self,
        category: RiskCategory,
    ) -> (&Sourced<SurveyRule>, Vec<&Sourced<SurveyRule>>) {
        choose(self.surveys.iter().filter(|s| s.value.category == category))
            .unwrap_or_else(|| unreachable!("validated pack has a survey rule per category"))
    }

    pub fn provenances(&self) -> Vec<&Provenance> {
        let mut all = vec![
            &self.reproductive_potential.provenance,
            &self.categories.provenance,
            &self.initial_tests.provenance,
            &self.ongoing_tests.provenance,
            &self.sensitivity.provenance,
            &self.missed_period.provenance,
            &self.positive_test.provenance,
            &self.contraception.provenance,
            &self.contraception_methods.provenance,
            &self.male.provenance,
            &self.sperm_donation.provenance,
            &self.blood_donation.provenance,
            &self.prescription.provenance,
            &self.authorization.provenance,
            &self.confirmation.provenance,
            &self.next_fill.provenance,
            &self.window_warning.provenance,
        ];
        all.extend(self.home_tests.iter().map(|s| &s.provenance));
        all.extend(self.telephone_prescriptions.iter().map(|s| &s.provenance));
        all.extend(self.surveys.iter().map(|s| &s.provenance));
        all
    }
}

pub(super) fn load(ctx: &Ctx<'_>, mut doc: Table) -> Result<ProgramRules, PackError> {
    let f = ctx.file;
    let d = &mut doc;
    let rules = ProgramRules {
        reproductive_potential: one(ctx, d, "reproductive_potential")?,
        categories: one(ctx, d, "categories")?,
        initial_tests: one(ctx, d, "pregnancy_test_initial")?,
        ongoing_tests: one(ctx, d, "pregnancy_test_ongoing")?,
        sensitivity: one(ctx, d, "pregnancy_test_sensitivity")?,
        home_tests: many(ctx, d, "home_tests")?,
        missed_period: one(ctx, d, "missed_period")?,
        positive_test: one(ctx, d, "positive_test")?,
        contraception: one(ctx, d, "contraception")?,
        contraception_methods: one(ctx, d, "contraception_methods")?,
        male: one(ctx, d, "male")?,
        sperm_donation: one(ctx, d, "sperm_donation")?,
        blood_donation: one(ctx, d, "blood_donation")?,
        prescription: one(ctx, d, "prescription")?,
        telephone_prescriptions: many(ctx, d, "telephone_prescriptions")?,
        authorization: one(ctx, d, "authorization")?,
        confirmation: one(ctx, d, "confirmation")?,
        next_fill: one(ctx, d, "next_fill")?,
        surveys: many(ctx, d, "survey")?,
        window_warning: one(ctx, d, "window_warning")?,
    };
    no_leftovers(f, &doc)?;
    let [lo, hi] = rules.initial_tests.value.first_days_before;
    if lo > hi || hi == 0 {
        return Err(err(
            f,
            "pregnancy_test_initial",
            "first_days_before must be [earliest, latest] with earliest <= latest",
        ));
    }
    let o = &rules.ongoing_tests.value;
    if [
        o.weekly_every_days,
        o.regular_every_days,
        o.irregular_every_days,
    ]
    .contains(&0)
    {
        return Err(err(
            f,
            "pregnancy_test_ongoing",
            "every cadence must be at least 1 day",
        ));
    }
    if rules.home_tests.is_empty() {
        return Err(err(f, "home_tests", "at least one version is required"));
    }
    if rules.telephone_prescriptions.is_empty() {
        return Err(err(
            f,
            "telephone_prescriptions",
            "at least one version is required",
        ));
    }
    for c in RiskCategory::ALL {
        if !rules.surveys.iter().any(|s| s.value.category == c) {
            return Err(err(
                f,
                "survey",
                format!("category {} has no survey rule", c.as_str()),
            ));
        }
    }
    if let Some(s) = rules.surveys.iter().find(|s| s.value.every_days == 0) {
        return Err(err(
            f,
            format!("survey ({})", s.provenance.rule),
            "every_days must be at least 1",
        ));
    }
    let m = &rules.contraception_methods.value;
    if m.highly_effective.is_empty() {
        return Err(err(
            f,
            "contraception_methods",
            "highly_effective may not be empty",
        ));
    }
    Ok(rules)
}

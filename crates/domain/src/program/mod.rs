//! The Lenalidomide REMS as pure functions over the rule pack (label.md §6; label-verification.md §8;
//! `rules/us-lenalidomide/program.toml`): risk categories, pregnancy tests, contraception, prescription and
//! dispensing windows, [`eligibility`] before a prescription or a dispense, and the [`window_guard`] that says
//! when each window lapses and the last day to act.
//!
//! All REMS time limits are unconfirmed (authorization, confirmation, next fill) and carry `unverified` in
//! every output that rests on them.

mod category;
mod eligibility;
mod record;
mod review;
mod schedule;
mod windows;

pub use category::RiskCategory;
pub use eligibility::{
    AuthorizationWindow, EligibilityReport, MissingStep, Stage, eligibility, eligibility_checked,
    last_counted_negative, second_test_deadline,
};
pub use record::{
    Authorization, CheckedProgram, Confirmation, ContraceptionRecord, Dispense, Menstrual,
    NotReproductive, NotReproductiveReason, PregnancyTest, Prescription, ProgramRecord,
    Reclassification, Survey, TestResult, TestSetting,
};
pub use review::{ProgramStatus, review};
pub use schedule::{next_pregnancy_test, pregnancy_test_schedule, test_cadence_on};
pub use windows::{Restriction, Window, WindowKind, WindowState, restrictions, window_guard};

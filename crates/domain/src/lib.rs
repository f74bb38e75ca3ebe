//! Lenaguard's domain: the lenalidomide label and the Lenalidomide REMS as code.
//!
//! Pure: no I/O, no clock. Every function that depends on the date takes `today`. Every decision carries the
//! rules behind it ([`provenance::Provenance`]), so that each door (CLI, REST, CDS Hooks, web) renders the same
//! [`assessment::Assessment`].
#![forbid(unsafe_code)]

pub mod assess;
pub mod assessment;
pub mod calendar;
pub mod ctcae;
pub mod dose;
pub mod error;
pub mod exposure;
pub mod finding;
pub mod interactions;
pub mod ladder;
pub mod modification;
pub mod monitoring;
pub mod pack;
pub mod program;
pub mod provenance;
pub mod quick;
pub mod regimen;
pub mod renal;
pub mod safety;
pub mod snapshot;
pub mod thrombo;
pub mod toxicity;
pub mod units;

pub use assess::assess;
pub use assessment::{Action, Assessment};
pub use error::InputError;
pub use finding::{Finding, Severity};
pub use pack::RulePack;
pub use snapshot::Snapshot;

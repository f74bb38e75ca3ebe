//! Lenalidomide population-PK exposure simulator.
//!
//! Source of every equation and number: `reference/pk-model.md` (models in §2.3 and §3, validation targets in §3.3
//! and §4). Two models are built in, as data with provenance ([`Model`], [`MODELS`]):
//! - `len-r1`: the recommended model, **calibrated here, not published** (renal curve fitted to the renal-impairment
//!   study group means);
//! - `guglieri-lopez-2017`: the published model as coded by a third party, kept to verify the code.
//!
//! Everything is pure: no I/O, no clock, no printing. Inputs are validated newtypes; bad input gives a [`PkError`]
//! naming the field, the value and the accepted form.
//!
//! ```
//! use lenaguard_pk::{relative_exposure, simulate, svg_plot, Covariates, Model, Regimen, Schedule, SimOptions};
//!
//! let model = Model::by_name("len-r1")?;
//!
//! // CrCl 40 mL/min, 10 mg once daily on days 1-21 of a 28-day cycle.
//! let renal = Covariates::patient(40.0, 70.0)?;
//! let cycle = Schedule::cycles(10.0, 21, 28, 1, 8.0)?;
//! let profile = simulate(model, &renal, &cycle, &SimOptions::default())?;
//! let renal_exposure = relative_exposure(model, &renal, &Regimen::once_daily(10.0))?;
//! assert!((0.75..=1.25).contains(&renal_exposure.ratio_to_reference)); // 0.88
//!
//! // 25 mg once daily at normal kidney function: the reference itself.
//! let normal = Covariates::patient(90.0, 70.0)?;
//! let reference = relative_exposure(model, &normal, &Regimen::once_daily(25.0))?;
//! assert!((reference.ratio_to_reference - 1.0).abs() < 1e-9);
//! assert!((reference.auc24_ss_ng_h_ml - 2085.0).abs() < 1.0);
//!
//! // The unadjusted 25 mg at CrCl 40 would give more than twice the reference.
//! assert!(relative_exposure(model, &renal, &Regimen::once_daily(25.0))?.ratio_to_reference > 2.0);
//!
//! assert_eq!(profile.provenance.status, lenaguard_pk::ProvenanceStatus::Calibrated);
//! let svg = svg_plot(&[("CrCl 40, 10 mg days 1-21", &profile)], "LEN-R1 (calibrated, not published)");
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), lenaguard_pk::PkError>(())
//! ```
#![forbid(unsafe_code)]

pub mod analytic;
mod covariates;
mod engine;
mod error;
mod exposure;
mod label_check;
mod model;
mod population;
mod rng;
mod schedule;
mod simulate;
mod svg;

pub use covariates::{
    BodySurfaceArea, BodyWeight, Covariates, CreatinineClearance, RenalFunction, SubjectKind,
};
pub use error::PkError;
pub use exposure::{DialysisPattern, ExposureSummary, Regimen, auc_ratio, relative_exposure};
pub use label_check::{
    CheckPopulation, IndicationGroup, LabelCheckRow, LabelRenalDose, RenalPoint, label_renal_check,
    label_renal_doses,
};
pub use model::{
    Absorption, ClearanceModel, GUGLIERI_LOPEZ_2017, Individual, LEN_R1, MODELS, Model, Param,
    Provenance, ProvenanceStatus, Reference, Tag, Variability, VolumeModel,
};
pub use population::{
    Bands, CovariateSource, MAX_BAND_VALUES, MAX_POPULATION, PatientExposure, Percentiles,
    PopulationOptions, PopulationResult, PopulationSpec, simulate_population,
};
pub use schedule::{DialysisSession, Dose, MAX_DOSE_MG, MAX_EVENTS, MAX_TIME_H, Schedule};
pub use simulate::{MAX_POINTS, Profile, SimOptions, simulate};
pub use svg::svg_plot;

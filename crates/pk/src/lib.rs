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
pub use exposure::{DialysisPattern, ExposureSummary, Regimen, relative_exposure};
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

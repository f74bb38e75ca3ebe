//! Lenaguard's standard interfaces, pure: FHIR R4 (4.0.1) resources and CDS Hooks 2.0 types, the code tables
//! (LOINC, RxNorm, SNOMED CT, ICD-10-CM, UCUM), FHIR Bundle → engine snapshot, and assessment → CDS card,
//! DetectedIssue and OperationOutcome. Sources: ../shared/reference/standards.md §1 (CDS Hooks), §3 (FHIR
//! resources), §4 (code systems); label-verification.md §9 (RxNorm).
//!
//! No HTTP, no I/O, no clock: the service layer calls these functions with parsed JSON and `today`.
#![forbid(unsafe_code)]

pub mod cds;
pub mod codes;
pub mod emit;
pub mod error;
pub mod fhir;
pub mod import;
pub mod order;

pub use error::{InteropError, operation_outcome};
pub use import::{ImportNote, ImportOptions, NoteKind, fhir_to_snapshot};

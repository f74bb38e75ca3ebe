//! The rule pack: the label and the program as versioned, reviewable data (`rules/` at the repository root).
//!
//! Logic lives in Rust; numbers and their provenance live in the pack. The built-in pack is compiled into the
//! binary so that a fresh install needs no files; `lenaguard rules check DIR` validates any other pack.

mod load;
mod model;

pub use load::{PackError, PackFiles, load};
pub use model::*;

/// The files of the built-in pack, `rules/us-lenalidomide/`.
pub const BUILTIN_FILES: [(&str, &str); 7] = [
    (
        "pack.toml",
        include_str!("../../../../rules/us-lenalidomide/pack.toml"),
    ),
    (
        "regimens.toml",
        include_str!("../../../../rules/us-lenalidomide/regimens.toml"),
    ),
    (
        "renal.toml",
        include_str!("../../../../rules/us-lenalidomide/renal.toml"),
    ),
    (
        "modifications.toml",
        include_str!("../../../../rules/us-lenalidomide/modifications.toml"),
    ),
    (
        "toxicity.toml",
        include_str!("../../../../rules/us-lenalidomide/toxicity.toml"),
    ),
    (
        "ctcae.toml",
        include_str!("../../../../rules/us-lenalidomide/ctcae.toml"),
    ),
    (
        "policy.toml",
        include_str!("../../../../rules/us-lenalidomide/policy.toml"),
    ),
];

impl RulePack {
    /// The pack shipped with this build. It is validated by the test suite, so failing here is a build defect.
    pub fn builtin() -> Result<RulePack, PackError> {
        load(&BUILTIN_FILES)
    }
}

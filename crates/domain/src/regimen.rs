//! Indications and regimens (label.md §1). The regimen a patient is on decides the starting dose, the renal
//! column, the dose-level ladder and the modification tables.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A lenalidomide regimen: the labelled indications, plus the trial-derived combinations clinicians use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RegimenId {
    /// Multiple myeloma, with dexamethasone.
    MmRd,
    /// Multiple myeloma, maintenance after autologous stem-cell transplant.
    MmMaintenance,
    /// del(5q) myelodysplastic syndromes.
    MdsDel5q,
    /// Mantle cell lymphoma.
    Mcl,
    /// Follicular lymphoma, with a rituximab product.
    Fl,
    /// Marginal zone lymphoma, with a rituximab product.
    Mzl,
    /// Multiple myeloma, with bortezomib and dexamethasone (VRd; SWOG S0777; trial-derived).
    MmVrd,
}

impl RegimenId {
    pub const ALL: [RegimenId; 7] = [
        RegimenId::MmRd,
        RegimenId::MmMaintenance,
        RegimenId::MdsDel5q,
        RegimenId::Mcl,
        RegimenId::Fl,
        RegimenId::Mzl,
        RegimenId::MmVrd,
    ];
    pub const ACCEPTED: &'static str =
        "one of mm_rd, mm_maintenance, mds_del5q, mcl, fl, mzl, mm_vrd";

    pub fn as_str(self) -> &'static str {
        match self {
            RegimenId::MmRd => "mm_rd",
            RegimenId::MmMaintenance => "mm_maintenance",
            RegimenId::MdsDel5q => "mds_del5q",
            RegimenId::Mcl => "mcl",
            RegimenId::Fl => "fl",
            RegimenId::Mzl => "mzl",
            RegimenId::MmVrd => "mm_vrd",
        }
    }

    pub fn parse(s: &str) -> Option<RegimenId> {
        RegimenId::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Multiple myeloma regimens (warfarin PT/INR advice and VTE scores are MM-specific).
    pub fn is_myeloma(self) -> bool {
        matches!(
            self,
            RegimenId::MmRd | RegimenId::MmMaintenance | RegimenId::MmVrd
        )
    }
}

impl fmt::Display for RegimenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

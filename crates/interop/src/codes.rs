//! Every code Lenaguard reads or writes, in one place, each with its source:
//!
//! * LOINC codes of the labs and vitals and their usual UCUM units: standards.md §4.1.
//! * RxNorm: lenalidomide and its capsules, label-verification.md §9 (confirmed against the RXN value set); the
//!   other ingredients, standards.md §4.3.
//! * SNOMED CT and ICD-10-CM codes of the indications: standards.md §4.2.
//! * System URIs: standards.md §4.
//!
//! `confirmed: false` marks a code the reference notes list as NOT CONFIRMED. The mapping still reads such a code
//! (it is the notes' best knowledge) but records an import note saying so. A code or unit that is not in these
//! tables is never guessed: the import skips it with a reason, or refuses it when the engine needs it.
//!
//! Body temperature has no LOINC code in the reference notes, so temperature Observations are not read (the
//! engine's "ANC below 1,000/mcL with fever" rule then needs the temperature in a snapshot).

use lenaguard_domain::monitoring::MonitoringKind;
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::units::Analyte;

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
/// FHIR R4's Observation category code system (https://hl7.org/fhir/R4/codesystem-observation-category.html;
/// standards.md §3 names its `laboratory` code for lab results).
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// A UCUM unit code the mapping accepts, and the unit string the engine's `Quantity::parse` accepts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitMap {
    pub ucum: &'static str,
    pub engine: &'static str,
}

const COUNT_UNITS: &[UnitMap] = &[
    UnitMap {
        ucum: "10*3/uL",
        engine: "10*3/uL",
    },
    UnitMap {
        ucum: "10*9/L",
        engine: "10*9/L",
    },
];
const HEMOGLOBIN_UNITS: &[UnitMap] = &[
    UnitMap {
        ucum: "g/dL",
        engine: "g/dL",
    },
    UnitMap {
        ucum: "g/L",
        engine: "g/L",
    },
    UnitMap {
        ucum: "mmol/L",
        engine: "mmol/L",
    },
];
const CREATININE_MASS_UNITS: &[UnitMap] = &[UnitMap {
    ucum: "mg/dL",
    engine: "mg/dL",
}];
const CREATININE_MOLAR_UNITS: &[UnitMap] = &[UnitMap {
    ucum: "umol/L",
    engine: "umol/L",
}];
const KG: &[UnitMap] = &[UnitMap {
    ucum: "kg",
    engine: "kg",
}];
const CM: &[UnitMap] = &[UnitMap {
    ucum: "cm",
    engine: "cm",
}];
const HCG_UNITS: &[UnitMap] = &[
    UnitMap {
        ucum: "m[IU]/mL",
        engine: "m[IU]/mL",
    },
    UnitMap {
        ucum: "[IU]/L",
        engine: "[IU]/L",
    },
];

/// Where a pregnancy test sample comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HcgSample {
    Urine,
    SerumOrPlasma,
}

/// What an Observation code means to Lenaguard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationConcept {
    /// A lab the engine reads as a value.
    Lab(Analyte),
    BodyWeight,
    BodyHeight,
    /// A qualitative hCG test (positive or negative).
    HcgQualitative(HcgSample),
    /// A quantitative serum hCG.
    HcgQuantitative,
    /// US Core pregnancy status (SNOMED values).
    PregnancyStatus,
    /// A monitoring test whose value the engine does not read, only its date.
    Monitoring(MonitoringKind),
    /// Known, deliberately not used; the text says why.
    NotUsed(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoincCode {
    pub code: &'static str,
    pub display: &'static str,
    pub concept: ObservationConcept,
    /// Accepted UCUM units (empty for ordinal results).
    pub units: &'static [UnitMap],
    pub confirmed: bool,
}

const fn loinc(
    code: &'static str,
    display: &'static str,
    concept: ObservationConcept,
    units: &'static [UnitMap],
    confirmed: bool,
) -> LoincCode {
    LoincCode {
        code,
        display,
        concept,
        units,
        confirmed,
    }
}

use ObservationConcept as O;

/// standards.md §4.1.
pub const LOINC_CODES: &[LoincCode] = &[
    loinc(
        "751-8",
        "Neutrophils [#/volume] in Blood by Automated count",
        O::Lab(Analyte::Anc),
        COUNT_UNITS,
        true,
    ),
    loinc(
        "753-4",
        "Neutrophils [#/volume] in Blood by Manual count",
        O::Lab(Analyte::Anc),
        COUNT_UNITS,
        false,
    ),
    loinc(
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        O::Lab(Analyte::Platelets),
        COUNT_UNITS,
        true,
    ),
    loinc(
        "26515-7",
        "Platelets [#/volume] in Blood",
        O::Lab(Analyte::Platelets),
        COUNT_UNITS,
        false,
    ),
    loinc(
        "26464-8",
        "Leukocytes [#/volume] in Blood",
        O::Lab(Analyte::Wbc),
        COUNT_UNITS,
        true,
    ),
    loinc(
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        O::Lab(Analyte::Wbc),
        COUNT_UNITS,
        false,
    ),
    loinc(
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        O::Lab(Analyte::Hemoglobin),
        HEMOGLOBIN_UNITS,
        true,
    ),
    loinc(
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        O::Lab(Analyte::Creatinine),
        CREATININE_MASS_UNITS,
        true,
    ),
    loinc(
        "14682-9",
        "Creatinine [Moles/volume] in Serum or Plasma",
        O::Lab(Analyte::Creatinine),
        CREATININE_MOLAR_UNITS,
        true,
    ),
    loinc("29463-7", "Body weight", O::BodyWeight, KG, true),
    loinc("8302-2", "Body height", O::BodyHeight, CM, true),
    loinc(
        "2106-3",
        "Choriogonadotropin (pregnancy test) [Presence] in Urine",
        O::HcgQualitative(HcgSample::Urine),
        &[],
        true,
    ),
    loinc(
        "80384-1",
        "Choriogonadotropin [Presence] in Urine by Rapid immunoassay",
        O::HcgQualitative(HcgSample::Urine),
        &[],
        true,
    ),
    loinc(
        "2118-8",
        "Choriogonadotropin [Presence] in Serum or Plasma",
        O::HcgQualitative(HcgSample::SerumOrPlasma),
        &[],
        true,
    ),
    loinc(
        "80385-8",
        "Choriogonadotropin [Presence] in Serum or Plasma by Rapid immunoassay",
        O::HcgQualitative(HcgSample::SerumOrPlasma),
        &[],
        true,
    ),
    loinc(
        "2110-5",
        "Choriogonadotropin.beta subunit [Presence] in Serum or Plasma",
        O::HcgQualitative(HcgSample::SerumOrPlasma),
        &[],
        true,
    ),
    loinc(
        "19080-1",
        "Choriogonadotropin [Units/volume] in Serum or Plasma",
        O::HcgQuantitative,
        HCG_UNITS,
        true,
    ),
    loinc(
        "21198-7",
        "Choriogonadotropin.beta subunit [Units/volume] in Serum or Plasma",
        O::HcgQuantitative,
        HCG_UNITS,
        true,
    ),
    loinc(
        "83086-9",
        "Choriogonadotropin [Units/volume] in Serum or Plasma by Immunoassay",
        O::HcgQuantitative,
        HCG_UNITS,
        true,
    ),
    loinc("82810-3", "Pregnancy status", O::PregnancyStatus, &[], true),
    loinc(
        "3016-3",
        "Thyrotropin [Units/volume] in Serum or Plasma",
        O::Monitoring(MonitoringKind::ThyroidFunction),
        &[],
        true,
    ),
    loinc(
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        O::Monitoring(MonitoringKind::LiverFunction),
        &[],
        true,
    ),
    loinc(
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        O::Monitoring(MonitoringKind::LiverFunction),
        &[],
        true,
    ),
    loinc(
        "1975-2",
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
        O::Monitoring(MonitoringKind::LiverFunction),
        &[],
        true,
    ),
    loinc(
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI 2021)",
        O::NotUsed(
            "eGFR is not read: the label's renal table is by creatinine clearance (Cockcroft-Gault), which the engine computes from serum creatinine",
        ),
        &[],
        true,
    ),
];

/// The table entry for a LOINC code.
pub fn loinc_code(code: &str) -> Option<&'static LoincCode> {
    LOINC_CODES.iter().find(|c| c.code == code)
}

/// The LOINC codes of a concept, for prefetch queries.
pub fn loinc_codes_where(f: impl Fn(ObservationConcept) -> bool) -> Vec<&'static str> {
    LOINC_CODES
        .iter()
        .filter(|c| f(c.concept))
        .map(|c| c.code)
        .collect()
}

/// The LOINC code and UCUM unit a stored lab is written back as: the confirmed table entry for its analyte that
/// accepts its engine unit (creatinine in mg/dL is 2160-0, in umol/L 14682-9). `None` when no confirmed code
/// does: the caller then writes the lab without a code rather than pick one.
pub fn loinc_for_lab(
    analyte: Analyte,
    engine_unit: &str,
) -> Option<(&'static LoincCode, &'static UnitMap)> {
    LOINC_CODES
        .iter()
        .filter(|c| c.confirmed && c.concept == ObservationConcept::Lab(analyte))
        .find_map(|c| {
            c.units
                .iter()
                .find(|u| u.engine == engine_unit)
                .map(|u| (c, u))
        })
}

/// The qualitative hCG code of a sample: the first confirmed table entry (2106-3 urine, 2118-8 serum or plasma).
pub fn hcg_qualitative(sample: HcgSample) -> Option<&'static LoincCode> {
    LOINC_CODES
        .iter()
        .find(|c| c.confirmed && c.concept == ObservationConcept::HcgQualitative(sample))
}

impl LoincCode {
    /// The engine's unit for a UCUM code, if this code accepts it.
    pub fn engine_unit(&self, ucum: &str) -> Option<&'static str> {
        self.units.iter().find(|u| u.ucum == ucum).map(|u| u.engine)
    }

    /// The accepted UCUM codes, for error messages.
    pub fn accepted_units(&self) -> String {
        let list: Vec<&str> = self.units.iter().map(|u| u.ucum).collect();
        format!("a UCUM code ({}) with system {UCUM}", list.join(", "))
    }
}

/// Pregnancy status values (US Core, standards.md §4.1).
pub const SNOMED_PREGNANT: &str = "77386006";
pub const SNOMED_NOT_PREGNANT: &str = "60001007";

/// What an RxNorm concept is to Lenaguard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxNormCode {
    pub code: &'static str,
    pub display: &'static str,
    /// The capsule strength in tenths of a milligram, for clinical and branded drugs (SCD/SBD).
    pub strength_tenths_mg: Option<u16>,
    pub brand: bool,
    pub confirmed: bool,
}

const fn rx(
    code: &'static str,
    display: &'static str,
    strength_tenths_mg: Option<u16>,
    brand: bool,
) -> RxNormCode {
    RxNormCode {
        code,
        display,
        strength_tenths_mg,
        brand,
        confirmed: true,
    }
}

/// Lenalidomide concepts, label-verification.md §9 (the whole table is from the RXN value set).
pub const LENALIDOMIDE_RXNORM: &[RxNormCode] = &[
    rx("342369", "lenalidomide", None, false),
    rx("337535", "Revlimid", None, true),
    rx(
        "1242231",
        "lenalidomide 2.5 MG Oral Capsule",
        Some(25),
        false,
    ),
    rx("602912", "lenalidomide 5 MG Oral Capsule", Some(50), false),
    rx(
        "602910",
        "lenalidomide 10 MG Oral Capsule",
        Some(100),
        false,
    ),
    rx(
        "643712",
        "lenalidomide 15 MG Oral Capsule",
        Some(150),
        false,
    ),
    rx(
        "1428947",
        "lenalidomide 20 MG Oral Capsule",
        Some(200),
        false,
    ),
    rx(
        "643720",
        "lenalidomide 25 MG Oral Capsule",
        Some(250),
        false,
    ),
    rx("1242233", "Revlimid 2.5 MG Oral Capsule", Some(25), true),
    rx("616116", "Revlimid 5 MG Oral Capsule", Some(50), true),
    rx("616114", "Revlimid 10 MG Oral Capsule", Some(100), true),
    rx("643714", "Revlimid 15 MG Oral Capsule", Some(150), true),
    rx("1429367", "Revlimid 20 MG Oral Capsule", Some(200), true),
    rx("643722", "Revlimid 25 MG Oral Capsule", Some(250), true),
    rx("602909", "lenalidomide Oral Capsule", None, false),
    rx("1162569", "lenalidomide Oral Product", None, false),
    rx("1162570", "lenalidomide Pill", None, false),
    rx("1182522", "Revlimid Oral Product", None, true),
    rx("1182529", "Revlimid Pill", None, true),
];

/// Words that name lenalidomide in free text (whole words, case-insensitive).
pub const LENALIDOMIDE_NAMES: &[&str] = &["lenalidomide", "revlimid"];

pub fn lenalidomide_rxnorm(code: &str) -> Option<&'static RxNormCode> {
    LENALIDOMIDE_RXNORM.iter().find(|c| c.code == code)
}

/// The capsule concept of a strength, generic or brand, to rewrite a strength-coded order.
pub fn lenalidomide_capsule(strength_tenths_mg: u16, brand: bool) -> Option<&'static RxNormCode> {
    LENALIDOMIDE_RXNORM
        .iter()
        .find(|c| c.strength_tenths_mg == Some(strength_tenths_mg) && c.brand == brand)
}

/// Other ingredients the rules name (standards.md §4.3). Matching them against the interaction rules is the rule
/// pack's job; this table names a draft order for another drug in a note.
pub const OTHER_INGREDIENTS: &[RxNormCode] = &[
    rx("3264", "dexamethasone", None, false),
    rx("1364430", "apixaban", None, false),
    rx("1114195", "rivaroxaban", None, false),
    rx("11289", "warfarin", None, false),
    rx("67108", "enoxaparin", None, false),
    RxNormCode {
        confirmed: false,
        ..rx("1191", "aspirin", None, false)
    },
    RxNormCode {
        confirmed: false,
        ..rx("3407", "digoxin", None, false)
    },
    RxNormCode {
        confirmed: false,
        ..rx("358258", "bortezomib", None, false)
    },
    RxNormCode {
        confirmed: false,
        ..rx("105694", "epoetin alfa", None, false)
    },
];

pub fn other_ingredient(code: &str) -> Option<&'static RxNormCode> {
    OTHER_INGREDIENTS.iter().find(|c| c.code == code)
}

/// The indications of lenalidomide, as diagnosis families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Indication {
    MultipleMyeloma,
    MdsDel5q,
    MantleCellLymphoma,
    FollicularLymphoma,
    MarginalZoneLymphoma,
}

impl Indication {
    pub const ALL: [Indication; 5] = [
        Indication::MultipleMyeloma,
        Indication::MdsDel5q,
        Indication::MantleCellLymphoma,
        Indication::FollicularLymphoma,
        Indication::MarginalZoneLymphoma,
    ];

    /// The indication a regimen treats.
    pub fn of_regimen(regimen: RegimenId) -> Option<Indication> {
        Indication::ALL
            .into_iter()
            .find(|i| i.regimens().contains(&regimen))
    }

    /// The one confirmed SNOMED CT code of this indication, if there is exactly one. Marginal zone lymphoma has
    /// three (nodal, splenic, MALT) and MDS del(5q) none, so a diagnosis known only from the regimen is written
    /// as text for them, not coded with a guessed subtype.
    pub fn snomed(self) -> Option<&'static DiagnosisCode> {
        let mut it = DIAGNOSIS_CODES
            .iter()
            .filter(|d| d.indication == self && d.system == SNOMED && d.confirmed);
        match (it.next(), it.next()) {
            (Some(d), None) => Some(d),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Indication::MultipleMyeloma => "multiple myeloma",
            Indication::MdsDel5q => "MDS with isolated del(5q)",
            Indication::MantleCellLymphoma => "mantle cell lymphoma",
            Indication::FollicularLymphoma => "follicular lymphoma",
            Indication::MarginalZoneLymphoma => "marginal zone lymphoma",
        }
    }

    /// The regimens that treat this indication. Several for myeloma: the order's schedule, or the caller, decides.
    pub fn regimens(self) -> &'static [RegimenId] {
        match self {
            Indication::MultipleMyeloma => {
                &[RegimenId::MmRd, RegimenId::MmMaintenance, RegimenId::MmVrd]
            }
            Indication::MdsDel5q => &[RegimenId::MdsDel5q],
            Indication::MantleCellLymphoma => &[RegimenId::Mcl],
            Indication::FollicularLymphoma => &[RegimenId::Fl],
            Indication::MarginalZoneLymphoma => &[RegimenId::Mzl],
        }
    }
}

/// How a diagnosis code is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMatch {
    Exact,
    /// The code and every code below it (`C83.1` covers `C83.10` to `C83.19`).
    Prefix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiagnosisCode {
    pub system: &'static str,
    pub code: &'static str,
    pub matching: CodeMatch,
    pub display: &'static str,
    pub indication: Indication,
    pub confirmed: bool,
}

const fn dx(
    system: &'static str,
    code: &'static str,
    matching: CodeMatch,
    display: &'static str,
    indication: Indication,
    confirmed: bool,
) -> DiagnosisCode {
    DiagnosisCode {
        system,
        code,
        matching,
        display,
        indication,
        confirmed,
    }
}

use CodeMatch::{Exact, Prefix};
use Indication as I;

/// standards.md §4.2. The MDS del(5q) SNOMED code is not in the notes, and WHO ICD-10 D46.6 has no system URI
/// there, so neither is read.
pub const DIAGNOSIS_CODES: &[DiagnosisCode] = &[
    dx(
        SNOMED,
        "109989006",
        Exact,
        "Multiple myeloma",
        I::MultipleMyeloma,
        true,
    ),
    dx(
        ICD10CM,
        "C90.00",
        Exact,
        "Multiple myeloma not having achieved remission",
        I::MultipleMyeloma,
        true,
    ),
    dx(
        ICD10CM,
        "C90.01",
        Exact,
        "Multiple myeloma in remission",
        I::MultipleMyeloma,
        true,
    ),
    dx(
        ICD10CM,
        "C90.02",
        Exact,
        "Multiple myeloma in relapse",
        I::MultipleMyeloma,
        true,
    ),
    dx(
        ICD10CM,
        "D46.C",
        Exact,
        "Myelodysplastic syndrome with isolated del(5q) chromosomal abnormality",
        I::MdsDel5q,
        false,
    ),
    dx(
        SNOMED,
        "443487006",
        Exact,
        "Mantle cell lymphoma",
        I::MantleCellLymphoma,
        true,
    ),
    dx(
        ICD10CM,
        "C83.1",
        Prefix,
        "Mantle cell lymphoma",
        I::MantleCellLymphoma,
        false,
    ),
    dx(
        SNOMED,
        "308121000",
        Exact,
        "Follicular non-Hodgkin's lymphoma",
        I::FollicularLymphoma,
        true,
    ),
    dx(
        ICD10CM,
        "C82",
        Prefix,
        "Follicular lymphoma",
        I::FollicularLymphoma,
        false,
    ),
    dx(
        SNOMED,
        "726721002",
        Exact,
        "Nodal marginal zone B-cell lymphoma",
        I::MarginalZoneLymphoma,
        true,
    ),
    dx(
        SNOMED,
        "763666008",
        Exact,
        "Splenic marginal zone B-cell lymphoma",
        I::MarginalZoneLymphoma,
        true,
    ),
    dx(
        SNOMED,
        "277622004",
        Exact,
        "Mucosa-associated lymphoma (MALT)",
        I::MarginalZoneLymphoma,
        true,
    ),
    dx(
        ICD10CM,
        "C88.4",
        Exact,
        "Extranodal marginal zone B-cell lymphoma of mucosa-associated lymphoid tissue",
        I::MarginalZoneLymphoma,
        false,
    ),
];

/// The table entry for a diagnosis code in a system.
pub fn diagnosis(system: &str, code: &str) -> Option<&'static DiagnosisCode> {
    DIAGNOSIS_CODES.iter().find(|d| {
        d.system == system
            && match d.matching {
                Exact => d.code == code,
                Prefix => code.starts_with(d.code),
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_no_duplicate_codes() {
        for (i, a) in LOINC_CODES.iter().enumerate() {
            assert!(
                LOINC_CODES[i + 1..].iter().all(|b| b.code != a.code),
                "{}",
                a.code
            );
        }
        for (i, a) in LENALIDOMIDE_RXNORM.iter().enumerate() {
            assert!(
                LENALIDOMIDE_RXNORM[i + 1..]
                    .iter()
                    .all(|b| b.code != a.code),
                "{}",
                a.code
            );
        }
    }

    #[test]
    fn every_capsule_strength_has_a_generic_and_a_brand_code() {
        for tenths in [25, 50, 100, 150, 200, 250] {
            assert!(lenalidomide_capsule(tenths, false).is_some(), "{tenths}");
            assert!(lenalidomide_capsule(tenths, true).is_some(), "{tenths}");
        }
        assert_eq!(
            lenalidomide_capsule(100, false).map(|c| c.code),
            Some("602910")
        );
        assert_eq!(
            lenalidomide_capsule(250, false).map(|c| c.code),
            Some("643720")
        );
    }

    #[test]
    fn engine_units_are_accepted_by_the_engine() {
        for c in LOINC_CODES {
            if let ObservationConcept::Lab(a) = c.concept {
                for u in c.units {
                    assert!(
                        lenaguard_domain::units::Quantity::parse(a, 1.0, u.engine).is_ok(),
                        "{} {}",
                        c.code,
                        u.engine
                    );
                }
            }
        }
    }

    #[test]
    fn stored_labs_map_back_to_confirmed_loinc_codes() {
        let code = |a, u| loinc_for_lab(a, u).map(|(c, _)| c.code);
        assert_eq!(code(Analyte::Creatinine, "mg/dL"), Some("2160-0"));
        assert_eq!(code(Analyte::Creatinine, "umol/L"), Some("14682-9"));
        assert_eq!(code(Analyte::Anc, "10*9/L"), Some("751-8"));
        assert_eq!(code(Analyte::Wbc, "10*3/uL"), Some("26464-8"));
        assert_eq!(code(Analyte::Creatinine, "mmol/L"), None);
        assert_eq!(code(Analyte::Temperature, "Cel"), None);
        assert_eq!(
            hcg_qualitative(HcgSample::Urine).map(|c| c.code),
            Some("2106-3")
        );
        assert_eq!(
            hcg_qualitative(HcgSample::SerumOrPlasma).map(|c| c.code),
            Some("2118-8")
        );
    }

    #[test]
    fn a_regimen_names_its_indication_and_only_an_unambiguous_snomed_code() {
        let snomed = |r| {
            Indication::of_regimen(r)
                .and_then(Indication::snomed)
                .map(|d| d.code)
        };
        assert_eq!(snomed(RegimenId::MmRd), Some("109989006"));
        assert_eq!(snomed(RegimenId::Mcl), Some("443487006"));
        assert_eq!(snomed(RegimenId::Mzl), None);
        assert_eq!(snomed(RegimenId::MdsDel5q), None);
        assert_eq!(
            Indication::of_regimen(RegimenId::MmVrd),
            Some(Indication::MultipleMyeloma)
        );
    }

    #[test]
    fn icd_prefixes_cover_sites_but_not_neighbours() {
        assert_eq!(
            diagnosis(ICD10CM, "C83.14").map(|d| d.indication),
            Some(Indication::MantleCellLymphoma)
        );
        assert!(diagnosis(ICD10CM, "C83.3").is_none());
        assert!(diagnosis(ICD10CM, "C90.1").is_none());
    }
}

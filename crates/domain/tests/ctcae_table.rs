//! label.md §10: every CTCAE v5.0 boundary, on both sides, in every unit the table gives.

mod common;
use common::pack;
use lenaguard_domain::ctcae::{grade_count, grade_creatinine, grade_hemoglobin};
use lenaguard_domain::units::{Analyte, Quantity};

fn count_grade(analyte: Analyte, value: f64, unit: &str, lln: Option<f64>) -> (u8, u8) {
    let per_ul = Quantity::parse(analyte, value, unit).unwrap().value();
    let lln = lln.map(|l| Quantity::parse(analyte, l, unit).unwrap().value());
    let g = grade_count(pack(), analyte, per_ul, lln).unwrap();
    (g.grade, g.grade_up_to)
}

/// (analyte, value, unit, lab LLN, expected (grade, grade up to)).
type CountCase = (Analyte, f64, &'static str, Option<f64>, (u8, u8));
/// (value, unit, lab LLN, expected (grade, grade up to)).
type HgbCase = (f64, &'static str, Option<f64>, (u8, u8));

#[test]
fn neutrophils_platelets_wbc_boundaries() {
    let cases: &[CountCase] = &[
        // Neutrophil count decreased: <LLN-1500; <1500-1000; <1000-500; <500 (/mm3) and x10^9/L.
        (Analyte::Anc, 1500.0, "/mm3", None, (0, 1)),
        (Analyte::Anc, 1600.0, "/mm3", Some(1800.0), (1, 1)),
        (Analyte::Anc, 1800.0, "/mm3", Some(1800.0), (0, 0)),
        (Analyte::Anc, 1499.0, "/mm3", None, (2, 2)),
        (Analyte::Anc, 1000.0, "/mm3", None, (2, 2)),
        (Analyte::Anc, 999.0, "/mm3", None, (3, 3)),
        (Analyte::Anc, 500.0, "/mm3", None, (3, 3)),
        (Analyte::Anc, 499.0, "/mm3", None, (4, 4)),
        (Analyte::Anc, 1.5, "10*9/L", None, (0, 1)),
        (Analyte::Anc, 1.49, "10*9/L", None, (2, 2)),
        (Analyte::Anc, 1.0, "10*9/L", None, (2, 2)),
        (Analyte::Anc, 0.99, "10*9/L", None, (3, 3)),
        (Analyte::Anc, 0.5, "10*9/L", None, (3, 3)),
        (Analyte::Anc, 0.49, "10*9/L", None, (4, 4)),
        // Platelet count decreased: <LLN-75,000; <75,000-50,000; <50,000-25,000; <25,000.
        (Analyte::Platelets, 75000.0, "/mm3", None, (0, 1)),
        (Analyte::Platelets, 74999.0, "/mm3", None, (2, 2)),
        (Analyte::Platelets, 50000.0, "/mm3", None, (2, 2)),
        (Analyte::Platelets, 49999.0, "/mm3", None, (3, 3)),
        (Analyte::Platelets, 25000.0, "/mm3", None, (3, 3)),
        (Analyte::Platelets, 24999.0, "/mm3", None, (4, 4)),
        (Analyte::Platelets, 75.0, "10*9/L", None, (0, 1)),
        (Analyte::Platelets, 74.9, "10*9/L", None, (2, 2)),
        (Analyte::Platelets, 50.0, "10*9/L", None, (2, 2)),
        (Analyte::Platelets, 49.9, "10*9/L", None, (3, 3)),
        (Analyte::Platelets, 25.0, "10*3/uL", None, (3, 3)),
        (Analyte::Platelets, 24.9, "10*3/uL", None, (4, 4)),
        (Analyte::Platelets, 140.0, "10*9/L", Some(150.0), (1, 1)),
        // White blood cell decreased: <LLN-3000; <3000-2000; <2000-1000; <1000.
        (Analyte::Wbc, 3000.0, "/uL", None, (0, 1)),
        (Analyte::Wbc, 2999.0, "/uL", None, (2, 2)),
        (Analyte::Wbc, 2000.0, "/uL", None, (2, 2)),
        (Analyte::Wbc, 1999.0, "/uL", None, (3, 3)),
        (Analyte::Wbc, 1000.0, "/uL", None, (3, 3)),
        (Analyte::Wbc, 999.0, "/uL", None, (4, 4)),
        (Analyte::Wbc, 3.0, "10*9/L", None, (0, 1)),
        (Analyte::Wbc, 0.99, "10*9/L", None, (4, 4)),
    ];
    for (analyte, v, unit, lln, want) in cases {
        assert_eq!(
            count_grade(*analyte, *v, unit, *lln),
            *want,
            "{analyte:?} {v} {unit} lln={lln:?}"
        );
    }
}

#[test]
fn anemia_boundaries_in_each_unit() {
    let cases: &[HgbCase] = &[
        (10.0, "g/dL", None, (0, 1)),
        (10.0, "g/dL", Some(12.0), (1, 1)),
        (12.0, "g/dL", Some(12.0), (0, 0)),
        (9.9, "g/dL", None, (2, 2)),
        (8.0, "g/dL", None, (2, 2)),
        (7.9, "g/dL", None, (3, 5)),
        (6.2, "mmol/L", None, (0, 1)),
        (6.1, "mmol/L", None, (2, 2)),
        (4.9, "mmol/L", None, (2, 2)),
        (4.8, "mmol/L", None, (3, 5)),
        (100.0, "g/L", None, (0, 1)),
        (99.0, "g/L", None, (2, 2)),
        (80.0, "g/L", None, (2, 2)),
        (79.0, "g/L", None, (3, 5)),
    ];
    for (v, unit, lln, want) in cases {
        let q = Quantity::parse(Analyte::Hemoglobin, *v, unit).unwrap();
        let g = grade_hemoglobin(pack(), q, *lln).unwrap();
        assert_eq!((g.grade, g.grade_up_to), *want, "{v} {unit} lln={lln:?}");
    }
}

#[test]
fn creatinine_boundaries_by_uln_and_baseline() {
    let by_uln: &[(f64, (u8, u8))] = &[
        (1.0, (0, 0)),
        (1.01, (1, 1)),
        (1.5, (1, 1)),
        (1.51, (2, 2)),
        (3.0, (2, 2)),
        (3.01, (3, 3)),
        (6.0, (3, 3)),
        (6.01, (4, 4)),
    ];
    for (v, want) in by_uln {
        let g = grade_creatinine(pack(), *v, Some(1.0), None).unwrap();
        assert_eq!((g.grade, g.grade_up_to), *want, "x ULN {v}");
    }
    let by_baseline: &[(f64, (u8, u8))] =
        &[(1.5, (0, 1)), (1.51, (2, 2)), (3.0, (2, 2)), (3.01, (3, 4))];
    for (v, want) in by_baseline {
        let g = grade_creatinine(pack(), *v, None, Some(1.0)).unwrap();
        assert_eq!((g.grade, g.grade_up_to), *want, "x baseline {v}");
    }
    // The higher of the two wins: 1.2 x ULN (grade 1) but 3.1 x baseline (grade 3).
    let g = grade_creatinine(pack(), 1.24, Some(1.03), Some(0.4)).unwrap();
    assert_eq!(g.grade, 3);
    assert!(grade_creatinine(pack(), 1.0, None, None).is_none());
}

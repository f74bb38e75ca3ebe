//! label.md §2: every row of the renal table, both sides of every band boundary, and the not-studied limits.

mod common;
use common::pack;
use lenaguard_domain::dose::Frequency;
use lenaguard_domain::provenance::Status;
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::{self, CgInputs, CrCl, KidneyFunction, Sex, WeightBasis};

struct Row {
    regimen: RegimenId,
    crcl: Option<f64>,
    dialysis: bool,
    mg: f64,
    freq: Frequency,
    after_dialysis: bool,
    not_studied: bool,
    status: Status,
}

fn row(
    regimen: RegimenId,
    crcl: f64,
    dialysis: bool,
    mg: f64,
    freq: Frequency,
    status: Status,
) -> Row {
    Row {
        regimen,
        crcl: Some(crcl),
        dialysis,
        mg,
        freq,
        after_dialysis: dialysis,
        not_studied: false,
        status,
    }
}

#[test]
fn every_row_of_the_renal_table() {
    use Frequency::*;
    use RegimenId::*;
    use Status::*;
    let mut rows = Vec::new();
    // MM combination and MCL (and VRd by interpretation): 10 mg daily; 15 mg every 48 h; 5 mg after dialysis.
    for r in [MmRd, Mcl, MmVrd] {
        let full = 25.0;
        let start_status = if r == MmVrd { Unverified } else { Verified };
        rows.push(row(r, 60.0, false, full, OnceDaily, start_status));
        rows.push(row(r, 130.0, false, full, OnceDaily, start_status));
        rows.push(row(r, 59.9, false, 10.0, OnceDaily, Verified));
        rows.push(row(r, 30.0, false, 10.0, OnceDaily, Verified));
        rows.push(row(r, 29.9, false, 15.0, Every48Hours, Verified));
        rows.push(row(r, 11.0, false, 15.0, Every48Hours, Verified));
        rows.push(row(r, 20.0, true, 5.0, OnceDaily, Unverified));
        rows.push(row(r, 7.0, true, 5.0, OnceDaily, Unverified));
    }
    // Maintenance and MDS: 5 mg; 2.5 mg; 2.5 mg after dialysis (newer version, unverified).
    for r in [MmMaintenance, MdsDel5q] {
        rows.push(row(r, 60.0, false, 10.0, OnceDaily, Verified));
        rows.push(row(r, 59.9, false, 5.0, OnceDaily, Unverified));
        rows.push(row(r, 30.0, false, 5.0, OnceDaily, Unverified));
        rows.push(row(r, 29.9, false, 2.5, OnceDaily, Unverified));
        rows.push(row(r, 15.0, true, 2.5, OnceDaily, Unverified));
    }
    // FL and MZL: 10 mg; 5 mg; 5 mg after dialysis (unverified).
    for r in [Fl, Mzl] {
        rows.push(row(r, 60.0, false, 20.0, OnceDaily, Verified));
        rows.push(row(r, 59.9, false, 10.0, OnceDaily, Unverified));
        rows.push(row(r, 30.0, false, 10.0, OnceDaily, Unverified));
        rows.push(row(r, 29.9, false, 5.0, OnceDaily, Unverified));
        rows.push(row(r, 25.0, true, 5.0, OnceDaily, Unverified));
    }
    // Not studied: CrCl < 11 without dialysis, < 7 on dialysis.
    rows.push(Row {
        not_studied: true,
        ..row(MmRd, 10.9, false, 15.0, Every48Hours, Verified)
    });
    rows.push(Row {
        not_studied: true,
        ..row(MmRd, 6.9, true, 5.0, OnceDaily, Unverified)
    });
    rows.push(Row {
        crcl: None,
        ..row(MmRd, 0.0, true, 5.0, OnceDaily, Unverified)
    });

    for r in rows {
        let crcl = r.crcl.map(|c| CrCl::new(c).unwrap());
        let s = renal::starting_dose(
            pack(),
            r.regimen,
            KidneyFunction {
                crcl,
                dialysis: r.dialysis,
            },
        );
        let ctx = format!("{:?} crcl={:?} dialysis={}", r.regimen, r.crcl, r.dialysis);
        assert_eq!(s.schedule.dose_mg.mg(), r.mg, "{ctx}");
        assert_eq!(s.schedule.frequency, r.freq, "{ctx}");
        assert_eq!(s.schedule.after_dialysis, r.after_dialysis, "{ctx}");
        assert_eq!(s.not_studied, r.not_studied, "{ctx}");
        assert_eq!(
            s.provenance.status, r.status,
            "{ctx}: {}",
            s.provenance.rule
        );
        // Renal rows never change the regimen's dosing days.
        assert_eq!(
            s.schedule.days_on,
            pack().regimen(r.regimen).start.days_on,
            "{ctx}"
        );
    }
}

#[test]
fn older_mds_version_is_kept_and_the_newer_one_used() {
    let s = renal::starting_dose(
        pack(),
        RegimenId::MdsDel5q,
        KidneyFunction {
            crcl: Some(CrCl::new(20.0).unwrap()),
            dialysis: false,
        },
    );
    assert_eq!(s.schedule.dose_mg.mg(), 2.5);
    assert_eq!(s.alternatives.len(), 1);
    let (older, prov) = &s.alternatives[0];
    assert_eq!(older.dose_mg.mg(), 5.0);
    assert_eq!(older.frequency, Frequency::Every48Hours);
    assert_eq!(prov.version_date, "2013");
    // The older MDS-only row does not apply to maintenance.
    let m = renal::starting_dose(
        pack(),
        RegimenId::MmMaintenance,
        KidneyFunction {
            crcl: Some(CrCl::new(20.0).unwrap()),
            dialysis: false,
        },
    );
    assert!(m.alternatives.is_empty());
}

fn cg(
    age: f64,
    sex: Sex,
    weight: f64,
    height: Option<f64>,
    scr: f64,
    basis: WeightBasis,
) -> (f64, f64) {
    let (c, w) = renal::cockcroft_gault(
        &pack().renal.cockcroft_gault,
        CgInputs {
            age_years: age,
            sex,
            weight_kg: weight,
            height_cm: height,
            creatinine_mg_dl: scr,
            basis,
        },
    )
    .unwrap();
    (c.ml_min(), w)
}

#[test]
fn cockcroft_gault_by_hand() {
    // (140 - 72) x 68 x 1.23 / (1.55 x 88.4) = 41.51 mL/min
    let (c, w) = cg(72.0, Sex::Male, 68.0, None, 1.55, WeightBasis::Actual);
    assert!((c - 41.509).abs() < 0.01, "{c}");
    assert_eq!(w, 68.0);
    // Women: factor 1.04 instead of 1.23.
    let (f, _) = cg(72.0, Sex::Female, 68.0, None, 1.55, WeightBasis::Actual);
    assert!((f - c * 1.04 / 1.23).abs() < 1e-9);
    // Ideal body weight: 50 + 0.9 x (172 - 152) = 68 kg for a man of 172 cm.
    let (_, ibw) = cg(72.0, Sex::Male, 95.0, Some(172.0), 1.55, WeightBasis::Ideal);
    assert!((ibw - 68.0).abs() < 1e-9);
    // Adjusted: 68 + 0.4 x (95 - 68) = 78.8 kg.
    let (_, adj) = cg(
        72.0,
        Sex::Male,
        95.0,
        Some(172.0),
        1.55,
        WeightBasis::Adjusted,
    );
    assert!((adj - 78.8).abs() < 1e-9);
    // Women: 45.5 + 0.9 x (160 - 152) = 52.7 kg.
    let (_, ibw_f) = cg(
        50.0,
        Sex::Female,
        70.0,
        Some(160.0),
        0.8,
        WeightBasis::Ideal,
    );
    assert!((ibw_f - 52.7).abs() < 1e-9);
}

#[test]
fn ideal_weight_needs_height() {
    let err = renal::cockcroft_gault(
        &pack().renal.cockcroft_gault,
        CgInputs {
            age_years: 60.0,
            sex: Sex::Male,
            weight_kg: 80.0,
            height_cm: None,
            creatinine_mg_dl: 1.0,
            basis: WeightBasis::Ideal,
        },
    )
    .unwrap_err();
    assert_eq!(err.field(), "patient.height_cm");
}

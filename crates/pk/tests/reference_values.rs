//! Reproduces the reference outputs of reference/pk-model.md: §2.3 (Guglieri-López single dose), §3.3 (LEN-R1 table
//! and single dose), §3.2 (healthy subject) and §4.1 (renal-study fold changes).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use lenaguard_pk::{
    Covariates, GUGLIERI_LOPEZ_2017, LEN_R1, Model, ProvenanceStatus, Regimen, Schedule,
    SimOptions, relative_exposure, simulate,
};

/// Relative difference.
fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn single_dose(model: &Model, patient: &Covariates) -> lenaguard_pk::Profile {
    let schedule = Schedule::once_daily(25.0, 1, 0.0).unwrap();
    let options = SimOptions {
        step_h: 0.01,
        horizon_h: Some(24.0),
        ..SimOptions::default()
    };
    simulate(model, patient, &schedule, &options).unwrap()
}

/// AUC from 0 to infinity of a single dose: F·D/CL (linear elimination).
fn auc_inf(p: &lenaguard_pk::Profile) -> f64 {
    25.0 / p.individual.cl_l_h * 1000.0
}

#[test]
fn guglieri_lopez_single_dose_matches_section_2_3() {
    let patient = Covariates::patient(90.0, 70.0)
        .unwrap()
        .with_bsa(1.73)
        .unwrap();
    let p = single_dose(&GUGLIERI_LOPEZ_2017, &patient);
    // Cmax 359 ng/mL at 1.20 h; AUC∞ 1786; t½ 2.82 h; C24 1.41 ng/mL.
    assert!(rel(p.cmax_ng_ml, 359.0) < 0.005, "cmax {}", p.cmax_ng_ml);
    assert!((p.tmax_h - 1.20).abs() < 0.01, "tmax {}", p.tmax_h);
    assert!(rel(auc_inf(&p), 1786.0) < 0.001);
    assert!(rel(p.individual.half_life_h(), 2.82) < 0.005);
    assert!(
        rel(*p.conc_ng_ml.last().unwrap(), 1.41) < 0.01,
        "c24 {}",
        p.conc_ng_ml.last().unwrap()
    );
    assert_eq!(
        GUGLIERI_LOPEZ_2017.provenance.status,
        ProvenanceStatus::ThirdPartyCode
    );
}

#[test]
fn len_r1_single_dose_matches_section_3_3() {
    let p = single_dose(&LEN_R1, &Covariates::patient(90.0, 70.0).unwrap());
    // Cmax 326 ng/mL at 1.10 h, AUC∞ 2085, C24 6.15 ng/mL, t½ 3.98 h.
    assert!(rel(p.cmax_ng_ml, 326.0) < 0.005, "cmax {}", p.cmax_ng_ml);
    assert!((p.tmax_h - 1.10).abs() < 0.01, "tmax {}", p.tmax_h);
    assert!(rel(auc_inf(&p), 2085.0) < 0.001);
    assert!(
        rel(*p.conc_ng_ml.last().unwrap(), 6.15) < 0.01,
        "c24 {}",
        p.conc_ng_ml.last().unwrap()
    );
    assert!(rel(p.individual.half_life_h(), 3.98) < 0.005);
    assert_eq!(p.provenance.status, ProvenanceStatus::Calibrated);
    assert!(p.provenance.note.contains("CALIBRATED, NOT PUBLISHED"));
}

struct Row {
    crcl: Option<f64>,
    regimen: Regimen,
    cl: f64,
    half_life: f64,
    cmax: f64,
    cmin: f64,
    auc24: f64,
    ratio: f64,
}

fn table_3_3() -> Vec<Row> {
    let r = |crcl: Option<f64>, regimen: Regimen, cl, half_life, cmax, cmin, auc24, ratio| Row {
        crcl,
        regimen,
        cl,
        half_life,
        cmax,
        cmin,
        auc24,
        ratio,
    };
    vec![
        r(
            Some(90.0),
            Regimen::once_daily(25.0),
            11.99,
            4.0,
            331.0,
            6.2,
            2085.0,
            1.00,
        ),
        r(
            Some(120.0),
            Regimen::once_daily(25.0),
            13.12,
            3.6,
            326.0,
            4.2,
            1906.0,
            0.91,
        ),
        r(
            Some(65.0),
            Regimen::once_daily(25.0),
            9.65,
            4.9,
            343.0,
            14.1,
            2590.0,
            1.24,
        ),
        r(
            Some(55.0),
            Regimen::once_daily(25.0),
            8.13,
            5.9,
            357.0,
            24.3,
            3074.0,
            1.47,
        ),
        r(
            Some(55.0),
            Regimen::once_daily(10.0),
            8.13,
            5.9,
            143.0,
            9.7,
            1230.0,
            0.59,
        ),
        r(
            Some(40.0),
            Regimen::once_daily(10.0),
            5.46,
            8.7,
            161.0,
            26.6,
            1831.0,
            0.88,
        ),
        r(
            Some(40.0),
            Regimen::once_daily(25.0),
            5.46,
            8.7,
            404.0,
            66.6,
            4578.0,
            2.20,
        ),
        r(
            Some(30.0),
            Regimen::once_daily(10.0),
            3.93,
            12.1,
            187.0,
            51.3,
            2548.0,
            1.22,
        ),
        r(
            Some(23.0),
            Regimen::every_48h(15.0),
            3.20,
            14.9,
            236.0,
            26.9,
            2344.0,
            1.12,
        ),
        r(
            Some(23.0),
            Regimen::once_daily(25.0),
            3.20,
            14.9,
            522.0,
            182.0,
            7815.0,
            3.75,
        ),
        r(
            None,
            Regimen::once_daily(5.0),
            2.60,
            18.3,
            118.0,
            50.3,
            1923.0,
            0.92,
        ),
        r(
            None,
            Regimen::once_daily(25.0),
            2.60,
            18.3,
            592.0,
            252.0,
            9615.0,
            4.61,
        ),
    ]
}

#[test]
fn len_r1_reproduces_the_section_3_3_table() {
    for row in table_3_3() {
        let patient = match row.crcl {
            Some(c) => Covariates::patient(c, 70.0).unwrap(),
            // "ESRD (no dialysis modelled)": only non-renal clearance, no sessions.
            None => Covariates::patient_on_dialysis(70.0).unwrap(),
        };
        let s = relative_exposure(&LEN_R1, &patient, &row.regimen).unwrap();
        let label = format!("CrCl {:?}, {:?}", row.crcl, row.regimen);
        println!(
            "{label}: CL {:.2} t½ {:.1} Cmax {:.0} Cmin {:.1} AUC {:.0} ratio {:.2}",
            s.individual.cl_l_h,
            s.half_life_h,
            s.cmax_ss_ng_ml,
            s.cmin_ss_ng_ml,
            s.auc24_ss_ng_h_ml,
            s.ratio_to_reference
        );
        // The table is printed to 3-4 significant figures; allow rounding plus 1%.
        assert!(
            rel(s.individual.cl_l_h, row.cl) < 0.003,
            "{label}: CL {}",
            s.individual.cl_l_h
        );
        assert!(
            (s.half_life_h - row.half_life).abs() < 0.051 + 0.005 * row.half_life,
            "{label}: t½ {}",
            s.half_life_h
        );
        assert!(
            rel(s.cmax_ss_ng_ml, row.cmax) < 0.01,
            "{label}: Cmax {}",
            s.cmax_ss_ng_ml
        );
        assert!(
            rel(s.cmin_ss_ng_ml, row.cmin) < 0.01 + 0.05 / row.cmin,
            "{label}: Cmin {}",
            s.cmin_ss_ng_ml
        );
        assert!(
            rel(s.auc24_ss_ng_h_ml, row.auc24) < 0.003,
            "{label}: AUC {}",
            s.auc24_ss_ng_h_ml
        );
        assert!(
            (s.ratio_to_reference - row.ratio).abs() < 0.0051,
            "{label}: ratio {}",
            s.ratio_to_reference
        );
    }
}

#[test]
fn crcl_40_ten_mg_is_auc_matched_and_25_mg_is_more_than_double() {
    let patient = Covariates::patient(40.0, 70.0).unwrap();
    let ten = relative_exposure(&LEN_R1, &patient, &Regimen::once_daily(10.0)).unwrap();
    let full = relative_exposure(&LEN_R1, &patient, &Regimen::once_daily(25.0)).unwrap();
    assert!(
        (0.75..=1.25).contains(&ten.ratio_to_reference),
        "10 mg ratio {}",
        ten.ratio_to_reference
    );
    assert!(
        full.ratio_to_reference > 2.0,
        "25 mg ratio {}",
        full.ratio_to_reference
    );
}

#[test]
fn healthy_subject_matches_section_3_2() {
    // Healthy at CrCl 105: CL/F 17.9 L/h, t½ 3.8 h, AUC(25 mg) 1399.
    let healthy = Covariates::patient(105.0, 70.0).unwrap().healthy();
    let ind = LEN_R1.individual(&healthy, false).unwrap();
    assert!(rel(ind.cl_l_h, 17.9) < 0.003, "CL {}", ind.cl_l_h);
    assert!((ind.half_life_h() - 3.8).abs() < 0.05);
    assert!(rel(25.0 / ind.cl_l_h * 1000.0, 1399.0) < 0.002);
}

/// Single-dose AUC of a non-cancer subject in the renal study (healthy factor applies).
fn renal_study_auc(crcl: Option<f64>) -> f64 {
    let cov = match crcl {
        Some(c) => Covariates::patient(c, 70.0).unwrap(),
        None => Covariates::patient_on_dialysis(70.0).unwrap(),
    }
    .healthy();
    25.0 / LEN_R1.individual(&cov, false).unwrap().cl_l_h
}

#[test]
fn renal_study_fold_changes_within_stated_tolerance() {
    // §4.1: group CrCl ranges normal 83-145, mild 57-74, moderate 33-46, severe 17-29; AUC vs pooled normal+mild
    // 2.4× (moderate), 3.4× (severe), 4.6× (ESRD) [C]. §1: LEN-R1 reproduces these within about 15-20%
    // (−14% to +4%), the tolerance used here. The LEN-R1 column of §4.1 gives 2.07 / 3.53 / 4.34 vs pooled and 1.30 / 2.32 / 3.97 / 4.88 vs
    // normal; the group-representative CrCl values behind that column are not stated, so they are solved for here
    // by taking each group's midpoint.
    let mid = |lo: f64, hi: f64| renal_study_auc(Some(0.5 * (lo + hi)));
    let normal = mid(83.0, 145.0);
    let mild = mid(57.0, 74.0);
    let pooled = 0.5 * (normal + mild);
    let moderate = mid(33.0, 46.0) / pooled;
    let severe = mid(17.0, 29.0) / pooled;
    let esrd = renal_study_auc(None) / pooled;
    println!("moderate {moderate:.2} severe {severe:.2} esrd {esrd:.2}");
    for (name, ours, published) in [
        ("moderate", moderate, 2.4),
        ("severe", severe, 3.4),
        ("ESRD", esrd, 4.6),
    ] {
        let err = ours / published - 1.0;
        assert!(
            (-0.15..=0.05).contains(&err),
            "{name}: {ours:.2} vs {published} ({:+.0}%)",
            err * 100.0
        );
    }
}

#[test]
fn fed_absorption_reproduces_the_derived_food_effect() {
    // §3.2: fed option gives Cmax −43% and Tmax +1.7 h (target −50%, +1.63 h [C]); AUC −20% [C] via F = 0.80.
    let patient = Covariates::patient(90.0, 70.0).unwrap();
    let schedule = Schedule::once_daily(25.0, 1, 0.0).unwrap();
    let run = |fed| {
        let o = SimOptions {
            step_h: 0.01,
            horizon_h: Some(24.0),
            fed,
            ..SimOptions::default()
        };
        simulate(&LEN_R1, &patient, &schedule, &o).unwrap()
    };
    let (fasted, fed) = (run(false), run(true));
    let cmax_change = fed.cmax_ng_ml / fasted.cmax_ng_ml - 1.0;
    let tmax_shift = fed.tmax_h - fasted.tmax_h;
    println!("fed: Cmax {cmax_change:+.3}, Tmax {tmax_shift:+.2} h");
    assert!(
        (cmax_change + 0.43).abs() < 0.01,
        "Cmax change {cmax_change}"
    );
    assert!((tmax_shift - 1.7).abs() < 0.05, "Tmax shift {tmax_shift}");
    let auc = |p: &lenaguard_pk::Profile| p.individual.bioavailability * 25.0 / p.individual.cl_l_h;
    assert!((auc(&fed) / auc(&fasted) - 0.80).abs() < 1e-12);
}

//! Public-API behaviour: bad input gives a `PkError` naming field, value and accepted form; outputs serialise;
//! the label renal-dose check and the SVG chart work end to end.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use lenaguard_pk::{
    CheckPopulation, CovariateSource, Covariates, DialysisSession, Dose, GUGLIERI_LOPEZ_2017,
    IndicationGroup, LEN_R1, Model, PkError, PopulationOptions, PopulationSpec, Regimen,
    RenalPoint, Schedule, SimOptions, label_renal_check, relative_exposure, simulate,
    simulate_population, svg_plot,
};

fn field_of(e: &PkError) -> &'static str {
    match e {
        PkError::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn absurd_covariates_are_rejected_with_field_value_and_range() {
    for (crcl, wt, field) in [
        (-1.0, 70.0, "crcl_ml_min"),
        (251.0, 70.0, "crcl_ml_min"),
        (f64::NAN, 70.0, "crcl_ml_min"),
        (60.0, 19.9, "weight_kg"),
        (60.0, 301.0, "weight_kg"),
    ] {
        let e = Covariates::patient(crcl, wt).unwrap_err();
        assert_eq!(field_of(&e), field);
        let text = e.to_string();
        assert!(text.contains(field) && text.contains("expected"), "{text}");
    }
    let e = Covariates::patient(60.0, 70.0)
        .unwrap()
        .with_bsa(9.0)
        .unwrap_err();
    assert_eq!(field_of(&e), "bsa_m2");
    assert!(e.to_string().contains("0.5 to 3.5"));
}

#[test]
fn empty_or_absurd_schedules_are_rejected() {
    assert_eq!(
        field_of(&Schedule::new(vec![], vec![]).unwrap_err()),
        "schedule.doses"
    );
    let bad_dose = Schedule::new(
        vec![Dose {
            time_h: 0.0,
            amount_mg: -5.0,
        }],
        vec![],
    )
    .unwrap_err();
    assert_eq!(field_of(&bad_dose), "dose_mg");
    let bad_time = Schedule::new(
        vec![Dose {
            time_h: f64::INFINITY,
            amount_mg: 5.0,
        }],
        vec![],
    )
    .unwrap_err();
    assert_eq!(field_of(&bad_time), "dose.time_h");
    let overlap = Schedule::new(
        vec![Dose {
            time_h: 0.0,
            amount_mg: 5.0,
        }],
        vec![
            DialysisSession {
                start_h: 1.0,
                duration_h: 4.0,
            },
            DialysisSession {
                start_h: 3.0,
                duration_h: 4.0,
            },
        ],
    )
    .unwrap_err();
    assert_eq!(field_of(&overlap), "dialysis.start_h");
    assert_eq!(
        field_of(&Schedule::cycles(25.0, 29, 28, 1, 0.0).unwrap_err()),
        "days_on"
    );
    assert_eq!(
        field_of(&Schedule::once_daily(25.0, 1, 24.0).unwrap_err()),
        "hour_of_day"
    );
    // Holding every dose leaves an empty schedule.
    let all_held = Schedule::once_daily(10.0, 3, 0.0)
        .unwrap()
        .with_interruption(1, 3)
        .unwrap_err();
    assert_eq!(field_of(&all_held), "schedule.doses");
}

#[test]
fn unknown_model_lists_the_accepted_names() {
    let e = Model::by_name("len-r2").unwrap_err();
    assert_eq!(
        e,
        PkError::UnknownModel {
            value: "len-r2".into(),
            expected: "len-r1, guglieri-lopez-2017".into()
        }
    );
    assert_eq!(Model::by_name(" LEN-R1 ").unwrap().name, "len-r1");
}

#[test]
fn model_limits_are_errors_not_extrapolations() {
    let gl = &GUGLIERI_LOPEZ_2017;
    let s = Schedule::once_daily(25.0, 1, 0.0).unwrap();
    let opts = SimOptions::default();
    let no_bsa = Covariates::patient(90.0, 70.0).unwrap();
    assert_eq!(
        field_of(&simulate(gl, &no_bsa, &s, &opts).unwrap_err()),
        "bsa_m2"
    );
    let tiny = no_bsa.with_bsa(0.9).unwrap();
    assert_eq!(
        field_of(&simulate(gl, &tiny, &s, &opts).unwrap_err()),
        "bsa_m2"
    );
    let with_bsa = no_bsa.with_bsa(1.8).unwrap();
    let fed = SimOptions { fed: true, ..opts };
    assert!(matches!(
        simulate(gl, &with_bsa, &s, &fed),
        Err(PkError::Unsupported {
            feature: "fed = true",
            ..
        })
    ));
    let hd = Covariates::patient_on_dialysis(70.0)
        .unwrap()
        .with_bsa(1.8)
        .unwrap();
    assert!(matches!(
        simulate(gl, &hd, &s, &opts),
        Err(PkError::Unsupported { .. })
    ));
    let bad_step = SimOptions {
        step_h: 0.0,
        ..opts
    };
    assert_eq!(
        field_of(&simulate(&LEN_R1, &no_bsa, &s, &bad_step).unwrap_err()),
        "step_h"
    );
    let bad_regimen = Regimen {
        interval_h: 0.0,
        ..Regimen::once_daily(10.0)
    };
    assert_eq!(
        field_of(&relative_exposure(&LEN_R1, &no_bsa, &bad_regimen).unwrap_err()),
        "regimen.interval_h"
    );
}

#[test]
fn extrapolation_is_flagged() {
    let s = relative_exposure(
        &LEN_R1,
        &Covariates::patient(10.0, 70.0).unwrap(),
        &Regimen::every_48h(15.0),
    )
    .unwrap();
    assert!(
        s.warnings.iter().any(|w| w.contains("outside")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn outputs_serialise_with_provenance() {
    let p = simulate(
        &LEN_R1,
        &Covariates::patient(40.0, 70.0).unwrap(),
        &Schedule::cycles(10.0, 21, 28, 1, 8.0).unwrap(),
        &SimOptions::default(),
    )
    .unwrap();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["provenance"]["status"], "calibrated");
    assert_eq!(json["model"], "len-r1");
    let e = relative_exposure(
        &LEN_R1,
        &Covariates::patient(40.0, 70.0).unwrap(),
        &Regimen::once_daily(10.0),
    )
    .unwrap();
    let json = serde_json::to_value(&e).unwrap();
    assert!(json["ratio_to_reference"].as_f64().unwrap() > 0.8);
    let model = serde_json::to_value(LEN_R1).unwrap();
    assert_eq!(model["clearance"]["crcl50"]["tag"], "[D]");
    assert_eq!(model["volume"]["v_ref"]["tag"], "[3P]");
    let err = serde_json::to_value(Covariates::patient(-3.0, 70.0).unwrap_err()).unwrap();
    assert_eq!(err["kind"], "invalid_input");
    assert_eq!(err["field"], "crcl_ml_min");
}

#[test]
fn dialysis_lowers_exposure_and_the_2_l_h_sensitivity_sits_between() {
    let esrd = Covariates::patient_on_dialysis(70.0).unwrap();
    let none = relative_exposure(&LEN_R1, &esrd, &Regimen::once_daily(5.0)).unwrap();
    let hd = relative_exposure(&LEN_R1, &esrd, &Regimen::daily_after_dialysis(5.0)).unwrap();
    assert!(hd.auc24_ss_ng_h_ml < none.auc24_ss_ng_h_ml);
    // One 4-h session removes 31% of the drug in the body with 7 L/h (pk-model.md §3.2, §4.1).
    let ind = LEN_R1.individual(&esrd, false).unwrap();
    let k = ind.k_el();
    let khd = ind.cl_dialysis_l_h.unwrap() / ind.v_l;
    let removed = khd / (k + khd) * (1.0 - (-(k + khd) * 4.0).exp());
    assert!((removed - 0.31).abs() < 0.01, "{removed}");
    let schedule = Schedule::daily_after_dialysis(5.0, 14, 12.0, &[0, 2, 4], 8.0, 4.0).unwrap();
    let auc = |cl: f64| {
        let o = SimOptions {
            dialysis_clearance_l_h: Some(cl),
            ..SimOptions::default()
        };
        simulate(&LEN_R1, &esrd, &schedule, &o).unwrap().auc_ng_h_ml
    };
    assert!(auc(7.0) < auc(2.0) && auc(2.0) < auc(0.0));
}

#[test]
fn label_check_reports_every_renal_dose() {
    let rows = label_renal_check(&LEN_R1, Some(CheckPopulation { size: 300, seed: 1 })).unwrap();
    assert_eq!(rows.len(), 3 * (3 + 3 + 3 + 1));
    let mm = |point: RenalPoint| {
        rows.iter()
            .find(|r| r.indication == IndicationGroup::MmMcl && r.point == point)
            .unwrap()
    };
    let crcl40 = mm(RenalPoint::CrCl { crcl_ml_min: 40.0 });
    assert!(crcl40.auc_matched && crcl40.label_confirmed);
    assert!((crcl40.ratio_to_normal_dose - 0.88).abs() < 0.01);
    let crcl23 = mm(RenalPoint::CrCl { crcl_ml_min: 23.0 });
    assert!((crcl23.ratio_to_normal_dose - 1.12).abs() < 0.01);
    // pk-model.md §4.2: at CrCl 55 the 10-mg dose gives only 0.59.
    assert!(!mm(RenalPoint::CrCl { crcl_ml_min: 55.0 }).auc_matched);
    let reference = mm(RenalPoint::CrCl { crcl_ml_min: 90.0 });
    assert!((reference.ratio_to_normal_dose - 1.0).abs() < 1e-9);
    let pop = reference.population_ratio.unwrap();
    assert!(pop.p5 < 1.0 && pop.p95 > 1.0 && pop.p5 > 0.4 && pop.p95 < 2.5);
    // Unconfirmed columns are marked.
    assert!(
        rows.iter()
            .filter(|r| r.indication != IndicationGroup::MmMcl)
            .all(|r| !r.label_confirmed)
    );
}

#[test]
fn population_bands_bracket_the_typical_profile() {
    let cov = Covariates::patient(90.0, 70.0).unwrap();
    let spec = PopulationSpec {
        size: 500,
        seed: 11,
        covariates: CovariateSource::Fixed(cov),
        cl_v_correlation: true,
    };
    let schedule = Schedule::once_daily(25.0, 7, 0.0).unwrap();
    let opts = PopulationOptions {
        horizon_h: 7.0 * 24.0,
        window_h: (144.0, 168.0),
        bands: true,
        ..PopulationOptions::default()
    };
    let pop = simulate_population(&LEN_R1, &spec, &schedule, &opts).unwrap();
    let bands = pop.bands.as_ref().unwrap();
    let typical = simulate(
        &LEN_R1,
        &cov,
        &schedule,
        &SimOptions {
            step_h: 1.0,
            horizon_h: Some(168.0),
            ..SimOptions::default()
        },
    )
    .unwrap();
    for (i, c) in typical.conc_ng_ml.iter().enumerate().skip(1) {
        if *c > 1.0 {
            assert!(
                bands.p5_ng_ml[i] <= *c && *c <= bands.p95_ng_ml[i],
                "t={}",
                bands.times_h[i]
            );
        }
    }
    assert!(matches!(
        simulate_population(
            &LEN_R1,
            &PopulationSpec {
                size: 0,
                ..spec.clone()
            },
            &schedule,
            &opts
        ),
        Err(PkError::InvalidInput {
            field: "population.size",
            ..
        })
    ));
}

#[test]
fn svg_chart_has_axes_legend_title_and_escapes_text() {
    let cov = Covariates::patient(40.0, 70.0).unwrap();
    let s = Schedule::cycles(10.0, 21, 28, 1, 8.0).unwrap();
    let a = simulate(&LEN_R1, &cov, &s, &SimOptions::default()).unwrap();
    let b = simulate(
        &LEN_R1,
        &Covariates::patient(90.0, 70.0).unwrap(),
        &Schedule::cycles(25.0, 21, 28, 1, 8.0).unwrap(),
        &SimOptions::default(),
    )
    .unwrap();
    let svg = svg_plot(
        &[("CrCl 40, 10 mg <qd>", &a), ("CrCl 90, 25 mg", &b)],
        "LEN-R1 & label doses",
    );
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert!(svg.contains("CrCl 40, 10 mg &lt;qd&gt;") && svg.contains("LEN-R1 &amp; label doses"));
    assert!(svg.contains("Time (days)") && svg.contains("(ng/mL)"));
    assert_eq!(
        svg,
        svg_plot(
            &[("CrCl 40, 10 mg <qd>", &a), ("CrCl 90, 25 mg", &b)],
            "LEN-R1 & label doses"
        )
    );
    let empty = svg_plot(&[], "nothing");
    assert!(empty.contains("</svg>") && !empty.contains("NaN"));
}

/// The cheap AUC ratio used in every assessment agrees with the full steady-state computation.
#[test]
fn auc_ratio_agrees_with_relative_exposure() {
    use lenaguard_pk::{Covariates, LEN_R1, Regimen, auc_ratio, relative_exposure};
    for (crcl, regimen) in [
        (40.0, Regimen::once_daily(10.0)),
        (90.0, Regimen::once_daily(25.0)),
        (20.0, Regimen::every_48h(15.0)),
        (65.0, Regimen::once_daily(5.0)),
    ] {
        let patient = Covariates::patient(crcl, 70.0).expect("covariates");
        let full = relative_exposure(&LEN_R1, &patient, &regimen).expect("full");
        let (auc, ratio) = auc_ratio(&LEN_R1, &patient, &regimen).expect("cheap");
        assert!(
            (auc / full.auc24_ss_ng_h_ml - 1.0).abs() < 1e-6,
            "CrCl {crcl}: {auc} vs {}",
            full.auc24_ss_ng_h_ml
        );
        assert!(
            (ratio / full.ratio_to_reference - 1.0).abs() < 1e-6,
            "CrCl {crcl}: {ratio} vs {}",
            full.ratio_to_reference
        );
    }
    let dialysis = Covariates::patient_on_dialysis(70.0).expect("covariates");
    let full =
        relative_exposure(&LEN_R1, &dialysis, &Regimen::daily_after_dialysis(5.0)).expect("full");
    let (_, ratio) =
        auc_ratio(&LEN_R1, &dialysis, &Regimen::daily_after_dialysis(5.0)).expect("cheap");
    assert!((ratio / full.ratio_to_reference - 1.0).abs() < 1e-6);
}

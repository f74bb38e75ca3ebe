//! The rule pack: the built-in pack is valid and complete, every label number in it carries a source and a
//! status, and a malformed pack is refused with a message that names the file and the entry.

mod common;
use common::pack;
use lenaguard_domain::pack::{BUILTIN_FILES, PackError, load};
use lenaguard_domain::provenance::Status;

/// Load the built-in pack with one file's text changed.
fn with_edit(file: &str, from: &str, to: &str) -> Result<lenaguard_domain::RulePack, PackError> {
    let files: Vec<(&str, String)> = BUILTIN_FILES
        .iter()
        .map(|(n, t)| {
            if *n == file {
                assert!(t.contains(from), "{file} does not contain {from:?}");
                (*n, t.replacen(from, to, 1))
            } else {
                (*n, t.to_string())
            }
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    load(&borrowed)
}

#[test]
fn the_builtin_pack_is_valid_and_every_rule_has_a_source_and_status() {
    let p = pack();
    let all = p.provenances();
    assert!(all.len() > 60, "{}", all.len());
    for prov in all {
        assert!(
            !prov.document.is_empty() && !prov.section.is_empty(),
            "{}",
            prov.rule
        );
        if prov.status == Status::Unverified {
            assert!(
                prov.note.is_some()
                    || matches!(
                        prov.basis,
                        lenaguard_domain::provenance::Basis::Label
                            | lenaguard_domain::provenance::Basis::Program
                            | lenaguard_domain::provenance::Basis::Policy
                    ),
                "{} is unverified without saying why",
                prov.rule
            );
        }
    }
}

#[test]
fn label_numbers_are_in_the_pack_with_their_status() {
    // label.md §2 and label-verification.md §1: which renal cells are verified.
    let status = |rule: &str| {
        pack()
            .provenances()
            .into_iter()
            .filter(|p| p.rule == rule)
            .map(|p| (p.version_date.clone(), p.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status("renal.mm_mcl.moderate"),
        vec![("2016".into(), Status::Verified)]
    );
    assert_eq!(
        status("renal.mm_mcl.severe"),
        vec![("2016".into(), Status::Verified)]
    );
    assert_eq!(status("renal.mm_mcl.dialysis")[0].1, Status::Unverified);
    assert_eq!(
        status("renal.maintenance_mds.severe").len(),
        2,
        "both versions kept"
    );
    assert_eq!(status("renal.fl_mzl.moderate")[0].1, Status::Unverified);
    // §3: MM table verified, ladder an interpretation; MCL verified; MDS and FL/MZL unverified.
    assert_eq!(
        status("mod.mm_combination.platelets")[0].1,
        Status::Verified
    );
    assert_eq!(status("ladder.mm_combination")[0].1, Status::Unverified);
    assert_eq!(status("floor.mm_combination")[0].1, Status::Verified);
    assert_eq!(status("mod.mcl.anc")[0].1, Status::Verified);
    assert_eq!(status("mod.mds.anc.late")[0].1, Status::Unverified);
    assert_eq!(status("mod.fl_mzl.anc")[0].1, Status::Unverified);
    assert_eq!(status("mod.mm_maintenance.anc")[0].1, Status::Verified);
    assert_eq!(
        status("mod.mm_maintenance.platelets")[0].1,
        Status::Unverified
    );
    assert_eq!(
        status("tox.other_grade_3_4").len(),
        2,
        "current and older wording"
    );
    // §10: every CTCAE term verified.
    for rule in [
        "ctcae.neutrophil_count_decreased",
        "ctcae.platelet_count_decreased",
        "ctcae.white_blood_cell_decreased",
        "ctcae.anemia.g_dl",
        "ctcae.anemia.mmol_l",
        "ctcae.anemia.g_l",
        "ctcae.creatinine_increased",
    ] {
        assert_eq!(status(rule)[0].1, Status::Verified, "{rule}");
    }
    // The numbers themselves.
    let p = pack();
    assert_eq!(
        (p.renal.no_adjustment_at_least, p.renal.moderate_at_least),
        (60.0, 30.0)
    );
    assert_eq!(
        (
            p.renal.not_studied_non_dialysis_below,
            p.renal.not_studied_dialysis_below
        ),
        (11.0, 7.0)
    );
    let thresholds: Vec<(String, Option<f64>, f64)> = p
        .count_rules
        .iter()
        .map(|c| {
            (
                c.provenance.rule.clone(),
                c.interrupt_below,
                c.resume_at_least,
            )
        })
        .collect();
    for (rule, below, resume) in [
        ("mod.mm_combination.platelets", Some(30000.0), 30000.0),
        ("mod.mm_combination.anc", Some(1000.0), 1000.0),
        ("mod.mm_maintenance.anc", Some(500.0), 500.0),
        ("mod.mcl.platelets", Some(50000.0), 50000.0),
        ("mod.mcl.anc", Some(500.0), 1000.0),
        (
            "mod.mds.platelets.early.baseline_high",
            Some(50000.0),
            50000.0,
        ),
        ("mod.mds.platelets.late", Some(30000.0), 30000.0),
        ("mod.mds.anc.early.baseline_high", Some(750.0), 1000.0),
        ("mod.mds.anc.early.baseline_low", Some(500.0), 500.0),
    ] {
        assert!(
            thresholds.contains(&(rule.to_string(), below, resume)),
            "{rule}"
        );
    }
}

#[test]
fn malformed_packs_are_refused_naming_the_entry() {
    let cases = [
        (
            "renal.toml",
            "dose_mg = 10\nfrequency = \"once_daily\"",
            "dose_mg = 12\nfrequency = \"once_daily\"",
            "renal.mm_mcl.moderate",
            "2.5, 5, 10",
        ),
        (
            "renal.toml",
            "frequency = \"every_48_hours\"",
            "frequency = \"every_72_hours\"",
            "renal.mm_mcl.severe",
            "unknown variant",
        ),
        (
            "modifications.toml",
            "interrupt_below = 30000\nresume_at_least = 30000",
            "interrupt_below = 30000\nresume_at_least = 20000",
            "mod.mm_combination.platelets",
            "resume_at_least",
        ),
        (
            "modifications.toml",
            "source = \"GEN-ML\"",
            "source = \"NOPE\"",
            "ladder.mcl",
            "NOPE",
        ),
        (
            "modifications.toml",
            "levels = [{ mg = 25 }, { mg = 20 }",
            "levels = [{ mg = 20 }, { mg = 25 }",
            "ladder.mm_combination",
            "levels must go down",
        ),
        (
            "ctcae.toml",
            "grade_3_below = 1000",
            "grade_3_below = 1600",
            "ctcae.neutrophil_count_decreased",
            "thresholds must fall",
        ),
        (
            "regimens.toml",
            "cycle_days = 21",
            "cycle_days = 10",
            "mm_vrd",
            "outside",
        ),
        (
            "regimens.toml",
            "status = \"verified\"",
            "status = \"maybe\"",
            "population",
            "unknown variant",
        ),
        (
            "toxicity.toml",
            "terms = [\"angioedema\"]",
            "terms = [\"angio\"]",
            "tox.discontinue.angioedema",
            "unknown term",
        ),
        (
            "policy.toml",
            "on_treatment_days = 28",
            "on_treatment_days = 28\ncolour = 1",
            "cbc_max_age",
            "unknown field",
        ),
        (
            "renal.toml",
            "version_date = \"2016\"",
            "version_date = \"20-16\"",
            "renal.mm_mcl.moderate",
            "version_date",
        ),
        (
            "pack.toml",
            "\"policy.toml\"]",
            "]",
            "files",
            "policy.toml is required",
        ),
    ];
    for (file, from, to, entry, needle) in cases {
        let e = with_edit(file, from, to).expect_err(&format!("{file}: {to} should be refused"));
        let text = e.to_string();
        assert!(text.starts_with(file), "{text}");
        assert!(text.contains(entry), "expected entry {entry:?} in {text}");
        assert!(text.contains(needle), "expected {needle:?} in {text}");
    }
}

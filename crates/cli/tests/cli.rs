//! The real `lenaguard` binary, run as a user runs it: answers, JSON, exit codes and error messages.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lenaguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lenaguard"))
        .args(args)
        .current_dir(root())
        .env_remove("LENAGUARD_PACK")
        .output()
        .expect("run lenaguard")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn dose_for_mm_at_crcl_45_is_10_mg_days_1_21_with_its_source() {
    let o = lenaguard(&["dose", "--regimen", "mm_rd", "--crcl", "45"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "Multiple myeloma, with dexamethasone: 10 mg once daily on days 1-21 of 28-day cycles"
        ),
        "{out}"
    );
    assert!(out.contains("[verified] renal.mm_mcl.moderate"), "{out}");
    insta::assert_snapshot!("dose-mm-rd-crcl-45", out);
}

#[test]
fn dose_on_dialysis_gives_the_after_dialysis_instruction() {
    let o = lenaguard(&["dose", "--regimen", "mm_rd", "--crcl", "20", "--dialysis"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("5 mg once daily on days 1-21 of 28-day cycles; on dialysis days give the dose after dialysis"), "{out}");
    assert!(out.contains("[UNVERIFIED] renal.mm_mcl.dialysis"), "{out}");
}

#[test]
fn dose_from_cockcroft_gault_in_json() {
    let o = lenaguard(&[
        "dose",
        "--regimen",
        "mcl",
        "--age",
        "72",
        "--sex",
        "male",
        "--weight",
        "68",
        "--creatinine",
        "137",
        "--creatinine-unit",
        "umol/L",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schedule"]["dose_mg"], 10.0);
    let crcl = v["kidney"]["crcl_ml_min"].as_f64().unwrap();
    assert!((crcl - 41.5).abs() < 0.2, "{crcl}");
    assert_eq!(v["kidney"]["method"], "cockcroft_gault");
}

#[test]
fn bad_input_exits_2_naming_the_field_value_and_accepted_form() {
    for (args, needles) in [
        (
            vec!["dose", "--regimen", "mm", "--crcl", "45"],
            vec!["--regimen", "\"mm\"", "mm_rd"],
        ),
        (
            vec!["dose", "--regimen", "mm_rd", "--crcl", "400"],
            vec!["crcl_ml_min", "400", "0 to 250"],
        ),
        (
            vec![
                "dose",
                "--regimen",
                "mm_rd",
                "--age",
                "60",
                "--sex",
                "male",
                "--weight",
                "700",
                "--creatinine",
                "1",
            ],
            vec!["weight", "700", "20 to 300 kg"],
        ),
        (
            vec![
                "dose",
                "--regimen",
                "mm_rd",
                "--age",
                "60",
                "--sex",
                "male",
                "--weight",
                "70",
                "--creatinine",
                "0",
            ],
            vec!["creatinine", "0.1 to 25 mg/dL"],
        ),
        (
            vec![
                "dose",
                "--regimen",
                "mm_rd",
                "--age",
                "60",
                "--sex",
                "male",
                "--weight",
                "70",
                "--creatinine",
                "1",
                "--creatinine-unit",
                "mmol/L",
            ],
            vec!["unit", "mmol/L", "umol/L"],
        ),
        (vec!["dose", "--regimen", "mm_rd"], vec!["kidney", "--crcl"]),
        (
            vec![
                "assess",
                "--today",
                "2026-13-01",
                "examples/mcl-anc-recovered.json",
            ],
            vec!["--today", "YYYY-MM-DD"],
        ),
        (
            vec!["assess", "no-such-file.json"],
            vec!["no-such-file.json"],
        ),
        (
            vec!["rules", "show", "no.such.rule"],
            vec!["no.such.rule", "rules list"],
        ),
    ] {
        let o = lenaguard(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        let err = stderr(&o);
        for n in needles {
            assert!(err.contains(n), "{args:?}: expected {n:?} in {err}");
        }
    }
}

#[test]
fn assess_reads_a_file_or_stdin_and_answers_in_text_or_json() {
    let o = lenaguard(&[
        "assess",
        "--today",
        "2026-11-26",
        "examples/mm-rd-platelets-low.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ACTION   INTERRUPT"), "{out}");
    assert!(out.contains("mod.mm_combination.platelets"), "{out}");

    let text = std::fs::read(root().join("examples/mcl-anc-recovered.json")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lenaguard"))
        .args(["assess", "-", "--format", "json", "--today", "2026-11-26"])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["action"]["kind"], "resume");
    assert_eq!(v["action"]["schedule"]["dose_mg"], 20.0);
}

#[test]
fn a_snapshot_with_a_future_lab_is_refused() {
    let dir = tempdir();
    let path = dir.join("future.json");
    let text = std::fs::read_to_string(root().join("examples/mcl-anc-recovered.json"))
        .unwrap()
        .replace("2026-11-24", "2026-12-24");
    std::fs::write(&path, text).unwrap();
    let o = lenaguard(&["assess", "--today", "2026-11-26", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("labs[3].date"), "{}", stderr(&o));
}

#[test]
fn rules_list_show_and_check() {
    let o = lenaguard(&["rules", "list", "--unverified"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("ladder.mm_combination"));
    assert!(!out.contains("[verified]"), "only unverified rules: {out}");

    let o = lenaguard(&["rules", "show", "renal.maintenance_mds.severe"]);
    let out = stdout(&o);
    assert!(
        out.contains("(2017)") && out.contains("(2013)"),
        "both versions: {out}"
    );
    assert!(
        out.contains("dose_mg = 2.5") && out.contains("every_48_hours"),
        "{out}"
    );

    let o = lenaguard(&["rules", "check", "rules/us-lenalidomide"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("valid: us-lenalidomide"));

    // A copy with one broken entry is refused, naming the file and the entry.
    let dir = tempdir();
    for entry in std::fs::read_dir(root().join("rules/us-lenalidomide")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let modif = dir.join("modifications.toml");
    let text = std::fs::read_to_string(&modif).unwrap().replacen(
        "interrupt_below = 50000",
        "interrupt_below = 50000\ninterrupt_sometimes = true",
        1,
    );
    std::fs::write(&modif, text).unwrap();
    let o = lenaguard(&["rules", "check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("modifications.toml")
            && err.contains("mod.mcl.platelets")
            && err.contains("interrupt_sometimes"),
        "{err}"
    );
    // The same broken pack is refused for every command, not only `check`.
    let o = lenaguard(&[
        "--pack",
        dir.to_str().unwrap(),
        "dose",
        "--regimen",
        "mm_rd",
        "--crcl",
        "45",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lenaguard-cli-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

#[test]
fn pk_at_crcl_40_shows_10_mg_matches_and_25_mg_doubles_the_normal_exposure() {
    let dir = tempdir();
    let svg = dir.join("pk.svg");
    let o = lenaguard(&[
        "pk",
        "--crcl",
        "40",
        "--dose",
        "10",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("CALIBRATED, NOT PUBLISHED"),
        "provenance: {out}"
    );
    assert!(
        out.contains("10 mg every 24 h") && out.contains("within 25% of the reference"),
        "{out}"
    );
    assert!(
        out.contains("25 mg (unadjusted) every 24 h")
            && out.contains("more than twice the reference"),
        "{out}"
    );
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("CrCl 40, 10 mg"));

    let o = lenaguard(&["pk", "--crcl", "40", "--dose", "10", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r10 = v["dose"]["ratio_to_reference"].as_f64().unwrap();
    let r25 = v["unadjusted_25_mg"]["ratio_to_reference"]
        .as_f64()
        .unwrap();
    assert!((0.75..=1.25).contains(&r10) && r25 > 2.0, "{r10} {r25}");

    let o = lenaguard(&["pk", "--crcl=-4", "--dose", "10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("crcl_ml_min") && stderr(&o).contains("0 to 250"));
    let o = lenaguard(&["pk", "--crcl", "40", "--dose", "10", "--model", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn assess_text_shows_the_program_status_and_the_last_day_to_act() {
    let o = lenaguard(&[
        "assess",
        "--today",
        "2026-11-26",
        "examples/frp-rd-one-test.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ACTION   DEFER"), "{out}");
    assert!(out.contains("NOT eligible (1 step(s) missing)"), "{out}");
    assert!(out.contains("(by 2026-11-28)"), "{out}");
    let o = lenaguard(&[
        "assess",
        "--today",
        "2026-11-26",
        "examples/frp-rd-two-tests.json",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("ACTION   START") && out.contains(": eligible"),
        "{out}"
    );
    assert!(
        out.contains("one obtained today is valid through 2026-12-02"),
        "{out}"
    );
}

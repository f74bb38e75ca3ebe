//! The real binary on the example snapshots of a female who can get pregnant, due to start Rd next week:
//! `check-dispense` says "not eligible" with the missing second test and its latest valid date, then
//! "eligible" with the authorization lapse after both tests; `calendar` prints her first cycle.

use std::path::PathBuf;
use std::process::{Command, Output};

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn lenaguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lenaguard"))
        .args(["--today", "2026-11-26"])
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn one_test_is_not_eligible_and_names_the_second_test_and_its_latest_date() {
    let o = lenaguard(&["check-dispense", &example("frp-rd-one-test.json")]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    assert!(out.contains("NOT ELIGIBLE"), "{out}");
    assert!(out.contains("second negative test"), "{out}");
    // The first test (2026-11-14) is 14 days old on 2026-11-28.
    assert!(out.contains("Latest valid date: 2026-11-28"), "{out}");

    let o = lenaguard(&[
        "--format",
        "json",
        "check-dispense",
        &example("frp-rd-one-test.json"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["eligible"], false);
    assert_eq!(v["missing"][0]["code"], "pregnancy_test.second");
    assert_eq!(v["missing"][0]["latest"], "2026-11-28");
}

#[test]
fn two_tests_are_eligible_with_the_authorization_lapse() {
    let o = lenaguard(&[
        "--format",
        "json",
        "check-dispense",
        &example("frp-rd-two-tests.json"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["eligible"], true);
    assert_eq!(v["missing"].as_array().map(Vec::len), Some(0));
    // Counted from the second test (2026-11-26), 7 days (unverified): valid through 2026-12-02.
    assert_eq!(v["authorization"]["last_valid_day"], "2026-12-02");
    assert_eq!(v["authorization"]["lapses_on"], "2026-12-03");
    let text = stdout(&lenaguard(&[
        "check-dispense",
        &example("frp-rd-two-tests.json"),
    ]));
    assert!(
        text.contains("ELIGIBLE") && text.contains("2026-12-02"),
        "{text}"
    );
}

#[test]
fn calendar_prints_her_first_cycle() {
    let o = lenaguard(&["calendar", &example("frp-rd-two-tests.json")]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    assert!(out.contains("2026-12-03 Thu C1D1"), "{out}");
    assert!(out.contains("C1D21") && out.contains("C1D28"), "{out}");
    assert_eq!(out.matches("Lenalidomide 25 mg").count(), 21, "{out}");
    assert!(out.contains("Pregnancy test"), "{out}");

    let ics = stdout(&lenaguard(&[
        "calendar",
        "--as",
        "ics",
        &example("frp-rd-two-tests.json"),
    ]));
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
    assert_eq!(
        ics.matches("BEGIN:VEVENT").count(),
        ics.matches("END:VEVENT").count()
    );
}

#[test]
fn bad_input_exits_2() {
    let dir = std::env::temp_dir().join(format!("lenaguard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("future-test.json");
    let text = std::fs::read_to_string(example("frp-rd-one-test.json")).unwrap();
    std::fs::write(&path, text.replace("2026-11-14", "2026-12-14")).unwrap();
    let o = lenaguard(&["check-dispense", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("program.pregnancy_tests[0].date"));
    std::fs::remove_dir_all(&dir).ok();
}

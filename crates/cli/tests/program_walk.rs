//! The README's walk, run against the real `lenaguard` binary on a fresh SQLite file: seed the demo, take a female
//! who can get pregnant from her second pregnancy test to a first dispense, see a second dispense on the same
//! authorization refused, and verify the audit chain; then edit one audit row with raw SQL and see
//! `lenaguard audit verify` fail and name that event.

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
}

fn lenaguard(db: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_lenaguard"))
        .args(args)
        .args(["--today", "2026-11-26"])
        .env(
            "LENAGUARD_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .env_remove("LENAGUARD_ACTOR")
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn number(run: &Run) -> String {
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON output");
    v["outcome"]["answer"]["number"]
        .as_str()
        .expect("an issued number")
        .to_string()
}

#[test]
fn the_readme_walk_to_a_first_dispense() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.db");
    let go = |args: &[&str]| lenaguard(&db, args);

    assert_eq!(go(&["demo"]).code, 0);
    let status = go(&[
        "program",
        "--as",
        "dr-ada",
        "status",
        "--patient",
        "pat-frp",
    ]);
    assert_eq!(status.code, 1, "{}", status.stdout);
    assert!(
        status.stdout.contains("[pregnancy_test.second]"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("[survey]"), "{}", status.stdout);

    // Prescribing before the second test and the survey is refused, with both steps named.
    let early = go(&[
        "program",
        "--as",
        "dr-ada",
        "prescribe",
        "--patient",
        "pat-frp",
        "--prescription",
        "rx-frp-0",
        "--dose",
        "25",
        "--days-on",
        "1-21",
        "--cycle",
        "28",
        "--quantity",
        "21",
        "--days-supply",
        "28",
    ]);
    assert_eq!(early.code, 1, "{}", early.stdout);
    assert!(
        early.stdout.contains("REFUSED") && early.stdout.contains("[survey]"),
        "{}",
        early.stdout
    );

    let ok = |args: &[&str]| {
        let r = go(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stdout);
        r
    };
    ok(&[
        "program",
        "--as",
        "dr-ada",
        "pregnancy-test",
        "--patient",
        "pat-frp",
        "--specimen",
        "urine",
        "--sensitivity",
        "25",
        "--result",
        "negative",
    ]);
    ok(&[
        "program",
        "--as",
        "st-cy",
        "survey",
        "--patient",
        "pat-frp",
        "--answer",
        "pregnant_or_possibly_pregnant=no",
        "--answer",
        "using_required_contraception=yes",
        "--answer",
        "donating_blood=no",
    ]);
    ok(&[
        "program",
        "--as",
        "dr-ada",
        "prescribe",
        "--patient",
        "pat-frp",
        "--prescription",
        "rx-frp-1",
        "--dose",
        "25",
        "--days-on",
        "1-21",
        "--cycle",
        "28",
        "--quantity",
        "21",
        "--days-supply",
        "28",
        "--pharmacy",
        "pharm-1",
    ]);
    let auth = number(&ok(&[
        "program",
        "--as",
        "dr-ada",
        "--format",
        "json",
        "authorize",
        "--prescription",
        "rx-frp-1",
    ]));
    let conf = number(&ok(&[
        "program",
        "--as",
        "ph-bo",
        "--format",
        "json",
        "confirm",
        "--authorization",
        &auth,
    ]));
    let dispense = [
        "program",
        "--as",
        "ph-bo",
        "dispense",
        "--authorization",
        &auth,
        "--confirmation",
        &conf,
        "--days-supply",
        "28",
        "--quantity",
        "21",
        "--checklist-completed",
        "--medication-guide-given",
    ];
    let first = ok(&dispense);
    assert!(
        first.stdout.starts_with("ACCEPTED: dispensed"),
        "{}",
        first.stdout
    );

    let second = go(&dispense);
    assert_eq!(second.code, 1, "{}", second.stdout);
    assert!(
        second.stdout.contains("[authorization.used]"),
        "{}",
        second.stdout
    );

    let verify = go(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert!(
        verify.stdout.starts_with("Audit chain intact"),
        "{}",
        verify.stdout
    );

    // Bad input names the flag and the accepted form, exit 2.
    let bad = go(&[
        "program",
        "--as",
        "dr-ada",
        "pregnancy-test",
        "--patient",
        "pat-frp",
        "--specimen",
        "saliva",
        "--sensitivity",
        "25",
        "--result",
        "negative",
    ]);
    assert_eq!(bad.code, 2);

    // Tampering: edit event 4 (the prescriber's registration) behind Lenaguard's back.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let changed = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open the database");
        let done = sqlx::query(
            "UPDATE audit_events SET event = replace(event, 'Dr Ada Byron', 'Dr Eve') WHERE seq = 4",
        )
        .execute(&pool)
        .await
        .expect("raw update");
        pool.close().await;
        done.rows_affected()
    });
    assert_eq!(changed, 1, "the edit must hit a row");
    let tampered = go(&["audit", "verify"]);
    assert_eq!(tampered.code, 1, "{}", tampered.stdout);
    assert!(
        tampered.stdout.contains("BROKEN at event 4") && tampered.stdout.contains("edited"),
        "{}",
        tampered.stdout
    );
}

/// `program measurement` records a weight for the demo's patient on Rd: accepted with its height, a weight no
/// patient has refused (exit 1) naming the field and the range, a flag that is not a number exit 2.
#[test]
fn a_weight_is_recorded_and_an_impossible_one_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.db");
    let go = |args: &[&str]| lenaguard(&db, args);
    assert_eq!(go(&["demo"]).code, 0);
    let weigh = |weight: &str| {
        go(&[
            "program",
            "--as",
            "dr-ada",
            "measurement",
            "--patient",
            "pat-male",
            "--weight-kg",
            weight,
            "--height-cm",
            "178",
        ])
    };
    let ok = weigh("81.5");
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert!(ok.stdout.contains("ACCEPTED"), "{}", ok.stdout);
    let refused = weigh("815");
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("measurement.weight_kg")
            && refused.stdout.contains("from 20 to 300 kg"),
        "{}",
        refused.stdout
    );
    assert_eq!(weigh("heavy").code, 2);
}

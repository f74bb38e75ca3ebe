//! `lenaguard sweep` on the demo database: the first sweep judges every patient; the next night judges only the
//! patients whose file changed or whose day came, and says so; `--full` judges everyone again; a bad page size is
//! refused with the accepted form.

use std::path::Path;
use std::process::Command;

fn lenaguard(db: &Path, today: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lenaguard"))
        .args(["--today", today])
        .args(args)
        .env(
            "LENAGUARD_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .env_remove("LENAGUARD_ACTOR")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(db: &Path, today: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--format", "json", "sweep", "--list", "0"];
    args.extend_from_slice(extra);
    let (code, out, err) = lenaguard(db, today, &args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    v["report"].clone()
}

#[test]
fn the_next_night_judges_only_what_changed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.db");
    let (code, _, err) = lenaguard(&db, "2026-11-26", &["demo"]);
    assert_eq!(code, 0, "{err}");

    let first = report(&db, "2026-11-26", &[]);
    let patients = first["patients"].as_u64().expect("patients");
    assert!(patients > 0, "{first}");
    assert_eq!(first["full"], true, "{first}");
    assert_eq!(first["judged"].as_u64(), Some(patients), "{first}");

    let next = report(&db, "2026-11-27", &[]);
    assert_eq!(next["full"], false, "{next}");
    assert!(
        next["judged"].as_u64().expect("judged") < patients,
        "{next}"
    );
    let (code, text, err) = lenaguard(&db, "2026-11-27", &["sweep", "--list", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("judged (the others' answers still hold)"),
        "{text}"
    );

    let full = report(&db, "2026-11-27", &["--full"]);
    assert_eq!(full["full"], true, "{full}");
    assert_eq!(full["judged"].as_u64(), Some(patients), "{full}");
    assert_eq!(full["tasks"], next["tasks"], "{full} against {next}");

    let (code, _, err) = lenaguard(&db, "2026-11-27", &["sweep", "--page", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--page") && err.contains("expected at least 1"),
        "{err}"
    );
}

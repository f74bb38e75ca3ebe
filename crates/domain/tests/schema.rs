//! The JSON contract: the committed schemas in docs/schema match the types, every example snapshot validates
//! against the snapshot schema, every assessment against the assessment schema, and the assessments of the
//! examples are pinned as snapshots (review changes with `cargo insta review`).
//! Regenerate the schemas with `UPDATE_SCHEMAS=1 cargo nextest run -p lenaguard-domain --test schema`.

mod common;
use common::{pack, today};
use lenaguard_domain::quick::DoseAnswer;
use lenaguard_domain::{Assessment, Snapshot, assess};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema_text<T: schemars::JsonSchema>() -> String {
    let schema = schemars::schema_for!(T);
    serde_json::to_string_pretty(&schema).unwrap() + "\n"
}

#[test]
fn committed_schemas_match_the_types() {
    for (name, text) in [
        ("snapshot.schema.json", schema_text::<Snapshot>()),
        ("assessment.schema.json", schema_text::<Assessment>()),
        ("dose-answer.schema.json", schema_text::<DoseAnswer>()),
    ] {
        let path = root().join("docs/schema").join(name);
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is out of date: run UPDATE_SCHEMAS=1 cargo nextest run -p lenaguard-domain --test schema",
            path.display()
        );
    }
}

fn examples() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            out.push((name, serde_json::from_str(&text).unwrap()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 3);
    out
}

#[test]
fn examples_and_their_assessments_follow_the_schemas() {
    let snapshot_schema: serde_json::Value =
        serde_json::from_str(&schema_text::<Snapshot>()).unwrap();
    let assessment_schema: serde_json::Value =
        serde_json::from_str(&schema_text::<Assessment>()).unwrap();
    let snapshots = jsonschema::validator_for(&snapshot_schema).unwrap();
    let assessments = jsonschema::validator_for(&assessment_schema).unwrap();
    for (name, value) in examples() {
        if let Err(e) = snapshots.validate(&value) {
            panic!("examples/{name}.json does not follow the snapshot schema: {e}");
        }
        let snap: Snapshot = serde_json::from_value(value).unwrap();
        let a = assess(&snap, pack(), today()).unwrap();
        let out = serde_json::to_value(&a).unwrap();
        if let Err(e) = assessments.validate(&out) {
            panic!("the assessment of {name} does not follow the assessment schema: {e}");
        }
        insta::assert_json_snapshot!(format!("assessment-{name}"), out);
    }
    // The schema is not a rubber stamp: a snapshot without a regimen fails it.
    let mut bad = examples()[0].1.clone();
    bad.as_object_mut().unwrap().remove("regimen");
    assert!(snapshots.validate(&bad).is_err());
}

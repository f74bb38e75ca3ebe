//! Bad input (issue 6): malformed FHIR, missing prefetch keys, units the mapping does not know, a draft order for
//! another drug. Each gives a clear error naming the FHIR path, or no card with a note: never a panic, never a
//! card that guesses.

use jiff::civil::date;
use lenaguard_domain::{RulePack, assess};
use lenaguard_interop::cds::{
    CardContext, CdsRequest, card_for, prefetch_bundle, services::REQUIRED_PREFETCH,
};
use lenaguard_interop::fhir::{Bundle, Resource};
use lenaguard_interop::{ImportOptions, InteropError, fhir_to_snapshot};
use serde_json::{Value, json};
use std::path::PathBuf;

fn fixture(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn import(bundle: &Value) -> Result<(), InteropError> {
    let pack = RulePack::builtin().unwrap();
    let b = Bundle::from_value(bundle.clone(), "Bundle")?;
    let options = ImportOptions {
        dialysis: Some(false),
        ..ImportOptions::new(&pack)
    };
    fhir_to_snapshot(&b, &options).map(|_| ())
}

fn with_resource(id: &str, edit: impl Fn(&mut Value)) -> Value {
    let mut b = fixture("patient-crcl40-bundle.json");
    for e in b["entry"].as_array_mut().unwrap() {
        if e["resource"]["id"] == id {
            edit(&mut e["resource"]);
        }
    }
    b
}

#[test]
fn the_fixture_imports() {
    let pack = RulePack::builtin().unwrap();
    let b = Bundle::from_value(fixture("patient-crcl40-bundle.json"), "Bundle").unwrap();
    // Multiple myeloma alone fits three regimens; without an order the caller must name one.
    let err = fhir_to_snapshot(&b, &ImportOptions::new(&pack)).unwrap_err();
    assert!(matches!(err, InteropError::Ambiguous { .. }), "{err}");
}

#[test]
fn a_unit_the_mapping_does_not_know_is_refused_with_its_path() {
    let b = with_resource("obs-plt", |r| {
        r["valueQuantity"] = json!({"value": 182, "unit": "K/uL", "system": "http://unitsofmeasure.org", "code": "K/uL"});
    });
    let err = import(&b).unwrap_err();
    assert_eq!(
        err.path(),
        "Observation/obs-plt.valueQuantity.code",
        "{err}"
    );
    assert!(err.to_string().contains("10*3/uL"), "{err}");
    // A creatinine in the other LOINC code's unit is as wrong as an unknown one.
    let b = with_resource("obs-creat", |r| {
        r["valueQuantity"] = json!({"value": 141, "unit": "umol/L", "system": "http://unitsofmeasure.org", "code": "umol/L"});
    });
    assert_eq!(
        import(&b).unwrap_err().path(),
        "Observation/obs-creat.valueQuantity.code"
    );
    // A unit without system or code is read only when it is itself a code of the table.
    let b = with_resource("obs-anc", |r| {
        r["valueQuantity"] = json!({"value": 2.4, "unit": "K/mcL"});
    });
    assert_eq!(
        import(&b).unwrap_err().path(),
        "Observation/obs-anc.valueQuantity.unit"
    );
}

#[test]
fn missing_data_names_the_fhir_path() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with_resource("obs-anc", |r| {
                r.as_object_mut().unwrap().remove("valueQuantity");
            }),
            "Observation/obs-anc.valueQuantity",
        ),
        (
            with_resource("obs-anc", |r| {
                r.as_object_mut().unwrap().remove("effectiveDateTime");
            }),
            "Observation/obs-anc.effectiveDateTime",
        ),
        (
            with_resource("pt-1001", |r| r["birthDate"] = json!("1954")),
            "Patient/pt-1001.birthDate",
        ),
        (
            with_resource("pt-1001", |r| r["gender"] = json!("unknown")),
            "Patient/pt-1001.gender",
        ),
        (
            with_resource("obs-plt", |r| {
                r["subject"] = json!({"reference": "Patient/someone-else"})
            }),
            "Observation/obs-plt.subject.reference",
        ),
    ];
    for (bundle, path) in cases {
        let err = import(&bundle).unwrap_err();
        assert_eq!(err.path(), path, "{err}");
        let oo = err.to_operation_outcome();
        assert_eq!(oo.issue[0].expression, [path]);
    }
}

#[test]
fn malformed_fhir_is_an_error_never_a_panic() {
    let b = with_resource("obs-hgb", |r| r["valueQuantity"]["value"] = json!("ten"));
    let err = import(&b).unwrap_err();
    assert!(matches!(err, InteropError::Malformed { .. }), "{err}");
    assert!(err.path().contains("Observation/obs-hgb"), "{err}");
    assert!(Bundle::from_json("{not json").is_err());
    assert!(Bundle::from_json(r#"{"resourceType": "Patient"}"#).is_err());
    assert!(
        Bundle::from_json(r#"{"resourceType": "Bundle", "type": "collection", "entry": {}}"#)
            .is_err()
    );
    assert!(
        Bundle::from_json(
            r#"{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": 3}]}"#
        )
        .is_err()
    );
    // Every prefix of a realistic request is refused cleanly, never with a panic.
    let text = fixture("order-sign-crcl40.json").to_string();
    for cut in (0..text.len()).step_by(97) {
        if let Some(prefix) = text.get(..cut) {
            assert!(CdsRequest::from_json(prefix).is_err());
        }
    }
}

fn request() -> Value {
    fixture("order-sign-crcl40.json")
}

#[test]
fn missing_prefetch_keys_are_all_named_for_a_412() {
    let mut r = request();
    let p = r["prefetch"].as_object_mut().unwrap();
    p.remove("labs");
    p.remove("conditions");
    let req: CdsRequest = serde_json::from_value(r).unwrap();
    let err = prefetch_bundle(&req, &REQUIRED_PREFETCH).unwrap_err();
    assert_eq!(err.http_status(), 412);
    let oo = err.to_operation_outcome();
    assert_eq!(oo.issue[0].code, "incomplete");
    assert_eq!(
        oo.issue[0].expression,
        ["prefetch.labs", "prefetch.conditions"]
    );
    // A null patient (not found) is missing data, not an empty result.
    let mut r = request();
    r["prefetch"]["patient"] = Value::Null;
    let req: CdsRequest = serde_json::from_value(r).unwrap();
    assert_eq!(
        prefetch_bundle(&req, &REQUIRED_PREFETCH)
            .unwrap_err()
            .path(),
        "prefetch.patient"
    );
    // A patient other than the context's is refused.
    let mut r = request();
    r["context"]["patientId"] = json!("pt-2");
    let req: CdsRequest = serde_json::from_value(r).unwrap();
    assert_eq!(
        prefetch_bundle(&req, &REQUIRED_PREFETCH)
            .unwrap_err()
            .path(),
        "prefetch.patient.id"
    );
}

fn card_for_draft(edit: impl Fn(&mut Value)) -> lenaguard_interop::cds::CardOutcome {
    let pack = RulePack::builtin().unwrap();
    let r = request();
    let req: CdsRequest = serde_json::from_value(r.clone()).unwrap();
    let mut draft_json = r["context"]["draftOrders"]["entry"][0]["resource"].clone();
    let bundle = prefetch_bundle(&req, &REQUIRED_PREFETCH).unwrap();
    let original = match Resource::from_value(draft_json.clone(), "draft").unwrap() {
        Resource::MedicationRequest(m) => m,
        _ => unreachable!(),
    };
    let options = ImportOptions {
        proposed: Some(&original),
        dialysis: Some(false),
        ..ImportOptions::new(&pack)
    };
    let (snapshot, notes) = fhir_to_snapshot(&bundle, &options).unwrap();
    let assessment = assess(&snapshot, &pack, date(2026, 11, 26)).unwrap();
    edit(&mut draft_json);
    let Resource::MedicationRequest(draft) = Resource::from_value(draft_json, "draft").unwrap()
    else {
        unreachable!()
    };
    let ctx = CardContext {
        hook_instance: "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        service_base: "https://lenaguard.example.org",
        app_url: None,
        notes: &notes,
    };
    card_for(&assessment, &draft, &ctx)
}

#[test]
fn a_draft_for_another_drug_gets_no_card_and_a_note() {
    let out = card_for_draft(|d| {
        d["medicationCodeableConcept"] = json!({
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11289", "display": "warfarin"}],
            "text": "warfarin 5 mg tablet"
        });
    });
    assert!(out.card.is_none());
    assert!(out.notes[0].contains("warfarin"), "{:?}", out.notes);
}

#[test]
fn a_code_and_a_name_that_disagree_get_no_card() {
    let out = card_for_draft(|d| {
        d["medicationCodeableConcept"] = json!({
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11289"}],
            "text": "lenalidomide 25 mg"
        });
    });
    assert!(out.card.is_none());
    assert!(out.notes[0].contains("ambiguous"), "{:?}", out.notes);
}

#[test]
fn a_lenalidomide_draft_matched_by_name_is_checked() {
    let out = card_for_draft(|d| {
        d["medicationCodeableConcept"] = json!({"text": "Revlimid 25 mg capsules"});
    });
    let card = out.card.expect("card");
    assert!(card.summary.contains("10 mg"), "{}", card.summary);
}

#[test]
fn an_unreadable_dose_is_said_not_guessed() {
    let out = card_for_draft(|d| {
        d["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] =
            json!({"value": 25, "unit": "tablet"});
    });
    let card = out.card.expect("a card about the unreadable draft");
    assert!(
        card.suggestions.is_empty(),
        "no suggestion built on a guess"
    );
    assert!(
        card.summary.contains("could not be read"),
        "{}",
        card.summary
    );
    assert!(card.detail.unwrap().contains("doseQuantity"));
    // A dose that is not a capsule strength is refused the same way.
    let out = card_for_draft(|d| {
        d["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = json!(12);
    });
    assert!(out.card.unwrap().suggestions.is_empty());
}

#[test]
fn a_positive_pregnancy_result_in_the_ehr_makes_the_card_critical() {
    let pack = RulePack::builtin().unwrap();
    let mut b = fixture("patient-crcl40-bundle.json");
    b["entry"].as_array_mut().unwrap().push(json!({"resource": {
        "resourceType": "Observation", "id": "obs-hcg", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2106-3"}]},
        "subject": {"reference": "Patient/pt-1001"},
        "effectiveDateTime": "2026-11-25",
        "valueCodeableConcept": {"text": "Positive"}
    }}));
    let bundle = Bundle::from_value(b, "Bundle").unwrap();
    let options = ImportOptions {
        regimen: Some(lenaguard_domain::regimen::RegimenId::MmRd),
        dialysis: Some(false),
        ..ImportOptions::new(&pack)
    };
    let (snapshot, notes) = fhir_to_snapshot(&bundle, &options).unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.kind == lenaguard_interop::NoteKind::Alert)
    );
    let assessment = assess(&snapshot, &pack, date(2026, 11, 26)).unwrap();
    let r = request();
    let Resource::MedicationRequest(draft) = Resource::from_value(
        r["context"]["draftOrders"]["entry"][0]["resource"].clone(),
        "d",
    )
    .unwrap() else {
        unreachable!()
    };
    let ctx = CardContext {
        hook_instance: "x",
        service_base: "https://lenaguard.example.org",
        app_url: Some("javascript:alert(1)"),
        notes: &notes,
    };
    let card = card_for(&assessment, &draft, &ctx).card.unwrap();
    assert_eq!(card.indicator, lenaguard_interop::cds::Indicator::Critical);
    assert!(card.summary.contains("POSITIVE"), "{}", card.summary);
    assert!(card.summary.chars().count() < 140);
    assert!(card.links.is_empty(), "only absolute http(s) links");
}

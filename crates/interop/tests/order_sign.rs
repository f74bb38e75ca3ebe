//! The order-sign story of issue 6: a patient whose CrCl is about 40 mL/min and a draft order for 25 mg on days
//! 1-21 of 28 get one warning card suggesting 10 mg with the label source, and the suggestion is a valid
//! MedicationRequest with the same id. Every resource emitted here is also written out for the independent
//! validator (tools/fhir/validate.py) when LENAGUARD_FHIR_VALIDATE=1.

use jiff::civil::date;
use lenaguard_domain::{Assessment, RulePack, Snapshot, assess};
use lenaguard_interop::cds::{
    ActionType, Card, CardContext, CdsRequest, CdsResponse, Indicator, card_for, discovery,
    prefetch_bundle, services::REQUIRED_PREFETCH,
};
use lenaguard_interop::emit::{IssueContext, detected_issues};
use lenaguard_interop::fhir::{Bundle, MedicationRequest, Reference, Resource};
use lenaguard_interop::{ImportNote, ImportOptions, InteropError, fhir_to_snapshot};
use serde_json::Value;
use std::path::PathBuf;

const BASE: &str = "https://lenaguard.example.org";

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn pack() -> RulePack {
    RulePack::builtin().expect("built-in pack")
}

struct Story {
    request: CdsRequest,
    draft: MedicationRequest,
    snapshot: Snapshot,
    notes: Vec<ImportNote>,
    assessment: Assessment,
}

fn story(request_json: &str) -> Result<Story, InteropError> {
    let pack = pack();
    let request = CdsRequest::from_json(request_json)?;
    let drafts = request.draft_orders()?.expect("draftOrders");
    let draft = drafts
        .resources()
        .find_map(|r| match r {
            Resource::MedicationRequest(m) => Some(m.clone()),
            _ => None,
        })
        .expect("a draft MedicationRequest");
    let bundle = prefetch_bundle(&request, &REQUIRED_PREFETCH)?;
    let options = ImportOptions {
        proposed: Some(&draft),
        dialysis: Some(false),
        ..ImportOptions::new(&pack)
    };
    let (snapshot, notes) = fhir_to_snapshot(&bundle, &options)?;
    let assessment = assess(&snapshot, &pack, date(2026, 11, 26))?;
    Ok(Story {
        request,
        draft,
        snapshot,
        notes,
        assessment,
    })
}

fn card(s: &Story) -> Option<Card> {
    let ctx = CardContext {
        hook_instance: &s.request.hook_instance,
        service_base: BASE,
        app_url: Some("https://lenaguard.example.org/app/patients/pt-1001"),
        notes: &s.notes,
    };
    let out = card_for(&s.assessment, &s.draft, &ctx);
    assert!(
        out.card.is_some() || !out.notes.is_empty(),
        "no card and no reason"
    );
    out.card
}

/// Walk a JSON value and refuse what the spec forbids: nulls and empty strings, arrays or objects (§1.1).
fn assert_no_empty(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("{path}: null"),
        Value::String(s) => assert!(!s.is_empty(), "{path}: empty string"),
        Value::Array(a) => {
            assert!(!a.is_empty(), "{path}: empty array");
            for (i, x) in a.iter().enumerate() {
                assert_no_empty(x, &format!("{path}[{i}]"));
            }
        }
        Value::Object(o) => {
            assert!(!o.is_empty(), "{path}: empty object");
            for (k, x) in o {
                assert_no_empty(x, &format!("{path}.{k}"));
            }
        }
        _ => {}
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} missing or not a string in {v}"))
}

/// The card's required fields and conditional rules (standards.md §1.5).
pub fn assert_card_conforms(card: &Value) {
    assert_no_empty(card, "card");
    let summary = str_at(card, "summary");
    assert!(summary.chars().count() < 140, "summary too long: {summary}");
    assert!(matches!(
        str_at(card, "indicator"),
        "info" | "warning" | "critical"
    ));
    let source = card.get("source").expect("source");
    str_at(source, "label");
    if let Some(topic) = source.get("topic") {
        str_at(topic, "code");
        str_at(topic, "system");
    }
    if let Some(suggestions) = card.get("suggestions").and_then(Value::as_array) {
        assert!(
            matches!(str_at(card, "selectionBehavior"), "at-most-one" | "any"),
            "selectionBehavior is required with suggestions"
        );
        for s in suggestions {
            str_at(s, "label");
            for a in s
                .get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                str_at(a, "description");
                match str_at(a, "type") {
                    "create" | "update" => {
                        assert!(a.get("resource").is_some_and(Value::is_object), "resource")
                    }
                    "delete" => {
                        str_at(a, "resourceId");
                    }
                    other => panic!("action type {other}"),
                }
            }
        }
    }
    for r in card
        .get("overrideReasons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        str_at(r, "code");
        str_at(r, "system");
        str_at(r, "display");
    }
    for l in card
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        str_at(l, "label");
        assert!(str_at(l, "url").starts_with("http"), "absolute url");
        assert!(matches!(str_at(l, "type"), "absolute" | "smart"));
    }
}

#[test]
fn crcl_40_and_25_mg_gives_one_warning_card_suggesting_10_mg() {
    let s = story(&fixture("order-sign-crcl40.json")).expect("story");
    let crcl = s.assessment.kidney.crcl_ml_min.expect("CrCl");
    assert!((38.0..=42.0).contains(&crcl), "CrCl {crcl}");
    let card = card(&s).expect("a card");
    let response = CdsResponse {
        cards: vec![card.clone()],
        system_actions: Vec::new(),
    };
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["cards"].as_array().map(Vec::len), Some(1));
    let c = &json["cards"][0];
    assert_card_conforms(c);
    assert_eq!(card.indicator, Indicator::Warning, "{}", card.summary);
    assert!(card.summary.contains("10 mg"), "{}", card.summary);
    assert!(card.summary.contains("25 mg"), "{}", card.summary);
    assert!(
        card.source.label.contains("Renal dose adjustments"),
        "{}",
        card.source.label
    );
    assert_eq!(card.suggestions.len(), 1);
    let action = &card.suggestions[0].actions[0];
    assert_eq!(action.type_, ActionType::Update);
    let Some(Resource::MedicationRequest(fixed)) = &action.resource else {
        panic!("update of a MedicationRequest")
    };
    assert_eq!(fixed.id.as_deref(), Some("mr-len-c1"));
    assert_eq!(fixed.status, "draft");
    let dose = fixed.dosage_instruction[0].dose_and_rate[0]
        .dose_quantity
        .as_ref()
        .unwrap();
    assert_eq!((dose.value, dose.code.as_deref()), (Some(10.0), Some("mg")));
    // The 25 mg capsule code follows the dose: 602910 is the 10 mg capsule (label-verification.md §9).
    let codes: Vec<_> = fixed
        .medication_codeable_concept
        .as_ref()
        .unwrap()
        .codes_in(lenaguard_interop::codes::RXNORM)
        .collect();
    assert_eq!(codes, ["602910"]);
    // Everything the engine did not change is kept: the EHR extension, requester, reason, group.
    assert_eq!(fixed.extension, s.draft.extension);
    assert_eq!(fixed.requester, s.draft.requester);
    assert_eq!(fixed.group_identifier, s.draft.group_identifier);
    // Applying the suggestion and asking again gives no card about the dose.
    let resolved =
        lenaguard_interop::order::read(fixed, &lenaguard_interop::order::identify(fixed).unwrap())
            .unwrap();
    assert_eq!(Some(&resolved.schedule), s.assessment.action.dose());
    write_for_validation(
        "order-sign-suggestion.json",
        &Resource::MedicationRequest(fixed.clone()),
    );
    insta::assert_json_snapshot!("order_sign_crcl40_card", c);
}

#[test]
fn the_applied_suggestion_gets_no_dose_card() {
    let s = story(&fixture("order-sign-crcl40.json")).expect("story");
    let c = card(&s).expect("card");
    let Some(Resource::MedicationRequest(fixed)) = c.suggestions[0].actions[0].resource.clone()
    else {
        panic!()
    };
    let ctx = CardContext {
        hook_instance: "another-call",
        service_base: BASE,
        app_url: None,
        notes: &s.notes,
    };
    let again = card_for(&s.assessment, &fixed, &ctx);
    match again.card {
        None => assert!(again.notes[0].contains("matches"), "{:?}", again.notes),
        // Warnings unrelated to the dose may remain; the dose suggestion must not.
        Some(card) => assert!(card.suggestions.is_empty(), "{card:?}"),
    }
}

#[test]
fn the_import_reads_labs_by_loinc_and_says_what_it_skipped() {
    let s = story(&fixture("order-sign-crcl40.json")).expect("story");
    assert_eq!(
        s.snapshot.regimen,
        lenaguard_domain::regimen::RegimenId::MmRd
    );
    assert_eq!(s.snapshot.patient.weight_kg, Some(68.0));
    assert_eq!(s.snapshot.labs.len(), 5);
    assert_eq!(s.snapshot.medications.len(), 1);
    assert!(
        s.notes
            .iter()
            .any(|n| n.path == "Observation/obs-local-panel.code"),
        "{:?}",
        s.notes
    );
    assert!(s.notes.iter().any(|n| n.message.contains("regimen mm_rd")));
    insta::assert_json_snapshot!("order_sign_crcl40_notes", s.notes);
}

#[test]
fn cli_bundle_and_cds_prefetch_give_the_same_snapshot() {
    let pack = pack();
    let bundle = Bundle::from_json(&fixture("patient-crcl40-bundle.json")).unwrap();
    let s = story(&fixture("order-sign-crcl40.json")).expect("story");
    let options = ImportOptions {
        regimen: Some(lenaguard_domain::regimen::RegimenId::MmRd),
        dialysis: Some(false),
        ..ImportOptions::new(&pack)
    };
    let (snapshot, _) = fhir_to_snapshot(&bundle, &options).unwrap();
    assert_eq!(snapshot, s.snapshot);
}

#[test]
fn bundles_round_trip_with_extensions_kept() {
    let text = fixture("patient-crcl40-bundle.json");
    let original: Value = serde_json::from_str(&text).unwrap();
    let bundle = Bundle::from_json(&text).unwrap();
    let back = serde_json::to_value(&bundle).unwrap();
    assert_eq!(normalise(&back), normalise(&original));
    let request: Value = serde_json::from_str(&fixture("order-sign-crcl40.json")).unwrap();
    let parsed = CdsRequest::from_json(&request.to_string()).unwrap();
    let draft = parsed.draft_orders().unwrap().unwrap();
    assert_eq!(
        normalise(&serde_json::to_value(&draft).unwrap()),
        normalise(&request["context"]["draftOrders"])
    );
}

/// Integers and decimals compare by value (the Rust side writes 68 as 68.0).
fn normalise(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), normalise(x))).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn detected_issues_and_operation_outcomes_are_emitted() {
    let s = story(&fixture("order-sign-crcl40.json")).expect("story");
    let ctx = IssueContext {
        patient: Reference::to("Patient/pt-1001"),
        implicated: Some(Reference::to("MedicationRequest/mr-len-c1")),
        evidence: vec![Reference::to("Observation/obs-creat")],
        code_system: format!("{BASE}/finding"),
        include_warnings: true,
    };
    let issues = detected_issues(&s.assessment, &ctx);
    assert!(!issues.is_empty());
    assert!(
        issues
            .iter()
            .all(|i| i.severity.as_deref() == Some("moderate"))
    );
    assert!(issues.iter().any(|i| i.code.as_ref().and_then(|c| c.text.as_deref()) == Some("renal.starting_dose")));
    for (i, issue) in issues.iter().enumerate() {
        write_for_validation(
            &format!("detected-issue-{i}.json"),
            &Resource::DetectedIssue(issue.clone()),
        );
    }
    let strict = IssueContext {
        include_warnings: false,
        ..ctx
    };
    assert!(
        detected_issues(&s.assessment, &strict).is_empty(),
        "no blocking or critical finding here"
    );

    let err = InteropError::invalid(
        "Observation/obs-3.valueQuantity.code",
        "K/uL",
        "10*3/uL or 10*9/L",
    );
    let oo = err.to_operation_outcome();
    assert_eq!(
        oo.issue[0].expression,
        ["Observation/obs-3.valueQuantity.code"]
    );
    write_for_validation("operation-outcome.json", &Resource::OperationOutcome(oo));
    let missing = InteropError::MissingPrefetch {
        keys: vec!["labs".into(), "conditions".into()],
    };
    assert_eq!(missing.http_status(), 412);
    write_for_validation(
        "operation-outcome-412.json",
        &Resource::OperationOutcome(missing.to_operation_outcome()),
    );
}

#[test]
fn discovery_lists_the_hooks_with_prefetch_by_loinc() {
    let d = serde_json::to_value(discovery()).unwrap();
    assert_no_empty(&d, "discovery");
    let services = d["services"].as_array().unwrap();
    let hooks: Vec<&str> = services.iter().map(|s| str_at(s, "hook")).collect();
    assert_eq!(hooks, ["order-sign", "order-select", "patient-view"]);
    for s in services {
        str_at(s, "id");
        str_at(s, "description");
        let labs = str_at(&s["prefetch"], "labs");
        assert!(
            labs.contains("{{context.patientId}}") && labs.contains("http://loinc.org|751-8"),
            "{labs}"
        );
    }
    insta::assert_json_snapshot!("discovery", d);
}

fn validation_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lenaguard-fhir-emitted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_for_validation(name: &str, r: &Resource) {
    let text = serde_json::to_string_pretty(r).unwrap();
    std::fs::write(validation_dir().join(name), text).unwrap();
}

/// Runs the independent validator over everything this test binary emits; CI sets LENAGUARD_FHIR_VALIDATE=1
/// after installing the pinned fhir.resources (see the crate README).
#[test]
fn emitted_resources_pass_the_independent_validator() {
    if std::env::var("LENAGUARD_FHIR_VALIDATE").as_deref() != Ok("1") {
        eprintln!("skipped: set LENAGUARD_FHIR_VALIDATE=1 with fhir.resources 6.4.0 installed");
        return;
    }
    // Emit everything here too, so the check does not depend on the order tests run in.
    let s = story(&fixture("order-sign-crcl40.json")).expect("story");
    let c = card(&s).expect("card");
    for (i, sug) in c.suggestions.iter().enumerate() {
        for (j, a) in sug.actions.iter().enumerate() {
            if let Some(r) = &a.resource {
                write_for_validation(&format!("suggestion-{i}-{j}.json"), r);
            }
        }
    }
    let ctx = IssueContext {
        patient: Reference::to("Patient/pt-1001"),
        implicated: Some(Reference::to("MedicationRequest/mr-len-c1")),
        evidence: Vec::new(),
        code_system: format!("{BASE}/finding"),
        include_warnings: true,
    };
    for (i, issue) in detected_issues(&s.assessment, &ctx).into_iter().enumerate() {
        write_for_validation(&format!("issue-{i}.json"), &Resource::DetectedIssue(issue));
    }
    let err = InteropError::missing("Patient/pt-1001.birthDate", "the birth date YYYY-MM-DD");
    write_for_validation(
        "outcome.json",
        &Resource::OperationOutcome(err.to_operation_outcome()),
    );
    let bundle = Bundle::from_json(&fixture("patient-crcl40-bundle.json")).unwrap();
    write_for_validation(
        "bundle-round-trip.json",
        &Resource::Bundle(Box::new(bundle)),
    );

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var("LENAGUARD_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(root.join("tools/fhir/validate.py"))
        .arg(validation_dir())
        .output()
        .expect("run tools/fhir/validate.py");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two drafts in one call are two cards, each with its own uuid (and suggestion uuids), so feedback about one is
/// never recorded against the other; the same draft in the same call keeps its uuids.
#[test]
fn each_draft_of_a_call_gets_its_own_card_uuid() {
    let s = story(&fixture("order-sign-crcl40.json")).expect("story");
    let first = card(&s).expect("card");
    let mut other = s.draft.clone();
    other.id = Some(format!("{}-second", other.id.clone().unwrap_or_default()));
    let second = card(&Story { draft: other, ..s }).expect("card");
    assert_ne!(first.uuid, second.uuid);
    let uuids = |c: &Card| -> Vec<Option<String>> {
        c.suggestions.iter().map(|x| x.uuid.clone()).collect()
    };
    assert!(!uuids(&first).is_empty());
    assert!(uuids(&first).iter().all(|u| !uuids(&second).contains(u)));
    let again = card(&story(&fixture("order-sign-crcl40.json")).expect("story")).expect("card");
    assert_eq!(first.uuid, again.uuid);
}

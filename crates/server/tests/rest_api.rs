//! The REST API over real HTTP on SQLite and PostgreSQL: the access matrix generated from the route table (every
//! role x every route x own and other objects), the pharmacy refused another pharmacy's prescription, the access
//! log, and bad input answered with problem documents and no write.

mod common;

use anyhow::{Context, Result, bail};
use common::world::{self, World};
use lenaguard_server::api::ApiSettings;
use lenaguard_server::api::routes::{Object, ROUTES, RouteSpec};
use lenaguard_storage::Store;
use lenaguard_storage::accounts::{AccountRole, first_broken_access};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// The path of a route with its parameters filled for the chosen side.
fn path(spec: &RouteSpec, w: &World, own: bool, rule: &str) -> String {
    let side = if own { &w.own } else { &w.other };
    spec.path
        .replace("{patient}", &side.patient)
        .replace("{prescription}", &side.prescription)
        .replace("{authorization}", &side.authorization)
        .replace("{login}", "dr-a")
        .replace("{token}", "0000000000000000")
        .replace("{user}", "dr-a")
        .replace("{organisation}", "pharm-a")
        .replace("{rule}", rule)
}

/// What the table says: may this role call this route on this side's object?
fn expected_allowed(spec: &RouteSpec, role: AccountRole, own: bool) -> bool {
    if spec.public() {
        return true;
    }
    if !spec.roles.contains(&role) {
        return false;
    }
    match spec.object {
        Object::Patient | Object::Prescription | Object::Authorization => {
            own || matches!(role, AccountRole::ProgramStaff | AccountRole::Auditor)
        }
        Object::None | Object::Named => true,
    }
}

async fn matrix(store: Arc<dyn Store>) -> Result<()> {
    let w = world::world(store.clone()).await?;
    let (base, _stop) =
        world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    let rule = world::pack()
        .provenances()
        .first()
        .map(|p| p.rule.clone())
        .context("a rule")?;
    let http = client();
    let mut checked = 0;
    let mut failures = Vec::new();
    for spec in ROUTES {
        for (role, token) in &w.tokens {
            for own in [true, false] {
                let mut url = format!("{base}{}", path(spec, &w, own, &rule));
                if spec.id == "tokens.list" {
                    url.push_str("?login=dr-a");
                }
                let mut req = http
                    .request(Method::from_bytes(spec.method.as_str().as_bytes())?, &url)
                    .bearer_auth(token);
                if spec.method != Method::GET && spec.method != Method::DELETE {
                    // An empty object: a route the caller may use answers 400 (or a refusal) from its handler,
                    // after the guard let it through; nothing valid is written.
                    req = req.header("content-type", "application/json").body("{}");
                }
                let res = req.send().await?;
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                let allowed = expected_allowed(spec, *role, own);
                let ok = if allowed {
                    status != 401
                        && status != 403
                        && status < 500
                        && (spec.method != Method::GET || status == 200)
                } else {
                    status == 403 && body["type"] == "urn:lenaguard:problem:forbidden"
                };
                checked += 1;
                if !ok {
                    failures.push(format!(
                        "{} {} as {} ({}): got {status}, expected {} ({})",
                        spec.method,
                        spec.path,
                        role.as_str(),
                        if own { "own" } else { "other" },
                        if allowed { "allowed" } else { "403" },
                        body["detail"]
                    ));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {checked} cells wrong:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    assert_eq!(checked, ROUTES.len() * 6 * 2);
    // Every audited call, allowed or refused, is in the access log, and the log's chain holds.
    let rows = store.access_rows(0, 100_000).await?;
    let audited_routes = ROUTES.iter().filter(|r| r.audited).count();
    assert_eq!(
        rows.len(),
        audited_routes * 6 * 2,
        "one access row per audited call"
    );
    assert_eq!(first_broken_access(&rows), None);
    assert!(
        rows.iter()
            .any(|r| r.event.status == 403 && r.event.patient.as_deref() == Some("pat-b"))
    );
    Ok(())
}

/// The README's walk: a pharmacist checks a dispense for a prescription routed to their pharmacy, and is
/// refused another pharmacy's.
async fn pharmacy_scope(store: Arc<dyn Store>) -> Result<()> {
    let w = world::world(store.clone()).await?;
    let (base, _stop) =
        world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    let http = client();
    let ph = &w.tokens[&AccountRole::Pharmacist];
    let own = http
        .get(format!(
            "{base}/api/v1/authorizations/{}/dispense-check",
            w.own.authorization
        ))
        .bearer_auth(ph)
        .send()
        .await?;
    assert_eq!(own.status(), 200);
    let check: Value = own.json().await?;
    assert_eq!(check["patient"], "pat-a");
    assert!(check["dispensable"].is_boolean(), "{check}");
    let other = http
        .get(format!(
            "{base}/api/v1/authorizations/{}/dispense-check",
            w.other.authorization
        ))
        .bearer_auth(ph)
        .send()
        .await?;
    assert_eq!(other.status(), 403);
    assert_eq!(other.headers()["content-type"], "application/problem+json");
    let rx = http
        .get(format!(
            "{base}/api/v1/prescriptions/{}",
            w.other.prescription
        ))
        .bearer_auth(ph)
        .send()
        .await?;
    assert_eq!(rx.status(), 403);
    // Nor may the pharmacist confirm it: the guard refuses before the workflow is asked.
    let before = store.audit_rows(0, 100_000).await?.len();
    let confirm = http
        .post(format!(
            "{base}/api/v1/authorizations/{}/confirmation",
            w.other.authorization
        ))
        .bearer_auth(ph)
        .header("idempotency-key", "k1")
        .send()
        .await?;
    assert_eq!(confirm.status(), 403);
    assert_eq!(store.audit_rows(0, 100_000).await?.len(), before);
    // Their own: confirmed, then dispensed.
    let confirm = http
        .post(format!(
            "{base}/api/v1/authorizations/{}/confirmation",
            w.own.authorization
        ))
        .bearer_auth(ph)
        .header("idempotency-key", "k2")
        .send()
        .await?;
    let body: Value = confirm.json().await?;
    let number = body["outcome"]["answer"]["number"]
        .as_str()
        .context(format!("{body}"))?
        .to_string();
    let dispense = http
        .post(format!(
            "{base}/api/v1/authorizations/{}/dispense",
            w.own.authorization
        ))
        .bearer_auth(ph)
        .header("idempotency-key", "k3")
        .json(
            &serde_json::json!({"confirmation": number, "days_supply": 28, "quantity": 21,
            "counselling": {"checklist_completed": true, "medication_guide_given": true}}),
        )
        .send()
        .await?;
    assert_eq!(dispense.status(), 200, "{:?}", dispense.text().await?);
    // A second dispense on the same authorization: refused by the program, 409 with the reason.
    let again = http
        .post(format!(
            "{base}/api/v1/authorizations/{}/dispense",
            w.own.authorization
        ))
        .bearer_auth(ph)
        .header("idempotency-key", "k4")
        .json(
            &serde_json::json!({"confirmation": number, "days_supply": 28, "quantity": 21,
            "counselling": {"checklist_completed": true, "medication_guide_given": true}}),
        )
        .send()
        .await?;
    assert_eq!(again.status(), 409);
    let problem: Value = again.json().await?;
    assert_eq!(problem["type"], "urn:lenaguard:problem:refused");
    assert!(
        problem["reasons"].as_array().is_some_and(|r| !r.is_empty()),
        "{problem}"
    );
    Ok(())
}

/// Bad input: 4xx problem documents naming the field, never a 500, never a write.
async fn bad_input(store: Arc<dyn Store>) -> Result<()> {
    let w = world::world(store.clone()).await?;
    let (base, _stop) =
        world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    // No pooled connections: the server answers an oversized body without reading it and closes that connection,
    // which a pooled client could otherwise reuse for the next case.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let dr = &w.tokens[&AccountRole::Prescriber];
    let before = store.audit_rows(0, 100_000).await?.len();
    let lab_url = format!("{base}/api/v1/patients/pat-a/labs");
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("malformed JSON", http.post(&lab_url).bearer_auth(dr).header("idempotency-key", "b1")
            .header("content-type", "application/json").body("{\"code\": "), 400, "code"),
        ("wrong type", http.post(&lab_url).bearer_auth(dr).header("idempotency-key", "b2")
            .json(&serde_json::json!({"code": "anc", "value": "high", "unit": "10*9/L", "date": "2026-11-26"})), 400, "value"),
        ("unknown field", http.post(&lab_url).bearer_auth(dr).header("idempotency-key", "b3")
            .json(&serde_json::json!({"code": "anc", "value": 2.0, "unit": "10*9/L", "date": "2026-11-26", "colour": "red"})), 400, "colour"),
        ("no idempotency key", http.post(&lab_url).bearer_auth(dr)
            .json(&serde_json::json!({"code": "anc", "value": 2.0, "unit": "10*9/L", "date": "2026-11-26"})), 400, "Idempotency-Key"),
        ("not JSON", http.post(&lab_url).bearer_auth(dr).header("idempotency-key", "b4")
            .header("content-type", "text/plain").body("anc=2"), 415, "Content-Type"),
        ("oversized", http.post(&lab_url).bearer_auth(dr).header("idempotency-key", "b5")
            .header("content-type", "application/json").body(vec![b' '; 3 * 1024 * 1024]), 413, ""),
        ("unknown query parameter", http.get(format!("{base}/api/v1/patients?colour=red")).bearer_auth(dr), 400, "colour"),
        ("bad limit", http.get(format!("{base}/api/v1/patients?limit=0")).bearer_auth(dr), 400, "limit"),
        ("forged token", http.get(format!("{base}/api/v1/patients")).bearer_auth(format!("{}x", &dr[..dr.len() - 1])), 401, ""),
        ("not a token", http.get(format!("{base}/api/v1/patients")).header("authorization", "Basic YTpi"), 401, ""),
        ("unknown route", http.get(format!("{base}/api/v1/nothing")).bearer_auth(dr), 404, ""),
        ("wrong method", http.patch(format!("{base}/api/v1/patients")).bearer_auth(dr), 405, ""),
    ];
    for (what, req, status, field) in cases {
        let res = req.send().await?;
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        assert!(res.headers().contains_key("x-request-id"), "{what}");
        let p: Value = res.json().await?;
        assert_eq!(p["status"], status, "{what}: {p}");
        if !field.is_empty() {
            let named = p["errors"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|e| e["field"].as_str().is_some_and(|f| f.contains(field)))
            });
            assert!(named, "{what}: the problem names {field}: {p}");
        }
    }
    assert_eq!(
        store.audit_rows(0, 100_000).await?.len(),
        before,
        "bad input wrote nothing"
    );
    Ok(())
}

/// A patient answers their own survey (the workflow's actor `patient:<id>`), and only their own.
async fn patient_survey(store: Arc<dyn Store>) -> Result<()> {
    let w = world::world(store.clone()).await?;
    let (base, _stop) =
        world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    let http = client();
    let me = &w.tokens[&AccountRole::Patient];
    let questions: Value = http
        .get(format!(
            "{base}/api/v1/patients/{}/survey-questions",
            w.own.patient
        ))
        .bearer_auth(me)
        .send()
        .await?
        .json()
        .await?;
    let answers: serde_json::Map<String, Value> = questions
        .as_array()
        .context("questions")?
        .iter()
        .map(|q| {
            (
                q["id"].as_str().unwrap_or("").to_string(),
                q["required"].clone(),
            )
        })
        .collect();
    let survey = serde_json::json!({"date": "2026-11-26", "questionnaire": lenaguard_storage::survey::QUESTIONNAIRE, "answers": answers});
    let res = http
        .post(format!("{base}/api/v1/patients/{}/surveys", w.own.patient))
        .bearer_auth(me)
        .header("idempotency-key", "my-survey")
        .json(&survey)
        .send()
        .await?;
    assert_eq!(res.status(), 200, "{}", res.text().await?);
    let last = store
        .audit_rows(0, 100_000)
        .await?
        .pop()
        .context("an audit row")?;
    assert!(
        last.event.contains("\"actor\":\"patient:pat-a\""),
        "{}",
        last.event
    );
    // Another patient's survey: refused by the guard; and the workflow itself refuses a patient actor for anyone
    // else's survey or for any other command.
    let other = http
        .post(format!(
            "{base}/api/v1/patients/{}/surveys",
            w.other.patient
        ))
        .bearer_auth(me)
        .header("idempotency-key", "their-survey")
        .json(&survey)
        .send()
        .await?;
    assert_eq!(other.status(), 403);
    let wf = lenaguard_storage::Workflow::new(store.clone(), world::pack());
    for command in [
        serde_json::json!({"command": "submit_survey", "patient": w.other.patient, "survey": survey}),
        serde_json::json!({"command": "record_lab", "patient": w.own.patient, "lab": {"code": "anc", "value": 2.0, "unit": "10*9/L", "date": "2026-11-26"}}),
    ] {
        let out = wf
            .execute(lenaguard_storage::CommandRequest {
                idempotency_key: uuid::Uuid::new_v4().to_string(),
                actor: "patient:pat-a".into(),
                on: world::DAY,
                command: serde_json::from_value(command)?,
            })
            .await?;
        match out.outcome {
            lenaguard_storage::Outcome::Refused { reasons } => {
                assert_eq!(reasons[0].code, "actor.unknown", "{reasons:?}")
            }
            other => bail!("accepted: {other:?}"),
        }
    }
    Ok(())
}

/// A weight recorded over the API reaches the engine: the assessment's Cockcroft-Gault uses it. A body the route
/// cannot read is 400 naming the field, a weight no patient has is refused (409) naming the field and the range,
/// and a role that may not record one is 403; only the refusal is written.
async fn measurement(store: Arc<dyn Store>) -> Result<()> {
    let w = world::world(store.clone()).await?;
    let (base, _stop) =
        world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    let http = client();
    let dr = &w.tokens[&AccountRole::Prescriber];
    let url = format!("{base}/api/v1/patients/{}/measurements", w.own.patient);
    let post = |token: &str, key: &str, body: Value| {
        http.post(&url)
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let weighed = post(
        dr,
        "m1",
        serde_json::json!({"date": "2026-11-26", "weight_kg": 70.0}),
    )
    .await?;
    assert_eq!(weighed.status(), 200, "{}", weighed.text().await?);
    let assessment: Value = http
        .get(format!(
            "{base}/api/v1/patients/{}/assessment",
            w.own.patient
        ))
        .bearer_auth(dr)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(assessment["kidney"]["weight_used_kg"], 70.0, "{assessment}");
    assert!(
        assessment["kidney"]["crcl_ml_min"].is_number(),
        "{assessment}"
    );

    let before = store.audit_rows(0, 100_000).await?.len();
    for (body, field) in [
        (
            serde_json::json!({"date": "2026-11-26", "weight_kg": "seventy"}),
            "weight_kg",
        ),
        (
            serde_json::json!({"date": "2026-11-26", "weight_kg": 70.0, "bmi": 24}),
            "bmi",
        ),
        (serde_json::json!({"weight_kg": 70.0}), "date"),
    ] {
        let res = post(dr, "m2", body.clone()).await?;
        assert_eq!(res.status(), 400, "{body}");
        let p: Value = res.json().await?;
        // A missing field is reported against the body, with the field named in the detail.
        let named = p["errors"].as_array().is_some_and(|e| {
            e.iter()
                .any(|e| e["field"].as_str().is_some_and(|f| f.contains(field)))
        }) || p["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("`{field}`")));
        assert!(named, "{body}: the problem names {field}: {p}");
    }
    assert_eq!(store.audit_rows(0, 100_000).await?.len(), before);

    let refused = post(
        dr,
        "m3",
        serde_json::json!({"date": "2026-11-26", "weight_kg": 700.0}),
    )
    .await?;
    assert_eq!(refused.status(), 409);
    let p: Value = refused.json().await?;
    let what = p["reasons"][0]["what"].as_str().unwrap_or_default();
    assert!(
        what.contains("measurement.weight_kg") && what.contains("from 20 to 300 kg"),
        "{p}"
    );
    assert_eq!(store.audit_rows(0, 100_000).await?.len(), before + 1);

    let ph = &w.tokens[&AccountRole::Pharmacist];
    let forbidden = post(
        ph,
        "m4",
        serde_json::json!({"date": "2026-11-26", "weight_kg": 70.0}),
    )
    .await?;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(store.audit_rows(0, 100_000).await?.len(), before + 1);
    Ok(())
}

macro_rules! both {
    ($name:ident, $sqlite:ident, $pg:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() -> Result<()> {
            let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
            $name(Arc::new(store)).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $pg() -> Result<()> {
            let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
                return Ok(());
            };
            let result = $name(Arc::new(store.clone())).await;
            db.drop_database(store).await?;
            result
        }
    };
}

both!(matrix, access_matrix_sqlite, access_matrix_postgres);
both!(
    patient_survey,
    a_patient_answers_only_their_own_survey_sqlite,
    a_patient_answers_only_their_own_survey_postgres
);
both!(
    pharmacy_scope,
    a_pharmacy_is_refused_another_pharmacys_prescription_sqlite,
    a_pharmacy_is_refused_another_pharmacys_prescription_postgres
);
both!(
    bad_input,
    bad_input_is_a_problem_and_writes_nothing_sqlite,
    bad_input_is_a_problem_and_writes_nothing_postgres
);
both!(
    measurement,
    a_weight_recorded_over_the_api_reaches_the_assessment_sqlite,
    a_weight_recorded_over_the_api_reaches_the_assessment_postgres
);

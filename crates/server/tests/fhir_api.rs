//! The FHIR R4 API over real HTTP, on SQLite and on PostgreSQL, with records seeded through the real program
//! workflow: the CapabilityStatement, read and search of every type, strict parameters, unknown ids, the token
//! checks, and the transaction import of labs, body weights and orders (accepted, retried, and refused atomically
//! with nothing written). Every
//! resource the server answers with is checked by the independent validator (tools/fhir/validate.py) when
//! LENAGUARD_FHIR_VALIDATE=1.

use jiff::civil::Date;
use lenaguard_domain::snapshot::Lab;
use lenaguard_domain::units::Analyte;
use lenaguard_server::{
    Application, Client, DEV_ISSUER, DevKey, FHIR_DEV_SCOPE, Settings, fhir_dev_token,
};
use lenaguard_storage::Store;
use lenaguard_storage::command::{BodyMeasurement, Command};
use lenaguard_tests_storage as seed;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server {
    addr: std::net::SocketAddr,
    base: String,
    key: DevKey,
    store: Arc<dyn Store>,
    /// Every FHIR resource answered, for the validator.
    seen: Mutex<Vec<Value>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(store: Arc<dyn Store>) -> Server {
    let key = DevKey::generate("fhir-test-key").unwrap();
    let client = Client::new(DEV_ISSUER.into(), &["ES384".into()], key.jwks().unwrap()).unwrap();
    let mut settings = Settings::new(
        "127.0.0.1:0".parse().unwrap(),
        vec![client],
        lenaguard_domain::RulePack::builtin().unwrap(),
    );
    settings.today = Some(seed::DAY);
    settings.store = Some(store.clone());
    let app = Application::build(settings).await.unwrap();
    let addr = app.local_addr().unwrap();
    let base = app.base_url().to_string();
    let (stop, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Server {
        addr,
        base,
        key,
        store,
        seen: Mutex::new(Vec::new()),
        _stop: stop,
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    json: Value,
}

impl Server {
    fn token(&self, scope: &str) -> String {
        fhir_dev_token(&self.key, DEV_ISSUER, &self.base, scope, now()).unwrap()
    }

    /// One request with its own token (tokens are single use), as a raw HTTP/1.1 exchange.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        req.push_str(&format!(
            "Content-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("HTTP head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let json: Value = serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null);
        if json.get("resourceType").is_some() {
            self.seen.lock().unwrap().push(json.clone());
        }
        Reply { status, head, json }
    }

    async fn get(&self, path: &str) -> Reply {
        let t = self.token(FHIR_DEV_SCOPE);
        self.call("GET", path, Some(&t), None).await
    }

    /// A search that must answer 200 with a searchset; its resources.
    async fn search(&self, path: &str) -> Vec<Value> {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.json);
        assert!(
            r.head
                .to_ascii_lowercase()
                .contains("content-type: application/fhir+json"),
            "{}",
            r.head
        );
        assert_eq!(r.json["type"], "searchset", "{path}");
        let entries: Vec<Value> = r.json["entry"]
            .as_array()
            .map(|a| a.iter().map(|e| e["resource"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            r.json["total"].as_u64(),
            Some(entries.len() as u64),
            "{path}: one page expected"
        );
        entries
    }

    async fn post(&self, bundle: &Value) -> Reply {
        let t = self.token(FHIR_DEV_SCOPE);
        self.call("POST", "/fhir", Some(&t), Some(bundle)).await
    }

    /// Run the independent validator over every resource answered (CI sets LENAGUARD_FHIR_VALIDATE=1).
    fn validate_everything_answered(&self) {
        if std::env::var("LENAGUARD_FHIR_VALIDATE").as_deref() != Ok("1") {
            eprintln!(
                "validator skipped: set LENAGUARD_FHIR_VALIDATE=1 with fhir.resources 6.4.0 installed"
            );
            return;
        }
        let seen = self.seen.lock().unwrap();
        assert!(!seen.is_empty());
        let dir = std::env::temp_dir().join(format!("lenaguard-fhir-api-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, r) in seen.iter().enumerate() {
            std::fs::write(
                dir.join(format!("{i:03}.json")),
                serde_json::to_string_pretty(r).unwrap(),
            )
            .unwrap();
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = std::env::var("LENAGUARD_PYTHON").unwrap_or_else(|_| "python3".into());
        let out = std::process::Command::new(python)
            .arg(root.join("tools/fhir/validate.py"))
            .arg(&dir)
            .output()
            .expect("run tools/fhir/validate.py");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let report = String::from_utf8_lossy(&out.stdout);
        eprintln!("{}", report.lines().last().unwrap_or_default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn lab(analyte: Analyte, value: f64, unit: &str, date: Date) -> Command {
    Command::RecordLab {
        patient: "pt-1".into(),
        lab: Lab {
            code: analyte,
            value,
            unit: unit.into(),
            date,
            lln: None,
            uln: None,
        },
    }
}

/// pt-1 walked to a first dispense, a second dispense refused, two labs; pt-2 ready for a prescription; pt-3
/// enrolled, weighed and measured.
async fn seeded(store: Arc<dyn Store>) -> Server {
    let wf = seed::workflow(store.clone());
    let (auth, conf) = seed::authorized(&wf, "pt-1").await.unwrap();
    seed::ok(&wf, "ph-bo", seed::DAY, seed::dispense(&auth, &conf))
        .await
        .unwrap();
    let again = seed::run(&wf, "ph-bo", seed::DAY, seed::dispense(&auth, &conf))
        .await
        .unwrap();
    assert!(again.accepted().is_none());
    seed::ok(
        &wf,
        "dr-ada",
        seed::DAY,
        lab(Analyte::Anc, 2.1, "10*9/L", seed::days(seed::DAY, -2)),
    )
    .await
    .unwrap();
    seed::ok(
        &wf,
        "dr-ada",
        seed::DAY,
        lab(
            Analyte::Creatinine,
            1.1,
            "mg/dL",
            seed::days(seed::DAY, -30),
        ),
    )
    .await
    .unwrap();
    seed::ready_patient(&wf, "pt-2").await.unwrap();
    seed::ok(
        &wf,
        "dr-ada",
        seed::days(seed::DAY, -40),
        Command::Enroll(seed::enrollment("pt-3")),
    )
    .await
    .unwrap();
    seed::ok(
        &wf,
        "dr-ada",
        seed::DAY,
        Command::RecordMeasurement {
            patient: "pt-3".into(),
            measurement: BodyMeasurement {
                date: seed::days(seed::DAY, -1),
                weight_kg: 64.5,
                height_cm: Some(170.0),
            },
        },
    )
    .await
    .unwrap();
    start(store).await
}

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let (s, dir) = seed::sqlite().await.unwrap();
    (Arc::new(s), dir)
}

fn enc(q: &str) -> String {
    q.replace('|', "%7C")
}

fn codes_of(r: &Value, at: &str) -> Vec<String> {
    r[at]["coding"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn reads_and_searches_every_type(s: &Server) {
    // Patient
    let p = s.get("/fhir/Patient/pt-1").await;
    assert_eq!(p.status, 200, "{}", p.json);
    // The read is in the access log, as the EHR client's, with the patient it named.
    let logged = s.store.access_rows(0, 100_000).await.unwrap();
    let last = &logged.last().expect("an access row").event;
    assert_eq!(
        (
            last.login.as_str(),
            last.role,
            last.action.as_str(),
            last.patient.as_deref(),
            last.status
        ),
        (
            DEV_ISSUER,
            lenaguard_storage::accounts::AccountRole::EhrClient,
            "fhir.read.Patient",
            Some("pt-1"),
            200
        )
    );
    assert_eq!(p.json["gender"], "female");
    assert_eq!(p.json["birthDate"], "1991-04-02");
    assert_eq!(s.search("/fhir/Patient").await.len(), 3);
    assert_eq!(s.search("/fhir/Patient?_id=pt-2,nobody").await.len(), 1);
    // By the enrollment identity (an EHR knows its MRN, not our id).
    let by_mrn = s.search("/fhir/Patient?identifier=clinic-1:MRN-pt-1").await;
    assert_eq!(by_mrn.len(), 1);
    assert_eq!(by_mrn[0]["id"], "pt-1");
    let system = format!("{}/fhir/sid/enrollment-identity", s.base);
    assert_eq!(
        s.search(&enc(&format!(
            "/fhir/Patient?identifier={system}|clinic-1:MRN-pt-2"
        )))
        .await
        .len(),
        1
    );
    assert!(
        s.search(&enc(
            "/fhir/Patient?identifier=http://other.example|clinic-1:MRN-pt-2"
        ))
        .await
        .is_empty()
    );
    assert!(
        s.search("/fhir/Patient?identifier=clinic-1:MRN-none")
            .await
            .is_empty()
    );

    // Observation: two pregnancy tests, the counts, creatinine and weight before the prescription, and two
    // later labs, coded from the tables.
    let obs = s.search("/fhir/Observation?patient=pt-1").await;
    assert_eq!(obs.len(), 8, "{obs:?}");
    let anc = s
        .search(&enc(
            "/fhir/Observation?patient=Patient/pt-1&code=http://loinc.org|751-8",
        ))
        .await;
    assert_eq!(anc.len(), 2);
    let later = anc
        .iter()
        .find(|o| o["effectiveDateTime"] == "2026-11-24")
        .expect("the ANC of 2026-11-24");
    assert_eq!(
        later["valueQuantity"],
        json!({"value": 2.1, "unit": "10*9/L", "system": "http://unitsofmeasure.org", "code": "10*9/L"})
    );
    let creat = s.search("/fhir/Observation?subject=pt-1&code=2160-0").await;
    assert_eq!(creat.len(), 2);
    let hcg = s
        .search(&enc(
            "/fhir/Observation?patient=pt-1&code=http://loinc.org|2118-8",
        ))
        .await;
    assert_eq!(hcg.len(), 2, "serum tests");
    assert_eq!(hcg[0]["valueCodeableConcept"]["text"], "negative");
    // Dates: the creatinine is a month old, the rest within two weeks.
    assert_eq!(
        s.search("/fhir/Observation?patient=pt-1&date=lt2026-11-01")
            .await
            .len(),
        1
    );
    assert_eq!(
        s.search("/fhir/Observation?patient=pt-1&date=ge2026-11-14&date=le2026-11-26")
            .await
            .len(),
        7
    );
    assert_eq!(
        s.search("/fhir/Observation?patient=pt-1&date=2026-11")
            .await
            .len(),
        7,
        "the creatinine is from October"
    );
    assert_eq!(
        s.search("/fhir/Observation?patient=pt-1&date=gt2026-11-26")
            .await
            .len(),
        0
    );
    let newest = s.search("/fhir/Observation?patient=pt-1&_sort=-date").await;
    assert_eq!(
        newest.last().unwrap()["code"]["coding"][0]["code"],
        "2160-0"
    );
    // Every Observation reads back by its id.
    for o in &obs {
        let id = o["id"].as_str().unwrap();
        let r = s.get(&format!("/fhir/Observation/{id}")).await;
        assert_eq!(r.status, 200, "{id}");
        assert_eq!(&r.json, o);
    }
    // Paging: one per page, the next link gives the next one.
    let page = s.get("/fhir/Observation?patient=pt-1&_count=1").await;
    assert_eq!(page.json["total"], 8);
    assert_eq!(page.json["entry"].as_array().unwrap().len(), 1);
    let next = page.json["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap();
    let next_path = next["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&s.base)
        .unwrap()
        .to_string();
    let counted = s.get("/fhir/Observation?patient=pt-1&_count=0").await;
    assert_eq!(counted.json["total"], 8);
    assert!(
        counted.json.get("entry").is_none() && counted.json["link"].as_array().unwrap().len() == 1
    );
    let second = s.get(&next_path).await;
    assert_eq!(second.status, 200);
    assert_ne!(
        second.json["entry"][0]["resource"]["id"],
        page.json["entry"][0]["resource"]["id"]
    );

    // Observation: pt-3's measurement, a weight and a height, as vital signs with two ids of their own.
    let vitals = s.search("/fhir/Observation?patient=pt-3").await;
    assert_eq!(vitals.len(), 2, "{vitals:?}");
    let weight = s
        .search(&enc(
            "/fhir/Observation?patient=pt-3&code=http://loinc.org|29463-7",
        ))
        .await;
    assert_eq!(weight.len(), 1);
    let weight = &weight[0];
    assert_eq!(
        weight["valueQuantity"],
        json!({"value": 64.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"})
    );
    assert_eq!(
        weight["category"][0]["coding"][0],
        json!({"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"})
    );
    assert_eq!(weight["code"]["coding"][0]["display"], "Body weight");
    assert_eq!(weight["effectiveDateTime"], "2026-11-25");
    assert_eq!(weight["subject"]["reference"], "Patient/pt-3");
    let height = s.search("/fhir/Observation?subject=pt-3&code=8302-2").await;
    assert_eq!(height.len(), 1);
    assert_eq!(
        height[0]["valueQuantity"],
        json!({"value": 170.0, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"})
    );
    assert_ne!(weight["id"], height[0]["id"]);
    for o in &vitals {
        let id = o["id"].as_str().unwrap();
        assert!(id.starts_with("pt-3.-"), "{id}");
        let r = s.get(&format!("/fhir/Observation/{id}")).await;
        assert_eq!(r.status, 200, "{id}");
        assert_eq!(&r.json, o);
    }
    let category = "http://terminology.hl7.org/CodeSystem/observation-category";
    for (q, n) in [
        ("patient=pt-3&category=vital-signs".to_string(), 2),
        (format!("patient=pt-3&category={category}|vital-signs"), 2),
        ("patient=pt-3&category=laboratory".to_string(), 0),
        ("patient=pt-1&category=vital-signs".to_string(), 1),
        ("patient=pt-1&category=laboratory".to_string(), 7),
        (
            "patient=pt-3&category=vital-signs&date=2026-11-25".to_string(),
            2,
        ),
        ("patient=pt-3&code=29463-7&date=lt2026-11-25".to_string(), 0),
    ] {
        assert_eq!(
            s.search(&enc(&format!("/fhir/Observation?{q}")))
                .await
                .len(),
            n,
            "{q}"
        );
    }

    // MedicationRequest: dispensed, so completed; RxNorm lenalidomide; 25 mg days 1-21 of 28.
    let mr = s.search(&enc("/fhir/MedicationRequest?patient=pt-1&code=http://www.nlm.nih.gov/research/umls/rxnorm|342369")).await;
    assert_eq!(mr.len(), 1);
    let mr = &mr[0];
    assert_eq!(mr["status"], "completed");
    assert_eq!(mr["intent"], "order");
    assert_eq!(
        mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"],
        25.0
    );
    assert_eq!(mr["dispenseRequest"]["quantity"]["value"], 21.0);
    assert_eq!(
        mr["dispenseRequest"]["expectedSupplyDuration"]["value"],
        28.0
    );
    assert!(
        mr["identifier"][0]["value"]
            .as_str()
            .unwrap()
            .starts_with("LA-")
    );
    assert_eq!(mr["requester"]["reference"], "Practitioner/dr-ada");
    assert_eq!(
        s.search("/fhir/MedicationRequest?patient=pt-1&status=active")
            .await
            .len(),
        0
    );
    assert_eq!(
        s.search("/fhir/MedicationRequest?patient=pt-1&authoredon=2026-11-26")
            .await
            .len(),
        1
    );
    let mr_id = mr["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/fhir/MedicationRequest/{mr_id}"))
            .await
            .status,
        200
    );

    // MedicationDispense: one, against that prescription.
    let md = s
        .search("/fhir/MedicationDispense?patient=pt-1&whenhandedover=ge2026-11-26")
        .await;
    assert_eq!(md.len(), 1);
    assert_eq!(
        md[0]["authorizingPrescription"][0]["reference"],
        format!("MedicationRequest/{mr_id}")
    );
    assert_eq!(
        md[0]["performer"][0]["actor"]["reference"],
        "Practitioner/ph-bo"
    );
    let md_id = md[0]["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/fhir/MedicationDispense/{md_id}"))
            .await
            .status,
        200
    );

    // Condition: multiple myeloma from the regimen.
    let c = s
        .search(&enc(
            "/fhir/Condition?patient=pt-1&code=http://snomed.info/sct|109989006",
        ))
        .await;
    assert_eq!(c.len(), 1);
    assert_eq!(codes_of(&c[0], "code"), vec!["109989006"]);
    let c_id = c[0]["id"].as_str().unwrap();
    assert_eq!(s.get(&format!("/fhir/Condition/{c_id}")).await.status, 200);

    // QuestionnaireResponse: the survey with its three answers.
    let qr = s
        .search("/fhir/QuestionnaireResponse?subject=Patient/pt-1&authored=2026-11-26")
        .await;
    assert_eq!(qr.len(), 1);
    assert_eq!(qr[0]["item"].as_array().unwrap().len(), 3);
    let qr_id = qr[0]["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/fhir/QuestionnaireResponse/{qr_id}"))
            .await
            .status,
        200
    );

    // DetectedIssue: the refused second dispense.
    let di = s.search("/fhir/DetectedIssue?patient=pt-1").await;
    assert!(
        di.iter()
            .any(|d| codes_of(d, "code") == vec!["authorization.used"]),
        "{di:?}"
    );
    assert_eq!(s.search("/fhir/DetectedIssue?patient=pt-2").await.len(), 0);
    let di_id = di[0]["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/fhir/DetectedIssue/{di_id}")).await.status,
        200
    );

    // AuditEvent: both dispenses of pt-1, one accepted, one refused.
    let ae = s
        .search("/fhir/AuditEvent?patient=pt-1&type=dispense")
        .await;
    let outcomes: Vec<&str> = ae.iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, vec!["0", "4"]);
    assert_eq!(
        s.search("/fhir/AuditEvent?patient=pt-1&type=dispense&outcome=4")
            .await
            .len(),
        1
    );
    assert_eq!(
        s.search(&enc(
            "/fhir/Observation?patient=pt-1&category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
        ))
        .await
        .len(),
        7
    );
    assert!(
        s.search("/fhir/AuditEvent?date=lt2000-01-01")
            .await
            .is_empty()
    );
    assert!(s.search("/fhir/AuditEvent").await.len() > 10);
    let ae_id = ae[0]["id"].as_str().unwrap();
    let r = s.get(&format!("/fhir/AuditEvent/{ae_id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["entity"][0]["what"]["reference"], "Patient/pt-1");
}

#[tokio::test]
async fn reads_and_searches_every_type_on_sqlite() {
    let (store, _dir) = sqlite().await;
    let s = seeded(store).await;
    reads_and_searches_every_type(&s).await;
    s.validate_everything_answered();
}

/// Run `check` against a fresh PostgreSQL database (skipped with a notice when PostgreSQL is unreachable and
/// LENAGUARD_TEST_PG is not `required`).
async fn on_postgres<F, Fut>(check: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some((store, db)) = seed::postgres().await.unwrap() else {
        return;
    };
    check(Arc::new(store.clone())).await;
    db.drop_database(store).await.unwrap();
}

#[tokio::test]
async fn reads_and_searches_every_type_on_postgres() {
    on_postgres(|store| async move {
        let s = seeded(store).await;
        reads_and_searches_every_type(&s).await;
        s.validate_everything_answered();
    })
    .await;
}

/// The one issue of an OperationOutcome answer, checked for its status and where it points.
fn outcome<'a>(r: &'a Reply, status: u16, expression: Option<&str>) -> &'a Value {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["resourceType"], "OperationOutcome", "{}", r.json);
    let issue = &r.json["issue"][0];
    assert_eq!(issue["severity"], "error");
    if let Some(e) = expression {
        assert_eq!(issue["expression"][0], e, "{}", r.json);
    }
    issue
}

#[tokio::test]
async fn capability_statement_lists_what_works() {
    let (store, _dir) = sqlite().await;
    let s = start(store).await;
    let r = s.get("/fhir/metadata").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let cs = &r.json;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["format"], json!(["application/fhir+json"]));
    assert_eq!(cs["implementation"]["url"], format!("{}/fhir", s.base));
    let rest = &cs["rest"][0];
    assert!(
        rest["security"]["description"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
    assert!(
        rest["documentation"]
            .as_str()
            .unwrap()
            .contains("Strict search")
    );
    assert_eq!(rest["interaction"][0]["code"], "transaction");
    let types: Vec<&str> = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Patient",
            "Observation",
            "MedicationRequest",
            "MedicationDispense",
            "Condition",
            "QuestionnaireResponse",
            "DetectedIssue",
            "AuditEvent"
        ]
    );
    // Every advertised parameter is accepted by the search (with a value of its type), and nothing else is.
    for res in rest["resource"].as_array().unwrap() {
        let ty = res["type"].as_str().unwrap();
        for p in res["searchParam"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let value = match p["type"].as_str().unwrap() {
                "reference" => "pt-1",
                "date" => "ge2026-01-01",
                _ => "x",
            };
            let needs_patient = ty != "Patient"
                && ty != "DetectedIssue"
                && ty != "AuditEvent"
                && name != "patient"
                && name != "subject";
            let q = if needs_patient {
                format!("/fhir/{ty}?patient=pt-1&{name}={value}")
            } else {
                format!("/fhir/{ty}?{name}={value}")
            };
            let r = s.get(&q).await;
            assert_eq!(r.status, 200, "{q}: {}", r.json);
        }
        let r = s
            .get(&format!("/fhir/{ty}?patient=pt-1&subject=pt-1&unknown=1"))
            .await;
        assert_eq!(r.status, 400, "{ty}");
    }
    s.validate_everything_answered();
}

#[tokio::test]
async fn bad_parameters_and_unknown_ids_answer_operation_outcomes() {
    let (store, _dir) = sqlite().await;
    let s = seeded(store).await;
    for (path, param, value) in [
        ("/fhir/Observation?patient=pt-1&colour=red", "colour", "red"),
        (
            "/fhir/Observation?patient=pt-1&code:text=anc",
            "code:text",
            "anc",
        ),
        (
            "/fhir/Observation?patient=pt-1&date=2026-11-26T10:00:00Z",
            "date",
            "2026-11-26T10:00:00Z",
        ),
        (
            "/fhir/Observation?patient=pt-1&date=ap2026",
            "date",
            "ap2026",
        ),
        (
            "/fhir/Observation?patient=pt-1&_count=lots",
            "_count",
            "lots",
        ),
        ("/fhir/Observation?code=751-8", "patient", ""),
        (
            "/fhir/MedicationRequest?patient=Practitioner/dr-ada",
            "patient",
            "Practitioner/dr-ada",
        ),
        ("/fhir/AuditEvent?patient=pt-1&_sort=type", "_sort", "type"),
        ("/fhir/Patient?_format=xml", "_format", "xml"),
    ] {
        let r = s.get(path).await;
        let issue = outcome(&r, 400, Some(param));
        let d = issue["diagnostics"].as_str().unwrap();
        assert!(
            d.contains(&format!("{value:?}")) && d.contains("expected"),
            "{path}: {d}"
        );
    }
    for path in [
        "/fhir/Patient/nobody",
        "/fhir/Patient/pt-1.-lab-0",
        "/fhir/Observation/pt-1.-lab-000000000000",
        "/fhir/Observation/pt-1",
        "/fhir/Observation/not%20an%20id",
        "/fhir/AuditEvent/audit-999999",
        "/fhir/DetectedIssue/refusal-1-0",
        "/fhir/Practitioner/dr-ada",
        "/fhir/Practitioner",
    ] {
        let r = s.get(path).await;
        outcome(&r, 404, None);
    }
    let t = s.token(FHIR_DEV_SCOPE);
    outcome(
        &s.call("DELETE", "/fhir/Patient/pt-1", Some(&t), None).await,
        405,
        None,
    );
    s.validate_everything_answered();
}

#[tokio::test]
async fn tokens_missing_forged_misaddressed_replayed_or_unscoped_are_refused() {
    let (store, _dir) = sqlite().await;
    let s = seeded(store).await;
    let path = "/fhir/Patient/pt-1";
    let none = s.call("GET", path, None, None).await;
    outcome(&none, 401, None);
    assert!(
        none.head
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{}",
        none.head
    );
    let forger = DevKey::generate("fhir-test-key").unwrap();
    let forged = fhir_dev_token(&forger, DEV_ISSUER, &s.base, FHIR_DEV_SCOPE, now()).unwrap();
    outcome(&s.call("GET", path, Some(&forged), None).await, 401, None);
    let cds_aud = s
        .key
        .token(
            DEV_ISSUER,
            &format!("{}/cds-services/lenalidomide-order-sign", s.base),
            now(),
        )
        .unwrap();
    outcome(&s.call("GET", path, Some(&cds_aud), None).await, 401, None);
    let once = s.token(FHIR_DEV_SCOPE);
    assert_eq!(s.call("GET", path, Some(&once), None).await.status, 200);
    outcome(&s.call("GET", path, Some(&once), None).await, 401, None);
    // Verified, but not granted.
    let unscoped = s
        .key
        .sign(&json!({
            "iss": DEV_ISSUER, "aud": format!("{}/fhir", s.base), "iat": now(), "exp": now() + 60,
            "jti": uuid::Uuid::new_v4().to_string(),
        }))
        .unwrap();
    outcome(&s.call("GET", path, Some(&unscoped), None).await, 403, None);
    let labs_only = s.token("system/Observation.rs");
    outcome(
        &s.call("GET", path, Some(&labs_only), None).await,
        403,
        None,
    );
    let labs_only = s.token("system/Observation.rs");
    assert_eq!(
        s.call(
            "GET",
            "/fhir/Observation?patient=pt-1",
            Some(&labs_only),
            None
        )
        .await
        .status,
        200
    );
    let read_only = s.token("system/*.rs");
    let r = s
        .call(
            "POST",
            "/fhir",
            Some(&read_only),
            Some(&transaction(vec![anc_entry("pt-2", "10*9/L")])),
        )
        .await;
    outcome(&r, 403, None);
    s.validate_everything_answered();
}

fn anc_entry(patient: &str, unit: &str) -> Value {
    json!({
        "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "request": {"method": "POST", "url": "Observation"},
        "resource": {
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "performer": [{"reference": "Practitioner/dr-ada"}],
            "effectiveDateTime": "2026-11-25",
            "valueQuantity": {"value": 1.8, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
        }
    })
}

fn order_entry(patient: &str) -> Value {
    json!({
        "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "request": {"method": "POST", "url": "MedicationRequest"},
        "resource": {
            "resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "342369", "display": "lenalidomide"}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "requester": {"reference": "Practitioner/dr-ada"},
            "authoredOn": "2026-11-26",
            "dosageInstruction": [{
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d",
                    "boundsDuration": {"value": 21, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}},
                "doseAndRate": [{"doseQuantity": {"value": 25, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}]
            }],
            "dispenseRequest": {"numberOfRepeatsAllowed": 0, "quantity": {"value": 21, "unit": "capsule"},
                "expectedSupplyDuration": {"value": 28, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}
        }
    })
}

fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

async fn imports_labs_and_orders(s: &Server) {
    let mut anc = anc_entry("pt-2", "10*3/uL");
    anc["resource"]["referenceRange"] = json!([{
        "low": {"value": 1.5, "unit": "10*3/uL", "system": "http://unitsofmeasure.org", "code": "10*3/uL"},
        "high": {"value": 8.0, "unit": "10*3/uL", "system": "http://unitsofmeasure.org", "code": "10*3/uL"}
    }]);
    let bundle = transaction(vec![anc, order_entry("pt-2")]);
    let r = s.post(&bundle).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["type"], "transaction-response");
    let mut locations = Vec::new();
    for e in r.json["entry"].as_array().unwrap() {
        assert_eq!(e["response"]["status"], "201 Created", "{e}");
        locations.push(e["response"]["location"].as_str().unwrap().to_string());
    }
    assert!(
        locations[0].starts_with("Observation/pt-2.-lab-"),
        "{locations:?}"
    );
    assert!(
        locations[1].starts_with("MedicationRequest/pt-2.-rx-"),
        "{locations:?}"
    );
    // What was written reads back through the API, in the table's codes.
    let o = s.get(&format!("/fhir/{}", locations[0])).await;
    assert_eq!(o.status, 200, "{}", o.json);
    assert_eq!(o.json["valueQuantity"]["value"], 1.8);
    assert_eq!(o.json["valueQuantity"]["code"], "10*3/uL");
    assert_eq!(o.json["referenceRange"][0]["high"]["value"], 8.0);
    let m = s.get(&format!("/fhir/{}", locations[1])).await;
    assert_eq!(m.status, 200, "{}", m.json);
    assert_eq!(m.json["status"], "active");
    assert_eq!(
        m.json["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"],
        25.0
    );
    // A retry of the same Bundle answers with the first outcomes and writes nothing new.
    let audit_before = s.store.audit_rows(0, 100_000).await.unwrap().len();
    let again = s.post(&bundle).await;
    assert_eq!(again.status, 200, "{}", again.json);
    for (e, loc) in again.json["entry"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&locations)
    {
        assert_eq!(e["response"]["status"], "200 OK");
        assert_eq!(e["response"]["location"], loc.as_str());
    }
    assert_eq!(
        s.store.audit_rows(0, 100_000).await.unwrap().len(),
        audit_before
    );
    // The same fullUrl with another resource is a conflict naming the entry, and writes nothing.
    let mut changed = bundle["entry"][0].clone();
    changed["resource"]["valueQuantity"]["value"] = json!(9.9);
    outcome(
        &s.post(&transaction(vec![changed])).await,
        409,
        Some("Bundle.entry[0].fullUrl"),
    );
    assert_eq!(
        s.store.audit_rows(0, 100_000).await.unwrap().len(),
        audit_before
    );
    assert_eq!(
        s.search("/fhir/Observation?patient=pt-2&code=751-8")
            .await
            .len(),
        2,
        "the ANC before the prescription and the imported one"
    );
    assert_eq!(
        s.search("/fhir/MedicationRequest?patient=pt-2").await.len(),
        1
    );
}

fn body_entry(patient: &str, loinc: &str, value: f64, unit: &str) -> Value {
    json!({
        "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "request": {"method": "POST", "url": "Observation"},
        "resource": {
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "performer": [{"reference": "Practitioner/dr-ada"}],
            "effectiveDateTime": "2026-11-25",
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
        }
    })
}

/// The creatinine clearance the engine computes for a patient from the stored file, if it can.
async fn crcl_of(store: &dyn Store, patient: &str) -> Option<f64> {
    let file = store.patient_file(patient).await.unwrap().unwrap();
    let snap = lenaguard_storage::engine::snapshot(&file).unwrap();
    let pack = lenaguard_domain::RulePack::builtin().unwrap();
    lenaguard_domain::assess(&snap, &pack, seed::DAY)
        .unwrap()
        .kidney
        .crcl_ml_min
}

/// A body weight (with a height of the same day) becomes the measurement the engine doses from; a height alone,
/// a weight in a unit the table does not map, and a weight no patient has are refused with nothing written.
async fn imports_body_weight(s: &Server) {
    let mut creatinine = anc_entry("pt-2", "mg/dL");
    creatinine["resource"]["code"]["coding"][0]["code"] = json!("2160-0");
    creatinine["resource"]["valueQuantity"]["value"] = json!(0.9);
    assert_eq!(
        s.post(&transaction(vec![creatinine])).await.status,
        200,
        "a fresh creatinine first"
    );
    let earlier = crcl_of(s.store.as_ref(), "pt-2")
        .await
        .expect("the weight recorded before the prescription");
    let bundle = transaction(vec![
        body_entry("pt-2", "8302-2", 168.0, "cm"),
        body_entry("pt-2", "29463-7", 72.0, "kg"),
    ]);
    let r = s.post(&bundle).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let locations: Vec<String> = r.json["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["response"]["status"], "201 Created", "{e}");
            e["response"]["location"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        locations[1].starts_with("Observation/pt-2.-measurement-"),
        "{locations:?}"
    );
    assert_eq!(locations[0], format!("{}-height", locations[1]));
    let file = s.store.patient_file("pt-2").await.unwrap().unwrap();
    let stored: Vec<BodyMeasurement> = file
        .records
        .iter()
        .filter(|r| r.kind == lenaguard_storage::records::RecordKind::Measurement)
        .map(|r| r.body.decode().unwrap())
        .collect();
    assert_eq!(
        stored.last(),
        Some(&BodyMeasurement {
            date: seed::days(seed::DAY, -1),
            weight_kg: 72.0,
            height_cm: Some(168.0),
        }),
        "{stored:?}"
    );
    // The engine doses from the newest weight: 72 kg against the 62 kg before, the same creatinine.
    let crcl = crcl_of(s.store.as_ref(), "pt-2").await;
    assert!(
        crcl.is_some_and(|c| c > earlier),
        "{crcl:?} after {earlier}"
    );
    // Both read back as vital signs where the answer said they are.
    let w = s.get(&format!("/fhir/{}", locations[1])).await;
    assert_eq!(w.status, 200, "{}", w.json);
    assert_eq!(w.json["valueQuantity"]["value"], 72.0);
    assert_eq!(w.json["category"][0]["coding"][0]["code"], "vital-signs");
    let h = s.get(&format!("/fhir/{}", locations[0])).await;
    assert_eq!(h.status, 200, "{}", h.json);
    assert_eq!(h.json["code"]["coding"][0]["code"], "8302-2");
    assert_eq!(h.json["valueQuantity"]["value"], 168.0);
    // A retry answers with the first outcomes, the height's too.
    let again = s.post(&bundle).await;
    assert_eq!(again.status, 200, "{}", again.json);
    for (e, loc) in again.json["entry"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&locations)
    {
        assert_eq!(e["response"]["status"], "200 OK");
        assert_eq!(e["response"]["location"], loc.as_str());
    }

    let before = state_of(s.store.as_ref()).await;
    // A height alone: the program records a height only with a weight.
    let lone = s
        .post(&transaction(vec![
            body_entry("pt-2", "29463-7", 72.0, "kg"),
            body_entry("pt-3", "8302-2", 168.0, "cm"),
        ]))
        .await;
    let d = outcome(&lone, 400, Some("Bundle.entry[1].resource.code"))["diagnostics"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(d.contains("8302-2") && d.contains("29463-7"), "{d}");
    // Pounds are not in the table: named, with the unit it accepts, never converted.
    let lb = s
        .post(&transaction(vec![
            anc_entry("pt-2", "10*9/L"),
            body_entry("pt-2", "29463-7", 160.0, "[lb_av]"),
        ]))
        .await;
    let d = outcome(
        &lb,
        400,
        Some("Bundle.entry[1].resource.valueQuantity.code"),
    )["diagnostics"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(d.contains("[lb_av]") && d.contains("kg"), "{d}");
    // A weight no patient has: the workflow refuses the entry, and the valid lab before it is not written.
    let heavy = s
        .post(&transaction(vec![
            anc_entry("pt-2", "10*9/L"),
            body_entry("pt-2", "29463-7", 700.0, "kg"),
        ]))
        .await;
    let d = outcome(&heavy, 422, Some("Bundle.entry[1]"))["diagnostics"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        d.contains("record.invalid") && d.contains("measurement.weight_kg"),
        "{d}"
    );
    // The lab is not written; the refusal of the weight is in the audit trail.
    let after = state_of(s.store.as_ref()).await;
    assert_eq!((after.0, &after.1), (before.0 + 1, &before.1));
}

/// Everything the store holds, to prove a refused transaction changed nothing.
async fn state_of(store: &dyn Store) -> (usize, String) {
    let rows = store.audit_rows(0, 100_000).await.unwrap().len();
    let mut files = String::new();
    for p in store.patient_ids().await.unwrap() {
        files.push_str(&format!("{:?}\n", store.patient_file(&p).await.unwrap()));
    }
    (rows, files)
}

async fn refuses_atomically(s: &Server) {
    let before = state_of(s.store.as_ref()).await;
    // The program refuses entry 1 (pt-3 has no pregnancy tests): entry 0, valid on its own, is not written.
    let bundle = transaction(vec![anc_entry("pt-2", "10*9/L"), order_entry("pt-3")]);
    let refused = s.post(&bundle).await;
    let issue = outcome(&refused, 422, Some("Bundle.entry[1]"));
    assert!(
        issue["diagnostics"]
            .as_str()
            .unwrap()
            .contains("nothing in the transaction was written")
    );
    // Only the refusal of entry 1 is recorded: one audit event, the files as they were.
    let after = state_of(s.store.as_ref()).await;
    assert_eq!((after.0, &after.1), (before.0 + 1, &before.1));
    let last = s.store.audit_rows(0, 100_000).await.unwrap().pop().unwrap();
    assert!(
        last.event.contains("write_prescription") && last.event.contains("refused"),
        "{}",
        last.event
    );
    // A retry of the same Bundle answers the same refusal and records nothing more.
    let before = after;
    outcome(&s.post(&bundle).await, 422, Some("Bundle.entry[1]"));
    assert_eq!(state_of(s.store.as_ref()).await, before);
    // An entry the import cannot read: a unit the table does not know, sent as text alone.
    let mut bad = anc_entry("pt-2", "10*9/L");
    bad["resource"]["valueQuantity"] = json!({"value": 1.8, "unit": "cells/mL"});
    let invalid = s
        .post(&transaction(vec![
            anc_entry("pt-2", "10*9/L"),
            order_entry("pt-2"),
            anc_entry("pt-2", "10*9/L"),
            bad,
        ]))
        .await;
    let issue = outcome(
        &invalid,
        400,
        Some("Bundle.entry[3].resource.valueQuantity.unit"),
    );
    let d = issue["diagnostics"].as_str().unwrap();
    assert!(d.contains("\"cells/mL\"") && d.contains("10*9/L"), "{d}");
    // Others: not a transaction, an unknown patient, an unknown LOINC, another drug, no fullUrl.
    let mut not_tx = transaction(vec![anc_entry("pt-2", "10*9/L")]);
    not_tx["type"] = json!("batch");
    outcome(&s.post(&not_tx).await, 400, Some("Bundle.type"));
    outcome(
        &s.post(&transaction(vec![anc_entry("nobody", "10*9/L")]))
            .await,
        422,
        Some("Bundle.entry[0]"),
    );
    // The workflow refused it (an unknown patient): that refusal is in the audit trail, nothing else.
    let before = (before.0 + 1, before.1);
    let mut loinc = anc_entry("pt-2", "10*9/L");
    loinc["resource"]["code"]["coding"][0]["code"] = json!("2345-7");
    outcome(
        &s.post(&transaction(vec![loinc])).await,
        400,
        Some("Bundle.entry[0].resource.code"),
    );
    let mut other = order_entry("pt-2");
    other["resource"]["medicationCodeableConcept"] = json!({"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "3264", "display": "dexamethasone"}]});
    outcome(
        &s.post(&transaction(vec![other])).await,
        400,
        Some("Bundle.entry[0].resource.medicationCodeableConcept"),
    );
    let mut dose = order_entry("pt-2");
    dose["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["code"] = json!("g");
    dose["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["unit"] = json!("g");
    outcome(
        &s.post(&transaction(vec![dose])).await,
        400,
        Some("Bundle.entry[0].resource.dosageInstruction[0].doseAndRate[0].doseQuantity.code"),
    );
    let mut range = anc_entry("pt-2", "10*9/L");
    range["resource"]["referenceRange"] = json!([{"high": {"value": 8000, "unit": "/uL", "system": "http://unitsofmeasure.org", "code": "/uL"}}]);
    outcome(
        &s.post(&transaction(vec![range])).await,
        400,
        Some("Bundle.entry[0].resource.referenceRange[0].high.code"),
    );
    let mut conditional = anc_entry("pt-2", "10*9/L");
    conditional["request"]["ifNoneExist"] = json!("identifier=lab|123");
    outcome(
        &s.post(&transaction(vec![conditional])).await,
        400,
        Some("Bundle.entry[0].request.ifNoneExist"),
    );
    let mut no_url = anc_entry("pt-2", "10*9/L");
    no_url.as_object_mut().unwrap().remove("fullUrl");
    outcome(
        &s.post(&transaction(vec![no_url])).await,
        400,
        Some("Bundle.entry[0].fullUrl"),
    );
    let t = s.token(FHIR_DEV_SCOPE);
    let raw = s.call("POST", "/fhir", Some(&t), None).await;
    outcome(&raw, 400, None);
    assert_eq!(state_of(s.store.as_ref()).await, before);
}

#[tokio::test]
async fn transaction_imports_labs_and_orders_and_refuses_atomically_on_sqlite() {
    let (store, _dir) = sqlite().await;
    let s = seeded(store).await;
    imports_labs_and_orders(&s).await;
    imports_body_weight(&s).await;
    refuses_atomically(&s).await;
    s.validate_everything_answered();
}

#[tokio::test]
async fn transaction_imports_labs_and_orders_and_refuses_atomically_on_postgres() {
    on_postgres(|store| async move {
        let s = seeded(store).await;
        imports_labs_and_orders(&s).await;
        imports_body_weight(&s).await;
        refuses_atomically(&s).await;
        s.validate_everything_answered();
    })
    .await;
}

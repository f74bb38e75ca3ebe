//! The CDS Hooks service over real HTTP (standards.md §1): the server is started on port 0 and called over a TCP
//! socket with plain HTTP/1.1. Covers discovery, the order-sign story of issue 6 (CrCl about 40 mL/min, a 25 mg
//! draft → one warning card suggesting 10 mg), the 412 for missing prefetch, bad input, and one test per JWT
//! attack of §1.7 (every one refused with 401, never 200 or 500).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::civil::date;
use lenaguard_domain::RulePack;
use lenaguard_server::{Application, Client, DEV_ISSUER, DevKey, Settings};
use serde_json::{Value, json};
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ORDER_SIGN: &str = "/cds-services/lenalidomide-order-sign";

struct Server {
    addr: std::net::SocketAddr,
    base: String,
    key: DevKey,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Server {
    start_with(false).await
}

async fn start_with(bench_echo: bool) -> Server {
    let key = DevKey::generate("test-key-1").unwrap();
    let client = Client::new(DEV_ISSUER.into(), &["ES384".into()], key.jwks().unwrap()).unwrap();
    let mut settings = Settings::new(
        "127.0.0.1:0".parse().unwrap(),
        vec![client],
        RulePack::builtin().unwrap(),
    );
    settings.today = Some(date(2026, 11, 26));
    settings.body_limit = 256 * 1024;
    settings.bench_echo = bench_echo;
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
        _stop: stop,
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../interop/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request on a fresh connection.
async fn http(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Reply {
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        s.addr
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    if let Some(b) = body {
        // A body refused early may close the connection before it is all sent; the reply still comes.
        let _ = stream.write_all(b).await;
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers: head,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn token_for(s: &Server, path: &str) -> String {
    s.key
        .token(DEV_ISSUER, &format!("{}{path}", s.base), now())
        .unwrap()
}

fn claims(s: &Server) -> Value {
    json!({
        "iss": DEV_ISSUER, "aud": format!("{}{ORDER_SIGN}", s.base),
        "iat": now(), "exp": now() + 300, "jti": uuid::Uuid::new_v4().to_string(),
    })
}

async fn order_sign(s: &Server, token: &str) -> Reply {
    let body = fixture("order-sign-crcl40.json");
    http(s, "POST", ORDER_SIGN, Some(token), Some(body.as_bytes())).await
}

/// An attack is refused with 401, an OperationOutcome and a reason naming the check.
async fn refused(s: &Server, token: &str, why: &str) {
    let r = order_sign(s, token).await;
    assert_eq!(r.status, 401, "{why}: {}", String::from_utf8_lossy(&r.body));
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{}",
        r.headers
    );
    let oo = r.json();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let diag = oo["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(diag.contains(why), "{diag:?} should name {why:?}");
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn health_and_discovery() {
    let s = start().await;
    assert_eq!(http(&s, "GET", "/healthz", None, None).await.status, 200);
    // The benchmark's endpoints exist only when a benchmark turns them on.
    for path in ["/bench/echo", "/bench/echo-auth"] {
        let r = http(&s, "POST", path, None, Some(b"{}")).await;
        assert_eq!(r.status, 404, "{path}");
    }
    let r = http(&s, "GET", "/cds-services", None, None).await;
    assert_eq!(r.status, 200);
    let d = r.json();
    let hooks: Vec<&str> = d["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["hook"].as_str().unwrap())
        .collect();
    assert_eq!(hooks, ["order-sign", "order-select", "patient-view"]);
    assert!(d["services"][0]["prefetch"]["labs"].is_string());
}

/// The benchmark's baselines, when turned on: the plain echo takes anything; the authenticated echo checks the
/// token as order-sign does, so a missing, forged or replayed one is refused there too.
#[tokio::test]
async fn the_benchmark_echoes_check_tokens_as_order_sign_does() {
    let s = start_with(true).await;
    assert_eq!(
        http(&s, "POST", "/bench/echo", None, Some(b"{}"))
            .await
            .status,
        200
    );
    assert_eq!(
        http(&s, "POST", "/bench/echo-auth", None, Some(b"{}"))
            .await
            .status,
        401
    );
    let token = token_for(&s, ORDER_SIGN);
    let r = http(&s, "POST", "/bench/echo-auth", Some(&token), Some(b"{}")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["received"], 2);
    let again = http(&s, "POST", "/bench/echo-auth", Some(&token), Some(b"{}")).await;
    assert_eq!(again.status, 401, "a jti is good for one call");
    let elsewhere = token_for(&s, "/cds-services/lenalidomide-patient-view");
    assert_eq!(
        http(
            &s,
            "POST",
            "/bench/echo-auth",
            Some(&elsewhere),
            Some(b"{}")
        )
        .await
        .status,
        401,
        "the audience is order-sign's"
    );
}

#[tokio::test]
async fn order_sign_crcl_40_and_25_mg_gives_one_warning_card_suggesting_10_mg() {
    let s = start().await;
    let r = order_sign(&s, &token_for(&s, ORDER_SIGN)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let cards = v["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "{v:#}");
    let card = &cards[0];
    assert_eq!(card["indicator"], "warning");
    let summary = card["summary"].as_str().unwrap();
    assert!(
        summary.contains("10 mg") && summary.contains("25 mg"),
        "{summary}"
    );
    assert!(
        card["source"]["label"]
            .as_str()
            .unwrap()
            .contains("Renal dose adjustments")
    );
    let action = &card["suggestions"][0]["actions"][0];
    assert_eq!(action["type"], "update");
    assert_eq!(action["resource"]["id"], "mr-len-c1");
    let dose = &action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"];
    assert_eq!(
        (dose["value"].as_f64(), dose["code"].as_str()),
        (Some(10.0), Some("mg"))
    );
}

#[tokio::test]
async fn missing_prefetch_is_412_naming_the_keys() {
    let s = start().await;
    let mut req: Value = serde_json::from_str(&fixture("order-sign-crcl40.json")).unwrap();
    let p = req["prefetch"].as_object_mut().unwrap();
    p.remove("labs");
    p.remove("conditions");
    // Without FHIR server access the keys can be had neither way.
    let r = req.as_object_mut().unwrap();
    r.remove("fhirServer");
    r.remove("fhirAuthorization");
    let body = serde_json::to_vec(&req).unwrap();
    let r = http(
        &s,
        "POST",
        ORDER_SIGN,
        Some(&token_for(&s, ORDER_SIGN)),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 412);
    let oo = r.json();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["code"], "incomplete");
    let exprs: Vec<&str> = oo["issue"][0]["expression"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(exprs, ["prefetch.labs", "prefetch.conditions"]);
}

#[tokio::test]
async fn bad_input_is_400_or_413_never_500() {
    let s = start().await;
    // Not JSON.
    let r = http(
        &s,
        "POST",
        ORDER_SIGN,
        Some(&token_for(&s, ORDER_SIGN)),
        Some(b"{not json"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["issue"][0]["code"], "structure");
    // A required field missing: the message names it.
    let r = http(
        &s,
        "POST",
        ORDER_SIGN,
        Some(&token_for(&s, ORDER_SIGN)),
        Some(br#"{"hook":"order-sign","context":{}}"#),
    )
    .await;
    assert_eq!(r.status, 400);
    let diag = r.json()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(diag.contains("hookInstance"), "{diag}");
    // The wrong hook for the service.
    let mut req: Value = serde_json::from_str(&fixture("order-sign-crcl40.json")).unwrap();
    req["hook"] = json!("patient-view");
    let body = serde_json::to_vec(&req).unwrap();
    let r = http(
        &s,
        "POST",
        ORDER_SIGN,
        Some(&token_for(&s, ORDER_SIGN)),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["issue"][0]["expression"][0], "request.hook");
    // Too large.
    let big = vec![b' '; 300 * 1024];
    let r = http(
        &s,
        "POST",
        ORDER_SIGN,
        Some(&token_for(&s, ORDER_SIGN)),
        Some(&big),
    )
    .await;
    assert_eq!(r.status, 413);
    // An unknown service.
    let path = "/cds-services/nope";
    let r = http(&s, "POST", path, Some(&token_for(&s, path)), Some(b"{}")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn feedback_is_validated_and_accepted() {
    let s = start().await;
    let path = format!("{ORDER_SIGN}/feedback");
    let ok = json!({"feedback": [{"card": "c1", "outcome": "overridden",
        "overrideReason": {"reason": {"code": "trial-protocol", "system": "https://x/override-reason"}},
        "outcomeTimestamp": "2026-11-26T09:30:00Z"}]});
    let r = http(
        &s,
        "POST",
        &path,
        Some(&token_for(&s, &path)),
        Some(&serde_json::to_vec(&ok).unwrap()),
    )
    .await;
    assert_eq!(r.status, 200);
    let bad = json!({"feedback": [{"card": "c1", "outcome": "accepted",
        "outcomeTimestamp": "2026-11-26T09:30:00Z"}]});
    let r = http(
        &s,
        "POST",
        &path,
        Some(&token_for(&s, &path)),
        Some(&serde_json::to_vec(&bad).unwrap()),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["issue"][0]["expression"][0],
        "feedback[0].acceptedSuggestions"
    );
    // Feedback needs a token too.
    let r = http(
        &s,
        "POST",
        &path,
        None,
        Some(&serde_json::to_vec(&ok).unwrap()),
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn attack_no_token() {
    let s = start().await;
    let body = fixture("order-sign-crcl40.json");
    let r = http(&s, "POST", ORDER_SIGN, None, Some(body.as_bytes())).await;
    assert_eq!(r.status, 401);
    refused(&s, "", "Bearer JWT is required").await;
}

#[tokio::test]
async fn attack_alg_none() {
    let s = start().await;
    let t = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "test-key-1"})),
        b64(&claims(&s))
    );
    refused(&s, &t, "unsigned tokens are not accepted").await;
}

#[tokio::test]
async fn attack_hs256_with_the_public_key_as_secret() {
    let s = start().await;
    // The classic confusion attack: HMAC keyed with the public key material the attacker can read.
    let secret = serde_json::to_vec(&s.key.jwk().unwrap()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("test-key-1".into());
    let t = jsonwebtoken::encode(
        &header,
        &claims(&s),
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap();
    refused(&s, &t, "symmetric (HMAC)").await;
}

#[tokio::test]
async fn attack_wrong_iss() {
    let s = start().await;
    let mut c = claims(&s);
    c["iss"] = json!("https://evil.example.org");
    refused(&s, &s.key.sign(&c).unwrap(), "not a configured CDS client").await;
}

#[tokio::test]
async fn attack_wrong_aud() {
    let s = start().await;
    let mut c = claims(&s);
    c["aud"] = json!(format!("{}/cds-services/lenalidomide-patient-view", s.base));
    refused(&s, &s.key.sign(&c).unwrap(), "aud").await;
}

#[tokio::test]
async fn attack_expired() {
    let s = start().await;
    let mut c = claims(&s);
    c["iat"] = json!(now() - 900);
    c["exp"] = json!(now() - 600);
    refused(&s, &s.key.sign(&c).unwrap(), "ExpiredSignature").await;
}

#[tokio::test]
async fn attack_iat_in_the_future() {
    let s = start().await;
    let mut c = claims(&s);
    c["iat"] = json!(now() + 600);
    c["exp"] = json!(now() + 900);
    refused(&s, &s.key.sign(&c).unwrap(), "iat is in the future").await;
}

#[tokio::test]
async fn attack_replayed_jti() {
    let s = start().await;
    let t = s.key.sign(&claims(&s)).unwrap();
    assert_eq!(order_sign(&s, &t).await.status, 200);
    refused(&s, &t, "jti was already used").await;
}

#[tokio::test]
async fn attack_missing_jti() {
    let s = start().await;
    let mut c = claims(&s);
    c.as_object_mut().unwrap().remove("jti");
    refused(&s, &s.key.sign(&c).unwrap(), "jti is required").await;
}

#[tokio::test]
async fn attack_oversized_jti() {
    let s = start().await;
    let mut c = claims(&s);
    c["jti"] = json!("x".repeat(10_000));
    refused(&s, &s.key.sign(&c).unwrap(), "jti is longer than").await;
}

#[tokio::test]
async fn attack_unknown_kid() {
    let s = start().await;
    let mut other = DevKey::generate("attacker-key").unwrap();
    refused(
        &s,
        &other.sign(&claims(&s)).unwrap(),
        "not in the client's JWKS",
    )
    .await;
    // The attacker's own key under the trusted kid: the signature does not verify.
    other.kid = "test-key-1".into();
    refused(&s, &other.sign(&claims(&s)).unwrap(), "InvalidSignature").await;
}

#[tokio::test]
async fn attack_bad_signature() {
    let s = start().await;
    let t = s.key.sign(&claims(&s)).unwrap();
    // Same header and signature, a payload changed after signing (another patient's service, say).
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims(&s);
    c["jti"] = json!("forged");
    let forged = format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
    refused(&s, &forged, "InvalidSignature").await;
}

#[test]
fn the_clients_file_is_read_and_refuses_hmac() {
    let dir = std::env::temp_dir().join(format!("lenaguard-clients-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = DevKey::generate("ehr-1").unwrap();
    std::fs::write(
        dir.join("ehr-jwks.json"),
        serde_json::to_string(&key.jwks().unwrap()).unwrap(),
    )
    .unwrap();
    let file = dir.join("clients.toml");
    std::fs::write(
        &file,
        "[[clients]]\niss = \"https://ehr.example.org\"\nalgorithms = [\"ES384\"]\njwks_file = \"ehr-jwks.json\"\n",
    )
    .unwrap();
    let clients = lenaguard_server::load_clients(&file).unwrap();
    assert_eq!(clients[0].iss, "https://ehr.example.org");
    assert_eq!(clients[0].jwks.keys.len(), 1);
    std::fs::write(
        &file,
        "[[clients]]\niss = \"x\"\nalgorithms = [\"HS256\"]\njwks_file = \"ehr-jwks.json\"\n",
    )
    .unwrap();
    let e = lenaguard_server::load_clients(&file).unwrap_err();
    assert!(e.contains("HS256"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn patient_view_and_order_select_answer_200() {
    let s = start().await;
    let base: Value = serde_json::from_str(&fixture("order-sign-crcl40.json")).unwrap();
    // patient-view: the prefetch alone; the answer is a card list (empty or one card), never an error.
    let mut pv = base.clone();
    pv["hook"] = json!("patient-view");
    pv["context"].as_object_mut().unwrap().remove("draftOrders");
    let path = "/cds-services/lenalidomide-patient-view";
    let body = serde_json::to_vec(&pv).unwrap();
    let r = http(&s, "POST", path, Some(&token_for(&s, path)), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["cards"].as_array().unwrap().len() <= 1);
    // order-select of the same draft: the same dose card.
    let mut os = base.clone();
    os["hook"] = json!("order-select");
    os["context"]["selections"] = json!(["MedicationRequest/mr-len-c1"]);
    let path = "/cds-services/lenalidomide-order-select";
    let body = serde_json::to_vec(&os).unwrap();
    let r = http(&s, "POST", path, Some(&token_for(&s, path)), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["cards"].as_array().unwrap().len(), 1);
    // A selection that is not the lenalidomide draft: nothing to say, and no prefetch needed to say it.
    os["context"]["selections"] = json!(["MedicationRequest/other"]);
    os.as_object_mut().unwrap().remove("prefetch");
    let body = serde_json::to_vec(&os).unwrap();
    let r = http(&s, "POST", path, Some(&token_for(&s, path)), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["cards"], json!([]));
}

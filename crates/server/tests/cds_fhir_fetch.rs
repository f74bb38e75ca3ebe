//! Prefetch the EHR did not send, fetched from its FHIR server (standards.md §1.3, §1.4), over real HTTP: a small
//! FHIR server (axum on 127.0.0.1:0) serves the patient, labs, conditions and medications of the CrCl 40 fixture
//! as a Patient and searchset Bundles, only to the access token of `fhirAuthorization`. The answer is the same
//! card as with full prefetch; a malformed fetched resource is 400 naming it; a FHIR server that refuses, stalls,
//! sends a page larger than the service reads, is not https or is not on the client's `fhir_servers` list is 412
//! or 400, never a card. A client without `fhir_servers` gets no fetch at all.

use anyhow::{Context, Result, ensure};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::date;
use lenaguard_domain::RulePack;
use lenaguard_server::{Client, DEV_ISSUER, DevKey, Settings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

const ORDER_SIGN: &str = "/cds-services/lenalidomide-order-sign";
const ACCESS_TOKEN: &str = "ehr-access-token-1";

/// How the FHIR server serves the labs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Labs {
    OnePage,
    TwoPages,
    /// An Observation whose value is not a Quantity.
    Malformed,
    /// A `next` link to another server.
    NextOffServer,
    /// Answers after 3 s.
    Slow,
}

#[derive(Debug)]
struct Ehr {
    prefetch: Value,
    labs: Labs,
    base: Mutex<String>,
    /// `METHOD path?query` and the Authorization header of every request.
    seen: Mutex<Vec<(String, String)>>,
    /// Every request the server received, whatever its path.
    requests: AtomicUsize,
}

fn fixture() -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../interop/tests/fixtures/order-sign-crcl40.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).expect("fixture JSON")
}

async fn resource(
    State(ehr): State<Arc<Ehr>>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    ehr.seen.lock().unwrap().push((path.clone(), auth.clone()));
    if auth != format!("Bearer {ACCESS_TOKEN}") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let p = &ehr.prefetch;
    let body = match path.as_str() {
        "Patient/pt-1001" => p["patient"].clone(),
        "Condition" => p["conditions"].clone(),
        "MedicationRequest" => p["medications"].clone(),
        "Observation" => {
            let mut labs = p["labs"].clone();
            let base = ehr.base.lock().unwrap().clone();
            match ehr.labs {
                Labs::OnePage => {}
                Labs::Slow => tokio::time::sleep(Duration::from_secs(3)).await,
                Labs::Malformed => {
                    labs["entry"][0]["resource"]["valueQuantity"] = json!("forty");
                }
                Labs::TwoPages | Labs::NextOffServer => {
                    let entries = labs["entry"].as_array().cloned().unwrap_or_default();
                    let (first, second) = entries.split_at(entries.len() / 2);
                    if query.get("page").map(String::as_str) == Some("2") {
                        labs["entry"] = json!(second);
                    } else {
                        labs["entry"] = json!(first);
                        let next = if ehr.labs == Labs::TwoPages {
                            format!("{base}/Observation?patient=pt-1001&page=2")
                        } else {
                            "https://elsewhere.example.org/fhir/Observation?page=2".into()
                        };
                        labs["link"] = json!([{"relation": "next", "url": next}]);
                    }
                }
            }
            labs
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    axum::Json(body).into_response()
}

struct World {
    ehr: Arc<Ehr>,
    fhir_base: String,
    cds: std::net::SocketAddr,
    cds_base: String,
    key: DevKey,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

/// The FHIR servers the world's CDS client may name (its `fhir_servers`).
enum Allowed {
    /// The world's own FHIR server.
    Own,
    /// None: the client's configuration has no `fhir_servers`.
    Nothing,
    These(Vec<String>),
}

async fn world(labs: Labs, fhir_timeout: Duration) -> Result<World> {
    world_for(labs, fhir_timeout, Allowed::Own).await
}

async fn count_requests(
    State(ehr): State<Arc<Ehr>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    ehr.requests.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn world_for(labs: Labs, fhir_timeout: Duration, allowed: Allowed) -> Result<World> {
    let ehr = Arc::new(Ehr {
        prefetch: fixture()["prefetch"].clone(),
        labs,
        base: Mutex::new(String::new()),
        seen: Mutex::new(Vec::new()),
        requests: AtomicUsize::new(0),
    });
    let (addr, stop_fhir) = common::serve_peer(
        axum::Router::new()
            .route("/fhir/{*path}", get(resource))
            .layer(axum::middleware::from_fn_with_state(
                ehr.clone(),
                count_requests,
            ))
            .with_state(ehr.clone()),
    )
    .await?;
    let fhir_base = format!("http://{addr}/fhir");
    let fhir_servers = match allowed {
        Allowed::Own => vec![fhir_base.clone()],
        Allowed::Nothing => Vec::new(),
        Allowed::These(list) => list,
    };
    *ehr.base.lock().unwrap() = fhir_base.clone();
    let key = DevKey::generate("dev-1").map_err(anyhow::Error::msg)?;
    let mut client = Client::new(
        DEV_ISSUER.into(),
        &["ES384".into()],
        key.jwks().map_err(anyhow::Error::msg)?,
    )
    .map_err(anyhow::Error::msg)?;
    client.fhir_servers = fhir_servers;
    let mut settings = Settings::new("127.0.0.1:0".parse()?, vec![client], RulePack::builtin()?);
    settings.today = Some(date(2026, 11, 26));
    settings.fhir_timeout = fhir_timeout;
    let (cds, cds_base, stop_cds) = common::start_service(settings).await?;
    Ok(World {
        ehr,
        fhir_base,
        cds,
        cds_base,
        key,
        _stops: vec![stop_fhir, stop_cds],
    })
}

impl World {
    /// The fixture's order-sign call without the given prefetch keys, pointing at this world's FHIR server.
    fn request(&self, drop: &[&str], fhir_server: &str) -> Value {
        let mut r = fixture();
        for k in drop {
            r["prefetch"].as_object_mut().unwrap().remove(*k);
        }
        r["fhirServer"] = json!(fhir_server);
        r["fhirAuthorization"]["access_token"] = json!(ACCESS_TOKEN);
        r
    }

    async fn order_sign(&self, body: &Value) -> Result<(u16, Value)> {
        let token = self
            .key
            .token(
                DEV_ISSUER,
                &format!("{}{ORDER_SIGN}", self.cds_base),
                jiff::Timestamp::now().as_second(),
            )
            .map_err(anyhow::Error::msg)?;
        let (status, bytes) =
            common::post(self.cds, ORDER_SIGN, &token, serde_json::to_vec(body)?).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).context("JSON answer")?,
        ))
    }

    fn seen(&self) -> Vec<(String, String)> {
        self.ehr.seen.lock().unwrap().clone()
    }
}

const ALL: [&str; 4] = ["patient", "labs", "conditions", "medications"];

fn the_10_mg_card(body: &Value) -> Result<()> {
    let cards = body["cards"].as_array().context("cards")?;
    ensure!(cards.len() == 1, "{body:#}");
    ensure!(cards[0]["indicator"] == "warning", "{body:#}");
    let summary = cards[0]["summary"].as_str().unwrap_or_default();
    ensure!(
        summary.contains("10 mg") && summary.contains("25 mg"),
        "{summary}"
    );
    Ok(())
}

fn expressions(body: &Value) -> Vec<String> {
    body["issue"][0]["expression"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn missing_prefetch_is_fetched_with_the_bearer_token_and_gives_the_same_card() -> Result<()> {
    let w = world(Labs::OnePage, Duration::from_secs(5)).await?;
    let (status, body) = w.order_sign(&w.request(&ALL, &w.fhir_base)).await?;
    ensure!(status == 200, "{status} {body}");
    the_10_mg_card(&body)?;
    let seen = w.seen();
    ensure!(seen.len() == 4, "{seen:?}");
    ensure!(
        seen.iter()
            .all(|(_, auth)| auth == &format!("Bearer {ACCESS_TOKEN}")),
        "{seen:?}"
    );
    let mut paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort();
    ensure!(
        paths
            == [
                "Condition",
                "MedicationRequest",
                "Observation",
                "Patient/pt-1001"
            ],
        "{paths:?}"
    );
    Ok(())
}

#[tokio::test]
async fn only_the_missing_keys_are_fetched_and_pages_are_followed() -> Result<()> {
    let w = world(Labs::TwoPages, Duration::from_secs(5)).await?;
    let (status, body) = w.order_sign(&w.request(&["labs"], &w.fhir_base)).await?;
    ensure!(status == 200, "{status} {body}");
    the_10_mg_card(&body)?;
    let paths: Vec<String> = w.seen().into_iter().map(|(p, _)| p).collect();
    ensure!(
        paths == ["Observation", "Observation"],
        "two pages of labs and nothing else: {paths:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_malformed_fetched_resource_is_400_naming_it() -> Result<()> {
    let w = world(Labs::Malformed, Duration::from_secs(5)).await?;
    let (status, body) = w.order_sign(&w.request(&ALL, &w.fhir_base)).await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(body["resourceType"] == "OperationOutcome");
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    ensure!(
        diag.contains("prefetch.labs (fetched from fhirServer)"),
        "{diag}"
    );
    ensure!(body.get("cards").is_none());
    Ok(())
}

#[tokio::test]
async fn a_next_page_on_another_server_is_refused() -> Result<()> {
    let w = world(Labs::NextOffServer, Duration::from_secs(5)).await?;
    let (status, body) = w.order_sign(&w.request(&["labs"], &w.fhir_base)).await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(
        expressions(&body) == ["prefetch.labs (fetched from fhirServer).link(next)"],
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn a_refused_token_is_412_naming_the_keys() -> Result<()> {
    let w = world(Labs::OnePage, Duration::from_secs(5)).await?;
    let mut request = w.request(&["labs", "conditions"], &w.fhir_base);
    request["fhirAuthorization"]["access_token"] = json!("expired-token");
    let (status, body) = w.order_sign(&request).await?;
    ensure!(status == 412, "{status} {body}");
    ensure!(
        expressions(&body) == ["prefetch.labs", "prefetch.conditions"],
        "{body}"
    );
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    ensure!(diag.contains("HTTP 401"), "{diag}");
    Ok(())
}

#[tokio::test]
async fn a_fhir_server_that_does_not_answer_in_time_is_412() -> Result<()> {
    let w = world(Labs::Slow, Duration::from_millis(300)).await?;
    let (status, body) = w.order_sign(&w.request(&["labs"], &w.fhir_base)).await?;
    ensure!(status == 412, "{status} {body}");
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    ensure!(diag.contains("did not answer in time"), "{diag}");
    Ok(())
}

#[tokio::test]
async fn plain_http_to_a_remote_fhir_server_is_refused_before_any_request() -> Result<()> {
    let w = world(Labs::OnePage, Duration::from_secs(5)).await?;
    let (status, body) = w
        .order_sign(&w.request(&["labs"], "http://ehr.example.org/fhir"))
        .await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(expressions(&body) == ["request.fhirServer"], "{body}");
    // No fhirServer at all: the keys can be had neither way.
    let mut request = w.request(&["labs"], &w.fhir_base);
    let r = request.as_object_mut().context("object")?;
    r.remove("fhirServer");
    r.remove("fhirAuthorization");
    let (status, body) = w.order_sign(&request).await?;
    ensure!(
        status == 412 && expressions(&body) == ["prefetch.labs"],
        "{status} {body}"
    );
    ensure!(w.seen().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_fhir_server_off_the_clients_list_is_refused_before_any_request() -> Result<()> {
    let w = world_for(
        Labs::OnePage,
        Duration::from_secs(5),
        Allowed::These(vec!["https://ehr.example.org/fhir".into()]),
    )
    .await?;
    let (status, body) = w.order_sign(&w.request(&["labs"], &w.fhir_base)).await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(expressions(&body) == ["request.fhirServer"], "{body}");
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    ensure!(diag.contains("https://ehr.example.org/fhir"), "{diag}");
    ensure!(w.seen().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_client_without_fhir_servers_gets_412_and_no_fhir_server_is_called() -> Result<()> {
    let w = world_for(Labs::OnePage, Duration::from_secs(5), Allowed::Nothing).await?;
    // fhirServer and fhirAuthorization are sent, and the server would answer: the configuration alone decides.
    let (status, body) = w
        .order_sign(&w.request(&["labs", "conditions"], &w.fhir_base))
        .await?;
    ensure!(status == 412, "{status} {body}");
    ensure!(body["resourceType"] == "OperationOutcome", "{body}");
    ensure!(
        expressions(&body) == ["prefetch.labs", "prefetch.conditions"],
        "{body}"
    );
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    ensure!(
        diag.contains("no FHIR server is configured for this client")
            && diag.contains("fhir_servers"),
        "{diag}"
    );
    ensure!(body.get("cards").is_none(), "{body}");
    ensure!(
        w.ehr.requests.load(Ordering::SeqCst) == 0,
        "the FHIR server was called {} times",
        w.ehr.requests.load(Ordering::SeqCst)
    );
    // With every key prefetched, the same client is answered as usual: nothing needs fetching.
    let (status, body) = w.order_sign(&w.request(&[], &w.fhir_base)).await?;
    ensure!(status == 200, "{status} {body}");
    the_10_mg_card(&body)?;
    ensure!(w.ehr.requests.load(Ordering::SeqCst) == 0);
    Ok(())
}

/// What the endless FHIR server saw and did.
#[derive(Debug, Default)]
struct Endless {
    requests: AtomicUsize,
    /// Body bytes written before the reader went away (or all of them).
    written: AtomicUsize,
    done: AtomicUsize,
}

/// How much the endless server offers at most, far above the service's page limit.
const ENDLESS_BYTES: usize = 256 * 1024 * 1024;

/// A FHIR server on plain TCP that answers every request with 200 and a searchset Bundle that goes on for
/// [`ENDLESS_BYTES`], with no Content-Length (the body ends when the connection closes), as a broken or hostile
/// server might.
async fn endless_fhir_server() -> Result<(String, Arc<Endless>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(Endless::default());
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            state.requests.fetch_add(1, Ordering::SeqCst);
            let state = state.clone();
            tokio::spawn(async move {
                // The request head: enough to know it arrived; its content does not matter here.
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let start = "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\nconnection: close\r\n\r\n{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[";
                let entry = r#"{"resource":{"resourceType":"Observation","status":"final","code":{"text":"padding"}}},"#;
                let chunk = entry.repeat(65536 / entry.len());
                let mut written = 0;
                if socket.write_all(start.as_bytes()).await.is_ok() {
                    while written < ENDLESS_BYTES {
                        if socket.write_all(chunk.as_bytes()).await.is_err() {
                            break;
                        }
                        written += chunk.len();
                    }
                }
                state.written.store(written, Ordering::SeqCst);
                state.done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Ok((format!("http://{addr}/fhir"), seen))
}

#[tokio::test]
async fn a_fhir_page_larger_than_the_limit_is_412_naming_the_key_and_is_not_read_whole()
-> Result<()> {
    let (endless, seen) = endless_fhir_server().await?;
    let w = world_for(
        Labs::OnePage,
        Duration::from_secs(5),
        Allowed::These(vec![endless.clone()]),
    )
    .await?;
    let (status, body) = w.order_sign(&w.request(&["labs"], &endless)).await?;
    ensure!(status == 412, "{status} {body}");
    ensure!(expressions(&body) == ["prefetch.labs"], "{body}");
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    // The service reads at most 4 MiB of a page.
    let limit = 4 * 1024 * 1024;
    ensure!(
        diag.contains(&format!(
            "labs (the FHIR server's answer is larger than the {limit} bytes read per page)"
        )),
        "{diag}"
    );
    ensure!(seen.requests.load(Ordering::SeqCst) == 1);
    // The service stopped reading near the limit: the server could not write its whole body.
    for _ in 0..100 {
        if seen.done.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let written = seen.written.load(Ordering::SeqCst);
    ensure!(
        seen.done.load(Ordering::SeqCst) == 1 && written < ENDLESS_BYTES / 4,
        "the server wrote {written} bytes"
    );
    Ok(())
}

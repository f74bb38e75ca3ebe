//! CDS clients whose keys are fetched (standards.md §1.7, `jku`), over real HTTP: a small JWKS server (axum on
//! 127.0.0.1:0) publishes the client's keys. A key served at an allowlisted `jku` is accepted and cached; a `jku`
//! off the allowlist is refused without being fetched; an unknown `kid` refetches once (key rotation) and no more
//! within the rate limit; nothing is trusted when the JWKS cannot be fetched.

use anyhow::{Result, ensure};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::date;
use lenaguard_domain::RulePack;
use lenaguard_server::{Client, DevKey, Settings};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

mod common;

const ISS: &str = "https://ehr.example.org";
const ORDER_SIGN: &str = "/cds-services/lenalidomide-order-sign";

/// What the JWKS server publishes at each path, and which paths were fetched.
#[derive(Debug, Default)]
struct Published {
    sets: Mutex<Vec<(String, Value)>>,
    fetched: Mutex<Vec<String>>,
}

async fn jwks(State(p): State<Arc<Published>>, Path(name): Path<String>) -> Response {
    p.fetched.lock().unwrap().push(name.clone());
    let sets = p.sets.lock().unwrap();
    match sets.iter().find(|(n, _)| *n == name) {
        Some((_, set)) => axum::Json(set.clone()).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

struct World {
    published: Arc<Published>,
    jwks_base: String,
    cds: std::net::SocketAddr,
    cds_base: String,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl World {
    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.jwks_base)
    }

    fn publish(&self, name: &str, key: &DevKey) {
        let set = serde_json::to_value(key.jwks().unwrap()).unwrap();
        let mut sets = self.published.sets.lock().unwrap();
        sets.retain(|(n, _)| n != name);
        sets.push((name.into(), set));
    }

    fn fetched(&self) -> Vec<String> {
        self.published.fetched.lock().unwrap().clone()
    }

    fn token(&self, key: &DevKey, jku: Option<&str>) -> String {
        let now = jiff::Timestamp::now().as_second();
        key.sign_with_jku(
            &json!({"iss": ISS, "aud": format!("{}{ORDER_SIGN}", self.cds_base), "iat": now,
                    "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string()}),
            jku,
        )
        .unwrap()
    }

    async fn order_sign(&self, token: &str) -> Result<(u16, String)> {
        let body = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../interop/tests/fixtures/order-sign-crcl40.json"),
        )?;
        let (status, body) = common::post(self.cds, ORDER_SIGN, token, body).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// A JWKS server, and a CDS service whose client `ISS` is configured by `client(jwks_base)`.
async fn world(client: impl FnOnce(&str) -> Result<Client, String>) -> Result<World> {
    let published = Arc::new(Published::default());
    let (addr, stop_jwks) = common::serve_peer(
        axum::Router::new()
            .route("/keys/{name}", get(jwks))
            .with_state(published.clone()),
    )
    .await?;
    let jwks_base = format!("http://{addr}/keys");
    let client = client(&jwks_base).map_err(anyhow::Error::msg)?;
    let mut settings = Settings::new("127.0.0.1:0".parse()?, vec![client], RulePack::builtin()?);
    settings.today = Some(date(2026, 11, 26));
    let (cds, cds_base, stop_cds) = common::start_service(settings).await?;
    Ok(World {
        published,
        jwks_base,
        cds,
        cds_base,
        _stops: vec![stop_jwks, stop_cds],
    })
}

fn es384() -> Vec<String> {
    vec!["ES384".into()]
}

#[tokio::test]
async fn a_key_served_at_an_allowed_jku_is_accepted_and_cached() -> Result<()> {
    let w =
        world(|base| Client::remote(ISS.into(), &es384(), None, vec![format!("{base}/ehr.json")]))
            .await?;
    let key = DevKey::generate("ehr-1").map_err(anyhow::Error::msg)?;
    w.publish("ehr.json", &key);
    let jku = w.url("ehr.json");
    for _ in 0..2 {
        let (status, body) = w.order_sign(&w.token(&key, Some(&jku))).await?;
        ensure!(status == 200, "{status} {body}");
    }
    ensure!(
        w.fetched() == ["ehr.json"],
        "fetched once, then cached: {:?}",
        w.fetched()
    );
    // Without a jku this client has no JWKS URL to use.
    let (status, body) = w.order_sign(&w.token(&key, None)).await?;
    ensure!(
        status == 401 && body.contains("jku is required"),
        "{status} {body}"
    );
    Ok(())
}

#[tokio::test]
async fn a_jku_off_the_allowlist_is_refused_without_being_fetched() -> Result<()> {
    let w =
        world(|base| Client::remote(ISS.into(), &es384(), None, vec![format!("{base}/ehr.json")]))
            .await?;
    let key = DevKey::generate("ehr-1").map_err(anyhow::Error::msg)?;
    w.publish("ehr.json", &key);
    // An attacker publishes their own key under the client's kid on a URL of their choosing.
    let attacker = DevKey::generate("ehr-1").map_err(anyhow::Error::msg)?;
    w.publish("attacker.json", &attacker);
    let (status, body) = w
        .order_sign(&w.token(&attacker, Some(&w.url("attacker.json"))))
        .await?;
    ensure!(status == 401, "{status} {body}");
    ensure!(body.contains("not on the client's allowlist"), "{body}");
    ensure!(w.fetched().is_empty(), "nothing fetched: {:?}", w.fetched());
    // The attacker's key under the allowed jku: the allowed JWKS has the client's key, so the signature fails.
    let (status, body) = w
        .order_sign(&w.token(&attacker, Some(&w.url("ehr.json"))))
        .await?;
    ensure!(
        status == 401 && body.contains("InvalidSignature"),
        "{status} {body}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_for_a_rotated_key() -> Result<()> {
    let w = world(|base| {
        Client::remote(
            ISS.into(),
            &es384(),
            Some(format!("{base}/jwks.json")),
            Vec::new(),
        )
    })
    .await?;
    let old = DevKey::generate("key-2025").map_err(anyhow::Error::msg)?;
    w.publish("jwks.json", &old);
    let (status, body) = w.order_sign(&w.token(&old, None)).await?;
    ensure!(status == 200, "{status} {body}");
    // The client rotates its key: the new kid is not in the cached set, so the JWKS is fetched again.
    let new = DevKey::generate("key-2026").map_err(anyhow::Error::msg)?;
    w.publish("jwks.json", &new);
    let (status, body) = w.order_sign(&w.token(&new, None)).await?;
    ensure!(status == 200, "{status} {body}");
    ensure!(w.fetched().len() == 2, "{:?}", w.fetched());
    // Made-up kids right after: refused from the cache, no third fetch (rate limit).
    for kid in ["made-up-1", "made-up-2"] {
        let k = DevKey::generate(kid).map_err(anyhow::Error::msg)?;
        let (status, body) = w.order_sign(&w.token(&k, None)).await?;
        ensure!(
            status == 401 && body.contains("not in the client's JWKS"),
            "{status} {body}"
        );
    }
    ensure!(w.fetched().len() == 2, "{:?}", w.fetched());
    Ok(())
}

#[tokio::test]
async fn nothing_is_trusted_when_the_jwks_cannot_be_fetched() -> Result<()> {
    let w = world(|base| {
        Client::remote(
            ISS.into(),
            &es384(),
            Some(format!("{base}/missing.json")),
            Vec::new(),
        )
    })
    .await?;
    let key = DevKey::generate("ehr-1").map_err(anyhow::Error::msg)?;
    let (status, body) = w.order_sign(&w.token(&key, None)).await?;
    ensure!(status == 401, "{status} {body}");
    ensure!(
        body.contains("could not be fetched") && body.contains("HTTP 404"),
        "{body}"
    );
    // Published now, but the failed fetch is not retried at once: still refused, nothing fetched again.
    w.publish("missing.json", &key);
    let (status, body) = w.order_sign(&w.token(&key, None)).await?;
    ensure!(
        status == 401 && body.contains("tried again at most every"),
        "{status} {body}"
    );
    ensure!(w.fetched().len() == 1, "{:?}", w.fetched());
    Ok(())
}

#[test]
fn the_clients_file_takes_jwks_urls_and_refuses_plain_http_to_remote_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.toml");
    std::fs::write(
        &file,
        "[[clients]]\niss = \"https://ehr.example.org\"\nalgorithms = [\"ES384\"]\njwks_url = \"https://ehr.example.org/.well-known/jwks.json\"\nallowed_jku = [\"https://keys.ehr.example.org/jwks.json\"]\nfhir_servers = [\"HTTPS://EHR.example.org:443/fhir/\"]\n",
    )
    .unwrap();
    let clients = lenaguard_server::load_clients(&file).unwrap();
    assert!(clients[0].remote.is_some());
    // Kept in the form a request's fhirServer is compared in: scheme and host lower case, no default port.
    assert_eq!(clients[0].fhir_servers, ["https://ehr.example.org/fhir"]);
    std::fs::write(
        &file,
        "[[clients]]\niss = \"x\"\nalgorithms = [\"ES384\"]\nallowed_jku = [\"http://keys.example.org/jwks.json\"]\n",
    )
    .unwrap();
    let e = lenaguard_server::load_clients(&file).unwrap_err();
    assert!(e.contains("https://"), "{e}");
    std::fs::write(
        &file,
        "[[clients]]\niss = \"x\"\nalgorithms = [\"ES384\"]\njwks = { keys = [] }\njwks_url = \"https://a.example.org/jwks.json\"\n",
    )
    .unwrap();
    let e = lenaguard_server::load_clients(&file).unwrap_err();
    assert!(e.contains("exactly one of"), "{e}");
}

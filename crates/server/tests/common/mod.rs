//! What the HTTP tests share: a peer server the test plays (an EHR's FHIR or JWKS server) and the CDS service,
//! each on 127.0.0.1:0 and stopped when the returned sender is dropped, and a POST over real HTTP.
#![allow(dead_code)]

pub mod browser;
pub mod web;
pub mod world;

use anyhow::Result;
use lenaguard_server::{Application, Settings};
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// Serve `router` on a free loopback port.
pub async fn serve_peer(router: axum::Router) -> Result<(SocketAddr, oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok((addr, stop))
}

/// The CDS service with these settings: its address, its base URL and its stop switch.
pub async fn start_service(
    settings: Settings,
) -> Result<(SocketAddr, String, oneshot::Sender<()>)> {
    let app = Application::build(settings).await?;
    let addr = app.local_addr()?;
    let base = app.base_url().to_string();
    let (stop, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Ok((addr, base, stop))
}

/// POST a JSON body with a bearer token; the status and the body.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>)> {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.bytes().await?.to_vec()))
}

/// Ask `check` every 100 ms, for at most 10 s, until it answers yes: a wait on a condition, not on time.
pub async fn until<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    for _ in 0..100 {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("{what}: not within 10 s")
}

/// A JSON answer: `Null` for an empty body, an error quoting the body when it is not JSON.
pub fn json_of(bytes: &[u8]) -> Result<serde_json::Value> {
    use anyhow::Context;
    if bytes.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(bytes).with_context(|| String::from_utf8_lossy(bytes).to_string())
}

/// The order-sign fixture (CrCl 40 mL/min, a 25 mg draft order) with this `hookInstance`.
pub fn order_sign_request(hook_instance: &str) -> Result<serde_json::Value> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../interop/tests/fixtures/order-sign-crcl40.json");
    let mut request: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p)?)?;
    request["hookInstance"] = serde_json::json!(hook_instance);
    Ok(request)
}

/// An EHR calling the CDS service at `base` with the development key: each call signed with a fresh token.
pub struct DevEhr {
    pub base: String,
    pub key: lenaguard_server::DevKey,
}

impl DevEhr {
    /// POST `body` to `path` with a token addressed to it; the status and the JSON answer.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, serde_json::Value)> {
        let token = self
            .key
            .token(
                lenaguard_server::DEV_ISSUER,
                &format!("{}{path}", self.base),
                jiff::Timestamp::now().as_second(),
            )
            .map_err(anyhow::Error::msg)?;
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, json_of(&r.bytes().await?)?))
    }

    /// Sign the fixture's order in a new hook instance: the card's uuid, its rule and its first suggestion's uuid.
    pub async fn card(&self, hook_instance: &str) -> Result<(String, String, String)> {
        use anyhow::{Context, ensure};
        let (status, body) = self
            .post(
                "/cds-services/lenalidomide-order-sign",
                &order_sign_request(hook_instance)?,
            )
            .await?;
        ensure!(status == 200, "{status} {body}");
        let card = &body["cards"][0];
        let text = |v: &serde_json::Value, what: &str| {
            v.as_str().map(str::to_string).context(what.to_string())
        };
        Ok((
            text(&card["uuid"], "card uuid")?,
            text(&card["source"]["topic"]["code"], "card rule")?,
            text(&card["suggestions"][0]["uuid"], "suggestion uuid")?,
        ))
    }
}

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

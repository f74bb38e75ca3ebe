//! The CDS Hooks 2.0 HTTP service (standards.md §1): discovery (§1.2), the `order-select`, `order-sign` and
//! `patient-view` services (§1.3, §1.9) answered from prefetch (§1.4) with one card (§1.5), feedback (§1.6),
//! JWT client authentication (§1.7, [`auth`]) and the status codes of §1.8 (412 with an OperationOutcome when
//! prefetch is missing; 400 with an OperationOutcome naming the field for bad input; never 500 for bad input).
//!
//! The pure work (parsing, Bundle → snapshot, card) is `lenaguard-interop`'s; the engine is
//! `lenaguard_domain::assess`. With a store ([`Settings::store`]), the `jti` replay cache is the database's, shared
//! by every server on it ([`replay`]), and issued cards and their feedback are kept for the override statistics
//! per rule. Missing prefetch is read from the request's `fhirServer` only when it is on the client's configured
//! `fhir_servers` list (`prefetch`); a client's keys are
//! configured or fetched from its JWKS URL and allowlisted `jku` ([`jwks`]).
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
mod batch;
pub mod devkey;
mod feedback;
mod fhir_api;
pub mod jwks;
mod prefetch;
pub mod replay;
mod service;
pub mod web;

pub use auth::{Client, load_clients};
pub use devkey::{DEV_ISSUER, DevKey};
pub use fhir_api::{DEV_SCOPE as FHIR_DEV_SCOPE, dev_token as fhir_dev_token};
pub use replay::{MemoryReplayCache, ReplayCache, StoreReplayCache};

use jiff::civil::Date;
use lenaguard_domain::RulePack;
use lenaguard_storage::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The largest request body accepted: a realistic prefetch is tens of kilobytes; this leaves room for long lab
/// histories without letting one caller hold megabytes of memory.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Everything the service needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The public base URL clients call (the JWT `aud` is this plus the path). `None`: `http://` + the bound
    /// address, which is only right when clients connect directly.
    pub base_url: Option<String>,
    pub clients: Vec<Client>,
    pub pack: Arc<RulePack>,
    /// Assess on this date instead of today's local date (tests and replays).
    pub today: Option<Date>,
    /// The web app's base URL for the card's link, if there is one.
    pub app_url: Option<String>,
    pub body_limit: usize,
    pub timeout: Duration,
    /// The longest wait for the client's FHIR server when prefetch is fetched (each request).
    pub fhir_timeout: Duration,
    /// Benchmarks only: serve `POST /bench/echo`, which reads the body and answers at once (the baseline the
    /// `order-sign` throughput is compared with). Never on in production.
    pub bench_echo: bool,
    /// The program's records (feedback, the shared replay cache, the FHIR API); `None` runs the CDS services on
    /// prefetch alone.
    pub store: Option<Arc<dyn Store>>,
    /// With a store: also serve the REST API (`/api/v1`, `/openapi.json`, `/docs/`, `/healthz`, `/readyz`).
    pub api: Option<api::ApiSettings>,
    /// Serve Prometheus metrics (`/metrics`) on this address, apart from the service.
    pub metrics_listen: Option<SocketAddr>,
}

impl Settings {
    pub fn new(listen: SocketAddr, clients: Vec<Client>, pack: RulePack) -> Settings {
        Settings {
            listen,
            base_url: None,
            clients,
            pack: Arc::new(pack),
            today: None,
            app_url: None,
            body_limit: DEFAULT_BODY_LIMIT,
            timeout: Duration::from_secs(10),
            fhir_timeout: Duration::from_secs(5),
            bench_echo: false,
            store: None,
            api: None,
            metrics_listen: None,
        }
    }
}

/// A bound, not yet running, service.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    base_url: String,
    metrics: Option<TcpListener>,
}

impl Application {
    /// Bind the listener and build the routes; the port is known from here on. With a store, the `jti` replay
    /// cache is the store's (shared by every server on that database); without one, it is in process.
    pub async fn build(settings: Settings) -> std::io::Result<Application> {
        let replay: Arc<dyn ReplayCache> = match &settings.store {
            Some(store) => Arc::new(StoreReplayCache::new(
                store.clone(),
                batch::writers_for(store.backend()),
            )),
            None => Arc::new(MemoryReplayCache::default()),
        };
        Self::build_with_replay(settings, replay).await
    }

    /// As [`Application::build`], with a given replay cache (one shared by several servers).
    pub async fn build_with_replay(
        settings: Settings,
        replay: Arc<dyn ReplayCache>,
    ) -> std::io::Result<Application> {
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let base_url = settings
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let fhir = fhir_api::router(&settings, &base_url, replay.clone());
        // One state for the REST API and the web app: the same store, access log writer and sessions.
        let rest = match (&settings.store, &settings.api) {
            (Some(store), Some(api_settings)) => {
                let state = api::ApiState::new(
                    store.clone(),
                    settings.pack.clone(),
                    settings.today,
                    api_settings.clone(),
                );
                Some(api::router(state.clone()).merge(web::router(state)))
            }
            _ => None,
        };
        let metrics = match settings.metrics_listen {
            Some(addr) => {
                api::ops::prometheus();
                Some(TcpListener::bind(addr).await?)
            }
            None => None,
        };
        let (timeout, body_limit) = (settings.timeout, settings.body_limit);
        let mut router = service::router(settings, base_url.clone(), replay)
            .map_err(std::io::Error::other)?
            .merge(fhir);
        if let Some(rest) = rest {
            router = router
                .merge(rest)
                .route("/docs", axum::routing::get(api::ops::docs))
                .route(
                    "/docs/",
                    axum::routing::get(|| api::ops::docs(Some(axum::extract::Path(String::new())))),
                )
                .route("/docs/{*tail}", axum::routing::get(api::ops::docs))
                .fallback(api::ops::not_found);
        }
        let router = router
            .layer(axum::extract::DefaultBodyLimit::max(body_limit))
            .layer(axum::middleware::from_fn_with_state(
                timeout,
                api::ops::observe,
            ));
        Ok(Application {
            listener,
            router,
            base_url,
            metrics,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The metrics listener's address, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The base URL the JWT `aud` is checked against.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Serve until `shutdown` completes; requests in flight are finished.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some(metrics) = self.metrics {
            // The metrics listener ends with the process; a scrape in flight at shutdown is of no consequence.
            tokio::spawn(async move {
                let _ = axum::serve(metrics, api::ops::metrics_router()).await;
            });
        }
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serve until Ctrl-C or SIGTERM; requests in flight are finished.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Ctrl-C, or SIGTERM (what a service manager or an orchestrator sends).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Bind and serve until Ctrl-C.
pub async fn serve(settings: Settings) -> std::io::Result<()> {
    Application::build(settings).await?.run().await
}

//! `lenaguard serve-cds`: the CDS Hooks 2.0 service (standards.md §1) of `lenaguard-server` on a port, with
//! the CDS clients it trusts (§1.7) read from `--clients FILE`. `--dev-key FILE` adds a development client
//! (`iss` = `lenaguard-dev`) whose ES384 key is in FILE (created when absent); with `--print-test-token` the
//! command prints one signed token for a service URL (or, with `fhir`, for one call to the FHIR API at
//! `{base}/fhir`) and exits, so the service can be tried with curl.

use crate::Failure;
use crate::input::Context;
use clap::Args;
use lenaguard_server::{
    Application, Client, DEV_ISSUER, DevKey, FHIR_DEV_SCOPE, Settings, fhir_dev_token, load_clients,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ServeCdsArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8090", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The base URL clients call (JWT `aud` is checked against it); default http://ADDR.
    #[arg(long, env = "LENAGUARD_CDS_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// The trusted CDS clients: TOML (or .json) with `[[clients]]` iss, algorithms, jwks or jwks_file.
    #[arg(long, env = "LENAGUARD_CDS_CLIENTS", value_name = "FILE")]
    pub clients: Option<PathBuf>,
    /// Development only: trust the ES384 key in this PEM file (created when absent) as client `lenaguard-dev`.
    #[arg(long, value_name = "FILE")]
    pub dev_key: Option<PathBuf>,
    /// With --dev-key: print a token for one call to this service id (or `feedback:ID`, or `fhir` for one FHIR API
    /// call with read, search and import scopes) and exit.
    #[arg(long, value_name = "SERVICE", requires = "dev_key")]
    pub print_test_token: Option<String>,
    /// With --print-test-token: how many tokens to print, one a line (each is good for one call).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "print_test_token"
    )]
    pub count: u32,
    /// Benchmarks only: also serve POST /bench/echo, a no-work endpoint to compare throughput with.
    #[arg(long, hide = true)]
    pub bench_echo: bool,
    /// The web app's base URL, linked from cards.
    #[arg(long, value_name = "URL")]
    pub app_url: Option<String>,
    #[command(flatten)]
    pub db: crate::db::DbArgs,
}

/// `fixed_today`: `--today` was given, so every call is assessed on that date instead of the current one.
pub fn run(ctx: &Context, args: &ServeCdsArgs, fixed_today: bool) -> Result<u8, Failure> {
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let base = base.trim_end_matches('/').to_string();
    let dev = args
        .dev_key
        .as_deref()
        .map(DevKey::load_or_create)
        .transpose()
        .map_err(Failure::Input)?;
    if let (Some(service), Some(key)) = (&args.print_test_token, &dev) {
        let now = jiff::Timestamp::now().as_second();
        if service == "fhir" {
            let token = fhir_dev_token(key, DEV_ISSUER, &base, FHIR_DEV_SCOPE, now)
                .map_err(Failure::Internal)?;
            println!("{token}");
            return Ok(0);
        }
        let path = match service.strip_prefix("feedback:") {
            Some(id) => format!("/cds-services/{id}/feedback"),
            None => format!("/cds-services/{service}"),
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for _ in 0..args.count {
            let token = key
                .token(DEV_ISSUER, &format!("{base}{path}"), now)
                .map_err(Failure::Internal)?;
            writeln!(out, "{token}").map_err(|e| Failure::Internal(format!("stdout: {e}")))?;
        }
        out.flush()
            .map_err(|e| Failure::Internal(format!("stdout: {e}")))?;
        return Ok(0);
    }
    let mut clients: Vec<Client> = match &args.clients {
        Some(p) => load_clients(p).map_err(|e| Failure::Input(format!("--clients: {e}")))?,
        None => Vec::new(),
    };
    if let Some(key) = &dev {
        let jwks = key.jwks().map_err(Failure::Internal)?;
        clients.push(
            Client::new(DEV_ISSUER.into(), &["ES384".into()], jwks).map_err(Failure::Internal)?,
        );
    }
    if clients.is_empty() {
        return Err(Failure::Input(
            "no CDS clients: give --clients FILE (or LENAGUARD_CDS_CLIENTS), or --dev-key FILE for development"
                .into(),
        ));
    }
    let mut settings = Settings::new(args.listen, clients, ctx.pack.clone());
    settings.base_url = Some(base);
    settings.app_url = args.app_url.clone();
    settings.bench_echo = args.bench_echo;
    settings.today = fixed_today.then_some(ctx.today);
    // A multi-threaded runtime: requests are answered in parallel on every core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("async runtime: {e}")))?;
    rt.block_on(async move {
        settings.store = Some(crate::db::open(&args.db).await?);
        let app = Application::build(settings)
            .await
            .map_err(|e| Failure::Input(format!("--listen {}: {e}", args.listen)))?;
        eprintln!(
            "CDS Hooks service on {} (discovery: {}/cds-services; FHIR R4 API: {}/fhir)",
            app.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            app.base_url(),
            app.base_url()
        );
        app.run()
            .await
            .map_err(|e| Failure::Internal(format!("server: {e}")))
    })?;
    Ok(0)
}

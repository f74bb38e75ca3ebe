//! `lenaguard serve`: the whole service on one port: the REST API (`/api/v1`, `/openapi.json`, `/docs/`,
//! `/healthz`, `/readyz`), the FHIR R4 API (`/fhir`) and the CDS Hooks services (`/cds-services`), with Prometheus
//! metrics on a separate listener. Settings come from flags, then `LENAGUARD_*` environment variables, then the
//! `--config` TOML file, then the defaults; secrets never come from flags.

use crate::Failure;
use crate::input::Context;
use clap::Args;
use lenaguard_server::api::ApiSettings;
use lenaguard_server::web::smart::{CALLBACK_PATH, EhrConfig, SmartLaunch};
use lenaguard_server::{Application, Client, Settings, load_clients};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys as the flags, with underscores).
    #[arg(long, env = "LENAGUARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LENAGUARD_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// `sqlite://PATH` (or a file path) or `postgres://USER@HOST:PORT/DATABASE` [default: sqlite://./lenaguard.db].
    #[arg(long, env = "LENAGUARD_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// The public base URL (CDS and FHIR token audiences; `https://` also marks the session cookie Secure).
    #[arg(long, env = "LENAGUARD_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Serve Prometheus metrics on this address (a separate listener; keep it off the public network).
    #[arg(long, env = "LENAGUARD_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Trusted CDS Hooks / FHIR clients (TOML with `[[clients]]`); without it, no EHR token is accepted.
    #[arg(long, env = "LENAGUARD_CDS_CLIENTS", value_name = "FILE")]
    pub clients: Option<PathBuf>,
    /// Mark the session cookie Secure even when the base URL is not https (TLS ended by a proxy).
    #[arg(long, env = "LENAGUARD_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,
    /// Minutes without a request after which a session ends [default: 30].
    #[arg(long, env = "LENAGUARD_SESSION_IDLE_MINUTES", value_name = "MIN")]
    pub session_idle_minutes: Option<u32>,
    /// Hours after login after which a session ends, however active [default: 12].
    #[arg(long, env = "LENAGUARD_SESSION_MAX_HOURS", value_name = "H")]
    pub session_max_hours: Option<u32>,
    /// The longest a request may take, in seconds [default: 10].
    #[arg(long, env = "LENAGUARD_REQUEST_TIMEOUT_SECONDS", value_name = "S")]
    pub request_timeout_seconds: Option<u32>,
    /// The largest request body, in bytes [default: 2097152].
    #[arg(long, env = "LENAGUARD_BODY_LIMIT_BYTES", value_name = "BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// Log lines as `json` (one object a line) or `text` [default: text].
    #[arg(long, env = "LENAGUARD_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Serve the demo: the database defaults to `sqlite://./lenaguard-demo.db`, seeded with the demo data and
    /// logins (`lenaguard demo`) when it has no records yet. Demo data only.
    #[arg(long)]
    pub demo: bool,
}

/// The `--config` file: the same settings, all optional; an unknown key is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    base_url: Option<String>,
    metrics_listen: Option<SocketAddr>,
    clients: Option<PathBuf>,
    secure_cookies: Option<bool>,
    session_idle_minutes: Option<u32>,
    session_max_hours: Option<u32>,
    request_timeout_seconds: Option<u32>,
    body_limit_bytes: Option<usize>,
    log_format: Option<String>,
    /// The EHRs the web app may be opened from (`[[smart.ehr]]`); only in the file, as it is a table.
    smart: Option<SmartFile>,
}

/// The `[smart]` table: the SMART App Launch (EHR launch) of the web app.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmartFile {
    #[serde(default)]
    ehr: Vec<EhrConfig>,
}

/// The settings after flags, environment, file and defaults.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub listen: SocketAddr,
    pub database_url: String,
    pub base_url: Option<String>,
    pub metrics_listen: Option<SocketAddr>,
    pub clients: Option<PathBuf>,
    pub api: ApiSettings,
    pub timeout: Duration,
    pub body_limit: usize,
    pub json_logs: bool,
}

fn in_range(field: &str, v: u32, lo: u32, hi: u32) -> Result<u32, Failure> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(Failure::Input(format!(
            "{field}: {v} is not accepted; expected {lo} to {hi}"
        )))
    }
}

pub fn resolve(a: &ServeArgs) -> Result<Resolved, Failure> {
    let file: FileSettings = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::Input(format!("--config: {}: {e}", p.display())))?;
            toml::from_str(&text)
                .map_err(|e| Failure::Input(format!("--config: {}: {e}", p.display())))?
        }
        None => FileSettings::default(),
    };
    let base_url = a.base_url.clone().or(file.base_url);
    let tls = base_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let idle = in_range(
        "session_idle_minutes",
        a.session_idle_minutes
            .or(file.session_idle_minutes)
            .unwrap_or(30),
        // At least five minutes: a session's last use is written at most once a minute.
        5,
        24 * 60,
    )?;
    let max = in_range(
        "session_max_hours",
        a.session_max_hours.or(file.session_max_hours).unwrap_or(12),
        1,
        24 * 30,
    )?;
    let timeout = in_range(
        "request_timeout_seconds",
        a.request_timeout_seconds
            .or(file.request_timeout_seconds)
            .unwrap_or(10),
        1,
        600,
    )?;
    let log = a
        .log_format
        .clone()
        .or(file.log_format)
        .unwrap_or_else(|| "text".into());
    let json_logs = match log.as_str() {
        "json" => true,
        "text" => false,
        other => {
            return Err(Failure::Input(format!(
                "log_format: {other:?} is not accepted; expected json or text"
            )));
        }
    };
    let body_limit = a
        .body_limit_bytes
        .or(file.body_limit_bytes)
        .unwrap_or(lenaguard_server::DEFAULT_BODY_LIMIT);
    if !(1024..=64 * 1024 * 1024).contains(&body_limit) {
        return Err(Failure::Input(format!(
            "body_limit_bytes: {body_limit} is not accepted; expected 1024 to 67108864"
        )));
    }
    let ehrs = file.smart.map(|s| s.ehr).unwrap_or_default();
    let smart = if ehrs.is_empty() {
        None
    } else {
        // The redirect URI is registered with each EHR, so it must be the stable public address.
        let base = base_url.as_deref().ok_or_else(|| {
            Failure::Input(
                "smart: [[smart.ehr]] needs base_url (the public address the EHR sends the browser back to)"
                    .into(),
            )
        })?;
        let dir = a
            .config
            .as_deref()
            .and_then(std::path::Path::parent)
            .unwrap_or_else(|| std::path::Path::new("."));
        let redirect = format!("{}{CALLBACK_PATH}", base.trim_end_matches('/'));
        Some(Arc::new(
            SmartLaunch::new(redirect, ehrs, dir).map_err(Failure::Input)?,
        ))
    };
    Ok(Resolved {
        listen: a
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        database_url: a
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| {
                if a.demo {
                    "sqlite://./lenaguard-demo.db".into()
                } else {
                    "sqlite://./lenaguard.db".into()
                }
            }),
        base_url,
        metrics_listen: a.metrics_listen.or(file.metrics_listen),
        clients: a.clients.clone().or(file.clients),
        api: ApiSettings {
            session_idle_ms: i64::from(idle) * 60_000,
            session_max_ms: i64::from(max) * 3_600_000,
            secure_cookies: a.secure_cookies.or(file.secure_cookies).unwrap_or(tls),
            smart,
            ..ApiSettings::default()
        },
        timeout: Duration::from_secs(u64::from(timeout)),
        body_limit,
        json_logs,
    })
}

/// Seed the demo into `url` when it has no records yet; a database with records is served as it is.
fn seed_demo(ctx: &Context, url: &str) -> Result<(), Failure> {
    let db = crate::db::DbArgs {
        url: url.to_string(),
    };
    let empty = crate::db::block_on(async {
        let store = crate::db::open(&db).await?;
        Ok::<_, Failure>(store.audit_last_seq().await? == 0)
    })??;
    if empty {
        crate::db::demo(ctx, &crate::db::DemoArgs { db })?;
    } else {
        eprintln!(
            "Serving the records already in {url} (the demo is seeded only into a database without records)."
        );
    }
    Ok(())
}

fn init_logs(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LENAGUARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// `fixed_today`: `--today` was given, so every call is judged on that date instead of the current one.
pub fn run(ctx: &Context, args: &ServeArgs, fixed_today: bool) -> Result<u8, Failure> {
    let r = resolve(args)?;
    init_logs(r.json_logs);
    if args.demo {
        seed_demo(ctx, &r.database_url)?;
    }
    let clients: Vec<Client> = match &r.clients {
        Some(p) => load_clients(p).map_err(|e| Failure::Input(format!("clients: {e}")))?,
        None => Vec::new(),
    };
    let mut settings = Settings::new(r.listen, clients, ctx.pack.clone());
    settings.base_url = r.base_url.clone();
    settings.today = fixed_today.then_some(ctx.today);
    settings.timeout = r.timeout;
    settings.body_limit = r.body_limit;
    settings.api = Some(r.api.clone());
    settings.metrics_listen = r.metrics_listen;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("async runtime: {e}")))?;
    rt.block_on(async move {
        settings.store = Some(
            crate::db::open(&crate::db::DbArgs {
                url: r.database_url.clone(),
            })
            .await?,
        );
        let app = Application::build(settings)
            .await
            .map_err(|e| Failure::Input(format!("listen {}: {e}", r.listen)))?;
        let metrics = app
            .metrics_addr()
            .map(|a| format!("; metrics: http://{a}/metrics"))
            .unwrap_or_default();
        eprintln!(
            "Lenaguard on {base} (API: {base}/api/v1, docs: {base}/docs/, OpenAPI: {base}/openapi.json, FHIR: {base}/fhir{metrics})",
            base = app.base_url()
        );
        if args.demo {
            eprintln!(
                "Open {base}/app/ and log in as ph-bo (pharmacist), dr-ada (prescriber), pat-frp (patient), st-cy (program staff) or au-eve (auditor), password {pw:?} (demo data only).",
                base = app.base_url(),
                pw = crate::db::DEMO_PASSWORD
            );
        }
        app.run()
            .await
            .map_err(|e| Failure::Internal(format!("server: {e}")))
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: &std::path::Path) -> ServeArgs {
        ServeArgs {
            config: Some(config.to_path_buf()),
            listen: None,
            database_url: None,
            base_url: None,
            metrics_listen: None,
            clients: None,
            secure_cookies: None,
            session_idle_minutes: None,
            session_max_hours: None,
            request_timeout_seconds: None,
            body_limit_bytes: None,
            log_format: None,
            demo: false,
        }
    }

    fn input_error(r: Result<Resolved, Failure>) -> String {
        match r {
            Err(Failure::Input(m)) => m,
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    const EHR: &str = r#"
[[smart.ehr]]
iss = "https://ehr.example.org/fhir"
client_id = "lenaguard"
client_secret_file = "ehr-secret.txt"
users = { "Practitioner/8734" = "dr-ada" }
patient_identifiers = [{ system = "urn:oid:2.16.840.1.113883.19.5", identity_prefix = "clinic-1:" }]
"#;

    #[test]
    fn smart_ehrs_come_from_the_config_file_with_their_secret_from_a_file() {
        let dir = tempfile::tempdir().expect("dir");
        let config = dir.path().join("lenaguard.toml");
        std::fs::write(dir.path().join("ehr-secret.txt"), "s3cret-value\n").expect("secret");
        std::fs::write(
            &config,
            format!("base_url = \"https://lenaguard.example.org\"\n{EHR}"),
        )
        .expect("config");
        let r = resolve(&args(&config)).expect("resolves");
        let smart = r.api.smart.as_ref().expect("smart is configured");
        let shown = format!("{smart:?} {:?}", r.api);
        assert!(shown.contains("https://ehr.example.org/fhir"), "{shown}");
        assert!(!shown.contains("s3cret"), "the secret is shown: {shown}");

        // The redirect URI is made from base_url, so without it there is no launch.
        std::fs::write(&config, EHR).expect("config");
        assert!(input_error(resolve(&args(&config))).contains("needs base_url"));
        // An unknown key is refused, as everywhere in the file.
        std::fs::write(
            &config,
            format!("base_url = \"https://lenaguard.example.org\"\n{EHR}client_sekret = \"x\"\n"),
        )
        .expect("config");
        assert!(input_error(resolve(&args(&config))).contains("client_sekret"));
    }
}

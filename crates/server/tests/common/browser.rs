//! The browser tests' plumbing: Debian's chromium driven by its chromedriver over WebDriver, headless, each
//! session with its own profile. Without them a browser test prints a NOTICE and passes, unless
//! `LENAGUARD_BROWSER=required` (CI sets it).

use anyhow::{Result, bail};
use fantoccini::{Client, ClientBuilder};
use serde_json::json;

pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    pub url: String,
    _child: tokio::process::Child,
}

pub async fn chromedriver(program: &std::path::Path) -> Result<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = tokio::process::Command::new(program)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    super::until(&format!("chromedriver on port {port}"), || async {
        Ok(reqwest::get(format!("{url}/status"))
            .await
            .is_ok_and(|r| r.status().is_success()))
    })
    .await?;
    Ok(Driver { url, _child: child })
}

/// A fresh headless browser session (its own profile, so its own cookies); `phone` emulates a 390x844 screen.
pub async fn browser(driver: &Driver, profile: &std::path::Path, phone: bool) -> Result<Client> {
    let mut options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--hide-scrollbars", "--window-size=1280,900",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if phone {
        options["mobileEmulation"] = json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0, "mobile": true, "touch": true}});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await?)
}

/// chromedriver's path, when it and Debian's chromium are installed. Without them the browser tests print a
/// NOTICE and pass, unless `LENAGUARD_BROWSER=required`.
pub fn browser_tools() -> Result<Option<std::path::PathBuf>> {
    let required = std::env::var("LENAGUARD_BROWSER").as_deref() == Ok("required");
    match find_program("chromedriver") {
        Some(p) if std::path::Path::new(CHROMIUM).is_file() => Ok(Some(p)),
        _ if required => bail!(
            "LENAGUARD_BROWSER=required, but {CHROMIUM} or chromedriver is missing (apt-get install chromium chromium-driver)"
        ),
        _ => {
            println!(
                "NOTICE: {CHROMIUM} or chromedriver is missing: the browser test did not run (apt-get install chromium chromium-driver)"
            );
            Ok(None)
        }
    }
}

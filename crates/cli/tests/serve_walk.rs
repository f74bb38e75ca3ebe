//! The README's REST API walk with the real binary: seed the demo, start `lenaguard serve` from a config file,
//! log in as the pharmacist ph-bo, check a dispense for a prescription routed to ph-bo's pharmacy, be refused
//! another pharmacy's, confirm and dispense with the session's CSRF token, read the metrics, stop with SIGTERM.
//! And the first-run admin bootstrap.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn lenaguard(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lenaguard"));
    c.args(args)
        .current_dir(dir)
        .env("LENAGUARD_DATABASE_URL", "sqlite://./demo.db")
        .env_remove("LENAGUARD_PACK")
        .env_remove("LENAGUARD_PASSWORD");
    c
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until the server accepts connections on `addr` (a condition, polled; at most 60 s).
fn listening(addr: &str) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server did not start on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

fn call(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(s, "{head}\r\n{body}").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
    Answer {
        status: headers.split(' ').nth(1).unwrap().parse().unwrap(),
        headers: headers.to_string(),
        body: body.to_string(),
    }
}

fn json(a: &Answer) -> serde_json::Value {
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.body))
}

#[test]
fn a_pharmacist_walks_the_rest_api_on_the_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let demo = ok(lenaguard(d, &["demo", "--today", "2026-11-26"])
        .output()
        .unwrap());
    assert!(
        demo.contains("ph-bo") && demo.contains("lenaguard-demo"),
        "{demo}"
    );
    let (port, metrics_port) = (free_port(), free_port());
    let addr = format!("127.0.0.1:{port}");
    std::fs::write(
        d.join("lenaguard.toml"),
        format!("listen = \"{addr}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\nsession_idle_minutes = 20\n"),
    )
    .unwrap();
    let mut server = Server(
        lenaguard(
            d,
            &[
                "serve",
                "--config",
                "lenaguard.toml",
                "--today",
                "2026-11-26",
            ],
        )
        .env("LENAGUARD_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    listening(&addr);
    assert_eq!(call(&addr, "GET", "/readyz", &[], "").status, 200);

    // Log in as ph-bo: a session cookie and the CSRF token.
    let login = call(
        &addr,
        "POST",
        "/api/v1/session",
        &[("Content-Type", "application/json")],
        r#"{"login": "ph-bo", "password": "lenaguard-demo"}"#,
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let cookie = login
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let csrf = json(&login)["csrf_token"].as_str().unwrap().to_string();
    let c = [("Cookie", cookie.as_str())];

    // The prescription routed to pharm-1 and its authorization; the dispense check names the missing confirmation.
    let rx = call(&addr, "GET", "/api/v1/prescriptions/rx-west-1", &c, "");
    assert_eq!(rx.status, 200, "{}", rx.body);
    let auth = json(&rx)["authorizations"][0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let check = call(
        &addr,
        "GET",
        &format!("/api/v1/authorizations/{auth}/dispense-check"),
        &c,
        "",
    );
    assert_eq!(check.status, 200, "{}", check.body);
    assert_eq!(json(&check)["dispensable"], false);
    assert_eq!(json(&check)["missing"][0]["code"], "confirmation");

    // Another pharmacy's prescription: refused.
    let other = call(&addr, "GET", "/api/v1/prescriptions/rx-east-1", &c, "");
    assert_eq!(other.status, 403);
    assert!(other.headers.contains("application/problem+json"));

    // Confirm and dispense with the CSRF token.
    let with = |key: &'static str| {
        [
            ("Cookie", cookie.as_str()),
            ("X-CSRF-Token", csrf.as_str()),
            ("Idempotency-Key", key),
            ("Content-Type", "application/json"),
        ]
    };
    let hc = with("walk-confirm");
    let confirm = call(
        &addr,
        "POST",
        &format!("/api/v1/authorizations/{auth}/confirmation"),
        &hc,
        "",
    );
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let number = json(&confirm)["outcome"]["answer"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let hd = with("walk-dispense");
    let body = format!(
        r#"{{"confirmation": "{number}", "days_supply": 28, "quantity": 21, "counselling": {{"checklist_completed": true, "medication_guide_given": true}}}}"#
    );
    let dispense = call(
        &addr,
        "POST",
        &format!("/api/v1/authorizations/{auth}/dispense"),
        &hd,
        &body,
    );
    assert_eq!(dispense.status, 200, "{}", dispense.body);
    assert_eq!(json(&dispense)["outcome"]["answer"]["answer"], "dispensed");

    // Metrics on their own listener.
    let metrics = call(
        &format!("127.0.0.1:{metrics_port}"),
        "GET",
        "/metrics",
        &[],
        "",
    );
    assert!(
        metrics.body.contains("lenaguard_http_requests_total"),
        "{}",
        metrics.body
    );

    // SIGTERM: the server finishes and exits cleanly; its JSON log names routes, never a patient.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains(r#""route":"/api/v1/authorizations/{authorization}/dispense-check""#),
        "{log}"
    );
    assert!(
        !log.contains("pat-west") && !log.contains(&auth),
        "patient data in the log"
    );
}

#[test]
fn the_first_admin_is_bootstrapped_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pw"), "a long admin password\n").unwrap();
    let first = ok(lenaguard(
        d,
        &[
            "accounts",
            "bootstrap",
            "--login",
            "root",
            "--password-file",
            "pw",
        ],
    )
    .output()
    .unwrap());
    assert!(first.contains("root"), "{first}");
    let again = lenaguard(
        d,
        &[
            "accounts",
            "bootstrap",
            "--login",
            "other",
            "--password-file",
            "pw",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let short = lenaguard(d, &["accounts", "bootstrap", "--login", "x"])
        .env("LENAGUARD_PASSWORD", "short")
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));
    let token = ok(lenaguard(
        d,
        &[
            "accounts", "token", "--login", "root", "--name", "ops", "--scopes", "read",
        ],
    )
    .output()
    .unwrap());
    assert!(token.starts_with("lgt_"), "{token}");
}

/// The README's first command: `serve --demo` seeds an empty demo database, prints where to log in, and the web
/// app's login works with a demo account; started again, it serves the records it has and seeds nothing.
#[test]
fn serve_demo_seeds_once_and_says_where_to_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for round in 0..2 {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut server = Server(
            lenaguard(
                d,
                &[
                    "serve",
                    "--demo",
                    "--listen",
                    &addr,
                    "--today",
                    "2026-11-26",
                ],
            )
            .env_remove("LENAGUARD_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        );
        listening(&addr);
        let login = call(
            &addr,
            "POST",
            "/app/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "login=ph-bo&password=lenaguard-demo&next=%2Fapp%2F",
        );
        assert_eq!(login.status, 303, "{}", login.body);
        assert!(
            login.headers.contains("location: /app/"),
            "{}",
            login.headers
        );
        let _ = server.0.kill();
        let _ = server.0.wait();
        let mut out = String::new();
        let mut err = String::new();
        server
            .0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        server
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            err.contains(&format!("Open http://{addr}/app/ and log in as ph-bo")),
            "{err}"
        );
        if round == 0 {
            assert!(out.contains("Demo seeded for 2026-11-26"), "{out}");
        } else {
            assert!(!out.contains("Demo seeded"), "seeded twice: {out}");
            assert!(err.contains("Serving the records already in"), "{err}");
        }
    }
    assert!(d.join("lenaguard-demo.db").is_file());
}

//! The README's FHIR API walk with the real binary: seed the demo, start `serve-cds`, and call the FHIR API with
//! tokens from `--print-test-token fhir`: a read, a search, and the example transaction Bundle.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lenaguard(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lenaguard"));
    c.args(args)
        .current_dir(dir)
        .env("LENAGUARD_DATABASE_URL", "sqlite://./demo.db")
        .env_remove("LENAGUARD_PACK");
    c
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Stops the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn call(addr: &str, token: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_fhir_api_on_the_demo_data_with_printed_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(lenaguard(d, &["demo", "--today", "2026-11-26"])
        .output()
        .unwrap());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let serve = [
        "serve-cds",
        "--listen",
        &addr,
        "--dev-key",
        "dev-key.pem",
        "--today",
        "2026-11-26",
    ];
    // The key file is created by the first use; make it before the server and the token both read it.
    ok(
        lenaguard(d, &[&serve[..], &["--print-test-token", "fhir"]].concat())
            .output()
            .unwrap(),
    );
    let _server = Server(lenaguard(d, &serve).spawn().unwrap());
    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve-cds did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = || {
        ok(
            lenaguard(d, &[&serve[..], &["--print-test-token", "fhir"]].concat())
                .output()
                .unwrap(),
        )
    };

    let (status, body) = call(&addr, &token(), "GET", "/fhir/Patient/pat-frp", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""birthDate":"1991-04-02""#), "{body}");
    let (status, body) = call(
        &addr,
        &token(),
        "GET",
        "/fhir/MedicationRequest?patient=pat-male",
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""total":1"#) && body.contains("342369"),
        "{body}"
    );
    let example =
        std::fs::read_to_string(root().join("examples/fhir/transaction-lab.json")).unwrap();
    let (status, body) = call(&addr, &token(), "POST", "/fhir", &example);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.matches("201 Created").count(), 2, "{body}");
    let (status, body) = call(
        &addr,
        &token(),
        "GET",
        "/fhir/Observation?patient=pat-male&code=2160-0",
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""total":2"#) && body.contains(r#""code":"mg/dL""#),
        "{body}"
    );
    // A token is spent once used; without one, 401.
    let spent = token();
    assert_eq!(call(&addr, &spent, "GET", "/fhir/metadata", "").0, 200);
    assert_eq!(call(&addr, &spent, "GET", "/fhir/metadata", "").0, 401);
}

//! The SMART App Launch 2.x EHR launch of the prescriber's patient page, against a small EHR played by the test
//! (an axum app on a loopback port: `.well-known/smart-configuration`, an authorization endpoint, a token
//! endpoint, a JWKS and `Patient/{id}`, signing id_tokens with a test RSA key). The EHR checks what a real one
//! checks (client id, redirect URI, `aud`, PKCE S256 verifier, single-use codes, the access token on the Patient
//! read), so a launch that gets any of them wrong fails here.
//!
//! Plain HTTP on SQLite and PostgreSQL: the happy path, then each refusal (unknown `iss` with nothing fetched,
//! an EHR without S256, missing, wrong, reused and expired state, a refused code, no patient in context, a bad
//! id_token, an unmapped user, a disabled or non-prescriber account, a patient not enrolled or another
//! prescriber's). Then the launch in headless Chromium, begun from a link on the EHR's chart page on another site
//! (`localhost` against `127.0.0.1`), landing on the patient page: a plain redirect at the end would land on the
//! login page there, as the session cookie is `SameSite=Strict`. It prints a NOTICE and passes without chromium or
//! chromedriver, unless `LENAGUARD_BROWSER=required`.

mod common;

use common::web::{encode as enc, http};

use anyhow::{Context, Result, bail, ensure};
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::world::{self, World};
use lenaguard_server::api::ApiSettings;
use lenaguard_server::api::identity;
use lenaguard_server::web::smart::{CALLBACK_PATH, EhrConfig, IdentifierConfig, SmartLaunch};
use lenaguard_storage::Store;
use lenaguard_storage::accounts::{Account, AccountRole};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "lenaguard-test";
const MRN: &str = "urn:oid:2.16.840.1.113883.19.5";
const MRN_B: &str = "urn:oid:2.16.840.1.113883.19.6";
/// With characters that must be form-urlencoded in HTTP Basic.
const CLIENT_SECRET: &str = "s3cret:with/+ and %";

// ---- The EHR -------------------------------------------------------------------------------------------------

/// How the id_token of a launch is made.
#[derive(Debug, Clone, Copy, PartialEq)]
enum IdToken {
    Good,
    /// Signed by another key under the same `kid`.
    Forged,
    WrongAudience,
    Expired,
    Missing,
}

/// What the EHR knows about one `launch` value: the patient in context and the signed-in user.
#[derive(Debug, Clone)]
struct LaunchContext {
    patient: Option<&'static str>,
    user: String,
    id_token: IdToken,
}

#[derive(Debug)]
struct Grant {
    challenge: String,
    redirect_uri: String,
    context: LaunchContext,
}

struct Ehr {
    /// The FHIR base, also the OpenID issuer.
    base: String,
    redirect_uri: String,
    s256: bool,
    /// A confidential client's secret, required with HTTP Basic at the token endpoint.
    secret: Option<String>,
    key: KeyPair,
    forger: KeyPair,
    launches: HashMap<&'static str, LaunchContext>,
    codes: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<Vec<String>>,
    discovery_reads: AtomicUsize,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random() -> String {
    let mut b = [0u8; 24];
    aws_lc_rs::rand::fill(&mut b).expect("randomness");
    b64(b)
}

fn now_s() -> i64 {
    identity::now_ms() / 1000
}

impl Ehr {
    fn sign(&self, claims: &Value, forged: bool) -> String {
        let header = b64(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string());
        let input = format!("{header}.{}", b64(claims.to_string()));
        let key = if forged { &self.forger } else { &self.key };
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("signs");
        format!("{input}.{}", b64(sig))
    }

    fn id_token(&self, c: &LaunchContext) -> Option<String> {
        let (aud, exp) = match c.id_token {
            IdToken::Missing => return None,
            IdToken::WrongAudience => ("another-app", now_s() + 300),
            IdToken::Expired => (CLIENT_ID, now_s() - 3600),
            IdToken::Good | IdToken::Forged => (CLIENT_ID, now_s() + 300),
        };
        let claims = json!({"iss": self.base, "sub": c.user, "aud": aud, "exp": exp, "iat": now_s() - 5,
            "fhirUser": c.user});
        Some(self.sign(&claims, c.id_token == IdToken::Forged))
    }
}

fn refuse(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("test EHR refuses: {what}")).into_response()
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": code}))).into_response()
}

async fn discovery(State(ehr): State<Arc<Ehr>>) -> Json<Value> {
    ehr.discovery_reads.fetch_add(1, Ordering::SeqCst);
    let b = &ehr.base;
    Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/auth/authorize"),
        "token_endpoint": format!("{b}/auth/token"),
        "jwks_uri": format!("{b}/auth/jwks"),
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": if ehr.s256 { vec!["S256"] } else { vec!["plain"] },
        "capabilities": ["launch-ehr", "client-public", "context-ehr-patient", "sso-openid-connect", "permission-v2"],
    }))
}

async fn authorize(
    State(ehr): State<Arc<Ehr>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let is = |k: &str, v: &str| q.get(k).map(String::as_str) == Some(v);
    if !is("response_type", "code") {
        return refuse("response_type");
    }
    if !is("client_id", CLIENT_ID) {
        return refuse("client_id");
    }
    if !is("redirect_uri", &ehr.redirect_uri) {
        return refuse("redirect_uri");
    }
    if !is("aud", &ehr.base) {
        return refuse("aud");
    }
    if !is("code_challenge_method", "S256") {
        return refuse("code_challenge_method");
    }
    let scope = q.get("scope").cloned().unwrap_or_default();
    if !["launch", "openid", "fhirUser"]
        .iter()
        .all(|s| scope.split(' ').any(|x| x == *s))
    {
        return refuse("scope");
    }
    let (Some(challenge), Some(state)) = (q.get("code_challenge"), q.get("state")) else {
        return refuse("code_challenge or state");
    };
    let Some(context) = q
        .get("launch")
        .and_then(|l| ehr.launches.get(l.as_str()))
        .cloned()
    else {
        return refuse("launch");
    };
    let code = random();
    ehr.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge: challenge.clone(),
            redirect_uri: ehr.redirect_uri.clone(),
            context,
        },
    );
    let mut to = reqwest::Url::parse(&ehr.redirect_uri).expect("redirect URI");
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state);
    Redirect::to(to.as_str()).into_response()
}

/// RFC 6749 §2.3.1: HTTP Basic with the form-urlencoded client id and secret.
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let b = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).ok()?).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

async fn token(State(ehr): State<Arc<Ehr>>, headers: HeaderMap, body: String) -> Response {
    if let Some(secret) = &ehr.secret
        && basic_client(&headers) != Some((CLIENT_ID.to_string(), secret.clone()))
    {
        return oauth_error("invalid_client");
    }
    let f: BTreeMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "authorization_code" || get("client_id") != CLIENT_ID {
        return oauth_error("invalid_client");
    }
    // A code works once, whatever happens next.
    let Some(grant) = ehr.codes.lock().unwrap().remove(get("code")) else {
        return oauth_error("invalid_grant");
    };
    if get("redirect_uri") != grant.redirect_uri {
        return oauth_error("invalid_grant");
    }
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, get("code_verifier").as_bytes());
    if b64(digest) != grant.challenge {
        return oauth_error("invalid_grant");
    }
    let access = random();
    ehr.access_tokens.lock().unwrap().push(access.clone());
    let mut answer = json!({"access_token": access, "token_type": "Bearer", "expires_in": 300,
        "scope": "launch openid fhirUser patient/Patient.rs"});
    if let Some(p) = grant.context.patient {
        answer["patient"] = json!(p);
    }
    if let Some(t) = ehr.id_token(&grant.context) {
        answer["id_token"] = json!(t);
    }
    Json(answer).into_response()
}

async fn jwks(State(ehr): State<Arc<Ehr>>) -> Json<Value> {
    let public = PublicKeyComponents::<Vec<u8>>::from(ehr.key.public_key());
    Json(
        json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
        "n": b64(&public.n), "e": b64(&public.e)}]}),
    )
}

async fn patient(
    State(ehr): State<Arc<Ehr>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !ehr
        .access_tokens
        .lock()
        .unwrap()
        .iter()
        .any(|t| t == bearer)
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let identifiers = match id.as_str() {
        "ehr-a" => {
            json!([{"system": "urn:other", "value": "x"}, {"system": MRN, "value": "MRN-a"}])
        }
        "ehr-b" => json!([{"system": MRN_B, "value": "MRN-b"}]),
        "ehr-stranger" => json!([{"system": MRN, "value": "MRN-zz"}]),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    Json(json!({"resourceType": "Patient", "id": id, "identifier": identifiers})).into_response()
}

/// The EHR's chart of a patient, with the link that opens Lenaguard (the launch, begun on the EHR's site).
async fn chart(State(ehr): State<Arc<Ehr>>) -> Response {
    let lenaguard = ehr.redirect_uri.trim_end_matches(CALLBACK_PATH);
    let href = format!("{lenaguard}/app/launch?iss={}&launch=ok", enc(&ehr.base));
    let html = format!(
        r#"<!doctype html><title>Chart</title><a id="open-lenaguard" href="{href}">Lenaguard</a>"#
    );
    ([("content-type", "text/html; charset=utf-8")], html).into_response()
}

fn launches(base: &str) -> HashMap<&'static str, LaunchContext> {
    let ctx = |patient, user: &str, id_token| LaunchContext {
        patient,
        user: user.to_string(),
        id_token,
    };
    HashMap::from([
        // An absolute fhirUser, mapped from a relative key in the configuration.
        (
            "ok",
            ctx(
                Some("ehr-a"),
                &format!("{base}/Practitioner/dr-a"),
                IdToken::Good,
            ),
        ),
        ("no-patient", ctx(None, "Practitioner/dr-a", IdToken::Good)),
        (
            "other",
            ctx(Some("ehr-b"), "Practitioner/dr-a", IdToken::Good),
        ),
        (
            "stranger",
            ctx(Some("ehr-stranger"), "Practitioner/dr-a", IdToken::Good),
        ),
        (
            "unknown-patient",
            ctx(Some("ehr-gone"), "Practitioner/dr-a", IdToken::Good),
        ),
        (
            "pharmacist",
            ctx(Some("ehr-a"), "Practitioner/ph-a", IdToken::Good),
        ),
        (
            "disabled",
            ctx(Some("ehr-a"), "Practitioner/dr-off", IdToken::Good),
        ),
        (
            "no-account",
            ctx(Some("ehr-a"), "Practitioner/ghost", IdToken::Good),
        ),
        (
            "unmapped",
            ctx(Some("ehr-a"), "Practitioner/stranger", IdToken::Good),
        ),
        (
            "forged",
            ctx(Some("ehr-a"), "Practitioner/dr-a", IdToken::Forged),
        ),
        (
            "wrong-aud",
            ctx(Some("ehr-a"), "Practitioner/dr-a", IdToken::WrongAudience),
        ),
        (
            "expired",
            ctx(Some("ehr-a"), "Practitioner/dr-a", IdToken::Expired),
        ),
        (
            "no-id-token",
            ctx(Some("ehr-a"), "Practitioner/dr-a", IdToken::Missing),
        ),
    ])
}

/// Start a test EHR reached as `host` (bound on 127.0.0.1) whose registered redirect URI is `redirect_uri`.
async fn start_ehr(
    host: &str,
    redirect_uri: &str,
    s256: bool,
    secret: Option<&str>,
) -> Result<(Arc<Ehr>, tokio::sync::oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{host}:{}/fhir", listener.local_addr()?.port());
    let ehr = Arc::new(Ehr {
        launches: launches(&base),
        base,
        redirect_uri: redirect_uri.to_string(),
        s256,
        secret: secret.map(str::to_string),
        key: KeyPair::generate(KeySize::Rsa2048).context("RSA key")?,
        forger: KeyPair::generate(KeySize::Rsa2048).context("RSA key")?,
        codes: Mutex::new(HashMap::new()),
        access_tokens: Mutex::new(Vec::new()),
        discovery_reads: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/fhir/.well-known/smart-configuration", get(discovery))
        .route("/fhir/auth/authorize", get(authorize))
        .route("/fhir/auth/token", post(token))
        .route("/fhir/auth/jwks", get(jwks))
        .route("/fhir/Patient/{id}", get(patient))
        .route("/chart", get(chart))
        .with_state(ehr.clone());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok((ehr, stop))
}

// ---- Lenaguard -----------------------------------------------------------------------------------------------

struct Site {
    base: String,
    ehr: Arc<Ehr>,
    /// Configured, but its smart-configuration offers only `plain` PKCE.
    plain_ehr: Arc<Ehr>,
    /// Not configured: a launch naming it must not make Lenaguard fetch anything from it.
    rogue: Arc<Ehr>,
    /// Configured as a confidential client, with its secret in a file.
    confidential: Arc<Ehr>,
    store: Arc<dyn Store>,
    world: World,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
    _secrets: tempfile::TempDir,
}

fn ehr_config(iss: &str) -> EhrConfig {
    EhrConfig {
        iss: iss.to_string(),
        client_id: CLIENT_ID.into(),
        client_secret_file: None,
        client_secret_env: None,
        scope: None,
        users: BTreeMap::from(
            [
                ("Practitioner/dr-a", "dr-a"),
                ("Practitioner/ph-a", "ph-a"),
                ("Practitioner/dr-off", "dr-off"),
                ("Practitioner/ghost", "nobody"),
            ]
            .map(|(u, l)| (u.to_string(), l.to_string())),
        ),
        patient_identifiers: vec![
            IdentifierConfig {
                system: MRN.into(),
                identity_prefix: "clinic-a:".into(),
            },
            IdentifierConfig {
                system: MRN_B.into(),
                identity_prefix: "clinic-b:".into(),
            },
        ],
    }
}

/// Lenaguard with the registry of `world`, a disabled prescriber account, and the test EHRs configured;
/// `ehr_host` is the name the browser reaches the EHR under.
async fn site(store: Arc<dyn Store>, ehr_host: &str) -> Result<Site> {
    let world = world::world(store.clone()).await?;
    store
        .create_account(&Account {
            login: "dr-off".into(),
            role: AccountRole::Prescriber,
            subject: Some("dr-a".into()),
            organisation: Some("clinic-a".into()),
            password_hash: None,
            disabled: true,
            created_at_ms: identity::now_ms(),
        })
        .await?;
    // The redirect URI is registered with the EHR before Lenaguard starts, so its port is chosen first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let redirect = format!("{base}{CALLBACK_PATH}");
    let (ehr, stop1) = start_ehr(ehr_host, &redirect, true, None).await?;
    let (plain_ehr, stop2) = start_ehr("127.0.0.1", &redirect, false, None).await?;
    let (rogue, stop3) = start_ehr("127.0.0.1", &redirect, true, None).await?;
    let (confidential, stop5) =
        start_ehr("127.0.0.1", &redirect, true, Some(CLIENT_SECRET)).await?;
    let secrets = tempfile::tempdir()?;
    std::fs::write(
        secrets.path().join("ehr-secret.txt"),
        format!("{CLIENT_SECRET}\n"),
    )?;
    let mut with_secret = ehr_config(&confidential.base);
    with_secret.client_secret_file = Some("ehr-secret.txt".into());
    let smart = SmartLaunch::new(
        redirect,
        vec![
            ehr_config(&ehr.base),
            ehr_config(&plain_ehr.base),
            with_secret,
        ],
        secrets.path(),
    )
    .map_err(anyhow::Error::msg)?;
    let api = ApiSettings {
        smart: Some(Arc::new(smart)),
        ..ApiSettings::default()
    };
    let mut settings = world::settings(store.clone(), api);
    settings.listen = format!("127.0.0.1:{port}").parse()?;
    settings.base_url = Some(base.clone());
    let (_, stop4) = world::start(settings).await?;
    Ok(Site {
        base,
        ehr,
        plain_ehr,
        rogue,
        confidential,
        store,
        world,
        _stops: vec![stop1, stop2, stop3, stop4, stop5],
        _secrets: secrets,
    })
}

fn location(res: &reqwest::Response) -> Result<String> {
    Ok(res
        .headers()
        .get("location")
        .context("a Location header")?
        .to_str()?
        .to_string())
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

/// The `name=value` of a cookie whose name begins with `prefix` that a response sets (not one it removes).
fn cookie_named(cookies: &[String], prefix: &str) -> Option<String> {
    cookies
        .iter()
        .map(|c| c.split(';').next().unwrap_or(""))
        .find(|c| {
            c.split_once('=')
                .is_some_and(|(k, v)| k.starts_with(prefix) && !v.is_empty())
        })
        .map(str::to_string)
}

/// The launch up to the EHR's answer: the launch cookie and the callback URL the EHR sends the browser to.
async fn to_callback(s: &Site, launch: &str) -> Result<(String, String)> {
    to_callback_at(s, &s.ehr, launch).await
}

async fn to_callback_at(s: &Site, ehr: &Ehr, launch: &str) -> Result<(String, String)> {
    let res = http()
        .get(format!(
            "{}/app/launch?iss={}&launch={launch}",
            s.base,
            enc(&ehr.base)
        ))
        .send()
        .await?;
    ensure!(res.status().as_u16() == 303, "launch: {}", res.status());
    let cookie = cookie_named(&set_cookies(&res), "lenaguard_launch").context("launch cookie")?;
    let authorize = location(&res)?;
    ensure!(
        authorize.starts_with(&format!("{}/auth/authorize?", ehr.base)),
        "{authorize}"
    );
    let res = http().get(&authorize).send().await?;
    let body_status = res.status();
    if body_status.as_u16() != 303 {
        bail!("the EHR refused the authorization: {}", res.text().await?);
    }
    Ok((cookie, location(&res)?))
}

struct Outcome {
    status: u16,
    body: String,
    cookies: Vec<String>,
    refresh: Option<String>,
}

async fn callback(url: &str, cookie: Option<&str>) -> Result<Outcome> {
    let mut req = http().get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await?;
    let refresh = res
        .headers()
        .get("refresh")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cookies = set_cookies(&res);
    Ok(Outcome {
        status: res.status().as_u16(),
        cookies,
        refresh,
        body: res.text().await?,
    })
}

async fn launch(s: &Site, launch: &str) -> Result<Outcome> {
    let (cookie, url) = to_callback(s, launch).await?;
    callback(&url, Some(&cookie)).await
}

/// A refused launch: the status, the page naming `why`, no session, and the launch cookie removed.
fn refused(o: &Outcome, status: u16, why: &str) -> Result<()> {
    ensure!(
        o.status == status,
        "{} (expected {status}): {}",
        o.status,
        o.body
    );
    ensure!(o.body.contains(why), "{why:?} not in {}", o.body);
    ensure!(
        cookie_named(&o.cookies, "lenaguard_session").is_none(),
        "a refused launch opened a session"
    );
    ensure!(
        o.cookies.iter().any(|c| c.starts_with("lenaguard_launch_")
            && c.contains("=;")
            && c.contains("Max-Age=0")),
        "the launch cookie was not removed: {:?}",
        o.cookies
    );
    Ok(())
}

async fn launches_open_the_page_and_refuse_the_rest(store: Arc<dyn Store>) -> Result<()> {
    let s = site(store, "127.0.0.1").await?;
    let own = s.world.own.patient.clone();

    // The happy path: a session for dr-a, and on to the patient page.
    let (cookie, url) = to_callback(&s, "ok").await?;
    ensure!(cookie.starts_with("lenaguard_launch_"), "{cookie}");
    let o = callback(&url, Some(&cookie)).await?;
    ensure!(o.status == 200, "{}: {}", o.status, o.body);
    let to = format!("/app/patients/{own}");
    assert_eq!(o.refresh.as_deref(), Some(format!("0; url={to}").as_str()));
    assert!(o.body.contains(&format!(r#"href="{to}""#)), "{}", o.body);
    let session = cookie_named(&o.cookies, "lenaguard_session").context("a session")?;
    let res = http()
        .get(format!("{}{to}", s.base))
        .header("cookie", &session)
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 200);
    let page = res.text().await?;
    assert!(page.contains(&own) && page.contains("dr-a"), "{page}");
    // The same callback again (a reload, or someone replaying it): the state is spent.
    refused(
        &callback(&url, Some(&cookie)).await?,
        403,
        "this launch was already used",
    )?;
    // A confidential client sends its secret to the token endpoint (the EHR refuses the code without it).
    let (cookie, url) = to_callback_at(&s, &s.confidential, "ok").await?;
    let o = callback(&url, Some(&cookie)).await?;
    ensure!(o.status == 200, "{}: {}", o.status, o.body);

    // Nothing is fetched from an EHR that is not configured, however it is spelt.
    for iss in [
        s.rogue.base.clone(),
        format!("{}/", s.rogue.base),
        "file:///etc/passwd".into(),
    ] {
        let res = http()
            .get(format!("{}/app/launch?iss={}&launch=ok", s.base, enc(&iss)))
            .send()
            .await?;
        assert_eq!(res.status().as_u16(), 403);
        assert!(
            res.text()
                .await?
                .contains("is not one this server is set up to be opened from")
        );
    }
    assert_eq!(s.rogue.discovery_reads.load(Ordering::SeqCst), 0);
    // Parameters missing.
    let res = http()
        .get(format!("{}/app/launch?iss={}", s.base, enc(&s.ehr.base)))
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 400);
    assert!(res.text().await?.contains("lacks the launch parameter"));
    // An EHR that does not offer S256.
    let res = http()
        .get(format!(
            "{}/app/launch?iss={}&launch=ok",
            s.base,
            enc(&s.plain_ehr.base)
        ))
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 502);
    assert!(res.text().await?.contains("PKCE with S256 is required"));
    // The configuration was read once for the launches above: it is cached.
    assert_eq!(s.ehr.discovery_reads.load(Ordering::SeqCst), 1);

    // The state: no cookie, another launch's state, an expired launch.
    let (cookie, url) = to_callback(&s, "ok").await?;
    refused(&callback(&url, None).await?, 403, "no launch in progress")?;
    // Each launch has its own cookie: two launches in one browser (two tabs) do not overwrite each other.
    let (other_cookie, _) = to_callback(&s, "ok").await?;
    let (name, _) = cookie.split_once('=').context("cookie")?;
    let (other_name, other_value) = other_cookie.split_once('=').context("cookie")?;
    ensure!(name != other_name, "{name} = {other_name}");
    refused(
        &callback(&url, Some(&other_cookie)).await?,
        403,
        "no launch in progress",
    )?;
    // A launch cookie carrying another launch's state.
    refused(
        &callback(&url, Some(&format!("{name}={other_value}"))).await?,
        403,
        "is not this browser&#39;s launch",
    )?;
    let (head, _) = cookie.rsplit_once('.').context("cookie parts")?;
    refused(
        &callback(&url, Some(&format!("{head}.1000"))).await?,
        403,
        "the launch expired",
    )?;
    // A code the EHR does not know, and a code with another verifier: the token endpoint refuses both.
    let (cookie, url) = to_callback(&s, "ok").await?;
    let (before, state) = url.split_once("&state=").context("state")?;
    let bogus = format!(
        "{}?code=bogus&state={state}",
        before.split('?').next().unwrap_or("")
    );
    refused(
        &callback(&bogus, Some(&cookie)).await?,
        403,
        "refused the authorization code (invalid_grant)",
    )?;
    let (cookie, url) = to_callback(&s, "ok").await?;
    let parts: Vec<&str> = cookie.split('.').collect();
    let other_verifier = format!("{}.{}.{}.{}", parts[0], "x".repeat(43), parts[2], parts[3]);
    refused(
        &callback(&url, Some(&other_verifier)).await?,
        403,
        "(invalid_grant)",
    )?;
    // The EHR said no.
    refused(
        &callback(
            &format!("{}{CALLBACK_PATH}?error=access_denied&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", s.base),
            None,
        )
        .await?,
        403,
        "did not authorize the launch (error access_denied)",
    )?;

    // The context and the id_token.
    for (which, status, why) in [
        ("no-patient", 403, "without a patient in context"),
        ("forged", 403, "its signature does not verify"),
        ("wrong-aud", 403, "it is not for the client lenaguard-test"),
        ("expired", 403, "it has expired"),
        (
            "no-id-token",
            403,
            "the EHR&#39;s id_token is not accepted: there is none",
        ),
        (
            "unmapped",
            403,
            "Practitioner/stranger is not mapped to a Lenaguard account",
        ),
        (
            "no-account",
            403,
            "the Lenaguard account nobody does not exist or is disabled",
        ),
        (
            "disabled",
            403,
            "the Lenaguard account dr-off does not exist or is disabled",
        ),
        (
            "pharmacist",
            403,
            "the Lenaguard account ph-a is not a prescriber&#39;s",
        ),
        ("stranger", 404, "not enrolled in Lenaguard"),
        (
            "unknown-patient",
            502,
            "could not be read from the EHR: it answered HTTP 404",
        ),
        ("other", 403, "may not see this patient"),
    ] {
        refused(&launch(&s, which).await?, status, why).with_context(|| which.to_string())?;
    }

    // The refused launch into another prescriber's patient is in the access log, like a refused page.
    let rows = s.store.access_rows(0, 10_000).await?;
    let launched: Vec<_> = rows
        .iter()
        .filter(|r| r.event.action == "web.smart.launch")
        .map(|r| {
            (
                r.event.patient.clone(),
                r.event.status,
                r.event.login.clone(),
            )
        })
        .collect();
    assert!(
        launched.contains(&(Some(own.clone()), 200, "dr-a".into())),
        "{launched:?}"
    );
    assert!(
        launched.contains(&(Some(s.world.other.patient.clone()), 403, "dr-a".into())),
        "{launched:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehr_launch_sqlite() -> Result<()> {
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    launches_open_the_page_and_refuse_the_rest(Arc::new(store)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehr_launch_postgres() -> Result<()> {
    let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let r = launches_open_the_page_and_refuse_the_rest(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_configuration_there_is_no_launch() -> Result<()> {
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let (base, _stop) = world::start(world::settings(store, ApiSettings::default())).await?;
    let res = http()
        .get(format!(
            "{base}/app/launch?iss=http%3A%2F%2F127.0.0.1%3A1%2Ffhir&launch=x"
        ))
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 404);
    assert!(
        res.text()
            .await?
            .contains("not set up to be opened from an EHR")
    );
    Ok(())
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    let dir = std::path::Path::new(".");
    let redirect = || "http://127.0.0.1:8080/app/launch/callback".to_string();
    let err = |c: EhrConfig| SmartLaunch::new(redirect(), vec![c], dir).expect_err("refused");
    assert!(err(ehr_config("http://ehr.example.org/fhir")).contains("iss must be an https:// URL"));
    let mut c = ehr_config("https://ehr.example.org/fhir");
    c.scope = Some("launch patient/Patient.rs".into());
    assert!(err(c).contains("lacks \"openid\""));
    let mut c = ehr_config("https://ehr.example.org/fhir");
    c.patient_identifiers.clear();
    assert!(err(c).contains("patient_identifiers is empty"));
    let mut c = ehr_config("https://ehr.example.org/fhir");
    c.client_secret_env = Some("LENAGUARD_TEST_SURELY_UNSET".into());
    assert!(err(c).contains("is not set"));
    assert!(
        SmartLaunch::new(
            "http://lenaguard.example.org/app/launch/callback".into(),
            vec![ehr_config("https://ehr.example.org/fhir")],
            dir
        )
        .expect_err("refused")
        .contains("redirect URI")
    );
    assert!(
        SmartLaunch::new(
            redirect(),
            vec![ehr_config("https://ehr.example.org/fhir/")],
            dir
        )
        .is_ok()
    );
}

// ---- The browser ---------------------------------------------------------------------------------------------

use common::browser::{browser, browser_tools, chromedriver};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ehr_launch_in_a_real_browser_lands_on_the_patient_page() -> Result<()> {
    let Some(driver_program) = browser_tools()? else {
        return Ok(());
    };
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    // The EHR on another site than Lenaguard (localhost against 127.0.0.1), as in a real deployment: the
    // callback arrives as a cross-site navigation.
    let s = site(Arc::new(store), "localhost").await?;
    let own = s.world.own.patient.clone();

    let driver = chromedriver(&driver_program).await?;
    let profile = tempfile::tempdir()?;
    let c = browser(&driver, profile.path(), false).await?;
    let outcome = async {
        // The user opens Lenaguard from the EHR's chart: the launch URL with the EHR's iss and a launch id.
        let chart = s.ehr.base.trim_end_matches("/fhir").to_string() + "/chart";
        c.goto(&chart).await?;
        c.find(Locator::Id("open-lenaguard")).await?.click().await?;
        let want = format!("/app/patients/{own}");
        let landed = common::until(&format!("on {want}"), || async {
            Ok(c.current_url().await?.path() == want)
        })
        .await;
        let path = c.current_url().await?.path().to_string();
        let text = c.find(Locator::Css("body")).await?.text().await?;
        ensure!(landed.is_ok(), "not on {want} but {path}: {text}");
        ensure!(text.contains(&own) && text.contains("dr-a"), "{text}");
        ensure!(!text.contains("Log in"), "sent to the login page: {text}");
        Ok(())
    }
    .await;
    c.close().await?;
    outcome
}

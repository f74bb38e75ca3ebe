//! Opening the prescriber's patient page from an EHR: the SMART App Launch 2.x EHR launch (standards.md §5; HL7
//! SMART App Launch STU 2.2, "EHR launch", "PKCE", "Scopes for requesting identity data").
//!
//! `GET /app/launch?iss&launch`: the `iss` must be a configured EHR (nothing is fetched from any other address),
//! its `.well-known/smart-configuration` is read (cached briefly) and must offer PKCE `S256`; the browser goes to
//! the EHR's `authorization_endpoint` with `launch`, `aud` = `iss`, a random `state` and an S256 code challenge.
//! The state, the code verifier and the EHR go into a short-lived HttpOnly cookie scoped to `/app/launch` and
//! named after the state (so two launches in one browser do not overwrite each other).
//!
//! `GET /app/launch/callback?code&state`: the state must match the cookie, be unexpired and never used before
//! (recorded in the database like a token's `jti`, so every server on it refuses a second use); the code is
//! exchanged with the verifier; the `id_token` must be signed (RS256, RS384 or ES384) by a key of the EHR's
//! `jwks_uri`, issued by the EHR, for our `client_id`, unexpired. Its `fhirUser` is mapped to an account only
//! through the EHR's configured table, and the patient in context only through one of its identifiers (read from
//! `{iss}/Patient/{id}`) that a configured system turns into an enrollment identity. The account must be an
//! enabled prescriber, and the patient page's own access check still decides: a launch cannot open what a
//! password login could not. Every failure is a page naming what is wrong; the log names only the kind of
//! failure, never a token, a code or a patient.

use super::html::{e, page};
use super::{WebError, admit, html_response, seen};
use crate::api::identity::{self, Caller, Via};
use crate::api::problem::ApiError;
use crate::api::routes::Object;
use crate::api::{ApiState, form_pairs, session};
use crate::jwks::RemoteKeys;
use crate::prefetch::may_carry_secrets;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lenaguard_storage::accounts::AccountRole;
use reqwest::Url;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The callback path; `redirect_uri` is the public base URL plus this.
pub const CALLBACK_PATH: &str = "/app/launch/callback";
/// What is asked for when an EHR's configuration names no scope: the launch context, the user's identity and
/// the patient's record (to read its identifiers).
pub const DEFAULT_SCOPE: &str = "launch openid fhirUser patient/Patient.rs";
/// How long a launch may take from `/app/launch` to the callback (the user may have to sign in at the EHR).
const LAUNCH_TTL_S: i64 = 600;
/// How long an EHR's smart-configuration is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);
/// The longest wait for the EHR, per request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read from the EHR: a configuration, a token response or a Patient is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Clock skew tolerated on the id_token's `exp`.
const LEEWAY_S: u64 = 30;
/// The issuer under which used launch states are kept with the CDS tokens' `jti`s.
const STATE_ISSUER: &str = "lenaguard:smart-launch-state";
const LAUNCH_COOKIE: &str = "lenaguard_launch";
const SECURE_LAUNCH_COOKIE: &str = "__Secure-lenaguard_launch";

/// One EHR in the `--config` file (`[[smart.ehr]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EhrConfig {
    /// The EHR's FHIR base URL, as it sends it in `iss`.
    pub iss: String,
    /// Our client id, as registered with the EHR.
    pub client_id: String,
    /// A confidential client's secret, in a file (relative to the config file) or an environment variable; without
    /// either, the client is public (PKCE alone).
    #[serde(default)]
    pub client_secret_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The scopes asked for [default: `launch openid fhirUser patient/Patient.rs`].
    #[serde(default)]
    pub scope: Option<String>,
    /// The EHR's users that may open Lenaguard: `fhirUser` (absolute, or relative to `iss`) -> login.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// How the EHR's patient identifiers become enrollment identities.
    #[serde(default)]
    pub patient_identifiers: Vec<IdentifierConfig>,
}

/// An identifier system of the EHR's Patient and the prefix that makes its value an enrollment identity
/// (`system = "urn:oid:1.2.3"`, `identity_prefix = "clinic-1:"`: `MRN-1003` is `clinic-1:MRN-1003`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierConfig {
    pub system: String,
    pub identity_prefix: String,
}

/// A configured EHR, ready.
struct Ehr {
    iss: String,
    client_id: String,
    client_secret: Option<String>,
    scope: String,
    users: BTreeMap<String, String>,
    identifiers: Vec<IdentifierConfig>,
}

/// What the EHR's smart-configuration says that a launch needs.
#[derive(Debug, Clone)]
struct Endpoints {
    authorize: Url,
    token: Url,
    jwks: String,
    issuer: String,
}

/// The configured EHRs and what was learnt from them.
pub struct SmartLaunch {
    redirect_uri: String,
    ehrs: Vec<Ehr>,
    http: reqwest::Client,
    discovered: Mutex<HashMap<String, (Endpoints, Instant)>>,
    keys: Mutex<HashMap<String, Arc<RemoteKeys>>>,
}

impl std::fmt::Debug for SmartLaunch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartLaunch")
            .field("redirect_uri", &self.redirect_uri)
            .field(
                "ehrs",
                &self.ehrs.iter().map(|e| e.iss.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn trimmed(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// A reference as an absolute URL: `Practitioner/7` under `iss` is `{iss}/Practitioner/7`.
fn absolute(iss: &str, reference: &str) -> String {
    if reference.contains("://") {
        reference.to_string()
    } else {
        format!("{}/{}", trimmed(iss), reference.trim_start_matches('/'))
    }
}

impl SmartLaunch {
    /// Check and load the EHRs; `redirect_uri` is the public callback URL, `dir` the config file's directory.
    pub fn new(
        redirect_uri: String,
        configs: Vec<EhrConfig>,
        dir: &Path,
    ) -> Result<SmartLaunch, String> {
        match Url::parse(&redirect_uri) {
            Ok(u) if may_carry_secrets(&u) => {}
            _ => {
                return Err(format!(
                    "smart: the redirect URI {redirect_uri:?} is not accepted; the base URL must be https:// (http:// only on a loopback address)"
                ));
            }
        }
        let mut ehrs = Vec::new();
        for c in configs {
            let iss = trimmed(c.iss.trim()).to_string();
            let at = |what: String| format!("smart.ehr {iss:?}: {what}");
            match Url::parse(&iss) {
                Ok(u) if may_carry_secrets(&u) && u.query().is_none() => {}
                _ => {
                    return Err(at(
                        "iss must be an https:// URL (http:// only on a loopback address)".into(),
                    ));
                }
            }
            if ehrs.iter().any(|e: &Ehr| e.iss == iss) {
                return Err(at("configured twice".into()));
            }
            if c.client_id.trim().is_empty() {
                return Err(at("client_id is empty".into()));
            }
            let scope = c.scope.unwrap_or_else(|| DEFAULT_SCOPE.to_string());
            for needed in ["launch", "openid", "fhirUser"] {
                if !scope.split_whitespace().any(|s| s == needed) {
                    return Err(at(format!(
                        "scope {scope:?} lacks {needed:?} (the EHR launch needs launch, openid and fhirUser)"
                    )));
                }
            }
            if c.patient_identifiers.is_empty() {
                return Err(at(
                    "patient_identifiers is empty: no EHR patient could be matched to an enrollment".into(),
                ));
            }
            let client_secret = match (c.client_secret_file, c.client_secret_env) {
                (Some(_), Some(_)) => {
                    return Err(at(
                        "give client_secret_file or client_secret_env, not both".into()
                    ));
                }
                (Some(file), None) => {
                    let path = dir.join(file);
                    let text = std::fs::read_to_string(&path).map_err(|err| {
                        at(format!("client_secret_file {}: {err}", path.display()))
                    })?;
                    Some(text.trim().to_string())
                }
                (None, Some(var)) => Some(
                    std::env::var(&var)
                        .map_err(|_| at(format!("client_secret_env: {var} is not set")))?
                        .trim()
                        .to_string(),
                ),
                (None, None) => None,
            };
            if client_secret.as_deref() == Some("") {
                return Err(at("the client secret is empty".into()));
            }
            let users = c
                .users
                .into_iter()
                .map(|(user, login)| (absolute(&iss, &user), login))
                .collect();
            ehrs.push(Ehr {
                client_id: c.client_id,
                client_secret,
                scope,
                users,
                identifiers: c.patient_identifiers,
                iss,
            });
        }
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            // Never followed: an EHR endpoint that redirects could send the code or a token anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| format!("smart: HTTP client: {err}"))?;
        Ok(SmartLaunch {
            redirect_uri,
            ehrs,
            http,
            discovered: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        })
    }

    fn ehr(&self, iss: &str) -> Option<&Ehr> {
        let iss = trimmed(iss);
        self.ehrs.iter().find(|e| e.iss == iss)
    }

    /// GET `url` (with a bearer token if given): the body of a 2xx answer, or why not.
    async fn fetch(
        &self,
        url: &str,
        bearer: Option<&str>,
        accept: &str,
    ) -> Result<Vec<u8>, String> {
        let mut req = self.http.get(url).header(header::ACCEPT, accept);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.map_err(|err| unreachable_why(&err))?;
        read_answer(res).await
    }

    /// The EHR's endpoints, from its smart-configuration (cached for [`DISCOVERY_TTL`]).
    async fn endpoints(&self, ehr: &Ehr) -> Result<Endpoints, Refusal> {
        {
            let cache = self.discovered.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((ep, at)) = cache.get(&ehr.iss)
                && at.elapsed() < DISCOVERY_TTL
            {
                return Ok(ep.clone());
            }
        }
        let url = format!("{}/.well-known/smart-configuration", ehr.iss);
        let refused = |why: String| {
            Refusal::new(
                StatusCode::BAD_GATEWAY,
                "discovery",
                format!("the EHR's SMART configuration ({url}) cannot be used: {why}"),
            )
        };
        let body = self
            .fetch(&url, None, "application/json")
            .await
            .map_err(refused)?;
        let d: Discovery = serde_json::from_slice(&body)
            .map_err(|err| refused(format!("not the JSON expected ({err})")))?;
        if !d
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
        {
            return Err(refused(
                "it does not list S256 in code_challenge_methods_supported (PKCE with S256 is required)".into(),
            ));
        }
        let endpoint = |name: &str, value: Option<String>| -> Result<Url, Refusal> {
            let v = value.ok_or_else(|| refused(format!("it has no {name}")))?;
            match Url::parse(&v) {
                Ok(u) if may_carry_secrets(&u) => Ok(u),
                _ => Err(refused(format!(
                    "its {name} {v:?} is not https:// (or http:// on a loopback address)"
                ))),
            }
        };
        let ep = Endpoints {
            authorize: endpoint("authorization_endpoint", d.authorization_endpoint)?,
            token: endpoint("token_endpoint", d.token_endpoint)?,
            jwks: endpoint("jwks_uri", d.jwks_uri)?.to_string(),
            issuer: d.issuer.unwrap_or_else(|| ehr.iss.clone()),
        };
        let mut cache = self.discovered.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(ehr.iss.clone(), (ep.clone(), Instant::now()));
        Ok(ep)
    }

    fn keys_at(&self, jwks: &str) -> Result<Arc<RemoteKeys>, String> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = keys.get(jwks) {
            return Ok(k.clone());
        }
        let k = Arc::new(RemoteKeys::new(jwks, Some(jwks.to_string()), Vec::new())?);
        keys.insert(jwks.to_string(), k.clone());
        Ok(k)
    }
}

fn unreachable_why(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "it did not answer in time".into()
    } else {
        "it could not be reached".into()
    }
}

async fn read_answer(res: reqwest::Response) -> Result<Vec<u8>, String> {
    let status = res.status();
    if res
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(format!(
            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
        ));
    }
    let body = res
        .bytes()
        .await
        .map_err(|_| "the answer was cut off".to_string())?;
    if body.len() > MAX_ANSWER_BYTES {
        return Err(format!(
            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
        ));
    }
    if !status.is_success() {
        return Err(format!("it answered HTTP {}", status.as_u16()));
    }
    Ok(body.to_vec())
}

#[derive(Debug, Deserialize)]
struct Discovery {
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    issuer: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}

/// Why a launch was refused: the page says `message`; the log says only `kind`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            kind,
            message: message.into(),
        }
    }

    fn forbidden(kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::FORBIDDEN, kind, message)
    }
}

impl From<ApiError> for Refusal {
    fn from(err: ApiError) -> Refusal {
        let status = err.status();
        let message = if status.is_server_error() {
            if let ApiError::Internal(cause) = &err {
                tracing::error!(cause = %cause, "SMART launch failed");
            }
            "the server could not answer; try again in a moment".to_string()
        } else {
            err.detail()
        };
        Refusal::new(status, "lenaguard", message)
    }
}

impl From<WebError> for Refusal {
    fn from(err: WebError) -> Refusal {
        match err {
            WebError::Page {
                status, message, ..
            } => Refusal::new(status, "access", message),
            WebError::Login { .. } | WebError::Relogin { .. } => {
                Refusal::forbidden("access", "the account may not open this page")
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        tracing::warn!(
            refusal = self.kind,
            status = self.status.as_u16(),
            "SMART launch refused"
        );
        let body = format!(
            r#"<p class="verdict no" role="alert" id="launch-error">{}</p>
<p>Open Lenaguard from the EHR again, or <a href="/app/login">log in with a password</a>.</p>"#,
            e(&self.message)
        );
        html_response(
            self.status,
            page("Opening from the EHR failed", None, &body),
        )
    }
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    form_pairs(uri.query().unwrap_or("")).into_iter().collect()
}

fn required<'a>(q: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, Refusal> {
    q.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "request",
                format!("the launch lacks the {name} parameter"),
            )
        })
}

/// The characters of a state that name its launch cookie.
const TAG_CHARS: usize = 16;

/// The cookie of the launch whose state begins with `tag`: one per launch, so that launches in two tabs do not
/// overwrite each other. `None` for a state that is not one of ours (it never becomes part of a header).
fn launch_cookie_name(state: &ApiState, launch_state: &str) -> Option<String> {
    let tag = launch_state.get(..TAG_CHARS)?;
    if !tag
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let prefix = if state.settings.secure_cookies {
        SECURE_LAUNCH_COOKIE
    } else {
        LAUNCH_COOKIE
    };
    Some(format!("{prefix}_{tag}"))
}

/// The launch cookie: only for `/app/launch...`, `SameSite=Lax` because the callback arrives as a navigation
/// from the EHR's site, which a `Strict` cookie would not go with.
fn launch_cookie(name: &str, secure: bool, value: Option<&str>) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let (value, age) = match value {
        Some(v) => (v, LAUNCH_TTL_S),
        None => ("", 0),
    };
    format!("{name}={value}; Path=/app/launch; HttpOnly; SameSite=Lax{secure}; Max-Age={age}")
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    crate::api::identity::cookie(headers, |k| k == name)
}

/// What the browser keeps between the launch and the callback.
struct Pending {
    state: String,
    verifier: String,
    iss: String,
    expires_s: i64,
}

impl Pending {
    fn encode(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.state,
            self.verifier,
            URL_SAFE_NO_PAD.encode(&self.iss),
            self.expires_s
        )
    }

    fn decode(text: &str) -> Option<Pending> {
        let mut parts = text.split('.');
        let (state, verifier, iss, exp) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Pending {
            state: state.to_string(),
            verifier: verifier.to_string(),
            iss: String::from_utf8(URL_SAFE_NO_PAD.decode(iss).ok()?).ok()?,
            expires_s: exp.parse().ok()?,
        })
    }
}

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn smart_of(state: &ApiState) -> Result<&SmartLaunch, Refusal> {
    state.settings.smart.as_deref().ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "unconfigured",
            "this server is not set up to be opened from an EHR (no [[smart.ehr]] is configured)",
        )
    })
}

/// `GET /app/launch?iss=...&launch=...`: on to the EHR's authorization endpoint.
pub async fn launch(State(state): State<ApiState>, uri: Uri) -> Response {
    match start(&state, &uri).await {
        Ok(res) => res,
        Err(refusal) => refusal.into_response(),
    }
}

async fn start(state: &ApiState, uri: &Uri) -> Result<Response, Refusal> {
    let smart = smart_of(state)?;
    let q = query(uri);
    let iss = required(&q, "iss")?;
    let launch = required(&q, "launch")?;
    let ehr = smart.ehr(iss).ok_or_else(|| {
        Refusal::forbidden(
            "unknown_iss",
            format!("the EHR {iss:?} is not one this server is set up to be opened from"),
        )
    })?;
    let ep = smart.endpoints(ehr).await?;
    let pending = Pending {
        state: identity::random_secret()?,
        verifier: identity::random_secret()?,
        iss: ehr.iss.clone(),
        expires_s: identity::now_ms() / 1000 + LAUNCH_TTL_S,
    };
    let mut to = ep.authorize.clone();
    to.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &ehr.client_id)
        .append_pair("redirect_uri", &smart.redirect_uri)
        .append_pair("launch", launch)
        .append_pair("scope", &ehr.scope)
        .append_pair("state", &pending.state)
        .append_pair("aud", &ehr.iss)
        .append_pair("code_challenge", &challenge_of(&pending.verifier))
        .append_pair("code_challenge_method", "S256");
    let mut res = Redirect::to(to.as_str()).into_response();
    let name = launch_cookie_name(state, &pending.state)
        .ok_or_else(|| ApiError::Internal("a random state is not base64url".into()))?;
    let value = pending.encode();
    set_launch_cookie(
        &mut res,
        &launch_cookie(&name, state.settings.secure_cookies, Some(&value)),
    )?;
    Ok(res)
}

fn set_launch_cookie(res: &mut Response, value: &str) -> Result<(), Refusal> {
    let v = HeaderValue::from_str(value).map_err(|err| ApiError::Internal(err.to_string()))?;
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, v);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(())
}

/// `GET /app/launch/callback?code=...&state=...`: sign the EHR's user in and open the patient's page.
pub async fn callback(State(state): State<ApiState>, headers: HeaderMap, uri: Uri) -> Response {
    let mut res = match finish(&state, &headers, &uri).await {
        Ok(res) => res,
        Err(refusal) => refusal.into_response(),
    };
    // Whatever happened, this launch is over.
    let sent = query(&uri).get("state").cloned().unwrap_or_default();
    if let Some(name) = launch_cookie_name(&state, &sent)
        && let Err(refusal) = set_launch_cookie(
            &mut res,
            &launch_cookie(&name, state.settings.secure_cookies, None),
        )
    {
        return refusal.into_response();
    }
    res
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    patient: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

#[derive(Deserialize)]
struct IdClaims {
    #[serde(rename = "fhirUser")]
    fhir_user: Option<String>,
}

#[derive(Deserialize)]
struct IdHeader {
    alg: Option<String>,
    kid: Option<String>,
}

/// A FHIR id (R4 `id`): `[A-Za-z0-9\-\.]{1,64}`; anything else is not put into a URL.
fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// An OAuth error code as sent, if it is one (RFC 6749 §5.2: printable ASCII without `"` and `\`).
fn oauth_code(text: &str) -> String {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if ok {
        text.to_string()
    } else {
        "(not a valid OAuth error code)".to_string()
    }
}

async fn finish(state: &ApiState, headers: &HeaderMap, uri: &Uri) -> Result<Response, Refusal> {
    let smart = smart_of(state)?;
    let q = query(uri);
    if let Some(err) = q.get("error") {
        return Err(Refusal::forbidden(
            "ehr_error",
            format!(
                "the EHR did not authorize the launch (error {})",
                oauth_code(err)
            ),
        ));
    }
    let code = required(&q, "code")?;
    let sent_state = required(&q, "state")?;
    let pending = launch_cookie_name(state, sent_state)
        .and_then(|name| cookie(headers, &name))
        .and_then(Pending::decode)
        .ok_or_else(|| {
            Refusal::forbidden(
                "state",
                "this browser has no launch in progress (it ended, was already used, or began in another browser)",
            )
        })?;
    if !identity::same_secret(sent_state, &pending.state) {
        return Err(Refusal::forbidden(
            "state",
            "the state the EHR sent back is not this browser's launch",
        ));
    }
    let now_s = identity::now_ms() / 1000;
    if pending.expires_s <= now_s {
        return Err(Refusal::forbidden(
            "state",
            format!("the launch expired (it must be completed within {LAUNCH_TTL_S} seconds)"),
        ));
    }
    let first = state
        .store
        .first_use_of_jti(STATE_ISSUER, &pending.state, pending.expires_s)
        .await
        .map_err(ApiError::from)?;
    if !first {
        return Err(Refusal::forbidden("state", "this launch was already used"));
    }
    let ehr = smart.ehr(&pending.iss).ok_or_else(|| {
        Refusal::forbidden(
            "unknown_iss",
            "the EHR of this launch is no longer configured",
        )
    })?;
    let ep = smart.endpoints(ehr).await?;
    let answer = exchange(smart, ehr, &ep, code, &pending.verifier).await?;
    let fhir_user = verified_user(smart, ehr, &ep, answer.id_token.as_deref()).await?;
    let patient_in_ehr = answer.patient.filter(|p| !p.is_empty()).ok_or_else(|| {
        Refusal::forbidden(
            "no_patient",
            "the EHR launched Lenaguard without a patient in context; open it from a patient's chart",
        )
    })?;

    let login = ehr.users.get(&fhir_user).ok_or_else(|| {
        Refusal::forbidden(
            "unmapped_user",
            format!("the EHR user {fhir_user} is not mapped to a Lenaguard account"),
        )
    })?;
    let account = state
        .store
        .account(login)
        .await
        .map_err(ApiError::from)?
        .filter(|a| !a.disabled)
        .ok_or_else(|| {
            Refusal::forbidden(
                "account",
                format!("the Lenaguard account {login} does not exist or is disabled"),
            )
        })?;
    if account.role != AccountRole::Prescriber {
        return Err(Refusal::forbidden(
            "account",
            format!(
                "the Lenaguard account {login} is not a prescriber's; only the prescriber's patient page opens from an EHR"
            ),
        ));
    }
    let ours = enrolled_patient(state, smart, ehr, &patient_in_ehr, &answer.access_token).await?;

    let caller = Caller {
        login: account.login.clone(),
        role: account.role,
        subject: account.subject.clone(),
        organisation: account.organisation.clone(),
        via: Via::Session {
            csrf_token: String::new(),
        },
    };
    // The same check the patient page makes (and logs when it refuses), before any session exists.
    admit(
        state,
        &caller,
        &[AccountRole::Prescriber],
        "web.smart.launch",
        Object::Patient,
        &ours,
    )
    .await?;
    // Logged before the session exists: an access that cannot be logged opens nothing.
    seen(state, &caller, "web.smart.launch", Some(ours.clone())).await?;
    let (secret, _session) = session::open_sso_session(state, &account).await?;

    let to = format!("/app/patients/{}", path_segment(&ours));
    let body = format!(
        r#"<p class="notice">Signed in from the EHR as {login}.</p>
<p><a id="continue" href="{to}">Open the patient page</a></p>"#,
        login = e(&account.login),
        to = e(&to),
    );
    let mut res = html_response(
        StatusCode::OK,
        page("Opening the patient page", None, &body),
    );
    // A page that moves on rather than a redirect: the session cookie is SameSite=Strict, and a browser does
    // not send it on a redirect in a navigation that began on the EHR's site.
    res.headers_mut().insert(
        header::REFRESH,
        HeaderValue::from_str(&format!("0; url={to}"))
            .map_err(|err| ApiError::Internal(err.to_string()))?,
    );
    let cookie = HeaderValue::from_str(&identity::set_cookie(state, Some(&secret)))
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

fn path_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The code for tokens, at the EHR's token endpoint, with the PKCE verifier.
async fn exchange(
    smart: &SmartLaunch,
    ehr: &Ehr,
    ep: &Endpoints,
    code: &str,
    verifier: &str,
) -> Result<TokenAnswer, Refusal> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &smart.redirect_uri)
        .append_pair("client_id", &ehr.client_id)
        .append_pair("code_verifier", verifier)
        .finish();
    let mut req = smart
        .http
        .post(ep.token.clone())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(body);
    if let Some(secret) = &ehr.client_secret {
        req = req.basic_auth(
            form_urlencoded::byte_serialize(ehr.client_id.as_bytes()).collect::<String>(),
            Some(form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()),
        );
    }
    let refused = |why: String| {
        Refusal::new(
            StatusCode::BAD_GATEWAY,
            "token",
            format!("the EHR's token endpoint did not give tokens for the launch: {why}"),
        )
    };
    let res = req
        .send()
        .await
        .map_err(|err| refused(unreachable_why(&err)))?;
    let status = res.status();
    if status.is_client_error() {
        let bytes = res.bytes().await.unwrap_or_default();
        let code = serde_json::from_slice::<OAuthError>(&bytes)
            .map(|e| oauth_code(&e.error))
            .unwrap_or_else(|_| format!("HTTP {}", status.as_u16()));
        return Err(Refusal::forbidden(
            "token",
            format!("the EHR's token endpoint refused the authorization code ({code})"),
        ));
    }
    let body = read_answer(res).await.map_err(refused)?;
    serde_json::from_slice(&body)
        .map_err(|_| refused("the answer is not a token response with an access_token".into()))
}

/// The `fhirUser` of a verified id_token, as an absolute URL.
async fn verified_user(
    smart: &SmartLaunch,
    ehr: &Ehr,
    ep: &Endpoints,
    id_token: Option<&str>,
) -> Result<String, Refusal> {
    let bad = |why: String| {
        Refusal::forbidden(
            "id_token",
            format!("the EHR's id_token is not accepted: {why}"),
        )
    };
    let token = id_token.filter(|t| !t.is_empty()).ok_or_else(|| {
        bad("there is none (the openid and fhirUser scopes were not granted)".into())
    })?;
    let header: IdHeader = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("it is not a signed JWT".into()))?;
    let alg = header.alg.unwrap_or_default();
    let algorithm = match alg.as_str() {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "ES384" => Algorithm::ES384,
        _ => {
            return Err(bad(format!(
                "its alg {alg:?} is not one of RS256, RS384, ES384"
            )));
        }
    };
    let kid = header
        .kid
        .ok_or_else(|| bad("its header names no kid".into()))?;
    let keys = smart.keys_at(&ep.jwks).map_err(bad)?;
    let jwk = keys
        .key(None, &kid)
        .await
        .map_err(|err| bad(err.to_string()))?;
    if let Some(key_alg) = jwk.common.key_algorithm
        && format!("{key_alg:?}") != alg
    {
        return Err(bad(format!(
            "its key {kid:?} is for {key_alg:?}, not {alg}"
        )));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|err| bad(err.to_string()))?;
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_S;
    validation.set_issuer(&[&ep.issuer]);
    validation.set_audience(&[&ehr.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<IdClaims>(token, &key, &validation).map_err(|err| {
        use jsonwebtoken::errors::ErrorKind;
        bad(match err.kind() {
            ErrorKind::InvalidSignature => "its signature does not verify".into(),
            ErrorKind::ExpiredSignature => "it has expired".into(),
            ErrorKind::InvalidIssuer => format!("it was not issued by {}", ep.issuer),
            ErrorKind::InvalidAudience => format!("it is not for the client {}", ehr.client_id),
            ErrorKind::MissingRequiredClaim(c) => format!("it lacks the {c} claim"),
            other => format!("{other:?}"),
        })
    })?;
    let user = data
        .claims
        .fhir_user
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad("it has no fhirUser claim".into()))?;
    Ok(absolute(&ehr.iss, &user))
}

/// Our patient for the EHR's: the first identifier of the EHR's Patient that a configured system turns into an
/// enrolled identity.
async fn enrolled_patient(
    state: &ApiState,
    smart: &SmartLaunch,
    ehr: &Ehr,
    patient: &str,
    access_token: &str,
) -> Result<String, Refusal> {
    if !is_fhir_id(patient) {
        return Err(Refusal::forbidden(
            "no_patient",
            "the patient in context is not a FHIR id",
        ));
    }
    let url = format!("{}/Patient/{patient}", ehr.iss);
    let body = smart
        .fetch(&url, Some(access_token), "application/fhir+json")
        .await
        .map_err(|why| {
            Refusal::new(
                StatusCode::BAD_GATEWAY,
                "patient_read",
                format!("the patient in context could not be read from the EHR: {why}"),
            )
        })?;
    let resource: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if resource["resourceType"] != "Patient" {
        return Err(Refusal::new(
            StatusCode::BAD_GATEWAY,
            "patient_read",
            "the EHR did not answer with a Patient for the patient in context",
        ));
    }
    let identifiers = resource["identifier"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for map in &ehr.identifiers {
        for id in &identifiers {
            let (Some(system), Some(value)) = (id["system"].as_str(), id["value"].as_str()) else {
                continue;
            };
            if system != map.system || value.is_empty() {
                continue;
            }
            let identity = format!("{}{value}", map.identity_prefix);
            if let Some(ours) = state
                .store
                .patient_with_identity(&identity)
                .await
                .map_err(ApiError::from)?
            {
                return Ok(ours);
            }
        }
    }
    let systems: Vec<&str> = ehr.identifiers.iter().map(|m| m.system.as_str()).collect();
    Err(Refusal::new(
        StatusCode::NOT_FOUND,
        "patient_unmatched",
        format!(
            "the patient in context is not enrolled in Lenaguard: none of its identifiers in {} matches an enrollment",
            systems.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636 Appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_launch_cookie_round_trips_and_refuses_garbage() {
        let p = Pending {
            state: "s".into(),
            verifier: "v".into(),
            iss: "https://ehr.example/fhir".into(),
            expires_s: 42,
        };
        let back = Pending::decode(&p.encode()).expect("decodes");
        assert_eq!(
            (back.state.as_str(), back.iss.as_str(), back.expires_s),
            ("s", "https://ehr.example/fhir", 42)
        );
        assert!(Pending::decode("a.b.c").is_none());
        assert!(Pending::decode("a.b.!!.1").is_none());
        assert!(Pending::decode("a.b.c.d.e").is_none());
    }

    #[test]
    fn references_resolve_against_the_ehr() {
        assert_eq!(
            absolute("https://ehr/fhir/", "Practitioner/7"),
            "https://ehr/fhir/Practitioner/7"
        );
        assert_eq!(
            absolute("https://ehr/fhir", "https://x/P/1"),
            "https://x/P/1"
        );
    }

    #[test]
    fn only_oauth_error_codes_are_echoed() {
        assert_eq!(oauth_code("invalid_grant"), "invalid_grant");
        assert_eq!(oauth_code("<script>"), "<script>");
        assert_eq!(oauth_code("a\"b"), "(not a valid OAuth error code)");
    }
}

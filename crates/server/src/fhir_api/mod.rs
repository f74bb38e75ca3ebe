//! The FHIR R4 API under `{base}/fhir` (standards.md §3; https://hl7.org/fhir/R4/http.html): the
//! CapabilityStatement, read and search of the program's records as Patient, Observation, MedicationRequest,
//! MedicationDispense, Condition, QuestionnaireResponse, DetectedIssue and AuditEvent, and a transaction Bundle
//! import of labs and orders into the program workflow.
//!
//! Every request needs a bearer JWT from a configured client, verified as the CDS Hooks calls are
//! ([`crate::auth::verify`]: ES384/RS384, allowlisted `iss`, `exp`, `iat`, single-use `jti`), with `aud` = the
//! FHIR base URL (`{base}/fhir`, as SMART uses the FHIR base for `aud`) rather than the URL called, because a
//! search URL carries its query. The interaction must also be granted by the token's SMART system scopes
//! ([`scope`]). 401 and 403 answer with an OperationOutcome. Nothing about a patient is logged.

mod capability;
mod error;
mod ids;
mod resources;
mod scope;
mod search;
mod transaction;

use crate::Settings;
use crate::auth::{self, Client};
use crate::replay::ReplayCache;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use error::{FhirError, fhir_json};
use jiff::civil::Date;
use lenaguard_interop::fhir::{Bundle, BundleEntry, BundleLink, Resource};
use lenaguard_storage::{AuditEvent, Store, Workflow};
use resources::Systems;
use scope::Scopes;
use search::{Built, ByPatient, Kind, Query as Search};
use serde_json::json;
use std::sync::Arc;

/// The scopes of a development token ([`dev_token`]): read and search everything, import labs and orders.
pub const DEV_SCOPE: &str = "system/*.rs system/Observation.c system/MedicationRequest.c";

/// A token for one FHIR call to the server at `base_url`, signed with a development key: `aud` the FHIR base,
/// five minutes, a fresh `jti`, and `scope`.
pub fn dev_token(
    key: &crate::DevKey,
    iss: &str,
    base_url: &str,
    scope: &str,
    now: i64,
) -> Result<String, String> {
    key.sign(&json!({
        "iss": iss, "aud": format!("{}/fhir", base_url.trim_end_matches('/')),
        "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(), "scope": scope,
    }))
}

#[derive(Debug)]
struct FhirState {
    /// `{base}/fhir`: the JWT audience and the base of every URL this API writes.
    fhir_base: String,
    clients: Vec<Client>,
    replay: Arc<dyn ReplayCache>,
    store: Option<Arc<dyn Store>>,
    workflow: Option<Workflow>,
    today: Option<Date>,
    systems: Systems,
}

/// The routes under `/fhir`, with their own body limit and timeout.
pub(crate) fn router(settings: &Settings, base_url: &str, replay: Arc<dyn ReplayCache>) -> Router {
    let fhir_base = format!("{base_url}/fhir");
    let state = Arc::new(FhirState {
        systems: Systems {
            fhir_base: fhir_base.clone(),
        },
        fhir_base,
        clients: settings.clients.clone(),
        replay,
        store: settings.store.clone(),
        workflow: settings
            .store
            .clone()
            .map(|s| Workflow::new(s, settings.pack.clone())),
        today: settings.today,
    });
    Router::new()
        .route("/fhir", post(transaction).fallback(unsupported))
        .route("/fhir/metadata", get(metadata).fallback(unsupported))
        .route("/fhir/{type}", get(search).fallback(unsupported))
        .route("/fhir/{type}/{id}", get(read).fallback(unsupported))
        .with_state(state)
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(middleware::from_fn_with_state(
            settings.timeout,
            crate::service::with_timeout,
        ))
}

async fn unsupported(method: Method) -> Response {
    axum::response::IntoResponse::into_response(FhirError::Method(method.to_string()))
}

/// Verify the bearer token; the client's `iss` and the token's scopes.
async fn authenticate(
    state: &FhirState,
    headers: &HeaderMap,
) -> Result<(String, Scopes), FhirError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let iss = auth::verify(
        header,
        &state.fhir_base,
        &state.clients,
        state.replay.as_ref(),
        jiff::Timestamp::now().as_second(),
    )
    .await?;
    Ok((iss, Scopes::of_verified_token(header)))
}

/// Refuse unless the scopes grant `letter` (r read, s search) on the type.
fn require(scopes: &Scopes, kind: Kind, letter: char) -> Result<(), FhirError> {
    if scopes.allows(kind.name(), letter) {
        return Ok(());
    }
    let what = if letter == 'r' { "read" } else { "search" };
    let ty = kind.name();
    Err(FhirError::Forbidden(format!(
        "the token's scopes do not allow {what} of {ty}; it needs system/{ty}.{letter} (or system/*.{letter})"
    )))
}

fn today(state: &FhirState) -> Date {
    state
        .today
        .unwrap_or_else(|| jiff::ZonedDateTime::now().date())
}

fn store(state: &FhirState) -> Result<&Arc<dyn Store>, FhirError> {
    state.store.as_ref().ok_or(FhirError::NoStore)
}

fn kind(name: &str) -> Result<Kind, FhirError> {
    Kind::parse(name).ok_or_else(|| FhirError::UnknownType(name.to_string()))
}

async fn metadata(State(state): State<Arc<FhirState>>, headers: HeaderMap) -> Response {
    match authenticate(&state, &headers).await {
        Ok(_) => fhir_json(
            StatusCode::OK,
            &capability::statement(&state.fhir_base, &today(&state).to_string()),
        ),
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

fn respond(r: Result<Response, FhirError>) -> Response {
    r.unwrap_or_else(axum::response::IntoResponse::into_response)
}

/// Every audit event, in chain order. The audit trail is the record of refusals and of who did what; a search
/// reads it whole (see the crate's notes on its cost).
async fn audit_events(store: &dyn Store) -> Result<Vec<AuditEvent>, FhirError> {
    let mut out = Vec::new();
    lenaguard_storage::each_audit_row(store, |r| {
        out.push(serde_json::from_str(&r.event).map_err(|e| {
            FhirError::Internal(format!("audit event {} is unreadable: {e}", r.seq))
        })?);
        Ok::<(), FhirError>(())
    })
    .await?;
    Ok(out)
}

/// The resources of a kind about one patient (or, for the audit kinds, about anyone when `patient` is `None`).
async fn gather(
    state: &FhirState,
    kind: Kind,
    patient: Option<&str>,
) -> Result<Vec<Built>, FhirError> {
    let store = store(state)?;
    Ok(match kind.spec().by_patient {
        ByPatient::Optional(_) => {
            let events = audit_events(store.as_ref()).await?;
            resources::from_audit(kind, &events, &state.systems)
        }
        ByPatient::Itself | ByPatient::Required(_) => match patient {
            Some(p) => match store.patient_file(p).await? {
                Some(file) => resources::from_file(kind, &file, &state.systems),
                None => Vec::new(),
            },
            None => Vec::new(),
        },
    })
}

/// Who asked for which patient's records, filled in as a read or search goes, for the access log.
#[derive(Debug, Default)]
struct Seen {
    client: Option<String>,
    patient: Option<String>,
}

/// Answer a read or search, after writing it to the access log (allowed or refused) once the client is known: an
/// answer whose access cannot be logged is not sent.
async fn logged(
    state: &FhirState,
    action: String,
    seen: Seen,
    result: Result<Response, FhirError>,
) -> Response {
    let response = respond(result);
    let (Some(store), Some(client)) = (&state.store, seen.client) else {
        return response;
    };
    let event = lenaguard_storage::accounts::AccessEvent {
        at_ms: crate::api::identity::now_ms(),
        login: client,
        role: lenaguard_storage::accounts::AccountRole::EhrClient,
        action,
        patient: seen.patient,
        status: response.status().as_u16(),
        request_id: crate::api::problem::request_id().unwrap_or_default(),
    };
    match store.record_access(&[event]).await {
        Ok(()) => response,
        Err(e) => respond(Err(FhirError::Internal(format!("access log: {e}")))),
    }
}

/// The resource type as the access log names it: what the caller asked for when it is a plausible type name.
fn action_type(type_: &str) -> &str {
    if (1..=40).contains(&type_.len()) && type_.bytes().all(|b| b.is_ascii_alphabetic()) {
        type_
    } else {
        "unknown"
    }
}

async fn read(
    State(state): State<Arc<FhirState>>,
    Path((type_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut seen = Seen::default();
    let result = read_inner(&state, &type_, &id, &headers, &mut seen).await;
    logged(
        &state,
        format!("fhir.read.{}", action_type(&type_)),
        seen,
        result,
    )
    .await
}

async fn read_inner(
    state: &FhirState,
    type_: &str,
    id: &str,
    headers: &HeaderMap,
    seen: &mut Seen,
) -> Result<Response, FhirError> {
    let (client, scopes) = authenticate(state, headers).await?;
    seen.client = Some(client);
    let kind = kind(type_)?;
    require(&scopes, kind, 'r')?;
    let not_found = || FhirError::NotFound {
        kind: kind.name(),
        id: id.to_string(),
    };
    // The patient is in the id of every record but the audit ones.
    let patient = match kind.spec().by_patient {
        ByPatient::Optional(_) => None,
        ByPatient::Itself => match ids::unescape(id) {
            Some((p, None)) => Some(p),
            _ => return Err(not_found()),
        },
        ByPatient::Required(_) => match ids::unescape(id) {
            Some((p, Some(_))) => Some(p),
            _ => return Err(not_found()),
        },
    };
    seen.patient = patient.clone();
    gather(state, kind, patient.as_deref())
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .map(|b| fhir_json(StatusCode::OK, &b.resource))
        .ok_or_else(not_found)
}

async fn search(
    State(state): State<Arc<FhirState>>,
    Path(type_): Path<String>,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut seen = Seen::default();
    let result = search_inner(&state, &type_, &headers, params, raw, &mut seen).await;
    logged(
        &state,
        format!("fhir.search.{}", action_type(&type_)),
        seen,
        result,
    )
    .await
}

async fn search_inner(
    state: &FhirState,
    type_: &str,
    headers: &HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
    raw: Option<String>,
    seen: &mut Seen,
) -> Result<Response, FhirError> {
    let (client, scopes) = authenticate(state, headers).await?;
    seen.client = Some(client);
    let kind = kind(type_)?;
    require(&scopes, kind, 's')?;
    let Query(params) = params.map_err(|e| {
        FhirError::param(
            "(query)",
            raw.as_deref().unwrap_or(""),
            format!("a URL-encoded query string ({e})"),
        )
    })?;
    let q = Search::parse(kind, &params, &state.fhir_base)?;
    seen.patient = q.patient.clone();
    let (matched, total): (Vec<Built>, usize) = if kind == Kind::Patient {
        patients(state, &q).await?
    } else {
        let mut all: Vec<Built> = gather(state, kind, q.patient.as_deref())
            .await?
            .into_iter()
            .filter(|b| q.matches(b))
            .collect();
        // Stable: records of one day keep the order they were written in.
        all.sort_by_key(|b| b.date);
        if q.descending {
            all.reverse();
        }
        let total = all.len();
        (
            all.into_iter().skip(q.offset).take(q.count).collect(),
            total,
        )
    };
    let url = |query: &str| {
        if query.is_empty() {
            format!("{}/{}", state.fhir_base, kind.name())
        } else {
            format!("{}/{}?{query}", state.fhir_base, kind.name())
        }
    };
    let raw = raw.unwrap_or_default();
    let mut bundle = Bundle::new("searchset");
    bundle.total = u32::try_from(total).ok();
    bundle.link.push(BundleLink {
        relation: "self".into(),
        url: url(&raw),
        ..BundleLink::default()
    });
    // No next page when nothing is asked per page (_count=0 asks for the total only).
    if q.count > 0 && q.offset + q.count < total {
        let mut next: Vec<&str> = raw
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("_offset="))
            .collect();
        let offset = format!("_offset={}", q.offset + q.count);
        next.push(&offset);
        bundle.link.push(BundleLink {
            relation: "next".into(),
            url: url(&next.join("&")),
            ..BundleLink::default()
        });
    }
    for b in matched {
        let mut e = BundleEntry {
            full_url: Some(format!("{}/{}/{}", state.fhir_base, kind.name(), b.id)),
            resource: Some(b.resource),
            ..BundleEntry::default()
        };
        e.other.insert("search".into(), json!({ "mode": "match" }));
        bundle.entry.push(e);
    }
    Ok(fhir_json(
        StatusCode::OK,
        &Resource::Bundle(Box::new(bundle)),
    ))
}

/// A Patient search: by `_id`, by `identifier` (the enrollment identity, looked up), or a page of every enrolled
/// patient (only the page's files are read).
async fn patients(state: &FhirState, q: &Search) -> Result<(Vec<Built>, usize), FhirError> {
    let store = store(state)?;
    let narrowed = if let Some(fhir_ids) = q.token_codes("_id") {
        Some(
            fhir_ids
                .iter()
                .filter_map(|i| match ids::unescape(i) {
                    Some((p, None)) => Some(p),
                    _ => None,
                })
                .collect(),
        )
    } else if let Some(identities) = q.token_codes("identifier") {
        // The identity index, read without a command transaction (on SQLite that would take the write lock).
        let mut found = Vec::new();
        for i in &identities {
            found.extend(store.patient_with_identity(i).await?);
        }
        Some(found)
    } else {
        None
    };
    let ids: Vec<String> = match &narrowed {
        Some(ids) => ids.clone(),
        None => store.patient_ids().await?,
    };
    let total = ids.len();
    let mut out = Vec::new();
    for p in ids.iter().skip(q.offset).take(q.count) {
        if let Some(file) = store.patient_file(p).await? {
            out.extend(
                resources::from_file(Kind::Patient, &file, &state.systems)
                    .into_iter()
                    .filter(|b| q.matches(b)),
            );
        }
    }
    // Narrowed by _id or identifier, names that match no patient are not counted.
    let total = if narrowed.is_some() { out.len() } else { total };
    Ok((out, total))
}

async fn transaction(
    State(state): State<Arc<FhirState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    respond(transaction_inner(&state, &headers, body).await)
}

async fn transaction_inner(
    state: &FhirState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, FhirError> {
    // Create scopes are checked per entry, once the types are known.
    let (iss, scopes) = authenticate(state, headers).await?;
    let workflow = state.workflow.as_ref().ok_or(FhirError::NoStore)?;
    let body = body.map_err(|e| FhirError::Body {
        status: if e.status().is_server_error() {
            StatusCode::BAD_REQUEST
        } else {
            e.status()
        },
        detail: e.body_text(),
    })?;
    let text = std::str::from_utf8(&body).map_err(|_| FhirError::Body {
        status: StatusCode::BAD_REQUEST,
        detail: "the body is not UTF-8 JSON".into(),
    })?;
    let response = transaction::import(workflow, text, &iss, &scopes, today(state)).await?;
    Ok(fhir_json(
        StatusCode::OK,
        &Resource::Bundle(Box::new(response)),
    ))
}

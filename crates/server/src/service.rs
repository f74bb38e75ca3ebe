//! Routes of the CDS Hooks service (standards.md §1.2 discovery, §1.3 service call, §1.6 feedback, §1.8 status
//! codes with an OperationOutcome body on every non-2xx answer).
//!
//! Nothing about the patient is logged: a refused call answers the caller with the reason and writes nothing.

use crate::Settings;
use crate::auth::{self, AuthError, Client};
use crate::batch::Batcher;
use crate::feedback;
use crate::prefetch::{Fetcher, MAX_PAGE_BYTES, PrefetchError};
use crate::replay::ReplayCache;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::civil::Date;
use lenaguard_domain::{RulePack, assess};
use lenaguard_interop::cds::services::{ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW, REQUIRED_PREFETCH};
use lenaguard_interop::cds::{
    Card, CardContext, CdsRequest, CdsResponse, FeedbackRequest, card_for, discovery,
    prefetch_bundle, prefetch_templates,
};
use lenaguard_interop::fhir::{
    MedicationRequest, OperationOutcome, OperationOutcomeIssue, Resource,
};
use lenaguard_interop::order::{self, Drug};
use lenaguard_interop::{ImportOptions, InteropError, fhir_to_snapshot};
use lenaguard_storage::Store;
use lenaguard_storage::cds::{FeedbackWrite, IssuedCard};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
struct AppState {
    base_url: String,
    clients: Vec<Client>,
    replay: Arc<dyn ReplayCache>,
    pack: Arc<RulePack>,
    today: Option<Date>,
    app_url: Option<String>,
    store: Option<Arc<dyn Store>>,
    fetcher: Fetcher,
    /// Group commit of issued cards, when there is a store.
    cards: Option<Batcher<Vec<IssuedCard>, ()>>,
    templates: std::collections::BTreeMap<String, String>,
}

pub(crate) fn router(
    settings: Settings,
    base_url: String,
    replay: Arc<dyn ReplayCache>,
) -> Result<Router, String> {
    let timeout = settings.timeout;
    let fetcher = Fetcher::new(settings.fhir_timeout, MAX_PAGE_BYTES)?;
    let cards = settings.store.clone().map(|store| {
        Batcher::spawn(
            crate::batch::writers_for(store.backend()),
            move |calls: Vec<Vec<IssuedCard>>| {
                let store = store.clone();
                async move {
                    let n = calls.len();
                    let all: Vec<IssuedCard> = calls.into_iter().flatten().collect();
                    store.record_cards(&all).await.map_err(|e| e.to_string())?;
                    Ok(vec![(); n])
                }
            },
        )
    });
    let state = Arc::new(AppState {
        base_url,
        clients: settings.clients,
        replay,
        pack: settings.pack,
        today: settings.today,
        app_url: settings.app_url,
        store: settings.store,
        fetcher,
        cards,
        templates: prefetch_templates(),
    });
    let bench_echo = settings.bench_echo;
    // With the REST API on, its operations routes answer `/healthz` (and `/readyz`).
    let mut router = Router::new();
    if settings.api.is_none() {
        router = router.route("/healthz", get(|| async { "ok" }));
    }
    if bench_echo {
        // The benchmark's baselines, off unless asked for: the same request read whole with no token and no
        // work; and the same request after the token check every CDS call must pass (signature, claims, the
        // jti recorded in the replay cache), verified as a call to order-sign, so that the cost of the service's
        // own work can be told from the cost the specification's security puts on every call.
        router = router
            .route(
                "/bench/echo",
                post(|body: Bytes| async move {
                    axum::Json(serde_json::json!({ "received": body.len() }))
                }),
            )
            .route(
                "/bench/echo-auth",
                post(
                    |State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes| async move {
                        let path = format!("/cds-services/{ORDER_SIGN}");
                        match authenticate(&state, &headers, &path).await {
                            Ok(_) => axum::Json(serde_json::json!({ "received": body.len() }))
                                .into_response(),
                            Err(e) => auth_error(&e),
                        }
                    },
                ),
            );
    }
    Ok(router
        .route("/cds-services", get(discovery_handler))
        .route("/cds-services/{id}", post(service_handler))
        .route("/cds-services/{id}/feedback", post(feedback_handler))
        .fallback(|| async {
            outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such route".into(),
                None,
            )
        })
        .with_state(state)
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(middleware::from_fn_with_state(timeout, with_timeout)))
}

/// A slow request is answered 503 instead of holding a connection forever.
pub(crate) async fn with_timeout(
    State(limit): State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => outcome(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} s", limit.as_secs()),
            None,
        ),
    }
}

fn outcome(status: StatusCode, code: &str, diagnostics: String, path: Option<String>) -> Response {
    let body = OperationOutcome {
        issue: vec![OperationOutcomeIssue {
            severity: "error".into(),
            code: code.into(),
            diagnostics: Some(diagnostics),
            expression: path.into_iter().collect(),
            ..OperationOutcomeIssue::default()
        }],
        ..OperationOutcome::default()
    };
    (status, axum::Json(body)).into_response()
}

fn interop_error(e: &InteropError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(e.to_operation_outcome())).into_response()
}

/// 400 for a request that is wrong; 412 naming each key that could be had neither way, and why.
fn prefetch_error(e: &PrefetchError) -> Response {
    match e {
        PrefetchError::Invalid(e) => interop_error(e),
        PrefetchError::Unavailable { missing } => {
            let body = OperationOutcome {
                issue: vec![OperationOutcomeIssue {
                    severity: "error".into(),
                    code: "incomplete".into(),
                    diagnostics: Some(e.to_string()),
                    expression: missing
                        .iter()
                        .map(|(k, _)| format!("prefetch.{k}"))
                        .collect(),
                    ..OperationOutcomeIssue::default()
                }],
                ..OperationOutcome::default()
            };
            (StatusCode::PRECONDITION_FAILED, axum::Json(body)).into_response()
        }
    }
}

fn auth_error(e: &AuthError) -> Response {
    if let AuthError::ReplayUnavailable(_) = e {
        return outcome(
            StatusCode::SERVICE_UNAVAILABLE,
            "transient",
            "the token could not be checked against the replay cache; retry with a new token"
                .into(),
            None,
        );
    }
    let mut r = outcome(StatusCode::UNAUTHORIZED, "login", e.to_string(), None);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    r
}

fn body_error(e: &BytesRejection) -> Response {
    let status = e.status();
    let status = if status.is_server_error() {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    outcome(status, "too-costly", e.body_text(), Some("request".into()))
}

/// A database failure: the cause goes to the server's log (it names no patient), the caller gets 503.
fn store_unavailable(what: &str, e: &lenaguard_storage::StorageError) -> Response {
    eprintln!("cds: {what}: {e}");
    outcome(
        StatusCode::SERVICE_UNAVAILABLE,
        "transient",
        format!("{what}: the program database is unavailable; retry later"),
        None,
    )
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> Result<String, AuthError> {
    let audience = format!("{}{path}", state.base_url);
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    auth::verify(
        header,
        &audience,
        &state.clients,
        state.replay.as_ref(),
        jiff::Timestamp::now().as_second(),
    )
    .await
}

/// Discovery needs no token: it lists services and prefetch templates, no patient data, and an EHR reads it
/// while being configured.
async fn discovery_handler() -> Response {
    axum::Json(discovery()).into_response()
}

fn hook_of(id: &str) -> Option<&'static str> {
    match id {
        ORDER_SIGN => Some("order-sign"),
        ORDER_SELECT => Some("order-select"),
        PATIENT_VIEW => Some("patient-view"),
        _ => None,
    }
}

fn unknown_service(id: &str) -> Response {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no CDS service {id:?}; see GET /cds-services"),
        None,
    )
}

async fn service_handler(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = match authenticate(&state, &headers, &format!("/cds-services/{id}")).await {
        Ok(iss) => iss,
        Err(e) => return auth_error(&e),
    };
    let Some(hook) = hook_of(&id) else {
        return unknown_service(&id);
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&e),
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "structure",
            "the body is not UTF-8 JSON".into(),
            Some("request".into()),
        );
    };
    let today = state
        .today
        .unwrap_or_else(|| jiff::ZonedDateTime::now().date());
    let mut request = match CdsRequest::from_json(text) {
        Ok(r) if r.hook == hook => r,
        Ok(r) => return interop_error(&InteropError::invalid("request.hook", &r.hook, hook)),
        Err(e) => return interop_error(&e),
    };
    if needs_prefetch(&request, hook)
        && let Err(e) = state
            .fetcher
            .complete(
                &mut request,
                &state.templates,
                &REQUIRED_PREFETCH,
                state
                    .clients
                    .iter()
                    .find(|c| c.iss == client)
                    .map_or(&[][..], |c| &c.fhir_servers),
            )
            .await
    {
        return prefetch_error(&e);
    }
    let cards = match answer(&state, hook, &request, today) {
        Ok(c) => c,
        Err(e) => return interop_error(&e),
    };
    if let Some(writer) = &state.cards {
        let issued: Vec<_> = cards
            .iter()
            .filter_map(|(card, rules)| feedback::issued(card, rules.clone(), &client, &id, today))
            .collect();
        // The card is the clinical answer: it is sent even when it cannot be recorded for the statistics (the
        // failure is logged; feedback about it will then be refused as about an unknown card).
        if !issued.is_empty()
            && let Err(e) = writer.submit(issued).await
        {
            eprintln!("cds: recording issued cards: {e}");
        }
    }
    axum::Json(CdsResponse {
        cards: cards.into_iter().map(|(card, _)| card).collect(),
        system_actions: Vec::new(),
    })
    .into_response()
}

/// The drafts to check: lenalidomide MedicationRequests of `draftOrders` (for order-select, only the selected
/// ones). Orders for other drugs are not ours to comment on; an order whose drug cannot be told is kept, so
/// that `card_for` says why it has no card instead of this function guessing.
fn lenalidomide_drafts(request: &CdsRequest) -> Result<Vec<MedicationRequest>, InteropError> {
    let Some(drafts) = request.draft_orders()? else {
        return Err(InteropError::missing(
            "context.draftOrders",
            "a Bundle of the draft orders (order-select and order-sign)",
        ));
    };
    let selections = &request.context.selections;
    Ok(drafts
        .resources()
        .filter_map(|r| match r {
            Resource::MedicationRequest(m) => Some(m),
            _ => None,
        })
        .filter(|m| {
            selections.is_empty()
                || m.id
                    .as_deref()
                    .is_some_and(|id| selections.contains(&format!("MedicationRequest/{id}")))
        })
        .filter(|m| !matches!(order::identify(m), Ok(Drug::Other { .. })))
        .cloned()
        .collect())
}

/// The patient's current lenalidomide order among the prefetched medications (patient-view).
fn current_order(bundle: &lenaguard_interop::fhir::Bundle) -> Option<MedicationRequest> {
    bundle
        .resources()
        .filter_map(|r| match r {
            Resource::MedicationRequest(m) => Some(m),
            _ => None,
        })
        .filter(|m| m.status == "active")
        .filter(|m| matches!(order::identify(m), Ok(Drug::Lenalidomide { .. })))
        .last()
        .cloned()
}

/// Whether the call needs the patient's data: patient-view always, the order hooks when a lenalidomide draft is
/// among the orders (a malformed draft is reported by [`answer`]).
fn needs_prefetch(request: &CdsRequest, hook: &str) -> bool {
    hook == "patient-view" || lenalidomide_drafts(request).is_ok_and(|d| !d.is_empty())
}

/// The cards of a call (prefetch complete), each with the rule ids behind it.
fn answer(
    state: &AppState,
    hook: &str,
    request: &CdsRequest,
    today: Date,
) -> Result<Vec<(Card, Vec<String>)>, InteropError> {
    let pack = state.pack.as_ref();
    // Orders and the order being checked: for order hooks the drafts (history excludes them); for patient-view
    // the current order, read as history.
    let checks: Vec<(MedicationRequest, bool)> = if hook == "patient-view" {
        let bundle = prefetch_bundle(request, &REQUIRED_PREFETCH)?;
        current_order(&bundle)
            .into_iter()
            .map(|m| (m, false))
            .collect()
    } else {
        // No lenalidomide draft: nothing to say, and no prefetch needed to say it.
        lenalidomide_drafts(request)?
            .into_iter()
            .map(|m| (m, true))
            .collect()
    };
    let mut cards = Vec::new();
    for (order, proposed) in &checks {
        let bundle = prefetch_bundle(request, &REQUIRED_PREFETCH)?;
        let options = ImportOptions {
            proposed: proposed.then_some(order),
            ..ImportOptions::new(pack)
        };
        let (snapshot, notes) = fhir_to_snapshot(&bundle, &options)?;
        let assessment = assess(&snapshot, pack, today)?;
        let app_url = state.app_url.as_deref().map(|a| {
            format!(
                "{}/patients/{}",
                a.trim_end_matches('/'),
                request.context.patient_id.as_deref().unwrap_or_default()
            )
        });
        let ctx = CardContext {
            hook_instance: &request.hook_instance,
            service_base: &state.base_url,
            app_url: app_url.as_deref(),
            notes: &notes,
        };
        if let Some(card) = card_for(&assessment, order, &ctx).card {
            let rules = feedback::rules_behind(&assessment, &card);
            cards.push((card, rules));
        }
    }
    Ok(cards)
}

/// Feedback (§1.6): checked, then stored with the client's `iss` when the server has a store (without one it is
/// acknowledged only). A batch is stored whole or not at all; feedback about a card this service never issued to
/// this client is refused (404), an accepted suggestion that is not one of the card's is refused (400), a
/// repeated identical report is acknowledged again without a second row, and a different report with the same
/// card and `outcomeTimestamp` is refused (409).
async fn feedback_handler(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = match authenticate(&state, &headers, &format!("/cds-services/{id}/feedback")).await
    {
        Ok(iss) => iss,
        Err(e) => return auth_error(&e),
    };
    if hook_of(&id).is_none() {
        return unknown_service(&id);
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&e),
    };
    let parsed: FeedbackRequest = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return interop_error(&InteropError::malformed(
                format!("feedback (line {}, column {})", e.line(), e.column()),
                e.to_string(),
            ));
        }
    };
    if let Err(e) = parsed.validate() {
        return interop_error(&e);
    }
    let Some(store) = &state.store else {
        return StatusCode::OK.into_response();
    };
    let records = match feedback::records(&client, &id, &parsed) {
        Ok(r) => r,
        Err(e) => return interop_error(&e),
    };
    let writes = match store.record_feedback(&records).await {
        Ok(w) => w,
        Err(e) => return store_unavailable("storing feedback", &e),
    };
    match feedback::first_refusal(&writes) {
        None => StatusCode::OK.into_response(),
        Some((i, FeedbackWrite::UnknownCard)) => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!(
                "feedback[{i}].card: {:?} is not a card this service ({id}) issued to this client; expected the uuid of a card from one of its answers",
                records[i].card
            ),
            Some(format!("feedback[{i}].card")),
        ),
        Some((i, FeedbackWrite::UnknownSuggestion(k))) => {
            let card = &records[i].card;
            let id = records[i]
                .accepted_suggestions
                .get(k)
                .map_or("", String::as_str);
            // The record's ids are sorted and deduplicated: name the entry as the client sent it.
            let j = parsed.feedback[i]
                .accepted_suggestions
                .iter()
                .position(|s| s.id == id)
                .unwrap_or(k);
            let path = format!("feedback[{i}].acceptedSuggestions[{j}].id");
            outcome(
                StatusCode::BAD_REQUEST,
                "value",
                format!(
                    "{path}: {id:?} is not a suggestion of card {card:?}; expected the uuid of a suggestion on card {card:?}"
                ),
                Some(path),
            )
        }
        Some((i, FeedbackWrite::SuggestionsNotRecorded)) => {
            let card = &records[i].card;
            let id = parsed.feedback[i]
                .accepted_suggestions
                .first()
                .map_or("", |s| s.id.as_str());
            let path = format!("feedback[{i}].acceptedSuggestions[0].id");
            outcome(
                StatusCode::BAD_REQUEST,
                "value",
                format!(
                    "{path}: {id:?} cannot be checked: card {card:?} was issued before this service recorded the suggestions of its cards, so no suggestion of it is accepted; expected the uuid of a suggestion on card {card:?}, which only cards issued since can have (an override of this card is still accepted)"
                ),
                Some(path),
            )
        }
        Some((i, _)) => outcome(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "feedback[{i}]: a different report about card {:?} with outcomeTimestamp {:?} is already stored; a new report needs its own outcomeTimestamp",
                records[i].card, parsed.feedback[i].outcome_timestamp
            ),
            Some(format!("feedback[{i}]")),
        ),
    }
}

//! The CDS service with the program database, over real HTTP, on SQLite and on PostgreSQL: two servers on one
//! database (as behind a load balancer, one public base URL) share the `jti` replay cache and the issued cards,
//! so a token accepted by one is a replay at the other and feedback sent to either is stored once; the override
//! statistics per rule follow from it. Feedback may accept only a suggestion of the card it names: any other id
//! is 400 naming it, and the batch it came in writes nothing.

use anyhow::{Context, Result, ensure};
use jiff::civil::date;
use lenaguard_domain::RulePack;
use lenaguard_server::{Client, DEV_ISSUER, DevKey, Settings};
use lenaguard_storage::Store;
use lenaguard_storage::cds::RuleStats;
use lenaguard_storage_postgres::PostgresStore;
use lenaguard_storage_sqlite::SqliteStore;
use serde_json::{Value, json};
use std::sync::Arc;

mod common;

/// The base URL both servers answer for; tokens name it in `aud`.
const PUBLIC: &str = "https://cds.example.org";
const ORDER_SIGN: &str = "/cds-services/lenalidomide-order-sign";
const FEEDBACK: &str = "/cds-services/lenalidomide-order-sign/feedback";
const OTHER_ISSUER: &str = "https://other-ehr.example.org";

struct Server {
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The clients both servers trust: the dev key's and another EHR's.
struct Keys {
    dev: DevKey,
    other: DevKey,
}

impl Keys {
    fn new() -> Result<Keys> {
        Ok(Keys {
            dev: DevKey::generate("dev-1").map_err(anyhow::Error::msg)?,
            other: DevKey::generate("other-1").map_err(anyhow::Error::msg)?,
        })
    }

    fn clients(&self) -> Result<Vec<Client>> {
        let client = |iss: &str, k: &DevKey| {
            Client::new(
                iss.into(),
                &["ES384".into()],
                k.jwks().map_err(anyhow::Error::msg)?,
            )
            .map_err(anyhow::Error::msg)
        };
        Ok(vec![
            client(DEV_ISSUER, &self.dev)?,
            client(OTHER_ISSUER, &self.other)?,
        ])
    }

    fn token(&self, path: &str) -> String {
        self.dev
            .token(DEV_ISSUER, &format!("{PUBLIC}{path}"), now())
            .expect("signing")
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn start(keys: &Keys, store: Arc<dyn Store>) -> Result<Server> {
    let mut settings = Settings::new(
        "127.0.0.1:0".parse()?,
        keys.clients()?,
        RulePack::builtin()?,
    );
    settings.base_url = Some(PUBLIC.into());
    settings.today = Some(date(2026, 11, 26));
    settings.store = Some(store);
    let (addr, _, stop) = common::start_service(settings).await?;
    Ok(Server { addr, _stop: stop })
}

fn order_sign_body(hook_instance: &str) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&common::order_sign_request(
        hook_instance,
    )?)?)
}

async fn post(s: &Server, path: &str, token: &str, body: Vec<u8>) -> Result<(u16, Value)> {
    let (status, bytes) = common::post(s.addr, path, token, body).await?;
    Ok((status, common::json_of(&bytes)?))
}

/// Two stores on one database, one per server, each with its own connections.
async fn two_servers(
    keys: &Keys,
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) -> Result<(Server, Server)> {
    Ok((start(keys, a).await?, start(keys, b).await?))
}

async fn replay_story(keys: &Keys, a: &Server, b: &Server) -> Result<()> {
    let token = keys.token(ORDER_SIGN);
    let (status, body) = post(a, ORDER_SIGN, &token, order_sign_body("hook-replay-1")?).await?;
    ensure!(status == 200, "server A: {status} {body}");
    let (status, body) = post(b, ORDER_SIGN, &token, order_sign_body("hook-replay-1")?).await?;
    ensure!(status == 401, "server B accepted a replay: {status} {body}");
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    ensure!(diag.contains("jti was already used"), "{diag}");
    // A fresh token still works at B.
    let (status, _) = post(
        b,
        ORDER_SIGN,
        &keys.token(ORDER_SIGN),
        order_sign_body("hook-replay-2")?,
    )
    .await?;
    ensure!(status == 200, "server B refused a fresh token: {status}");
    Ok(())
}

/// One feedback entry: accepted (with this suggestion's uuid) or overridden.
fn feedback(card: &str, accepted: Option<&str>, reason: Option<&str>, at: &str) -> Vec<u8> {
    let outcome = if accepted.is_some() {
        "accepted"
    } else {
        "overridden"
    };
    let mut f = json!({"card": card, "outcome": outcome, "outcomeTimestamp": at});
    if let Some(id) = accepted {
        f["acceptedSuggestions"] = json!([{ "id": id }]);
    }
    if let Some(code) = reason {
        f["overrideReason"] = json!({
            "reason": {"code": code, "system": format!("{PUBLIC}/override-reason")},
            "userComment": "free text that is not kept"
        });
    }
    serde_json::to_vec(&json!({ "feedback": [f] })).expect("JSON")
}

/// A card as the service answered it.
struct Issued {
    uuid: String,
    rule: String,
    /// Its suggestions' uuids.
    suggestions: Vec<String>,
}

/// Sign an order on server `s` and return the card.
async fn card(keys: &Keys, s: &Server, hook_instance: &str) -> Result<Issued> {
    let (status, body) = post(
        s,
        ORDER_SIGN,
        &keys.token(ORDER_SIGN),
        order_sign_body(hook_instance)?,
    )
    .await?;
    ensure!(status == 200, "{status} {body}");
    let card = &body["cards"][0];
    let suggestions: Vec<String> = card["suggestions"]
        .as_array()
        .context("card suggestions")?
        .iter()
        .filter_map(|s| s["uuid"].as_str().map(str::to_string))
        .collect();
    ensure!(!suggestions.is_empty(), "{card:#}");
    Ok(Issued {
        uuid: card["uuid"].as_str().context("card uuid")?.to_string(),
        rule: card["source"]["topic"]["code"]
            .as_str()
            .context("card rule")?
            .to_string(),
        suggestions,
    })
}

async fn stats_of(store: &dyn Store, rule: &str) -> Result<RuleStats> {
    store
        .override_stats()
        .await?
        .into_iter()
        .find(|s| s.rule == rule)
        .context("the card's rule in the statistics")
}

async fn feedback_story(keys: &Keys, a: &Server, b: &Server, store: &dyn Store) -> Result<()> {
    let issued_before = |stats: &[lenaguard_storage::cds::RuleStats], rule: &str| {
        stats
            .iter()
            .find(|s| s.rule == rule)
            .map_or(0, |s| s.issued)
    };
    let before = store.override_stats().await?;
    let Issued {
        uuid: first, rule, ..
    } = card(keys, a, "hook-feedback-1").await?;
    let issued = issued_before(&before, &rule) + 2;
    let Issued {
        uuid: second,
        suggestions,
        ..
    } = card(keys, a, "hook-feedback-2").await?;
    let suggestion = suggestions[0].as_str();
    ensure!(first != second);
    let at = "2026-11-26T09:30:00Z";
    // Feedback to the other server: the card was issued on this database, so it is known there.
    let overridden = feedback(&first, None, Some("trial-protocol"), at);
    let (status, body) = post(b, FEEDBACK, &keys.token(FEEDBACK), overridden.clone()).await?;
    ensure!(status == 200, "{status} {body}");
    // The same report again (a retry): acknowledged, stored once.
    let (status, body) = post(a, FEEDBACK, &keys.token(FEEDBACK), overridden).await?;
    ensure!(status == 200, "repeated feedback: {status} {body}");
    // A different report with the same timestamp contradicts the stored one.
    let contradicting = feedback(&first, None, Some("prescriber-judgement"), at);
    let (status, body) = post(a, FEEDBACK, &keys.token(FEEDBACK), contradicting).await?;
    ensure!(status == 409, "{status} {body}");
    ensure!(body["issue"][0]["expression"][0] == "feedback[0]", "{body}");
    // A card nobody issued.
    let (status, body) = post(
        a,
        FEEDBACK,
        &keys.token(FEEDBACK),
        feedback("no-such-card", None, None, at),
    )
    .await?;
    ensure!(status == 404, "{status} {body}");
    ensure!(body["resourceType"] == "OperationOutcome");
    ensure!(
        body["issue"][0]["expression"][0] == "feedback[0].card",
        "{body}"
    );
    ensure!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .contains("no-such-card"),
        "{body}"
    );
    // A card issued to another client: unknown to this one.
    let other = keys
        .other
        .token(OTHER_ISSUER, &format!("{PUBLIC}{FEEDBACK}"), now())
        .map_err(anyhow::Error::msg)?;
    let (status, _) = post(
        a,
        FEEDBACK,
        &other,
        feedback(&second, Some(suggestion), None, at),
    )
    .await?;
    ensure!(
        status == 404,
        "feedback from another client about this client's card: {status}"
    );
    // A batch with one known and one unknown card is refused whole: nothing of it is stored.
    let batch = json!({"feedback": [
        {"card": second, "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}], "outcomeTimestamp": at},
        {"card": "no-such-card", "outcome": "overridden", "outcomeTimestamp": at},
    ]});
    let (status, body) = post(
        a,
        FEEDBACK,
        &keys.token(FEEDBACK),
        serde_json::to_vec(&batch)?,
    )
    .await?;
    ensure!(
        status == 404 && body["issue"][0]["expression"][0] == "feedback[1].card",
        "{status} {body}"
    );
    let s = stats_of(store, &rule).await?;
    ensure!(
        (s.issued, s.accepted, s.overridden) == (issued, 0, 1),
        "{s:?}"
    );
    // Now the second card accepted.
    let (status, body) = post(
        a,
        FEEDBACK,
        &keys.token(FEEDBACK),
        feedback(&second, Some(suggestion), None, at),
    )
    .await?;
    ensure!(status == 200, "{status} {body}");
    let s = stats_of(store, &rule).await?;
    ensure!(
        (s.issued, s.accepted, s.overridden) == (issued, 1, 1),
        "{s:?}"
    );
    ensure!(s.override_rate == Some(0.5), "{s:?}");
    ensure!(
        s.top_override_reasons.len() == 1 && s.top_override_reasons[0].code == "trial-protocol",
        "{s:?}"
    );
    Ok(())
}

/// Send feedback with a fresh token.
async fn send(keys: &Keys, s: &Server, body: Vec<u8>) -> Result<(u16, Value)> {
    post(s, FEEDBACK, &keys.token(FEEDBACK), body).await
}

fn diagnostics(body: &Value) -> &str {
    body["issue"][0]["diagnostics"].as_str().unwrap_or_default()
}

/// Accepted suggestions must be the named card's own; a refused entry leaves its whole batch unwritten, and the
/// statistics count only what was stored.
async fn suggestion_story(keys: &Keys, a: &Server, b: &Server, store: &dyn Store) -> Result<()> {
    let x = card(keys, a, "hook-suggestion-1").await?;
    let y = card(keys, b, "hook-suggestion-2").await?;
    let before = stats_of(store, &x.rule).await?;
    let at = "2026-11-26T10:15:00Z";
    // An id the service never issued.
    let (status, body) = send(keys, a, feedback(&x.uuid, Some("s-1"), None, at)).await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(body["resourceType"] == "OperationOutcome", "{body}");
    ensure!(
        body["issue"][0]["expression"] == json!(["feedback[0].acceptedSuggestions[0].id"]),
        "{body}"
    );
    let diag = diagnostics(&body);
    ensure!(
        diag.contains("\"s-1\"")
            && diag.contains(&format!("the uuid of a suggestion on card {:?}", x.uuid)),
        "{diag}"
    );
    // A real suggestion, but of another card.
    let (status, body) = send(
        keys,
        b,
        feedback(&x.uuid, Some(&y.suggestions[0]), None, at),
    )
    .await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(diagnostics(&body).contains(&y.suggestions[0]), "{body}");
    // A batch whose second entry names one good and one unknown suggestion: refused, naming the entry and the
    // position the client gave, and the first entry (valid on its own) is not stored either.
    let batch = json!({"feedback": [
        {"card": x.uuid, "outcome": "accepted", "acceptedSuggestions": [{"id": x.suggestions[0]}], "outcomeTimestamp": at},
        {"card": y.uuid, "outcome": "accepted",
         "acceptedSuggestions": [{"id": y.suggestions[0]}, {"id": "0-not-a-suggestion"}], "outcomeTimestamp": at},
    ]});
    let (status, body) = send(keys, a, serde_json::to_vec(&batch)?).await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(
        body["issue"][0]["expression"] == json!(["feedback[1].acceptedSuggestions[1].id"]),
        "{body}"
    );
    ensure!(diagnostics(&body).contains("0-not-a-suggestion"), "{body}");
    let s = stats_of(store, &x.rule).await?;
    ensure!(
        (s.accepted, s.overridden) == (before.accepted, before.overridden),
        "a refused batch changed the statistics: {before:?} -> {s:?}"
    );
    // The card's own suggestion is accepted and counted once, whichever server stores it.
    let (status, body) = send(
        keys,
        b,
        feedback(&x.uuid, Some(&x.suggestions[0]), None, at),
    )
    .await?;
    ensure!(status == 200, "{status} {body}");
    let (status, body) = send(
        keys,
        a,
        feedback(&x.uuid, Some(&x.suggestions[0]), None, at),
    )
    .await?;
    ensure!(status == 200, "a retry: {status} {body}");
    // An override names no suggestion and needs none.
    let (status, body) = send(keys, a, feedback(&y.uuid, None, Some("trial-protocol"), at)).await?;
    ensure!(status == 200, "{status} {body}");
    let s = stats_of(store, &x.rule).await?;
    ensure!(
        (s.issued, s.accepted, s.overridden)
            == (before.issued, before.accepted + 1, before.overridden + 1),
        "{before:?} -> {s:?}"
    );
    Ok(())
}

#[tokio::test]
async fn sqlite_two_servers_share_replay_cache_and_feedback() -> Result<()> {
    let keys = Keys::new()?;
    let (first, _dir) = lenaguard_tests_storage::sqlite().await?;
    let second = SqliteStore::open(&first.path().to_string_lossy()).await?;
    let store: Arc<dyn Store> = Arc::new(first);
    let (a, b) = two_servers(&keys, store.clone(), Arc::new(second)).await?;
    replay_story(&keys, &a, &b).await?;
    feedback_story(&keys, &a, &b, store.as_ref()).await?;
    suggestion_story(&keys, &a, &b, store.as_ref()).await
}

#[tokio::test]
async fn postgres_two_servers_share_replay_cache_and_feedback() -> Result<()> {
    let Some((first, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let keys = Keys::new()?;
    let second = PostgresStore::open(&db.url).await?;
    let store: Arc<dyn Store> = Arc::new(first.clone());
    let (a, b) = two_servers(&keys, store.clone(), Arc::new(second.clone())).await?;
    let outcome = async {
        replay_story(&keys, &a, &b).await?;
        feedback_story(&keys, &a, &b, store.as_ref()).await?;
        suggestion_story(&keys, &a, &b, store.as_ref()).await
    }
    .await;
    second.pool().close().await;
    db.drop_database(first).await?;
    outcome
}

#[tokio::test]
async fn a_token_is_refused_when_the_shared_replay_cache_cannot_be_asked() -> Result<()> {
    let keys = Keys::new()?;
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    let handle = store.clone();
    let s = start(&keys, Arc::new(store)).await?;
    let (status, body) = post(
        &s,
        ORDER_SIGN,
        &keys.token(ORDER_SIGN),
        order_sign_body("hook-down-1")?,
    )
    .await?;
    ensure!(status == 200, "{status} {body}");
    // The database goes away: a valid, fresh token cannot be checked for replay, so it is not accepted.
    handle.close().await;
    let (status, body) = post(
        &s,
        ORDER_SIGN,
        &keys.token(ORDER_SIGN),
        order_sign_body("hook-down-2")?,
    )
    .await?;
    ensure!(status == 503, "{status} {body}");
    ensure!(body["resourceType"] == "OperationOutcome", "{body}");
    ensure!(body.get("cards").is_none(), "{body}");
    Ok(())
}

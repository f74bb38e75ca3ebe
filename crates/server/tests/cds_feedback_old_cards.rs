//! Feedback about a card issued before the service recorded the suggestions of its cards (migration 0008 leaves
//! their `suggestions` NULL), over real HTTP on SQLite and on PostgreSQL: accepting one of its suggestions cannot
//! be checked and is refused with a 400 that says so, naming the field and the value; overriding it is stored.
//!
//! Such a card is made the way the migration leaves it: issued through the service, then its `suggestions` set to
//! NULL with the database's own command-line client (`sqlite3`, `psql`), as an operator's older row would be.

use anyhow::{Context, Result, ensure};
use jiff::civil::date;
use lenaguard_domain::RulePack;
use lenaguard_server::{Client, DEV_ISSUER, DevKey, Settings};
use lenaguard_storage::Store;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;

mod common;

const FEEDBACK: &str = "/cds-services/lenalidomide-order-sign/feedback";

struct Service {
    ehr: common::DevEhr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Service {
    async fn start(store: Arc<dyn Store>) -> Result<Service> {
        let key = DevKey::generate("dev-1").map_err(anyhow::Error::msg)?;
        let client = Client::new(
            DEV_ISSUER.into(),
            &["ES384".into()],
            key.jwks().map_err(anyhow::Error::msg)?,
        )
        .map_err(anyhow::Error::msg)?;
        let mut settings =
            Settings::new("127.0.0.1:0".parse()?, vec![client], RulePack::builtin()?);
        settings.today = Some(date(2026, 11, 26));
        settings.store = Some(store);
        let (_, base, stop) = common::start_service(settings).await?;
        Ok(Service {
            ehr: common::DevEhr { base, key },
            _stop: stop,
        })
    }

    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.ehr.post(path, body).await
    }

    /// Sign the fixture's order in a new hook instance: the card's uuid and its first suggestion's uuid.
    async fn card(&self, hook_instance: &str) -> Result<(String, String)> {
        let (card, _, suggestion) = self.ehr.card(hook_instance).await?;
        Ok((card, suggestion))
    }
}

/// Run a database command-line client; its failure fails the test.
fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program).args(args).output().with_context(|| {
        format!("running {program} (needed to make a card as older databases hold it)")
    })?;
    ensure!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn forget_suggestions_sql(card: &str) -> String {
    format!("UPDATE cds_cards SET suggestions = NULL WHERE uuid = '{card}'")
}

/// `forget`: set the card's suggestions to NULL in the service's database.
async fn old_card_story(s: &Service, forget: impl Fn(&str) -> Result<()>) -> Result<()> {
    let (card, suggestion) = s.card("hook-old-card-1").await?;
    // Before: the card's own suggestion would be accepted (checked on a second card, so this one stays unreported).
    let (other, other_suggestion) = s.card("hook-old-card-2").await?;
    ensure!(other != card);
    let at = "2026-11-26T11:00:00Z";
    let (status, body) = s
        .post(
            FEEDBACK,
            &json!({"feedback": [{"card": other, "outcome": "accepted",
                "acceptedSuggestions": [{"id": other_suggestion}], "outcomeTimestamp": at}]}),
        )
        .await?;
    ensure!(status == 200, "{status} {body}");
    forget(&card)?;
    let (status, body) = s
        .post(
            FEEDBACK,
            &json!({"feedback": [{"card": card, "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}], "outcomeTimestamp": at}]}),
        )
        .await?;
    ensure!(status == 400, "{status} {body}");
    ensure!(body["resourceType"] == "OperationOutcome", "{body}");
    ensure!(
        body["issue"][0]["expression"] == json!(["feedback[0].acceptedSuggestions[0].id"]),
        "{body}"
    );
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    ensure!(
        diag.contains(&suggestion)
            && diag.contains("issued before this service recorded the suggestions")
            && diag.contains(&format!("the uuid of a suggestion on card {card:?}")),
        "{diag}"
    );
    // An override of the same card names no suggestion: it is stored.
    let (status, body) = s
        .post(
            FEEDBACK,
            &json!({"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": at}]}),
        )
        .await?;
    ensure!(status == 200, "{status} {body}");
    Ok(())
}

#[tokio::test]
async fn sqlite_feedback_accepting_a_suggestion_of_an_old_card_is_refused() -> Result<()> {
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    let path = store.path().to_string_lossy().to_string();
    let s = Service::start(Arc::new(store)).await?;
    old_card_story(&s, |card| {
        run("sqlite3", &[&path, &forget_suggestions_sql(card)])
    })
    .await
}

#[tokio::test]
async fn postgres_feedback_accepting_a_suggestion_of_an_old_card_is_refused() -> Result<()> {
    let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let s = Service::start(Arc::new(store.clone())).await?;
    let outcome = old_card_story(&s, |card| {
        run(
            "psql",
            &[
                &db.url,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &forget_suggestions_sql(card),
            ],
        )
    })
    .await;
    drop(s);
    db.drop_database(store).await?;
    outcome
}

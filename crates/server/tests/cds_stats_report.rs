//! The override statistics the program staff read (`GET /api/v1/cds/stats`, the same store query as the staff
//! page and `lenaguard cds-stats`), over real HTTP on SQLite and PostgreSQL, after CDS feedback: an accepted
//! suggestion of the card counts as accepted, an override counts with its reason, and feedback naming a
//! suggestion the card never had counts for nothing.

use anyhow::{Context, Result, ensure};
use lenaguard_server::api::ApiSettings;
use lenaguard_server::{Client, DEV_ISSUER, DevKey};
use lenaguard_storage::Store;
use lenaguard_storage::accounts::AccountRole;
use serde_json::{Value, json};
use std::sync::Arc;

mod common;
use common::world;

const FEEDBACK: &str = "/cds-services/lenalidomide-order-sign/feedback";

/// The staff's statistics row of `rule`: (issued, accepted, overridden).
async fn report(base: &str, token: &str, rule: &str) -> Result<(i64, i64, i64, Value)> {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/cds/stats"))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(r.status() == 200, "{}", r.status());
    let all: Value = r.json().await?;
    let row = all
        .as_array()
        .context("a list of rules")?
        .iter()
        .find(|s| s["rule"] == rule)
        .cloned()
        .with_context(|| format!("{rule} in {all}"))?;
    let n = |k: &str| row[k].as_i64().unwrap_or(-1);
    Ok((n("issued"), n("accepted"), n("overridden"), row))
}

async fn stats_story(store: Arc<dyn Store>) -> Result<()> {
    let w = world::world(store.clone()).await?;
    let key = DevKey::generate("dev-1").map_err(anyhow::Error::msg)?;
    let mut settings = world::settings(store, ApiSettings::default());
    settings.clients = vec![
        Client::new(
            DEV_ISSUER.into(),
            &["ES384".into()],
            key.jwks().map_err(anyhow::Error::msg)?,
        )
        .map_err(anyhow::Error::msg)?,
    ];
    let (base, _stop) = world::start(settings).await?;
    let staff = w
        .tokens
        .get(&AccountRole::ProgramStaff)
        .context("a staff token")?;
    let ehr = common::DevEhr {
        base: base.clone(),
        key,
    };
    let (accepted, rule, suggestion) = ehr.card("hook-stats-1").await?;
    let (overridden, _, _) = ehr.card("hook-stats-2").await?;
    let (refused, _, _) = ehr.card("hook-stats-3").await?;
    let at = "2026-11-26T12:00:00Z";
    let (status, body) = ehr
        .post(
            FEEDBACK,
            &json!({"feedback": [
                {"card": accepted, "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}], "outcomeTimestamp": at},
                {"card": overridden, "outcome": "overridden", "outcomeTimestamp": at,
                 "overrideReason": {"reason": {"system": "https://cds.example.org/override-reason", "code": "trial-protocol"}}},
            ]}),
        )
        .await?;
    ensure!(status == 200, "{status} {body}");
    // The third card "accepted" with the first card's suggestion: refused, so not counted.
    let (status, body) = ehr
        .post(
            FEEDBACK,
            &json!({"feedback": [{"card": refused, "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}], "outcomeTimestamp": at}]}),
        )
        .await?;
    ensure!(status == 400, "{status} {body}");
    let (issued, accepted_n, overridden_n, row) = report(&base, staff, &rule).await?;
    ensure!(
        (issued, accepted_n, overridden_n) == (3, 1, 1),
        "issued, accepted, overridden: {row}"
    );
    ensure!(row["override_rate"] == json!(0.5), "{row}");
    ensure!(
        row["top_override_reasons"][0]["code"] == "trial-protocol",
        "{row}"
    );
    Ok(())
}

#[tokio::test]
async fn sqlite_staff_stats_count_accepted_suggestions_and_not_refused_feedback() -> Result<()> {
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    stats_story(Arc::new(store)).await
}

#[tokio::test]
async fn postgres_staff_stats_count_accepted_suggestions_and_not_refused_feedback() -> Result<()> {
    let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let outcome = stats_story(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    outcome
}

//! The CDS service's tables on both backends: a `jti` raced by many tasks on separate connections is accepted
//! exactly once, expired ones are purged, and a feedback batch naming an unknown card writes nothing.

use anyhow::{Result, ensure};
use lenaguard_storage::Store;
use lenaguard_storage::cds::{FeedbackOutcome, FeedbackRecord, FeedbackWrite, IssuedCard};
use lenaguard_tests_storage::*;
use std::sync::Arc;

async fn jti_race_and_purge(store: Arc<dyn Store>) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .first_use_of_jti("https://ehr.example.org", "jti-1", 2_000)
                .await
        });
    }
    let mut first = 0;
    while let Some(done) = tasks.join_next().await {
        first += usize::from(done??);
    }
    ensure!(first == 1, "{first} of 16 uses of one jti were accepted");
    ensure!(
        store
            .first_use_of_jti("https://other.example.org", "jti-1", 2_000)
            .await?,
        "another issuer's jti"
    );
    ensure!(
        store
            .first_use_of_jti("https://ehr.example.org", "jti-old", 1_000)
            .await?
    );
    // A batch (group commit): a jti already used, a new one, and the new one again.
    let t = |jti: &str| {
        (
            "https://ehr.example.org".to_string(),
            jti.to_string(),
            2_000,
        )
    };
    let first = store
        .first_uses_of_jtis(&[t("jti-1"), t("jti-2"), t("jti-2")])
        .await?;
    ensure!(first == [false, true, false], "{first:?}");
    ensure!(
        store.purge_jtis(1_500).await? == 1,
        "only the expired jti is purged"
    );
    ensure!(
        !store
            .first_use_of_jti("https://ehr.example.org", "jti-1", 2_000)
            .await?,
        "a live jti survives the purge"
    );
    Ok(())
}

async fn feedback_batch_is_all_or_nothing(store: Arc<dyn Store>) -> Result<()> {
    let client = "https://ehr.example.org";
    let service = "lenalidomide-order-sign";
    store
        .record_cards(&[IssuedCard {
            uuid: "card-1".into(),
            client: client.into(),
            service: service.into(),
            indicator: "warning".into(),
            rules: vec!["renal.moderate".into()],
            suggestions: vec!["suggestion-1".into()],
            issued_on: DAY,
        }])
        .await?;
    let report = |card: &str| FeedbackRecord {
        client: client.into(),
        service: service.into(),
        card: card.into(),
        outcome: FeedbackOutcome::Overridden,
        accepted_suggestions: Vec::new(),
        override_reason: Some(("sys".into(), "trial-protocol".into())),
        outcome_at_ms: 1,
    };
    let writes = store
        .record_feedback(&[report("card-1"), report("card-x")])
        .await?;
    ensure!(
        writes == [FeedbackWrite::Stored, FeedbackWrite::UnknownCard],
        "{writes:?}"
    );
    let stats = store.override_stats().await?;
    ensure!(
        stats.len() == 1 && stats[0].issued == 1 && stats[0].overridden == 0,
        "{stats:?}"
    );
    ensure!(store.record_feedback(&[report("card-1")]).await? == [FeedbackWrite::Stored]);
    ensure!(store.record_feedback(&[report("card-1")]).await? == [FeedbackWrite::Repeated]);
    ensure!(store.override_stats().await?[0].overridden == 1);
    Ok(())
}

#[tokio::test]
async fn sqlite_cds_tables() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    let store: Arc<dyn Store> = Arc::new(store);
    jti_race_and_purge(store.clone()).await?;
    feedback_batch_is_all_or_nothing(store).await
}

#[tokio::test]
async fn postgres_cds_tables() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let outcome = async {
        jti_race_and_purge(shared.clone()).await?;
        feedback_batch_is_all_or_nothing(shared).await
    }
    .await;
    db.drop_database(store).await?;
    outcome
}

//! The CDS service's tables on SQLite (migrations 0003 and 0008): the shared `jti` replay cache, issued cards and feedback.

use crate::{SqliteStore, db};
use async_trait::async_trait;
use lenaguard_storage::StorageError;
use lenaguard_storage::cds::{
    CdsStore, FeedbackRecord, FeedbackRow, FeedbackWrite, ISSUED_PER_RULE_SQL, IssuedCard,
    LATEST_OUTCOMES_SQL, RuleStats, card_suggestions_json, judge_against_row, judge_suggestions,
    stats_from_rows, suggestions_json,
};

#[async_trait]
impl CdsStore for SqliteStore {
    async fn first_uses_of_jtis(
        &self,
        tokens: &[(String, String, i64)],
    ) -> Result<Vec<bool>, StorageError> {
        let (_turn, mut tx) = self.bookkeeping_tx().await?;
        let mut first = Vec::with_capacity(tokens.len());
        for (iss, jti, exp) in tokens {
            let done = sqlx::query(
                "INSERT INTO cds_jti (iss, jti, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (iss, jti) DO NOTHING",
            )
            .bind(iss)
            .bind(jti)
            .bind(exp)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            first.push(done.rows_affected() == 1);
        }
        tx.commit().await.map_err(db)?;
        Ok(first)
    }

    async fn purge_jtis(&self, before: i64) -> Result<u64, StorageError> {
        let done = sqlx::query("DELETE FROM cds_jti WHERE expires_at < ?1")
            .bind(before)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn record_cards(&self, cards: &[IssuedCard]) -> Result<(), StorageError> {
        let (_turn, mut tx) = self.bookkeeping_tx().await?;
        for c in cards {
            sqlx::query(
                "INSERT INTO cds_cards (client, uuid, service, indicator, issued_on, suggestions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (client, uuid) DO NOTHING",
            )
            .bind(&c.client)
            .bind(&c.uuid)
            .bind(&c.service)
            .bind(&c.indicator)
            .bind(c.issued_on.to_string())
            .bind(card_suggestions_json(c))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            for rule in &c.rules {
                sqlx::query("INSERT INTO cds_card_rules (client, card, rule) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
                    .bind(&c.client)
                    .bind(&c.uuid)
                    .bind(rule)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)
    }

    async fn record_feedback(
        &self,
        entries: &[FeedbackRecord],
    ) -> Result<Vec<FeedbackWrite>, StorageError> {
        // The write lock first, so that no other writer slips in between a check and its write.
        let (_turn, mut tx) = self.write_tx().await?;
        let mut writes = Vec::with_capacity(entries.len());
        for f in entries {
            // The card's suggestion uuids: NULL for a card recorded before they were.
            let issued: Option<Option<String>> = sqlx::query_scalar(
                "SELECT suggestions FROM cds_cards WHERE client = ?1 AND uuid = ?2 AND service = ?3",
            )
            .bind(&f.client)
            .bind(&f.card)
            .bind(&f.service)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let Some(suggestions) = issued else {
                writes.push(FeedbackWrite::UnknownCard);
                continue;
            };
            if let Some(refused) = judge_suggestions(suggestions.as_deref(), f)? {
                writes.push(refused);
                continue;
            }
            let stored: Option<FeedbackRow> = sqlx::query_as(
                "SELECT outcome, accepted_suggestions, reason_system, reason_code FROM cds_feedback
                 WHERE client = ?1 AND card = ?2 AND outcome_at_ms = ?3",
            )
            .bind(&f.client)
            .bind(&f.card)
            .bind(f.outcome_at_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let write = judge_against_row(stored, f)?;
            if write == FeedbackWrite::Stored {
                sqlx::query(
                    "INSERT INTO cds_feedback (client, card, outcome_at_ms, outcome, accepted_suggestions,
                     reason_system, reason_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .bind(&f.client)
                .bind(&f.card)
                .bind(f.outcome_at_ms)
                .bind(f.outcome.as_str())
                .bind(suggestions_json(f))
                .bind(f.override_reason.as_ref().map(|r| &r.0))
                .bind(f.override_reason.as_ref().map(|r| &r.1))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            writes.push(write);
        }
        // A refused entry: dropping the transaction rolls back what the batch wrote (all or nothing).
        if !writes.iter().any(|w| w.refused()) {
            tx.commit().await.map_err(db)?;
        }
        Ok(writes)
    }

    async fn override_stats(&self) -> Result<Vec<RuleStats>, StorageError> {
        let issued: Vec<(String, i64)> = sqlx::query_as(ISSUED_PER_RULE_SQL)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        let rows = sqlx::query_as(LATEST_OUTCOMES_SQL)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        stats_from_rows(&issued, rows)
    }
}

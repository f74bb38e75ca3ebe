//! What the CDS Hooks service keeps in the program database (standards.md §1.6, §1.7): the `jti` of every
//! accepted client token until it expires (so that several servers on one database refuse a replay together),
//! the cards it issued with the rules behind them, and the feedback clients send about those cards, from which
//! the override statistics per rule are computed.
//!
//! The card table holds no patient identifier: a card is its uuid, the client and service it was issued to, its
//! indicator, the rule ids behind it, its suggestions' uuids and the day it was issued. Feedback keeps the outcome,
//! the coded override reason and the accepted suggestion uuids, not the free-text `userComment`, which may name
//! the patient.
//!
//! An accepted suggestion must be one the card carried, or the statistics would count acceptances of nothing.
//! Cards recorded before their suggestions were (migration 0008 leaves their `suggestions` NULL) cannot be
//! checked, so feedback accepting a suggestion of such a card is refused; an override of it is still stored.

use crate::error::StorageError;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;

/// A card as issued: enough to accept feedback about it and to count it per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCard {
    pub uuid: String,
    /// The `iss` of the client the card was issued to; only that client may send feedback about it.
    pub client: String,
    /// The CDS service id (`lenalidomide-order-sign`, ...).
    pub service: String,
    /// `info`, `warning` or `critical`.
    pub indicator: String,
    /// The rule ids behind the card (at least one).
    pub rules: Vec<String>,
    /// The uuids of the card's suggestions (possibly none): the only ids feedback may accept.
    pub suggestions: Vec<String>,
    pub issued_on: jiff::civil::Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackOutcome {
    Accepted,
    Overridden,
}

impl FeedbackOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackOutcome::Accepted => "accepted",
            FeedbackOutcome::Overridden => "overridden",
        }
    }

    pub fn parse(s: &str) -> Result<FeedbackOutcome, StorageError> {
        match s {
            "accepted" => Ok(FeedbackOutcome::Accepted),
            "overridden" => Ok(FeedbackOutcome::Overridden),
            other => Err(StorageError::corrupt("cds_feedback.outcome", other)),
        }
    }
}

/// One feedback entry about one card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackRecord {
    pub client: String,
    pub service: String,
    pub card: String,
    pub outcome: FeedbackOutcome,
    /// The accepted suggestions' uuids, sorted.
    pub accepted_suggestions: Vec<String>,
    /// The override reason's Coding (`system`, `code`), when the client sent one.
    pub override_reason: Option<(String, String)>,
    /// `outcomeTimestamp` in Unix milliseconds: what makes two reports about one card different reports.
    pub outcome_at_ms: i64,
}

/// What storing one feedback entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackWrite {
    Stored,
    /// The same report was stored before (a retry): nothing new was written.
    Repeated,
    /// No card with this uuid was issued to this client by this service.
    UnknownCard,
    /// A different report about this card with the same `outcomeTimestamp` is stored.
    Conflicting,
    /// This accepted suggestion (an index into the record's `accepted_suggestions`) is not a suggestion of the
    /// card.
    UnknownSuggestion(usize),
    /// The report accepts suggestions of a card recorded before its suggestions were, so they cannot be checked.
    SuggestionsNotRecorded,
}

impl FeedbackWrite {
    pub fn refused(self) -> bool {
        matches!(
            self,
            FeedbackWrite::UnknownCard
                | FeedbackWrite::Conflicting
                | FeedbackWrite::UnknownSuggestion(_)
                | FeedbackWrite::SuggestionsNotRecorded
        )
    }
}

/// Check the accepted suggestions of `new` against the card's suggestion uuids as stored (a JSON array; `None`
/// for a card recorded before they were). `None` when every accepted suggestion is one of the card's.
pub fn judge_suggestions(
    stored: Option<&str>,
    new: &FeedbackRecord,
) -> Result<Option<FeedbackWrite>, StorageError> {
    if new.accepted_suggestions.is_empty() {
        return Ok(None);
    }
    let Some(stored) = stored else {
        return Ok(Some(FeedbackWrite::SuggestionsNotRecorded));
    };
    let card: Vec<String> = serde_json::from_str(stored)
        .map_err(|e| StorageError::corrupt("cds_cards.suggestions", e))?;
    Ok(new
        .accepted_suggestions
        .iter()
        .position(|s| !card.contains(s))
        .map(FeedbackWrite::UnknownSuggestion))
}

/// A card's suggestion uuids as stored (a JSON array).
pub fn card_suggestions_json(c: &IssuedCard) -> String {
    serde_json::json!(c.suggestions).to_string()
}

/// How a new report compares with the one stored for the same card, client and timestamp.
pub fn judge_feedback(stored: Option<&FeedbackRecord>, new: &FeedbackRecord) -> FeedbackWrite {
    match stored {
        None => FeedbackWrite::Stored,
        Some(s) if s == new => FeedbackWrite::Repeated,
        Some(_) => FeedbackWrite::Conflicting,
    }
}

/// One override reason and how many overridden cards gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonCount {
    pub system: String,
    pub code: String,
    pub count: i64,
}

/// Override statistics of one rule. A card counts once per rule behind it, with the outcome of its latest
/// report (by `outcomeTimestamp`); cards nobody reported about are issued but neither accepted nor overridden
/// (the spec has clients report only cards acted on).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStats {
    pub rule: String,
    pub issued: i64,
    pub accepted: i64,
    pub overridden: i64,
    /// overridden / (accepted + overridden); `None` before any report.
    pub override_rate: Option<f64>,
    /// Most frequent first, at most [`TOP_REASONS`].
    pub top_override_reasons: Vec<ReasonCount>,
}

/// How many override reasons a rule's statistics list.
pub const TOP_REASONS: usize = 3;

/// A row of the backends' aggregate: the latest outcome of the cards of one rule, by override reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    pub rule: String,
    pub outcome: FeedbackOutcome,
    pub reason: Option<(String, String)>,
    pub count: i64,
}

/// Build the statistics from the cards issued per rule and the latest outcomes: rules in id order.
pub fn rule_stats(issued: &[(String, i64)], outcomes: &[OutcomeCount]) -> Vec<RuleStats> {
    let mut by_rule: BTreeMap<&str, RuleStats> = issued
        .iter()
        .map(|(rule, n)| {
            (
                rule.as_str(),
                RuleStats {
                    rule: rule.clone(),
                    issued: *n,
                    accepted: 0,
                    overridden: 0,
                    override_rate: None,
                    top_override_reasons: Vec::new(),
                },
            )
        })
        .collect();
    for o in outcomes {
        let Some(s) = by_rule.get_mut(o.rule.as_str()) else {
            continue;
        };
        match o.outcome {
            FeedbackOutcome::Accepted => s.accepted += o.count,
            FeedbackOutcome::Overridden => {
                s.overridden += o.count;
                if let Some((system, code)) = &o.reason {
                    s.top_override_reasons.push(ReasonCount {
                        system: system.clone(),
                        code: code.clone(),
                        count: o.count,
                    });
                }
            }
        }
    }
    by_rule
        .into_values()
        .map(|mut s| {
            let reported = s.accepted + s.overridden;
            s.override_rate = (reported > 0).then(|| s.overridden as f64 / reported as f64);
            s.top_override_reasons
                .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
            s.top_override_reasons.truncate(TOP_REASONS);
            s
        })
        .collect()
}

/// The latest report of every card (by `outcomeTimestamp`), counted per rule, outcome and override reason: the
/// same SQL on both backends (window functions: SQLite 3.25+, PostgreSQL). Rows read as [`OutcomeRow`].
pub const LATEST_OUTCOMES_SQL: &str = "WITH latest AS (
    SELECT client, card, outcome, reason_system, reason_code,
           ROW_NUMBER() OVER (PARTITION BY client, card ORDER BY outcome_at_ms DESC) AS n
    FROM cds_feedback)
  SELECT r.rule, l.outcome, l.reason_system, l.reason_code, COUNT(*)
  FROM cds_card_rules r JOIN latest l ON l.client = r.client AND l.card = r.card AND l.n = 1
  GROUP BY r.rule, l.outcome, l.reason_system, l.reason_code";

/// Cards issued per rule: the same SQL on both backends. Rows read as `(rule, count)`.
pub const ISSUED_PER_RULE_SQL: &str = "SELECT rule, COUNT(*) FROM cds_card_rules GROUP BY rule";

/// `(rule, outcome, reason system, reason code, count)`.
pub type OutcomeRow = (String, String, Option<String>, Option<String>, i64);

/// A stored report: `(outcome, accepted_suggestions as a JSON array, reason system, reason code)`.
pub type FeedbackRow = (String, String, Option<String>, Option<String>);

/// The statistics from the rows of [`ISSUED_PER_RULE_SQL`] and [`LATEST_OUTCOMES_SQL`].
pub fn stats_from_rows(
    issued: &[(String, i64)],
    rows: Vec<OutcomeRow>,
) -> Result<Vec<RuleStats>, StorageError> {
    let outcomes = rows
        .into_iter()
        .map(|(rule, outcome, system, code, count)| {
            Ok(OutcomeCount {
                rule,
                outcome: FeedbackOutcome::parse(&outcome)?,
                reason: system.zip(code),
                count,
            })
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    Ok(rule_stats(issued, &outcomes))
}

/// Judge `new` against the report stored for the same card, client and timestamp, if any.
pub fn judge_against_row(
    stored: Option<FeedbackRow>,
    new: &FeedbackRecord,
) -> Result<FeedbackWrite, StorageError> {
    let stored = stored
        .map(|(outcome, accepted, system, code)| {
            Ok::<_, StorageError>(FeedbackRecord {
                outcome: FeedbackOutcome::parse(&outcome)?,
                accepted_suggestions: serde_json::from_str(&accepted)
                    .map_err(|e| StorageError::corrupt("cds_feedback.accepted_suggestions", e))?,
                override_reason: system.zip(code),
                ..new.clone()
            })
        })
        .transpose()?;
    Ok(judge_feedback(stored.as_ref(), new))
}

/// The accepted suggestions as stored (a JSON array).
pub fn suggestions_json(f: &FeedbackRecord) -> String {
    serde_json::json!(f.accepted_suggestions).to_string()
}

/// The CDS service's tables. Every [`crate::Store`] provides them.
#[async_trait]
pub trait CdsStore: Send + Sync + std::fmt::Debug {
    /// Record that the token `(iss, jti)`, valid until `exp` (Unix seconds), was used; `false` when it was
    /// recorded before (a replay), by this process or any other on the same database.
    async fn first_use_of_jti(&self, iss: &str, jti: &str, exp: i64) -> Result<bool, StorageError> {
        let first = self
            .first_uses_of_jtis(&[(iss.to_string(), jti.to_string(), exp)])
            .await?;
        Ok(first.first().copied().unwrap_or(false))
    }

    /// [`CdsStore::first_use_of_jti`] for many tokens `(iss, jti, exp)` in one transaction (group commit); one
    /// answer per token, in order (a token twice in the batch: the second is a replay).
    async fn first_uses_of_jtis(
        &self,
        tokens: &[(String, String, i64)],
    ) -> Result<Vec<bool>, StorageError>;

    /// Forget the `jti`s of tokens that expired before `before` (Unix seconds): those tokens are refused by
    /// their `exp` anyway. Returns how many were removed.
    async fn purge_jtis(&self, before: i64) -> Result<u64, StorageError>;

    /// Remember issued cards (a card already recorded is left as it is: a client retrying a call).
    async fn record_cards(&self, cards: &[IssuedCard]) -> Result<(), StorageError>;

    /// Store a batch of feedback in one transaction: either every entry is stored or repeated, or nothing is
    /// written and the answer says which entries were refused.
    async fn record_feedback(
        &self,
        entries: &[FeedbackRecord],
    ) -> Result<Vec<FeedbackWrite>, StorageError>;

    /// Override statistics per rule, rules in id order.
    async fn override_stats(&self) -> Result<Vec<RuleStats>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rule: &str, outcome: FeedbackOutcome, code: Option<&str>, count: i64) -> OutcomeCount {
        OutcomeCount {
            rule: rule.into(),
            outcome,
            reason: code.map(|c| ("sys".to_string(), c.to_string())),
            count,
        }
    }

    #[test]
    fn stats_count_outcomes_and_rank_reasons() {
        let issued = vec![("a".to_string(), 10), ("b".to_string(), 2)];
        let outcomes = vec![
            row("a", FeedbackOutcome::Accepted, None, 3),
            row("a", FeedbackOutcome::Overridden, Some("x"), 1),
            row("a", FeedbackOutcome::Overridden, Some("y"), 4),
            row("a", FeedbackOutcome::Overridden, None, 2),
        ];
        let s = rule_stats(&issued, &outcomes);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].issued, s[0].accepted, s[0].overridden), (10, 3, 7));
        assert_eq!(s[0].override_rate, Some(0.7));
        let codes: Vec<&str> = s[0]
            .top_override_reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect();
        assert_eq!(codes, ["y", "x"]);
        assert_eq!(s[1].override_rate, None);
    }

    #[test]
    fn a_report_is_new_repeated_or_conflicting() {
        let f = FeedbackRecord {
            client: "c".into(),
            service: "s".into(),
            card: "u".into(),
            outcome: FeedbackOutcome::Accepted,
            accepted_suggestions: vec!["s1".into()],
            override_reason: None,
            outcome_at_ms: 1,
        };
        assert_eq!(judge_feedback(None, &f), FeedbackWrite::Stored);
        assert_eq!(judge_feedback(Some(&f), &f), FeedbackWrite::Repeated);
        let mut g = f.clone();
        g.outcome = FeedbackOutcome::Overridden;
        assert_eq!(judge_feedback(Some(&f), &g), FeedbackWrite::Conflicting);
    }

    #[test]
    fn accepted_suggestions_must_be_the_cards() {
        let mut f = FeedbackRecord {
            client: "c".into(),
            service: "s".into(),
            card: "u".into(),
            outcome: FeedbackOutcome::Accepted,
            accepted_suggestions: vec!["s1".into(), "s9".into()],
            override_reason: None,
            outcome_at_ms: 1,
        };
        let card = r#"["s1","s2"]"#;
        assert_eq!(
            judge_suggestions(Some(card), &f).unwrap(),
            Some(FeedbackWrite::UnknownSuggestion(1))
        );
        assert_eq!(
            judge_suggestions(None, &f).unwrap(),
            Some(FeedbackWrite::SuggestionsNotRecorded)
        );
        f.accepted_suggestions = vec!["s2".into()];
        assert_eq!(judge_suggestions(Some(card), &f).unwrap(), None);
        // An override naming no suggestion is judged on its own, even for a card without recorded suggestions.
        f.outcome = FeedbackOutcome::Overridden;
        f.accepted_suggestions.clear();
        assert_eq!(judge_suggestions(None, &f).unwrap(), None);
    }
}

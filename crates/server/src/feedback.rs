//! Cards issued and the feedback about them (standards.md §1.6), kept in the program database for the override
//! statistics per rule. Only the rule ids behind a card are kept, never the patient it was about.

use lenaguard_domain::{Assessment, Severity};
use lenaguard_interop::InteropError;
use lenaguard_interop::cds::{Card, Feedback, FeedbackRequest, Indicator, Outcome};
use lenaguard_storage::cds::{FeedbackOutcome, FeedbackRecord, FeedbackWrite, IssuedCard};
use std::collections::BTreeSet;

/// The rule id recorded for a card no rule of the pack stands behind (an EHR alert, an unreadable draft), so
/// that it still counts in the statistics.
pub const UNATTRIBUTED: &str = "unattributed";

/// The rules behind a card: its source's rule and every rule behind a finding loud enough to shape it (a
/// warning, a critical finding or a blocking one). Sorted, never empty.
pub fn rules_behind(assessment: &Assessment, card: &Card) -> Vec<String> {
    let mut rules: BTreeSet<String> = assessment
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning || f.blocking)
        .flat_map(|f| f.sources.iter().map(|p| p.rule.clone()))
        .collect();
    if let Some(topic) = &card.source.topic {
        rules.insert(topic.code.clone());
    }
    if rules.is_empty() {
        rules.insert(UNATTRIBUTED.into());
    }
    rules.into_iter().collect()
}

pub fn indicator_name(i: Indicator) -> &'static str {
    match i {
        Indicator::Info => "info",
        Indicator::Warning => "warning",
        Indicator::Critical => "critical",
    }
}

/// The record of a card as issued to `client` by `service`, with its suggestions' uuids (the only ones feedback
/// may accept); `None` for a card without a uuid (no feedback can name it).
pub fn issued(
    card: &Card,
    rules: Vec<String>,
    client: &str,
    service: &str,
    on: jiff::civil::Date,
) -> Option<IssuedCard> {
    Some(IssuedCard {
        uuid: card.uuid.clone()?,
        client: client.into(),
        service: service.into(),
        indicator: indicator_name(card.indicator).into(),
        rules,
        suggestions: card
            .suggestions
            .iter()
            .filter_map(|s| s.uuid.clone())
            .collect(),
        issued_on: on,
    })
}

fn record(client: &str, service: &str, f: &Feedback) -> Result<FeedbackRecord, InteropError> {
    let at: jiff::Timestamp = f.outcome_timestamp.parse().map_err(|_| {
        InteropError::invalid(
            "feedback.outcomeTimestamp",
            &f.outcome_timestamp,
            "an RFC 3339 instant in UTC",
        )
    })?;
    let mut accepted: Vec<String> = f
        .accepted_suggestions
        .iter()
        .map(|s| s.id.clone())
        .collect();
    accepted.sort();
    accepted.dedup();
    Ok(FeedbackRecord {
        client: client.into(),
        service: service.into(),
        card: f.card.clone(),
        outcome: match f.outcome {
            Outcome::Accepted => FeedbackOutcome::Accepted,
            Outcome::Overridden => FeedbackOutcome::Overridden,
        },
        accepted_suggestions: accepted,
        override_reason: f
            .override_reason
            .as_ref()
            .and_then(|r| r.reason.as_ref())
            .map(|c| (c.system.clone(), c.code.clone())),
        outcome_at_ms: at.as_millisecond(),
    })
}

/// The records of a validated feedback request from `client` to `service`.
pub fn records(
    client: &str,
    service: &str,
    request: &FeedbackRequest,
) -> Result<Vec<FeedbackRecord>, InteropError> {
    request
        .feedback
        .iter()
        .map(|f| record(client, service, f))
        .collect()
}

/// Why a batch was refused: the first refused entry, its index and what was wrong.
pub fn first_refusal(writes: &[FeedbackWrite]) -> Option<(usize, FeedbackWrite)> {
    writes
        .iter()
        .copied()
        .enumerate()
        .find(|(_, w)| w.refused())
}

//! Oversight: the sweep's tasks, the program's audit trail and its check, the access log and its check, and the
//! CDS override statistics.

use super::problem::ApiError;
use super::{ApiQuery, ApiState};
use axum::Json;
use axum::extract::State;
use lenaguard_storage::accounts::{AccessEvent, first_broken_access};
use lenaguard_storage::sweep::Task;
use schemars::JsonSchema;
use serde::Serialize;

/// One event of the program's audit trail, with its place in the hash chain.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    /// The event as recorded (its canonical JSON, parsed): actor, date, command and outcome.
    pub event: serde_json::Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChainReport {
    pub events: i64,
    /// The hash of the last event: publish it elsewhere to detect a rewrite of the whole chain.
    pub head: String,
    pub intact: bool,
    /// The first event whose hash does not follow, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccessEntry {
    pub seq: i64,
    #[schemars(with = "serde_json::Value")]
    pub event: AccessEvent,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccessLogPage {
    pub entries: Vec<AccessEntry>,
    /// Whether the rows from the first up to the last of this page follow the chain.
    pub intact_through_page: bool,
}

pub async fn tasks(
    State(state): State<ApiState>,
    q: ApiQuery,
) -> Result<Json<Vec<Task>>, ApiError> {
    q.only(&["limit"])?;
    let limit = q.number("limit", 1..=1000, 100)?;
    Ok(Json(state.store.tasks(i64::from(limit)).await?))
}

fn after(q: &ApiQuery) -> Result<i64, ApiError> {
    match q.text("after") {
        None | Some("") => Ok(0),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::field("after", v, "a sequence number (0 or more)")),
    }
}

pub async fn audit(
    State(state): State<ApiState>,
    q: ApiQuery,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    q.only(&["after", "limit"])?;
    let limit = q.number("limit", 1..=1000, 100)?;
    let rows = state.store.audit_rows(after(&q)?, i64::from(limit)).await?;
    rows.into_iter()
        .map(|r| {
            let event = serde_json::from_str(&r.event)
                .map_err(|e| ApiError::Internal(format!("audit row {}: {e}", r.seq)))?;
            Ok(AuditEntry {
                seq: r.seq,
                prev_hash: r.prev_hash,
                hash: r.hash,
                event,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()
        .map(Json)
}

pub async fn audit_verify(
    State(state): State<ApiState>,
    q: ApiQuery,
) -> Result<Json<ChainReport>, ApiError> {
    q.only(&[])?;
    let report = lenaguard_storage::verify_audit(state.store.as_ref()).await?;
    Ok(Json(ChainReport {
        events: report.events,
        intact: report.broken.is_none(),
        broken_at: report.broken.as_ref().map(|b| b.seq),
        head: report.head,
    }))
}

pub async fn access_log(
    State(state): State<ApiState>,
    q: ApiQuery,
) -> Result<Json<AccessLogPage>, ApiError> {
    q.only(&["after", "limit"])?;
    let limit = q.number("limit", 1..=1000, 100)?;
    let from = after(&q)?;
    // The chain is checked from its start up to the end of the page: a page alone cannot vouch for itself.
    let mut all = Vec::new();
    let mut cursor = 0;
    loop {
        let rows = state.store.access_rows(cursor, 10_000).await?;
        let Some(last) = rows.last() else { break };
        cursor = last.seq;
        let done = cursor >= from + i64::from(limit);
        all.extend(rows);
        if done {
            break;
        }
    }
    all.retain(|r| r.seq <= from + i64::from(limit));
    let intact = first_broken_access(&all).is_none();
    let entries = all
        .into_iter()
        .filter(|r| r.seq > from)
        .map(|r| AccessEntry {
            seq: r.seq,
            event: r.event,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
        .collect();
    Ok(Json(AccessLogPage {
        entries,
        intact_through_page: intact,
    }))
}

pub async fn cds_stats(
    State(state): State<ApiState>,
    q: ApiQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    q.only(&[])?;
    let stats = state.store.override_stats().await?;
    serde_json::to_value(stats)
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

//! The audit trail: an append-only, hash-chained log of every command, accepted or refused.
//!
//! Each stored row holds the event as canonical JSON text, the hash of the previous row and its own hash:
//! `hash = SHA-256(prev_hash || "\n" || event_text)`. The first row chains from [`GENESIS`]. Editing any
//! column of any row, deleting a row or reordering rows breaks the chain at that row, and [`verify`] names it.
//! The event is written in the same transaction as the state change it describes, never as a side channel.

use crate::canonical::{sha256_hex, to_canonical};
use crate::command::{Command, Outcome};
use crate::error::StorageError;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, as it is hashed and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When the command was recorded (wall clock of the writing server).
    pub recorded_at: Timestamp,
    /// The business date the command was judged on.
    pub on: Date,
    /// Who issued it (a user id, or `admin`).
    pub actor: String,
    pub idempotency_key: String,
    /// SHA-256 of the canonical command body, to recognise a retry.
    pub request_hash: String,
    pub command: Command,
    pub outcome: Outcome,
}

/// One stored row of the audit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    /// The canonical JSON of the [`AuditEvent`].
    pub event: String,
}

/// The last row of the chain, read under the chain lock before appending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

impl ChainHead {
    pub fn genesis() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: GENESIS.to_string(),
        }
    }
}

/// The hash of an event text chained to the previous hash.
pub fn chain_hash(prev_hash: &str, event_text: &str) -> String {
    sha256_hex(&[prev_hash.as_bytes(), b"\n", event_text.as_bytes()])
}

/// The row that appends `event` after `head`.
pub fn seal(head: &ChainHead, event: &AuditEvent) -> Result<AuditRow, StorageError> {
    let value = serde_json::to_value(event).map_err(|e| StorageError::corrupt("audit event", e))?;
    let text = to_canonical(&value);
    Ok(AuditRow {
        seq: event.seq,
        prev_hash: head.hash.clone(),
        hash: chain_hash(&head.hash, &text),
        event: text,
    })
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Rows read.
    pub events: i64,
    /// Hash of the last row: publish it elsewhere to detect a rewrite of the whole chain.
    pub head: String,
    /// The first broken row, if any.
    pub broken: Option<Broken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub seq: i64,
    pub why: String,
}

impl AuditReport {
    pub fn intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Incremental verifier: feed rows in `seq` order.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: i64,
    prev: String,
    broken: Option<Broken>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev: GENESIS.to_string(),
            broken: None,
        }
    }
}

impl Verifier {
    pub fn push(&mut self, row: &AuditRow) {
        if self.broken.is_some() {
            return;
        }
        let fail = |why: String| Some(Broken { seq: row.seq, why });
        self.broken = if row.seq != self.expected_seq {
            fail(format!(
                "expected event {} here, found event {}: a row was deleted or inserted",
                self.expected_seq, row.seq
            ))
        } else if row.prev_hash != self.prev {
            fail("its prev_hash does not match the hash of the event before it".into())
        } else if chain_hash(&row.prev_hash, &row.event) != row.hash {
            fail("its content does not match its hash: the row was edited".into())
        } else {
            match serde_json::from_str::<AuditEvent>(&row.event) {
                Ok(e) if e.seq != row.seq => fail(format!(
                    "the event inside says seq {}, the row says {}",
                    e.seq, row.seq
                )),
                Ok(e)
                    if serde_json::to_value(&e)
                        .map(|v| to_canonical(&v))
                        .ok()
                        .as_deref()
                        != Some(row.event.as_str()) =>
                {
                    fail("the event text is not in canonical form".into())
                }
                Ok(_) => None,
                Err(e) => fail(format!("the event is not a readable audit event: {e}")),
            }
        };
        self.prev = row.hash.clone();
        self.expected_seq += 1;
    }

    pub fn finish(self) -> AuditReport {
        AuditReport {
            events: self.expected_seq - 1,
            head: self.prev,
            broken: self.broken,
        }
    }
}

/// Verify a whole chain held in memory.
pub fn verify<'a>(rows: impl IntoIterator<Item = &'a AuditRow>) -> AuditReport {
    let mut v = Verifier::default();
    for r in rows {
        v.push(r);
    }
    v.finish()
}

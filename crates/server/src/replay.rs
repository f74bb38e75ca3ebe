//! The `jti` replay cache (standards.md §1.7: `jti` is the anti-replay nonce). In process for a server without a
//! database; in the program database when the server has one, so that every server on that database refuses a
//! token another one already accepted.

use crate::auth::LEEWAY_SECONDS;
use crate::batch::Batcher;
use async_trait::async_trait;
use lenaguard_storage::cds::CdsStore;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// The cache could not be asked: the token is refused (fail closed), with 503 rather than 401, since the token
/// itself may be fine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the replay cache is unavailable ({0})")]
pub struct ReplayUnavailable(pub String);

/// Remembers the `jti` of accepted tokens until they expire.
#[async_trait]
pub trait ReplayCache: Send + Sync + std::fmt::Debug {
    /// Record `(iss, jti)` valid until `exp` (Unix seconds); `false` if it was already recorded.
    async fn first_use(
        &self,
        iss: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> Result<bool, ReplayUnavailable>;
}

/// The in-process replay cache: correct for one server process only.
#[derive(Debug, Default)]
pub struct MemoryReplayCache {
    seen: Mutex<HashMap<(String, String), i64>>,
}

#[async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn first_use(
        &self,
        iss: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> Result<bool, ReplayUnavailable> {
        // A poisoned lock only means another request panicked mid-insert; the map is still usable.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Expired tokens are refused by `exp` anyway, so their jtis need not be kept: this bounds the map.
        seen.retain(|_, until| *until + LEEWAY_SECONDS >= now);
        let key = (iss.to_string(), jti.to_string());
        if seen.contains_key(&key) {
            return Ok(false);
        }
        seen.insert(key, exp);
        Ok(true)
    }
}

/// How often, at most, expired `jti`s are purged from the database (seconds).
const PURGE_EVERY_SECONDS: i64 = 60;

/// The replay cache in the program database (`cds_jti`, unique on `(iss, jti)`): the database decides which of
/// two servers saw a token first. The `jti`s of concurrent calls are written in one transaction.
#[derive(Debug)]
pub struct StoreReplayCache {
    store: Arc<dyn CdsStore>,
    writes: Batcher<(String, String, i64), bool>,
    last_purge: AtomicI64,
}

impl StoreReplayCache {
    /// Must be called on a tokio runtime (it starts the batch writers); `writers`: how many transactions may be
    /// in flight at once ([`crate::batch::writers_for`] the backend).
    pub fn new(store: Arc<dyn CdsStore>, writers: usize) -> StoreReplayCache {
        let writer = store.clone();
        let writes = Batcher::spawn(writers, move |tokens: Vec<(String, String, i64)>| {
            let store = writer.clone();
            async move {
                store
                    .first_uses_of_jtis(&tokens)
                    .await
                    .map_err(|e| e.to_string())
            }
        });
        StoreReplayCache {
            store,
            writes,
            last_purge: AtomicI64::new(0),
        }
    }
}

#[async_trait]
impl ReplayCache for StoreReplayCache {
    async fn first_use(
        &self,
        iss: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> Result<bool, ReplayUnavailable> {
        let last = self.last_purge.load(Ordering::Relaxed);
        // One request a minute purges, not every request; the swap makes sure only one does.
        if now - last >= PURGE_EVERY_SECONDS
            && self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.store
                .purge_jtis(now - LEEWAY_SECONDS)
                .await
                .map_err(|e| ReplayUnavailable(e.to_string()))?;
        }
        self.writes
            .submit((iss.to_string(), jti.to_string(), exp))
            .await
            .map_err(ReplayUnavailable)
    }
}

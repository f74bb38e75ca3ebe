//! Group commit: calls that write at the same time share one database transaction (one commit, one fsync), and
//! each still waits until what it wrote is committed. Used for the `jti` replay cache and for issued cards, the
//! two writes every answered call makes.

use std::future::Future;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// How many transactions of one kind may be in flight: SQLite has one writer at a time, so more would only wait
/// for its lock; PostgreSQL commits several at once.
pub fn writers_for(backend: &str) -> usize {
    if backend == "sqlite" { 1 } else { 4 }
}

/// The most calls whose writes go into one transaction.
const MAX_BATCH: usize = 256;

type Done<O> = oneshot::Sender<Result<O, String>>;
/// The queue the writers take their batches from.
type Pending<I, O> = Arc<Mutex<mpsc::Receiver<(I, Done<O>)>>>;

/// Hands items to the one task that writes them in batches.
#[derive(Debug)]
pub struct Batcher<I, O> {
    queue: mpsc::Sender<(I, Done<O>)>,
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Start `writers` writing tasks on the current tokio runtime (several transactions in flight at once,
    /// where the database commits them in parallel); they end when the `Batcher` is dropped. `write` gets a
    /// batch and answers one output per item, in order, or one error for the whole batch.
    pub fn spawn<F, Fut>(writers: usize, write: F) -> Batcher<I, O>
    where
        F: Fn(Vec<I>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, String>> + Send + 'static,
    {
        let (queue, pending) = mpsc::channel::<(I, Done<O>)>(4 * MAX_BATCH);
        let pending = Arc::new(Mutex::new(pending));
        for _ in 0..writers.max(1) {
            tokio::spawn(Self::write_batches(pending.clone(), write.clone()));
        }
        Batcher { queue }
    }

    async fn write_batches<F, Fut>(pending: Pending<I, O>, write: F)
    where
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Result<Vec<O>, String>>,
    {
        loop {
            // One writer takes what is waiting, then lets the next take what arrives while it writes.
            let batch = {
                let mut pending = pending.lock().await;
                let Some(first) = pending.recv().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match pending.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                batch
            };
            {
                let (items, waiting): (Vec<I>, Vec<Done<O>>) = batch.into_iter().unzip();
                let n = items.len();
                match write(items).await {
                    Ok(outputs) if outputs.len() == n => {
                        for (done, out) in waiting.into_iter().zip(outputs) {
                            let _ = done.send(Ok(out));
                        }
                    }
                    Ok(_) => {
                        for done in waiting {
                            let _ = done.send(Err("a batch write answered the wrong count".into()));
                        }
                    }
                    Err(e) => {
                        for done in waiting {
                            let _ = done.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
    }

    /// Write one item; returns once its batch is committed.
    pub async fn submit(&self, item: I) -> Result<O, String> {
        let (done, written) = oneshot::channel();
        self.queue
            .send((item, done))
            .await
            .map_err(|_| "the batch writer has stopped".to_string())?;
        written
            .await
            .map_err(|_| "the batch writer has stopped".to_string())?
    }
}

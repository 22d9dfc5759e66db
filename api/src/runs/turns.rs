//! One update at a time per invoice, across every API replica.
//!
//! Temporal takes concurrent updates, but a burst of them on one run while it runs a local
//! activity has made the Rust SDK core (0.10.1) panic ("Trying to send a new WFT for a run which
//! already has one!") and leave the run's accounting incoherent. So each update to an invoice
//! waits for its turn: first in this process (a queue per invoice, so a replica holds at most one
//! database connection per invoice), then across replicas with a Postgres advisory lock keyed on
//! the workflow id. The lock belongs to a database session: if a replica dies holding it,
//! Postgres releases it with the connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

type Queues = Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>;

#[derive(Debug, Clone)]
pub(super) struct Turns {
    db: PgPool,
    queues: Arc<Queues>,
}

/// The right to send the next update to one invoice's workflow. Give it back with
/// [`Turn::release`]; a turn dropped without it closes its connection, which releases the lock.
pub(super) struct Turn {
    _queued: OwnedMutexGuard<()>,
    conn: PoolConnection<Postgres>,
    key: i64,
    released: bool,
}

/// No turn within the deadline.
#[derive(Debug, thiserror::Error)]
pub(super) enum TurnError {
    #[error("another update to this invoice is still running")]
    Busy,
    #[error("taking the invoice's turn failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl Turns {
    pub(super) fn new(db: PgPool) -> Self {
        Self { db, queues: Arc::default() }
    }

    /// Waits for the invoice's turn until `deadline`.
    pub(super) async fn take(
        &self,
        workflow_id: &str,
        deadline: Instant,
    ) -> Result<Turn, TurnError> {
        let queued = tokio::time::timeout_at(deadline, self.queue(workflow_id).lock_owned())
            .await
            .map_err(|_| TurnError::Busy)?;
        let key = lock_key(workflow_id);
        let mut conn = self.db.acquire().await?;
        let mut pause = Duration::from_millis(5);
        // Tried, never waited on inside Postgres: a caller that gives up leaves no lock request
        // behind on a pooled connection.
        while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?
        {
            if Instant::now() + pause > deadline {
                return Err(TurnError::Busy);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
        Ok(Turn { _queued: queued, conn, key, released: false })
    }

    /// This process's queue for one invoice; queues nobody waits in are dropped.
    fn queue(&self, workflow_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.retain(|_, queue| queue.strong_count() > 0);
        if let Some(queue) = queues.get(workflow_id).and_then(Weak::upgrade) {
            return queue;
        }
        let queue = Arc::new(tokio::sync::Mutex::new(()));
        queues.insert(workflow_id.to_owned(), Arc::downgrade(&queue));
        queue
    }
}

impl Turn {
    /// Gives the turn back. If the unlock cannot be sent, the connection is closed instead, which
    /// releases the lock just as well.
    pub(super) async fn release(mut self) {
        let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .fetch_one(&mut *self.conn)
            .await;
        if matches!(unlocked, Ok(true)) {
            self.released = true;
        } else {
            tracing::warn!(?unlocked, "advisory unlock failed; closing its connection");
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !self.released {
            self.conn.close_on_drop();
        }
    }
}

/// The advisory lock key of a workflow id: the first 8 bytes of its SHA-256.
fn lock_key(workflow_id: &str) -> i64 {
    let digest = Sha256::digest(format!("invoice-update-turn:{workflow_id}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_per_workflow_and_stay_put() {
        assert_eq!(lock_key("invoice:a:b"), lock_key("invoice:a:b"));
        assert_ne!(lock_key("invoice:a:b"), lock_key("invoice:a:c"));
    }
}

//! One update at a time per invoice, across every API replica.
//!
//! Temporal takes concurrent updates, but a burst of them on one run while it runs a local
//! activity has made the Rust SDK core (0.10.1) panic ("Trying to send a new WFT for a run which
//! already has one!") and leave the run's accounting incoherent. So each update to an invoice
//! waits for its turn: a Postgres advisory lock keyed on the workflow id, held by the database
//! session of the update that has the turn. Waiters try again with backoff and hold no
//! connection meanwhile, so a burst on one invoice costs one connection, whichever replica it
//! reaches; if a replica dies holding a turn, Postgres releases it with the connection.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(super) struct Turns {
    db: PgPool,
}

/// The right to send the next update to one invoice's workflow. Give it back with
/// [`Turn::release`]; a turn dropped without it closes its connection, which releases the lock.
pub(super) struct Turn {
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
        Self { db }
    }

    /// Waits for the invoice's turn until `deadline`.
    pub(super) async fn take(
        &self,
        workflow_id: &str,
        deadline: Instant,
    ) -> Result<Turn, TurnError> {
        let key = lock_key(workflow_id);
        let mut pause = Duration::from_millis(5);
        loop {
            let mut conn = self.db.acquire().await?;
            // Tried, never waited on inside Postgres: a caller that gives up leaves no lock
            // request behind on a pooled connection.
            let taken = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut *conn)
                .await?;
            if taken {
                return Ok(Turn { conn, key, released: false });
            }
            drop(conn);
            if Instant::now() + pause > deadline {
                return Err(TurnError::Busy);
            }
            // Jittered, so that waiters do not come back as one burst.
            let jitter = rand::random_range(0..=pause.as_millis() as u64);
            tokio::time::sleep(pause + Duration::from_millis(jitter)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
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

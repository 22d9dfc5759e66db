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
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};
use tokio::time::Instant;

/// How long an update waits for a free connection to hold its turn with.
const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// The turns' own pool: each turn holds a connection for as long as its update runs (up to a
/// minute when the worker is down), so they must not take the connections every other request
/// reads with.
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
    /// Every connection of the turns' pool holds a turn: many invoices are being changed at
    /// once, and their updates are slow (the worker is down or far behind).
    #[error("too many updates are waiting on their workflows")]
    Saturated,
    #[error("taking the invoice's turn failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl Turns {
    /// At most `max_connections` turns held at once, on the database `db` connects to.
    pub(super) fn new(db: &PgPool, max_connections: u32) -> Self {
        let options = db.connect_options().as_ref().clone();
        let db = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(CONNECTION_WAIT)
            .connect_lazy_with(options);
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
            let mut conn = match self.db.acquire().await {
                Ok(conn) => conn,
                Err(sqlx::Error::PoolTimedOut) => return Err(TurnError::Saturated),
                Err(e) => return Err(e.into()),
            };
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

    #[sqlx::test(migrations = false)]
    async fn turns_hold_connections_of_their_own_and_say_when_all_are_taken(db: PgPool) {
        let turns = Turns::new(&db, 2);
        let soon = || Instant::now() + Duration::from_millis(200);
        let a = turns.take("invoice:o:a", soon()).await.unwrap();
        // The same invoice waits for its turn, until the deadline.
        assert!(matches!(turns.take("invoice:o:a", soon()).await, Err(TurnError::Busy)));
        let b = turns.take("invoice:o:b", soon()).await.unwrap();
        // Every turn connection held: a third invoice is told so, not left waiting.
        assert!(matches!(turns.take("invoice:o:c", soon()).await, Err(TurnError::Saturated)));
        // ...while the pool other requests read with is untouched.
        let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&db).await.unwrap();
        assert_eq!(one, 1);
        a.release().await;
        let c = turns.take("invoice:o:c", soon()).await.unwrap();
        // A released turn is free again; a dropped one (its unlock never sent) too.
        drop(b);
        let later = Instant::now() + Duration::from_secs(5);
        let b = turns.take("invoice:o:b", later).await.unwrap();
        c.release().await;
        b.release().await;
    }
}

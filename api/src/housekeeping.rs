//! Forgetting what has served its purpose, in the tables the API owns: refresh tokens long
//! expired, login throttle and rate-limit windows long ended, payment provider events past the
//! provider's redelivery period (kept 90 days for support). One replica at a time does it (a
//! Postgres advisory lock), once an hour.

use std::time::Duration;

use sqlx::PgPool;

/// How often the API prunes.
pub const EVERY: Duration = Duration::from_secs(3600);

/// The advisory lock key that makes one replica prune at a time ("prune" in ASCII).
const LOCK_KEY: i64 = 0x0070_7275_6e65;

/// Rows deleted by one pass, per table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub refresh_tokens: u64,
    pub login_throttle: u64,
    pub rate_limits: u64,
    pub payment_provider_events: u64,
    pub account_tokens: u64,
}

/// One pass; `Pruned::default()` when another replica holds the lock.
pub async fn prune_once(db: &PgPool) -> Result<Pruned, sqlx::Error> {
    let mut tx = db.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Pruned::default());
    }
    let deleted = |n: sqlx::postgres::PgQueryResult| n.rows_affected();
    let pruned = Pruned {
        // A family's tokens go together once the newest has been expired a week, so that reuse
        // of a rotated token is still recognised while any of the family could be valid.
        refresh_tokens: deleted(
            sqlx::query(
                "DELETE FROM refresh_tokens t WHERE NOT EXISTS (
                     SELECT 1 FROM refresh_tokens f
                     WHERE f.family_id = t.family_id AND f.expires_at > now() - interval '7 days')",
            )
            .execute(&mut *tx)
            .await?,
        ),
        // No longer written (login attempts count in `rate_limits`); pruned until a later
        // release drops it, once no replica of the release before writes to it.
        login_throttle: deleted(
            sqlx::query("DELETE FROM login_throttle WHERE window_start < now() - interval '1 day'")
                .execute(&mut *tx)
                .await?,
        ),
        rate_limits: deleted(
            sqlx::query("DELETE FROM rate_limits WHERE window_start < now() - interval '2 days'")
                .execute(&mut *tx)
                .await?,
        ),
        payment_provider_events: deleted(
            sqlx::query(
                "DELETE FROM payment_provider_events
                 WHERE processed_at IS NOT NULL AND received_at < now() - interval '90 days'",
            )
            .execute(&mut *tx)
            .await?,
        ),
        // Links work for hours; a day later they only say when someone asked for one.
        account_tokens: deleted(
            sqlx::query("DELETE FROM account_tokens WHERE expires_at < now() - interval '1 day'")
                .execute(&mut *tx)
                .await?,
        ),
    };
    tx.commit().await?;
    Ok(pruned)
}

/// Prunes every [`EVERY`] until the process ends; a failed pass is logged and tried again.
pub async fn run(db: PgPool) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        match prune_once(&db).await {
            Ok(pruned) => tracing::info!(?pruned, "housekeeping pass"),
            Err(error) => tracing::warn!(%error, "housekeeping pass failed"),
        }
    }
}

//! The worker's presence: a row in `worker_presence` saying which payment provider it uses,
//! refreshed while it runs, so that the API's `/ready` can report a worker configured
//! differently (the API would refuse the events of the checkout the worker opens). The same
//! loop forgets, in the tables the worker owns, what has served its purpose: presence rows of
//! workers long gone, and email send records older than any run that could retry their send.

use std::time::Duration;

use invoice_service::PaymentProviderSetting;
use sqlx::PgPool;

/// How often a running worker refreshes its row; the API counts rows seen within three times
/// this as live.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Rows not refreshed for this long are deleted by the next worker that starts.
const FORGET_AFTER: &str = "1 day";

/// Email send records are the idempotency keys of sends; an invoice's run lives at most about
/// a year (reminders, then 180 days open for refunds), so older records guard nothing.
const FORGET_SENDS_AFTER: &str = "400 days";

/// Deletes presence rows of workers gone for a day and email send records past their use.
pub async fn prune(db: &PgPool) -> Result<u64, sqlx::Error> {
    let gone =
        sqlx::query("DELETE FROM worker_presence WHERE seen_at < now() - $1::text::interval")
            .bind(FORGET_AFTER)
            .execute(db)
            .await?
            .rows_affected();
    let sends = sqlx::query(
        "DELETE FROM email_sends WHERE coalesce(sent_at, claimed_at) < now() - $1::text::interval",
    )
    .bind(FORGET_SENDS_AFTER)
    .execute(db)
    .await?
    .rows_affected();
    Ok(gone + sends)
}

/// Writes this worker's row now and then every [`HEARTBEAT`], until the process ends. A
/// database that is down only delays the row: the loop goes on.
pub async fn heartbeat(db: PgPool, provider: PaymentProviderSetting) {
    let worker_id = format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    );
    let mut tick = tokio::time::interval(HEARTBEAT);
    for beat in 0u64.. {
        tick.tick().await;
        // At start, then about hourly.
        if beat % 120 == 0
            && let Err(error) = prune(&db).await
        {
            tracing::warn!(%error, "could not prune old worker records");
        }
        let written = sqlx::query(
            "INSERT INTO worker_presence (worker_id, payment_provider) VALUES ($1, $2)
             ON CONFLICT (worker_id) DO UPDATE SET seen_at = now(), payment_provider = $2",
        )
        .bind(&worker_id)
        .bind(provider.as_str())
        .execute(&db)
        .await;
        if let Err(error) = written {
            tracing::warn!(%error, "could not record the worker's presence");
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .unwrap_or_else(|| "worker".to_owned())
}

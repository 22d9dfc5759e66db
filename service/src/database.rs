//! The Postgres pool both binaries use: bounded, connecting lazily (a binary starts and answers
//! its health check while the database is still coming up), and failing an acquire after a
//! bounded wait instead of hanging a request or an activity.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// How long a caller waits for a free connection before the call fails (and is retried).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of at most `max_connections` to `url`; nothing connects until first use.
pub fn pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy(url)
}

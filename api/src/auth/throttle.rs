//! Login throttling: failed attempts counted per account and per client IP in a fixed window,
//! kept in Postgres so that all API replicas share the counts.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::config::AuthConfig;
use crate::error::{ApiError, ApiResult};

pub(super) struct Keys {
    account: String,
    ip: Option<String>,
}

impl Keys {
    pub(super) fn new(email: &str, ip: Option<IpAddr>) -> Self {
        Self {
            account: format!("account:{}", email.to_lowercase()),
            ip: ip.map(|ip| format!("ip:{ip}")),
        }
    }
}

/// Refuses with 429 while either key has used up its failures in the current window.
pub(super) async fn check(db: &PgPool, cfg: &AuthConfig, keys: &Keys) -> ApiResult<()> {
    let window = cfg.login_throttle_window_secs as f64;
    let rows = sqlx::query!(
        r#"SELECT key, failures,
                  GREATEST(1, CEIL(EXTRACT(EPOCH FROM window_start + make_interval(secs => $2) - now())))::bigint
                      AS "retry_after!"
           FROM login_throttle
           WHERE key = ANY($1) AND window_start > now() - make_interval(secs => $2)"#,
        &[keys.account.clone(), keys.ip.clone().unwrap_or_default()] as &[String],
        window
    )
    .fetch_all(db)
    .await?;
    for row in rows {
        let limit = if row.key == keys.account {
            cfg.login_max_failures_per_account
        } else {
            cfg.login_max_failures_per_ip
        };
        if row.failures >= limit {
            return Err(ApiError::TooManyRequests { retry_after_secs: row.retry_after as u64 });
        }
    }
    Ok(())
}

/// Counts one failed attempt against both keys, starting a new window where the old one ended.
pub(super) async fn record_failure(db: &PgPool, cfg: &AuthConfig, keys: &Keys) -> ApiResult<()> {
    let window = cfg.login_throttle_window_secs as f64;
    for key in std::iter::once(&keys.account).chain(keys.ip.as_ref()) {
        sqlx::query!(
            "INSERT INTO login_throttle (key, window_start, failures) VALUES ($1, now(), 1)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN login_throttle.window_start <= now() - make_interval(secs => $2)
                               THEN 1 ELSE login_throttle.failures + 1 END,
               window_start = CASE WHEN login_throttle.window_start <= now() - make_interval(secs => $2)
                                   THEN now() ELSE login_throttle.window_start END",
            key,
            window
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// A successful login clears the account's count (not the IP's: one right password must not
/// reset a guessing run against other accounts).
pub(super) async fn clear_account(db: &PgPool, keys: &Keys) -> ApiResult<()> {
    sqlx::query!("DELETE FROM login_throttle WHERE key = $1", keys.account).execute(db).await?;
    Ok(())
}

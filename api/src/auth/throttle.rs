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

/// Counts this attempt against both keys before the password is checked, and refuses it with
/// 429 when either key had used up its attempts in the current window. Counting first means
/// parallel guesses cannot all pass a check made before any of them was recorded; a successful
/// login takes its count back ([`succeeded`]).
pub(super) async fn attempt(db: &PgPool, cfg: &AuthConfig, keys: &Keys) -> ApiResult<()> {
    let window = cfg.login_throttle_window_secs as f64;
    for key in std::iter::once(&keys.account).chain(keys.ip.as_ref()) {
        let limit = if *key == keys.account {
            cfg.login_max_failures_per_account
        } else {
            cfg.login_max_failures_per_ip
        };
        let row = sqlx::query!(
            r#"INSERT INTO login_throttle (key, window_start, failures) VALUES ($1, now(), 1)
               ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN login_throttle.window_start <= now() - make_interval(secs => $2)
                                 THEN 1 ELSE login_throttle.failures + 1 END,
                 window_start = CASE WHEN login_throttle.window_start <= now() - make_interval(secs => $2)
                                     THEN now() ELSE login_throttle.window_start END
               RETURNING failures,
                 GREATEST(1, CEIL(EXTRACT(EPOCH FROM window_start + make_interval(secs => $2) - now())))::bigint
                     AS "retry_after!""#,
            key,
            window
        )
        .fetch_one(db)
        .await?;
        if row.failures > limit {
            return Err(ApiError::TooManyRequests { retry_after_secs: row.retry_after as u64 });
        }
    }
    Ok(())
}

/// A successful login clears the account's count and takes this attempt back from the IP's
/// (only this one: one right password must not reset a guessing run against other accounts).
pub(super) async fn succeeded(db: &PgPool, keys: &Keys) -> ApiResult<()> {
    sqlx::query!("DELETE FROM login_throttle WHERE key = $1", keys.account).execute(db).await?;
    if let Some(ip) = &keys.ip {
        sqlx::query!(
            "UPDATE login_throttle SET failures = GREATEST(0, failures - 1) WHERE key = $1",
            ip
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

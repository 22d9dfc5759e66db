//! Login throttling: failed attempts counted per account and per client IP in a fixed window,
//! kept in Postgres (the public endpoints' `rate_limits` table) so that all API replicas share
//! the counts.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::config::AuthConfig;
use crate::error::{ApiError, ApiResult};
use crate::limits;

pub(super) struct Keys {
    account: String,
    ip: Option<String>,
}

impl Keys {
    pub(super) fn new(email: &str, ip: Option<IpAddr>) -> Self {
        Self {
            account: format!("login:account:{}", email.to_lowercase()),
            ip: ip.map(|ip| format!("login:ip:{ip}")),
        }
    }
}

/// Counts this attempt against both keys before the password is checked, and refuses it with
/// 429 when either key had used up its attempts in the current window. Counting first means
/// parallel guesses cannot all pass a check made before any of them was recorded; a successful
/// login takes its count back ([`succeeded`]). The counts live beside the public endpoints'
/// ([`crate::limits::hit`]), under `login:` keys.
pub(super) async fn attempt(db: &PgPool, cfg: &AuthConfig, keys: &Keys) -> ApiResult<()> {
    let window = cfg.login_throttle_window_secs as f64;
    let account = (&keys.account, cfg.login_max_failures_per_account);
    let ip = keys.ip.as_ref().map(|ip| (ip, cfg.login_max_failures_per_ip));
    for (key, limit) in std::iter::once(account).chain(ip) {
        let limit = u32::try_from(limit).unwrap_or(0);
        if let Some(retry_after_secs) = limits::hit(db, key, window, limit).await? {
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    }
    Ok(())
}

/// A successful login clears the account's count and takes this attempt back from the IP's
/// (only this one: one right password must not reset a guessing run against other accounts).
pub(super) async fn succeeded(db: &PgPool, keys: &Keys) -> ApiResult<()> {
    sqlx::query!("DELETE FROM rate_limits WHERE key = $1", keys.account).execute(db).await?;
    if let Some(ip) = &keys.ip {
        sqlx::query!("UPDATE rate_limits SET hits = GREATEST(0, hits - 1) WHERE key = $1", ip)
            .execute(db)
            .await?;
    }
    Ok(())
}

//! Rate limits on the endpoints a stranger can reach without logging in: the hosted invoice
//! pages (`/i/<token>`, its PDF, Pay and the test checkout), the public checkout, register,
//! login, refresh and the payment provider's webhook.
//!
//! Counted per client IP and, on an invoice's pages, per link token, in fixed windows kept in
//! Postgres (an unlogged table), so the limits hold across API replicas. A refusal is a 429 in
//! the JSON error shape with `Retry-After`. The client IP is the right-most `X-Forwarded-For`
//! hop that no trusted proxy of ours wrote (`TRUSTED_PROXY_COUNT`), never the left-most, which
//! the client writes itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

use crate::config::LimitsConfig;
use crate::error::ApiError;
use crate::state::AppState;

/// The client's address. With `trusted_proxies` = n proxies in front of the API, each appends
/// the address it received the request from to `X-Forwarded-For`, so the n-th entry from the
/// right is the one the nearest untrusted party (the client) connected from. Without proxies,
/// or when the header has fewer entries than proxies (the request did not come through them),
/// the socket peer.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted_proxies: usize,
) -> Option<IpAddr> {
    let peer = peer.map(|p| p.ip());
    if trusted_proxies == 0 {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if hops.len() < trusted_proxies {
        return peer;
    }
    hops[hops.len() - trusted_proxies].parse().ok().or(peer)
}

/// What a public request counts against.
#[derive(Debug, PartialEq, Eq)]
struct Buckets {
    /// A name for the kind of endpoint (the per-IP count is per kind).
    kind: &'static str,
    per_ip: u32,
    /// The invoice link token and its limit, on an invoice's public endpoints.
    token: Option<(String, u32)>,
}

/// The limits of a path, or `None` for endpoints behind a login (they need no stranger limit).
fn buckets(method: &axum::http::Method, path: &str, cfg: &LimitsConfig) -> Option<Buckets> {
    let post = method == axum::http::Method::POST;
    if let Some(rest) = path.strip_prefix("/i/") {
        let mut parts = rest.splitn(2, '/');
        let token = parts.next().unwrap_or_default().to_owned();
        let sub = parts.next().unwrap_or_default();
        // Pay and the test checkout's form open sessions and move money: tighter than views.
        let paying = post && (sub == "pay" || sub == "test-checkout");
        let (kind, per_token) = if paying {
            ("pay", cfg.pay_per_token_per_minute)
        } else {
            ("page", cfg.page_per_token_per_minute)
        };
        return Some(Buckets {
            kind,
            per_ip: cfg.public_per_ip_per_minute,
            token: Some((token, per_token)),
        });
    }
    if let Some(rest) = path.strip_prefix("/api/public/invoices/") {
        let token = rest.split('/').next().unwrap_or_default().to_owned();
        return Some(Buckets {
            kind: "pay",
            per_ip: cfg.public_per_ip_per_minute,
            token: Some((token, cfg.pay_per_token_per_minute)),
        });
    }
    match path {
        "/api/auth/register" if post => {
            Some(Buckets { kind: "register", per_ip: cfg.register_per_ip_per_hour, token: None })
        }
        // Each sends an email to an address the caller chose: as scarce as registrations.
        "/api/auth/password-reset/request" if post => Some(Buckets {
            kind: "account_email",
            per_ip: cfg.register_per_ip_per_hour,
            token: None,
        }),
        "/api/auth/login"
        | "/api/auth/refresh"
        | "/api/auth/verify-email"
        | "/api/auth/password-reset"
            if post =>
        {
            Some(Buckets { kind: "auth", per_ip: cfg.public_per_ip_per_minute, token: None })
        }
        "/api/webhooks/stripe" if post => {
            Some(Buckets { kind: "webhook", per_ip: cfg.webhook_per_ip_per_minute, token: None })
        }
        _ => None,
    }
}

/// Counts one hit on `key` in its current window and says whether it is over `limit`, with the
/// seconds until the window ends.
pub(crate) async fn hit(
    db: &PgPool,
    key: &str,
    window_secs: f64,
    limit: u32,
) -> Result<Option<u64>, sqlx::Error> {
    let row = sqlx::query!(
        r#"INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, now(), 1)
           ON CONFLICT (key) DO UPDATE SET
             hits = CASE WHEN rate_limits.window_start <= now() - make_interval(secs => $2)
                         THEN 1 ELSE rate_limits.hits + 1 END,
             window_start = CASE WHEN rate_limits.window_start <= now() - make_interval(secs => $2)
                                 THEN now() ELSE rate_limits.window_start END
           RETURNING hits,
             GREATEST(1, CEIL(EXTRACT(EPOCH FROM window_start + make_interval(secs => $2) - now())))::bigint
                 AS "retry_after!""#,
        key,
        window_secs
    )
    .fetch_one(db)
    .await?;
    Ok((i64::from(row.hits) > i64::from(limit)).then_some(row.retry_after as u64))
}

/// Whether this is the first call for `key` in the current `window`, across every replica (a
/// debounce). A database error answers `true`: the caller's own throttles still apply.
pub async fn once_per_window(db: &PgPool, key: &str, window: std::time::Duration) -> bool {
    match hit(db, key, window.as_secs_f64(), 1).await {
        Ok(over) => over.is_none(),
        Err(error) => {
            tracing::warn!(%error, %key, "debounce not counted");
            true
        }
    }
}

/// The middleware: counts public requests and answers 429 beyond a limit. A database error
/// lets the request through (it is logged): the limits protect the service, they must not
/// take it down.
pub async fn limit_public(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(buckets) = buckets(request.method(), request.uri().path(), &state.limits) else {
        return next.run(request).await;
    };
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = client_ip(request.headers(), peer, state.limits.trusted_proxies);
    let window = if matches!(buckets.kind, "register" | "account_email") { 3600.0 } else { 60.0 };
    let mut keys = Vec::new();
    if let Some(ip) = ip {
        keys.push((format!("{}:ip:{ip}", buckets.kind), buckets.per_ip));
    }
    if let Some((token, limit)) = &buckets.token {
        keys.push((format!("{}:token:{token}", buckets.kind), *limit));
    }
    for (key, limit) in keys {
        match hit(&state.db, &key, window, limit).await {
            Ok(None) => {}
            Ok(Some(retry_after_secs)) => {
                tracing::info!(%key, limit, "rate limit reached");
                return ApiError::TooManyRequests { retry_after_secs }.into_response();
            }
            Err(error) => {
                tracing::warn!(%error, %key, "rate limit not counted");
            }
        }
    }
    if rand::random::<u16>().is_multiple_of(1000) {
        prune(&state.db).await;
    }
    next.run(request).await
}

/// Forgets windows that ended more than an hour ago.
async fn prune(db: &PgPool) {
    if let Err(error) =
        sqlx::query!("DELETE FROM rate_limits WHERE window_start < now() - interval '2 hours'")
            .execute(db)
            .await
    {
        tracing::warn!(%error, "could not prune rate limit windows");
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};

    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_client_ip_is_the_rightmost_untrusted_hop() {
        let peer: Option<SocketAddr> = Some("10.0.0.9:4000".parse().unwrap());
        // The client wrote "6.6.6.6" itself; the one proxy appended the real address.
        let h = headers(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(client_ip(&h, peer, 1), Some("203.0.113.7".parse().unwrap()));
        // Two proxies: the second appended the first's address.
        let h = headers(&["6.6.6.6, 203.0.113.7, 10.0.0.2"]);
        assert_eq!(client_ip(&h, peer, 2), Some("203.0.113.7".parse().unwrap()));
        // Repeated headers count as one list.
        let h = headers(&["6.6.6.6", "203.0.113.7"]);
        assert_eq!(client_ip(&h, peer, 1), Some("203.0.113.7".parse().unwrap()));
        // No proxies configured, or fewer hops than proxies: the socket peer.
        assert_eq!(client_ip(&h, peer, 0), Some("10.0.0.9".parse().unwrap()));
        assert_eq!(client_ip(&headers(&["1.2.3.4"]), peer, 2), Some("10.0.0.9".parse().unwrap()));
    }

    #[test]
    fn public_paths_have_their_buckets() {
        let cfg = LimitsConfig::default();
        let b = buckets(&Method::POST, "/i/tok/pay", &cfg).unwrap();
        assert_eq!((b.kind, b.token.unwrap().0.as_str()), ("pay", "tok"));
        let b = buckets(&Method::GET, "/i/tok/pdf", &cfg).unwrap();
        assert_eq!(b.kind, "page");
        assert_eq!(
            buckets(&Method::POST, "/api/public/invoices/tok/checkout", &cfg).unwrap().kind,
            "pay"
        );
        assert_eq!(buckets(&Method::POST, "/api/auth/register", &cfg).unwrap().kind, "register");
        assert_eq!(buckets(&Method::POST, "/api/webhooks/stripe", &cfg).unwrap().kind, "webhook");
        assert!(buckets(&Method::GET, "/api/invoices", &cfg).is_none());
    }
}

//! The API's Prometheus metrics, served at `/metrics` on a listener of their own
//! (`API_METRICS_ADDR`), never on the public port. Requests by route template, method and status
//! with their latency, refusals for rate limits, database pool use, open WebSockets, payment
//! webhook outcomes, and gauges read from Postgres at each scrape: invoices in
//! `needs_attention` and unapplied payments across organisations, and the workers alive.
//!
//! Every name starts with `invoice_api_`. Alert rules and dashboards query these names: keep them.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use sqlx::PgPool;

use crate::error::{ApiError, ApiResult};
use crate::payments::WebhookAck;
use crate::state::AppState;

/// The route label of a request that matched no route (the web app's fallback, 404s): one
/// label, whatever the path, so that scanners cannot grow the series without bound.
const UNMATCHED: &str = "unmatched";

/// The metrics of one API process.
pub struct ApiMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    rate_limited: IntCounterVec,
    websockets: IntGauge,
    webhook_events: IntCounterVec,
    pool: IntGaugeVec,
    pool_max: IntGauge,
    needs_attention: IntGauge,
    unapplied_payments: IntGauge,
    live_workers: IntGauge,
    gauge_failures: IntCounter,
}

impl std::fmt::Debug for ApiMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiMetrics").finish_non_exhaustive()
    }
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("invoice_api".into()), None).expect("a valid metrics prefix");
        let build_info = IntGauge::with_opts(
            Opts::new("build_info", "The running build, by version")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("valid metric");
        register(&registry, build_info).set(1);
        Self {
            requests: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("http_requests_total", "HTTP requests answered, by route template"),
                    &["method", "route", "status"],
                )
                .expect("valid metric"),
            ),
            latency: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "http_request_duration_seconds",
                        "Time to answer an HTTP request, by route template",
                    ),
                    &["method", "route"],
                )
                .expect("valid metric"),
            ),
            rate_limited: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("rate_limited_requests_total", "Requests refused with 429"),
                    &["route"],
                )
                .expect("valid metric"),
            ),
            websockets: register(
                &registry,
                IntGauge::new("websocket_connections", "Authenticated live-update sockets open")
                    .expect("valid metric"),
            ),
            webhook_events: register(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "payment_webhook_events_total",
                        "Payment webhook deliveries, by outcome (applied, duplicate, refused, \
                         ignored, signature_invalid, invalid, retry, error)",
                    ),
                    &["outcome"],
                )
                .expect("valid metric"),
            ),
            pool: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new("db_pool_connections", "Database pool connections (idle, in_use)"),
                    &["state"],
                )
                .expect("valid metric"),
            ),
            pool_max: register(
                &registry,
                IntGauge::new("db_pool_max_connections", "The database pool's size limit")
                    .expect("valid metric"),
            ),
            needs_attention: register(
                &registry,
                IntGauge::new("invoices_needs_attention", "Invoices in needs_attention, all orgs")
                    .expect("valid metric"),
            ),
            unapplied_payments: register(
                &registry,
                IntGauge::new("unapplied_payments", "Confirmed payments no invoice took")
                    .expect("valid metric"),
            ),
            live_workers: register(
                &registry,
                IntGauge::new("live_workers", "Workers that reported in the last 90 seconds")
                    .expect("valid metric"),
            ),
            gauge_failures: register(
                &registry,
                IntCounter::new(
                    "metrics_gauge_query_failures_total",
                    "Scrapes whose Postgres gauges could not be read (they kept their last value)",
                )
                .expect("valid metric"),
            ),
            registry,
        }
    }

    /// An authenticated socket opened; it counts until the guard is dropped.
    pub(crate) fn socket_opened(self: &Arc<Self>) -> SocketGuard {
        self.websockets.inc();
        SocketGuard(self.clone())
    }

    /// Counts a webhook delivery by what came of it.
    pub(crate) fn webhook(&self, result: &ApiResult<WebhookAck>) {
        let outcome = match result {
            Ok(ack) if ack.duplicate => "duplicate",
            Ok(ack) if ack.outcome == "applied" => "applied",
            Ok(ack) if ack.outcome.starts_with("refused") => "refused",
            Ok(_) => "ignored",
            Err(ApiError::BadRequest { code, .. }) if code.starts_with("signature_") => {
                "signature_invalid"
            }
            Err(ApiError::BadRequest { .. }) => "invalid",
            Err(ApiError::Unavailable { .. }) => "retry",
            Err(_) => "error",
        };
        self.webhook_events.with_label_values(&[outcome]).inc();
    }

    fn observe(&self, method: &Method, route: &str, status: StatusCode, started: Instant) {
        // Any token is a method to HTTP: only the ones the API knows get a series of their own.
        let known = [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ];
        let method = if known.contains(method) { method.as_str() } else { "other" };
        self.requests.with_label_values(&[method, route, status.as_str()]).inc();
        self.latency.with_label_values(&[method, route]).observe(started.elapsed().as_secs_f64());
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.with_label_values(&[route]).inc();
        }
    }

    /// Reads the pool and the Postgres gauges, then renders everything in the text format.
    async fn render(&self, db: &PgPool) -> String {
        let idle = i64::try_from(db.num_idle()).unwrap_or(i64::MAX);
        self.pool.with_label_values(&["idle"]).set(idle);
        self.pool.with_label_values(&["in_use"]).set(i64::from(db.size()) - idle);
        self.pool_max.set(i64::from(db.options().get_max_connections()));
        match gauges(db).await {
            Ok((needs_attention, unapplied, workers)) => {
                self.needs_attention.set(needs_attention);
                self.unapplied_payments.set(unapplied);
                self.live_workers.set(workers);
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: the Postgres gauges could not be read");
                self.gauge_failures.inc();
            }
        }
        let mut text = Vec::new();
        let encoded = TextEncoder::new().encode(&self.registry.gather(), &mut text);
        if let Err(error) = encoded {
            tracing::warn!(%error, "metrics: encoding failed");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// Registers `metric` (a handle to the same series) and answers it.
fn register<M: Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry.register(Box::new(metric.clone())).expect("each metric is registered once");
    metric
}

/// Decrements the open-socket gauge when the socket ends.
pub(crate) struct SocketGuard(Arc<ApiMetrics>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.websockets.dec();
    }
}

/// Invoices needing attention, unapplied payments and live workers (as `/ready` counts them),
/// in one round trip.
async fn gauges(db: &PgPool) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM invoices WHERE status = 'needs_attention'),
                (SELECT count(*) FROM unapplied_payments),
                (SELECT count(*) FROM worker_presence
                 WHERE seen_at > now() - make_interval(secs => $1))",
    )
    .bind(crate::health::LIVE_WORKER_SECS)
    .fetch_one(db)
    .await
}

/// The middleware: counts each request under its route template once it is answered.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or(UNMATCHED);
    state.metrics.observe(&method, route, response.status(), started);
    response
}

/// The metrics listener's routes: `GET /metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state.db).await;
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response()
}

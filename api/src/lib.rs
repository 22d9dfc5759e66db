//! The invoice platform's HTTP API: an axum router over Postgres (reads and owned writes) and
//! Temporal (workflow starts, signals, updates). `router(state)` is public so that tests mount
//! exactly what production serves.

pub mod analytics;
pub mod auth;
pub mod config;
pub mod customers;
#[cfg(feature = "dev-tools")]
pub mod demo;
mod documents;
pub mod error;
pub mod extract;
pub mod fault;
pub mod health;
pub mod housekeeping;
pub mod invoices;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod org;
pub mod pagination;
pub mod payments;
pub mod runs;
pub mod state;
pub mod support;
pub mod text;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderName, Request, Response};
use axum::response::IntoResponse;
use invoice_service::TemporalSettings;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::auth::jwt::JwtKeys;
use crate::config::Config;
use crate::error::ApiError;
use crate::runs::{InvoiceRuns, UpdateLimits};
pub use crate::state::AppState;

/// Migrations embedded at compile time, applied by `invoice-api migrate` and by tests.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Builds the state from configuration. Neither Postgres, Temporal nor S3 needs to be up yet:
/// connections are made on first use, and `/ready` says when Postgres and Temporal answer.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    let db =
        invoice_service::database::pool(&config.database_url, config.database_max_connections)?;
    build_state_on(config, db).await
}

/// [`build_state`] over a pool the caller made (tests: a fresh database per test).
pub async fn build_state_on(config: &Config, db: PgPool) -> anyhow::Result<AppState> {
    let provider = config.checked_payment_provider()?;
    let jwt = JwtKeys::new(
        &config.auth.jwt_secret,
        Duration::from_secs(config.auth.access_token_ttl_secs),
    )?;
    let temporal = TemporalSettings::load(&config.temporal)?;
    let support = support::SupportSettings::new(
        temporal.payload_keys.clone(),
        &temporal.namespace,
        config.web.temporal_ui_url.as_deref(),
    );
    let store = invoice_storage::ObjectStore::from_config(&config.storage.config()).await?;
    Ok(AppState {
        runs: InvoiceRuns::new(
            temporal,
            &db,
            UpdateLimits {
                max_turns: config.database_turn_connections,
                turn_wait: Duration::from_secs(config.update_turn_wait_secs),
                answer_wait: Duration::from_secs(config.update_timeout_secs),
            },
        ),
        db,
        jwt: Arc::new(jwt),
        auth: Arc::new(config.auth.clone()),
        limits: Arc::new(config.limits.clone()),
        store: Arc::new(store),
        payments: Arc::new(payments::PaymentSettings::from_config(&config.payments, provider)),
        views: Arc::new(payments::ViewThrottle::default()),
        live: Arc::new(live::LiveHub::default()),
        web: Arc::new(config.web.clone()),
        metrics: Arc::new(metrics::ApiMetrics::new()),
        support: Arc::new(support),
    })
}

/// The whole HTTP surface: routes, API docs, JSON errors for everything that is not a route,
/// the body limit, request ids, request logs and panic recovery.
pub fn router(state: AppState, body_limit_bytes: usize) -> Router {
    let (routes, openapi) = openapi::routes().split_for_parts();
    let request_id = HeaderName::from_static("x-request-id");
    routes
        .merge(openapi::docs(openapi))
        .merge(payments::pages())
        .merge(support::codec::routes())
        .fallback(web::fallback)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::limit_public))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(DefaultBodyLimit::max(body_limit_bytes))
        // gzip or Brotli, as the client accepts: JSON lists and the web app's JavaScript shrink
        // to a fifth or less. Tiny bodies, images, PDFs and event streams go as they are.
        .layer(CompressionLayer::new().compress_when(compress_when()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
                    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    let span = tracing::info_span!("request", method = %req.method(), route, request_id, status = tracing::field::Empty, trace_id = tracing::field::Empty);
                    // A caller's W3C trace context (`traceparent`) makes this request part of its
                    // trace; the trace id goes into every log line of the request.
                    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
                    invoice_service::traces::begin(&span, header("traceparent"), header("tracestate"));
                    span
                })
                .on_request(())
                .on_response(|res: &Response<_>, latency: Duration, span: &Span| {
                    span.record("status", res.status().as_u16());
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_millis() as u64, "response");
                }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .with_state(state)
}

/// Which responses are compressed: tower-http's defaults (not under 32 bytes, not images,
/// gRPC or event streams), and not PDFs, which are compressed inside already.
fn compress_when() -> impl tower_http::compression::Predicate {
    use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
    DefaultPredicate::new().and(NotForContentType::const_new("application/pdf"))
}

/// Creates the database if it does not exist yet, then applies pending migrations.
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    if !sqlx::Postgres::database_exists(database_url).await? {
        sqlx::Postgres::create_database(database_url).await?;
        tracing::info!("database created");
    }
    let pool = PgPoolOptions::new().max_connections(1).connect(database_url).await?;
    MIGRATOR.run(&pool).await?;
    tracing::info!("migrations applied");
    Ok(())
}

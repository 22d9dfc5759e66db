//! The worker's metrics listener: `GET /metrics` on `METRICS_ADDR`, the worker's own metrics
//! (`invoice_activities::metrics`) in Prometheus's text format.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use invoice_activities::metrics::{CONTENT_TYPE, WorkerMetrics};

/// Serves `/metrics` on `listener` until the process ends; a failure is logged.
pub async fn serve_metrics(listener: tokio::net::TcpListener, metrics: Arc<WorkerMetrics>) {
    let routes = Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()) }
        }),
    );
    if let Err(error) = axum::serve(listener, routes).await {
        tracing::error!(%error, "metrics listener failed");
    }
}

//! The worker's metrics listener: `GET /metrics` on `METRICS_ADDR`, in Prometheus's text format:
//! the worker's own metrics (`invoice_activities::metrics`, `invoice_worker_*`) and the Temporal
//! SDK's (`temporal_*`: workflow and activity task latencies, slots, pollers, failures).
//!
//! The SDK's exporter only serves its metrics on a listener of its own, so it binds an ephemeral
//! loopback port ([`start_sdk_exporter`]) and each scrape here reads it and appends its text: one
//! endpoint for Prometheus, no two families share a name.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use invoice_activities::metrics::{CONTENT_TYPE, WorkerMetrics};
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, metrics::CoreMeter,
    start_prometheus_metric_exporter,
};

/// The SDK's metrics exporter, running on loopback.
pub struct SdkMetrics {
    /// Where it serves its text.
    pub addr: SocketAddr,
    meter: Arc<dyn CoreMeter>,
}

impl SdkMetrics {
    /// Telemetry options that send the SDK's metrics to this exporter (logging stays with the
    /// binary's own subscriber).
    pub fn telemetry(&self) -> TelemetryOptions {
        TelemetryOptions::builder().metrics(self.meter.clone()).build()
    }
}

/// Starts the SDK's Prometheus exporter on an ephemeral loopback port (never reachable from
/// outside: [`serve_metrics`] republishes it). Durations are in seconds with the unit in the
/// name, counters end in `_total`, as Prometheus names them
/// (`temporal_workflow_task_schedule_to_start_latency_seconds`).
pub fn start_sdk_exporter() -> anyhow::Result<SdkMetrics> {
    let options = PrometheusExporterOptions::builder()
        .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .counters_total_suffix(true)
        .unit_suffix(true)
        .use_seconds_for_durations(true)
        .build();
    let started = start_prometheus_metric_exporter(options)?;
    Ok(SdkMetrics { addr: started.bound_addr, meter: started.meter })
}

/// The SDK exporter's text, or nothing (logged) when it does not answer.
async fn sdk_text(http: &reqwest::Client, addr: SocketAddr) -> String {
    let response = http.get(format!("http://{addr}/metrics")).send().await;
    match response.and_then(reqwest::Response::error_for_status) {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => {
            tracing::warn!(%error, "metrics: the SDK's exporter did not answer");
            String::new()
        }
    }
}

/// Serves `/metrics` on `listener` until the process ends; a failure is logged.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<WorkerMetrics>,
    sdk: Option<SocketAddr>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a plain HTTP client builds");
    let routes = Router::new().route(
        "/metrics",
        get(move || {
            let (metrics, http) = (metrics.clone(), http.clone());
            async move {
                let mut text = metrics.render();
                if let Some(addr) = sdk {
                    text.push_str(&sdk_text(&http, addr).await);
                }
                ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
            }
        }),
    );
    if let Err(error) = axum::serve(listener, routes).await {
        tracing::error!(%error, "metrics listener failed");
    }
}

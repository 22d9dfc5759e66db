//! `AppState`: what every handler can reach, cloned cheaply per request.

use std::sync::Arc;

use axum::extract::FromRef;
use invoice_storage::ObjectStore;
use sqlx::PgPool;

use crate::auth::jwt::JwtKeys;
use crate::config::{AuthConfig, LimitsConfig, WebConfig};
use crate::live::LiveHub;
use crate::metrics::ApiMetrics;
use crate::payments::{PaymentSettings, ViewThrottle};
use crate::runs::InvoiceRuns;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: PgPool,
    pub jwt: Arc<JwtKeys>,
    pub auth: Arc<AuthConfig>,
    /// Limits on the public endpoints.
    pub limits: Arc<LimitsConfig>,
    /// Every call to the invoice workflows.
    pub runs: InvoiceRuns,
    /// Where rendered PDFs are (written by the worker, read here).
    pub store: Arc<ObjectStore>,
    /// The payment provider's webhook secret; whether the test checkout is served.
    pub payments: Arc<PaymentSettings>,
    /// Hosted-page views recently passed on to workflows.
    pub views: Arc<ViewThrottle>,
    /// Invoice changes announced by Postgres, fanned out to WebSocket clients.
    pub live: Arc<LiveHub>,
    /// The built web app and the links it shows.
    pub web: Arc<WebConfig>,
    /// What `/metrics` on the metrics listener reports.
    pub metrics: Arc<ApiMetrics>,
    /// Support staff's codec server and Temporal UI links.
    pub support: Arc<crate::support::SupportSettings>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

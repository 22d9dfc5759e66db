//! `/health` (the process is up) and `/ready` (Postgres and Temporal answer).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: &'static str,
    pub checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// `ok`, `unavailable` or `timed out`: never the cause itself (logged instead).
    pub database: String,
    pub temporal: String,
    /// `ok`, or `mismatch`: a worker that announced itself in the last minutes uses another
    /// payment provider than this API (`details.paymentProviders` of the 503 names them).
    pub payments: String,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Workers count as running when they refreshed their presence within this many seconds
/// (three of their 30-second heartbeats).
pub(crate) const LIVE_WORKER_SECS: f64 = 90.0;

/// Postgres and Temporal both answer, and the running workers use this API's payment
/// provider: the API can take traffic.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
async fn ready(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<Readiness>)> {
    let ours = state.payments.setting().as_str();
    let providers = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query_scalar!(
            r#"SELECT DISTINCT payment_provider AS "provider!" FROM worker_presence
               WHERE seen_at > now() - make_interval(secs => $1)"#,
            LIVE_WORKER_SECS
        )
        .fetch_all(&state.db),
    )
    .await;
    let (database, workers) = match providers {
        Ok(Ok(workers)) => ("ok".to_owned(), workers),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: the database did not answer");
            ("unavailable".to_owned(), Vec::new())
        }
        Err(_) => ("timed out".to_owned(), Vec::new()),
    };
    let temporal = match state.runs.check().await {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: Temporal did not answer");
            "unavailable".to_owned()
        }
    };
    let others: Vec<&String> = workers.iter().filter(|p| p.as_str() != ours).collect();
    let payments = if others.is_empty() { "ok" } else { "mismatch" }.to_owned();
    if database == "ok" && temporal == "ok" && payments == "ok" {
        return Ok((
            StatusCode::OK,
            Json(Readiness { status: "ready", checks: Checks { database, temporal, payments } }),
        ));
    }
    tracing::warn!(%database, %temporal, %payments, ?others, api = ours, "not ready");
    let mut details =
        json!({ "checks": { "database": database, "temporal": temporal, "payments": payments } });
    if !others.is_empty() {
        details["paymentProviders"] = json!({ "api": ours, "workers": workers });
    }
    Err(ApiError::Unavailable {
        code: "not_ready",
        message: "A dependency of the API is not reachable or not configured alike.".into(),
        details: Some(details),
    })
}

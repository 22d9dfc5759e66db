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
    pub database: String,
    pub temporal: String,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Postgres and Temporal both answer: the API can take traffic.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
async fn ready(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<Readiness>)> {
    let database = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query_scalar!("SELECT 1 AS \"one!\"").fetch_one(&state.db),
    )
    .await;
    let database = match database {
        Ok(Ok(_)) => "ok".to_owned(),
        Ok(Err(err)) => format!("error: {err}"),
        Err(_) => "error: timed out".to_owned(),
    };
    let temporal = match state.runs.check().await {
        Ok(()) => "ok".to_owned(),
        Err(err) => format!("error: {err}"),
    };
    if database == "ok" && temporal == "ok" {
        return Ok((
            StatusCode::OK,
            Json(Readiness { status: "ready", checks: Checks { database, temporal } }),
        ));
    }
    tracing::warn!(%database, %temporal, "not ready");
    Err(ApiError::Unavailable {
        code: "not_ready",
        message: "A dependency of the API is not reachable.".into(),
        details: Some(json!({ "checks": { "database": database, "temporal": temporal } })),
    })
}

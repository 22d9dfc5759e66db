//! Operations: the invoices whose run is stuck, and retrying them one by one or in bulk.
//!
//! Two kinds of trouble: an invoice in `needs_attention` (a step failed for good; its workflow
//! waits for `retry` or `void`), and a workflow run that itself failed, timed out or was
//! terminated (a bug or an operator). The first is retried with the workflow's `retry` update;
//! the second is reset to its first workflow task, which runs the invoice again from the start:
//! every activity is idempotent (the row, the number, the PDF, each email by its key), so what
//! was done already is not done twice.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::messages::{ActorRequest, INVOICE_WORKFLOW_TYPE};
use serde::{Deserialize, Serialize};
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowExecutionStatus, WorkflowListOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, ResetWorkflowExecutionRequest,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, Query};
use crate::invoices::unavailable;
use crate::state::AppState;
use crate::temporal::TemporalError;

/// Most invoices a bulk retry touches in one call; call again for the rest.
const BULK_LIMIT: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_workflows)).routes(routes!(retry))
}

/// An invoice whose run needs someone.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TroubledRun {
    pub invoice_id: Uuid,
    pub number: Option<String>,
    pub client_name: String,
    /// `needs_attention`, or the run's state: `failed`, `timed_out`, `terminated`.
    #[schema(example = "needs_attention")]
    pub problem: String,
    pub reason: Option<String>,
    pub workflow_id: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TroubledRuns {
    pub items: Vec<TroubledRun>,
    /// False when Temporal could not be asked for failed runs; `items` then lists only the
    /// invoices that need attention.
    pub runs_checked: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `needs_attention`, `failed` (failed, timed out or terminated runs) or `all` (default).
    pub state: Option<String>,
}

/// Invoices that need attention and invoice runs that failed, newest first.
#[utoipa::path(get, path = "/api/ops/workflows", tag = "ops", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = TroubledRuns), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn list_workflows(
    State(state): State<AppState>,
    auth: Auth,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<TroubledRuns>> {
    auth.require(Role::Admin)?;
    let kind = p.state.as_deref().unwrap_or("all");
    if !matches!(kind, "all" | "needs_attention" | "failed") {
        return Err(ApiError::field(
            "state",
            "unknown_state",
            "Must be needs_attention, failed or all.",
        ));
    }
    let mut items = Vec::new();
    if kind != "failed" {
        items.extend(
            sqlx::query!(
                "SELECT id, number, client_name, attention_reason, workflow_id, updated_at FROM invoices
                 WHERE org_id = $1 AND status = 'needs_attention' ORDER BY updated_at DESC LIMIT $2",
                auth.org_id,
                BULK_LIMIT
            )
            .fetch_all(&state.db)
            .await?
            .into_iter()
            .map(|r| TroubledRun {
                invoice_id: r.id,
                number: r.number,
                client_name: r.client_name,
                problem: "needs_attention".into(),
                reason: r.attention_reason,
                workflow_id: r.workflow_id,
                since: r.updated_at,
            }),
        );
    }
    let mut runs_checked = true;
    if kind != "needs_attention" {
        match failed_runs(&state, auth.org_id).await {
            Ok(failed) => items.extend(failed),
            Err(err) => {
                tracing::warn!(error = %err, "listing failed runs");
                runs_checked = false;
            }
        }
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.since));
    Ok(Json(TroubledRuns { items, runs_checked }))
}

/// Closed invoice runs of the organisation that did not complete, with their invoices.
async fn failed_runs(state: &AppState, org_id: Uuid) -> Result<Vec<TroubledRun>, TemporalError> {
    let client = state.temporal.client().await?;
    let query = format!(
        "WorkflowType = '{INVOICE_WORKFLOW_TYPE}' AND ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated')"
    );
    let prefix = invoice_workflows::invoice_workflow_id(&org_id.to_string(), "");
    let options = WorkflowListOptions::builder().limit(BULK_LIMIT as usize).build();
    let mut stream = client.list_workflows(query, options);
    let mut runs: BTreeMap<String, (String, DateTime<Utc>)> = BTreeMap::new();
    while let Some(run) = stream.next().await {
        let run = run.map_err(|e| TemporalError::Rpc(tonic::Code::Unknown, e.to_string()))?;
        if !run.id().starts_with(&prefix) {
            continue;
        }
        let problem = match run.status() {
            WorkflowExecutionStatus::Failed => "failed",
            WorkflowExecutionStatus::TimedOut => "timed_out",
            WorkflowExecutionStatus::Terminated => "terminated",
            _ => continue,
        };
        let since = run.close_time().map_or_else(Utc::now, DateTime::<Utc>::from);
        runs.insert(run.id().to_owned(), (problem.to_owned(), since));
    }
    let ids: Vec<String> = runs.keys().cloned().collect();
    let rows = sqlx::query!(
        "SELECT id, number, client_name, workflow_id FROM invoices WHERE org_id = $1 AND workflow_id = ANY($2)",
        org_id,
        &ids
    )
    .fetch_all(&state.db)
    .await
    .map_err(|e| TemporalError::Rpc(tonic::Code::Internal, e.to_string()))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let (problem, since) = runs.get(&r.workflow_id)?.clone();
            Some(TroubledRun {
                invoice_id: r.id,
                number: r.number,
                client_name: r.client_name,
                reason: Some(format!("the workflow run {}", problem.replace('_', " "))),
                problem,
                workflow_id: r.workflow_id,
                since,
            })
        })
        .collect())
}

/// Which invoices to retry: one, or every one that matches.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryRequest {
    /// Retry this invoice only.
    pub invoice_id: Option<Uuid>,
    /// Retry every troubled invoice matching this (all of them when empty).
    pub filter: Option<RetryFilter>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryFilter {
    pub customer_id: Option<Uuid>,
    /// Only invoices whose attention reason contains this text (case-insensitive).
    pub reason_contains: Option<String>,
    /// `needs_attention`, `failed` or `all` (default).
    pub state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryOutcome {
    /// How many invoices were sent on again.
    pub retried: usize,
    /// Those that could not be retried, with why.
    pub skipped: Vec<RetrySkipped>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySkipped {
    pub invoice_id: Uuid,
    pub reason: String,
}

/// Retry one troubled invoice, or all matching a filter.
#[utoipa::path(post, path = "/api/ops/retry", tag = "ops", request_body = RetryRequest, security(("bearer" = [])),
    responses((status = 200, body = RetryOutcome), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<RetryRequest>,
) -> ApiResult<Json<RetryOutcome>> {
    auth.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    if req.invoice_id.is_some() && req.filter.is_some() {
        errors.add("filter", "conflicting", "Give either invoiceId or filter, not both.");
    }
    let filter = req.filter.unwrap_or_default();
    let kind = filter.state.as_deref().unwrap_or("all");
    if !matches!(kind, "all" | "needs_attention" | "failed") {
        errors.add("filter.state", "unknown_state", "Must be needs_attention, failed or all.");
    }
    errors.into_result()?;

    // The candidates: (invoice, workflow id, status in Postgres).
    let candidates: Vec<(Uuid, String, String)> = if let Some(id) = req.invoice_id {
        let row = sqlx::query!(
            "SELECT id, workflow_id, status FROM invoices WHERE org_id = $1 AND id = $2",
            auth.org_id,
            id
        )
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("Invoice"))?;
        vec![(row.id, row.workflow_id, row.status)]
    } else {
        let pattern = filter.reason_contains.as_deref().map(|r| format!("%{r}%"));
        let mut rows: Vec<(Uuid, String, String)> = Vec::new();
        if kind != "failed" {
            rows.extend(
                sqlx::query!(
                    "SELECT id, workflow_id, status FROM invoices
                     WHERE org_id = $1 AND status = 'needs_attention'
                       AND ($2::uuid IS NULL OR customer_id = $2)
                       AND ($3::text IS NULL OR attention_reason ILIKE $3)
                     ORDER BY updated_at LIMIT $4",
                    auth.org_id,
                    filter.customer_id,
                    pattern,
                    BULK_LIMIT
                )
                .fetch_all(&state.db)
                .await?
                .into_iter()
                .map(|r| (r.id, r.workflow_id, r.status)),
            );
        }
        if kind != "needs_attention" && pattern.is_none() {
            let failed = failed_runs(&state, auth.org_id).await.map_err(unavailable)?;
            let wanted: Vec<Uuid> = failed.iter().map(|f| f.invoice_id).collect();
            rows.extend(
                sqlx::query!(
                    "SELECT id, workflow_id, status FROM invoices
                     WHERE org_id = $1 AND id = ANY($2) AND ($3::uuid IS NULL OR customer_id = $3)",
                    auth.org_id,
                    &wanted,
                    filter.customer_id
                )
                .fetch_all(&state.db)
                .await?
                .into_iter()
                .map(|r| (r.id, r.workflow_id, "failed".to_owned())),
            );
        }
        rows
    };

    let client = state.temporal.client().await.map_err(unavailable)?;
    let actor = crate::invoices::actor(&auth);
    let mut outcome = RetryOutcome { retried: 0, skipped: Vec::new() };
    for (invoice_id, workflow_id, status) in candidates {
        // A single invoice that is not parked is retryable only if its run failed.
        let status = if status == "needs_attention" || status == "failed" {
            status
        } else {
            match crate::temporal::describe_workflow(&client, &workflow_id).await {
                Ok(d) if is_failed(d.status()) => "failed".to_owned(),
                Ok(_) => status,
                Err(err) => return Err(unavailable(err)),
            }
        };
        let result = if status == "needs_attention" {
            let handle = client.get_workflow_handle::<InvoiceWorkflow>(&workflow_id);
            let request = ActorRequest { actor: actor.clone(), reason: Some("ops retry".into()) };
            handle
                .execute_update(
                    InvoiceWorkflow::retry,
                    request,
                    WorkflowExecuteUpdateOptions::default(),
                )
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        } else if status == "failed" {
            reset_to_start(&client, state.temporal.namespace(), &workflow_id, &actor).await
        } else {
            Err(format!("the invoice is {status}: nothing failed, nothing to retry"))
        };
        match result {
            Ok(()) => outcome.retried += 1,
            Err(reason) => outcome.skipped.push(RetrySkipped { invoice_id, reason }),
        }
    }
    if req.invoice_id.is_some() && outcome.retried == 0 {
        let reason = outcome.skipped.pop().map(|s| s.reason).unwrap_or_default();
        return Err(ApiError::conflict("not_retryable", reason));
    }
    Ok(Json(outcome))
}

/// Resets a closed, failed run to its first workflow task: the invoice runs again from the
/// start in a new run of the same workflow id, its idempotent activities skipping what is done.
async fn reset_to_start(
    client: &temporalio_client::Client,
    namespace: &str,
    workflow_id: &str,
    actor: &str,
) -> Result<(), String> {
    let mut svc = client.clone();
    let execution =
        WorkflowExecution { workflow_id: workflow_id.to_owned(), run_id: String::new() };
    let history = WorkflowService::get_workflow_execution_history(
        &mut svc,
        tonic::Request::new(GetWorkflowExecutionHistoryRequest {
            namespace: namespace.to_owned(),
            execution: Some(execution.clone()),
            maximum_page_size: 20,
            ..Default::default()
        }),
    )
    .await
    .map_err(|s| s.message().to_owned())?
    .into_inner();
    let first_task = history
        .history
        .iter()
        .flat_map(|h| h.events.iter())
        .find(|e| e.event_type() == EventType::WorkflowTaskCompleted)
        .map(|e| e.event_id)
        .ok_or_else(|| "the run never completed a workflow task; it cannot be reset".to_owned())?;
    WorkflowService::reset_workflow_execution(
        &mut svc,
        tonic::Request::new(ResetWorkflowExecutionRequest {
            namespace: namespace.to_owned(),
            workflow_execution: Some(execution),
            reason: format!("ops retry by {actor}"),
            workflow_task_finish_event_id: first_task,
            request_id: Uuid::new_v4().to_string(),
            ..Default::default()
        }),
    )
    .await
    .map(drop)
    .map_err(|s| s.message().to_owned())
}

fn is_failed(status: WorkflowExecutionStatus) -> bool {
    matches!(
        status,
        WorkflowExecutionStatus::Failed
            | WorkflowExecutionStatus::TimedOut
            | WorkflowExecutionStatus::Terminated
    )
}

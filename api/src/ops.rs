//! Operations: the invoices whose run is stuck, and retrying them one by one or in bulk.
//!
//! Two kinds of trouble: an invoice in `needs_attention` (a step failed for good; its workflow
//! waits for `retry` or `void`), and a workflow run that itself failed, timed out or was
//! terminated (a bug or an operator). The first is retried with the workflow's `retry` update;
//! the second is reset to its first workflow task, which runs the invoice again from the start:
//! every activity is idempotent (the row, the number, the PDF, each email by its key), so what
//! was done already is not done twice.

use axum::extract::State;
use chrono::{DateTime, Utc};
use invoice_domain::Actor;
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::messages::ActorRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, Query};
use crate::runs::{InvoiceRun, RunError, RunFailure};
use crate::state::AppState;

/// Most invoices a bulk retry touches in one call; call again for the rest.
const BULK_LIMIT: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows))
        .routes(routes!(retry))
        .routes(routes!(list_unapplied_payments))
}

/// Money the payment provider confirmed that no invoice took.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnappliedPayment {
    /// The provider's event id.
    pub event_id: String,
    pub invoice_id: Option<Uuid>,
    pub invoice_number: Option<String>,
    pub provider: String,
    /// In minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// The provider's payment id (Stripe's payment intent).
    pub reference: Option<String>,
    /// Why the invoice's workflow did not take it.
    pub reason: String,
    pub received_at: DateTime<Utc>,
}

/// Payments the provider confirmed that the invoice's workflow refused, or that arrived after
/// its run had ended: each needs a person (refund it, or apply it by hand). Newest first.
#[utoipa::path(get, path = "/api/ops/unapplied-payments", tag = "ops", security(("bearer" = [])),
    responses((status = 200, body = Vec<UnappliedPayment>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_unapplied_payments(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Vec<UnappliedPayment>>> {
    auth.require(Role::Admin)?;
    let items = sqlx::query_as!(
        UnappliedPayment,
        "SELECT u.event_id, u.invoice_id, i.number AS invoice_number, u.provider, u.amount,
                u.currency, u.reference, u.reason, u.received_at
         FROM unapplied_payments u LEFT JOIN invoices i ON i.id = u.invoice_id
         WHERE u.org_id = $1 ORDER BY u.received_at DESC LIMIT 500",
        auth.org_id
    )
    .fetch_all(&state.db)
    .await?;
    Ok(Json(items))
}

/// What is wrong with an invoice's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// A step failed for good; the run waits for a retry or a void.
    NeedsAttention,
    /// The run itself failed, timed out or was terminated.
    Failed,
    TimedOut,
    Terminated,
}

impl Problem {
    fn as_str(self) -> &'static str {
        match self {
            Problem::NeedsAttention => "needs attention",
            Problem::Failed => "failed",
            Problem::TimedOut => "timed out",
            Problem::Terminated => "terminated",
        }
    }
}

impl From<RunFailure> for Problem {
    fn from(failure: RunFailure) -> Self {
        match failure {
            RunFailure::Failed => Problem::Failed,
            RunFailure::TimedOut => Problem::TimedOut,
            RunFailure::Terminated => Problem::Terminated,
        }
    }
}

/// An invoice whose run needs someone.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TroubledRun {
    pub invoice_id: Uuid,
    pub number: Option<String>,
    pub client_name: String,
    pub problem: Problem,
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
                problem: Problem::NeedsAttention,
                reason: r.attention_reason,
                workflow_id: r.workflow_id,
                since: r.updated_at,
            }),
        );
    }
    let mut runs_checked = true;
    if kind != "needs_attention" {
        match failed_runs(&state, auth.org_id).await {
            Ok(failed) => {
                // A row still in needs_attention whose run has ended since: the run is the
                // problem now, listed once.
                items
                    .retain(|i: &TroubledRun| !failed.iter().any(|f| f.invoice_id == i.invoice_id));
                items.extend(failed)
            }
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
async fn failed_runs(state: &AppState, org_id: Uuid) -> Result<Vec<TroubledRun>, RunError> {
    let runs = state.runs.failed_runs(org_id.into(), BULK_LIMIT as usize).await?;
    let ids: Vec<Uuid> = runs.keys().map(|id| id.uuid()).collect();
    let rows = sqlx::query!(
        "SELECT id, number, client_name, workflow_id FROM invoices WHERE org_id = $1 AND id = ANY($2)",
        org_id,
        &ids
    )
    .fetch_all(&state.db)
    .await
    .map_err(|e| RunError::Internal(e.into()))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let (failure, since) = runs.get(&r.id.into())?;
            let problem = Problem::from(*failure);
            Some(TroubledRun {
                invoice_id: r.id,
                number: r.number,
                client_name: r.client_name,
                reason: Some(format!("the workflow run {}", problem.as_str())),
                problem,
                workflow_id: r.workflow_id,
                since: *since,
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
#[utoipa::path(post, path = "/api/ops/retry", tag = "ops", operation_id = "retry_runs", request_body = RetryRequest, security(("bearer" = [])),
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

    let candidates = retry_candidates(&state, &auth, req.invoice_id, &filter, kind).await?;
    let actor = auth.actor();
    let mut outcome = RetryOutcome { retried: 0, skipped: Vec::new() };
    for (invoice_id, problem) in candidates {
        let run = InvoiceRun::new(auth.org_id, invoice_id);
        // A single invoice that is not parked is retryable only if its run failed.
        let problem = match problem {
            Some(problem) => Some(problem),
            None => state.runs.run_failure(run).await?.map(Problem::from),
        };
        match retry_one(&state, run, problem, &actor).await {
            Ok(()) => outcome.retried += 1,
            // One invoice asked for: its error is the answer.
            Err(error @ (RunError::Unavailable(_) | RunError::Internal(_)))
                if req.invoice_id.is_some() =>
            {
                return Err(error.into());
            }
            // In bulk, the others are still tried; the answer says which ones were not.
            Err(error) => {
                outcome.skipped.push(RetrySkipped { invoice_id, reason: skip_reason(&error) })
            }
        }
    }
    if req.invoice_id.is_some() && outcome.retried == 0 {
        let reason = outcome.skipped.pop().map(|s| s.reason).unwrap_or_default();
        return Err(ApiError::conflict("not_retryable", reason));
    }
    Ok(Json(outcome))
}

/// What to retry: (invoice, what is wrong, as far as Postgres knows).
async fn retry_candidates(
    state: &AppState,
    auth: &Auth,
    invoice_id: Option<Uuid>,
    filter: &RetryFilter,
    kind: &str,
) -> ApiResult<Vec<(Uuid, Option<Problem>)>> {
    let candidates = if let Some(id) = invoice_id {
        let row = sqlx::query!(
            "SELECT id, status FROM invoices WHERE org_id = $1 AND id = $2",
            auth.org_id,
            id
        )
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("Invoice"))?;
        if row.status == "void" {
            return Err(ApiError::conflict(
                "not_retryable",
                "The invoice is void; nothing to retry.",
            ));
        }
        vec![(row.id, (row.status == "needs_attention").then_some(Problem::NeedsAttention))]
    } else {
        let pattern = filter.reason_contains.as_deref().map(|r| format!("%{r}%"));
        let mut rows: Vec<(Uuid, Option<Problem>)> = Vec::new();
        if kind != "failed" {
            rows.extend(
                sqlx::query_scalar!(
                    "SELECT id FROM invoices
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
                .map(|id| (id, Some(Problem::NeedsAttention))),
            );
        }
        if kind != "needs_attention" && pattern.is_none() {
            let failed = failed_runs(state, auth.org_id).await?;
            let wanted: Vec<Uuid> = failed.iter().map(|f| f.invoice_id).collect();
            rows.extend(
                sqlx::query_scalar!(
                    "SELECT id FROM invoices
                     WHERE org_id = $1 AND id = ANY($2) AND ($3::uuid IS NULL OR customer_id = $3)
                       AND status <> 'void'",
                    auth.org_id,
                    &wanted,
                    filter.customer_id
                )
                .fetch_all(&state.db)
                .await?
                .into_iter()
                .map(|id| (id, Some(Problem::Failed))),
            );
        }
        // An invoice both parked and with a failed run is retried once (the retry resets it).
        let mut seen = std::collections::BTreeSet::new();
        rows.retain(|(id, _)| seen.insert(*id));
        rows
    };
    Ok(candidates)
}

/// Sends one invoice on again: a parked run is retried, a failed run reset.
async fn retry_one(
    state: &AppState,
    run: InvoiceRun,
    problem: Option<Problem>,
    actor: &Actor,
) -> Result<(), RunError> {
    match problem {
        Some(Problem::NeedsAttention) => {
            let request = ActorRequest { actor: actor.clone(), reason: Some("ops retry".into()) };
            match state.runs.update(run, || InvoiceWorkflow::retry, request, None).await {
                // The row still says so, but its run has ended since (terminated, timed out):
                // reset the run instead, if it failed.
                Err(RunError::Finished) => state.runs.reset_to_start(run, actor).await,
                other => other.map(drop),
            }
        }
        Some(_) => state.runs.reset_to_start(run, actor).await,
        None => Err(RunError::Refused {
            code: None,
            message: "nothing failed, nothing to retry".into(),
        }),
    }
}

/// Why an invoice was skipped, for the ops screen.
fn skip_reason(error: &RunError) -> String {
    match error {
        RunError::Refused { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

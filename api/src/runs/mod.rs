//! Every call the API makes to invoice workflows, in one place: creating an invoice (its run
//! started with update-with-start, answered once the run has stored the row), updates (one at
//! a time per invoice, across replicas), the page-view signal, and, for ops, failed runs and
//! their reset. One error type, [`RunError`], with one mapping to HTTP.

mod connection;
mod errors;
mod turns;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use invoice_domain::{Actor, Device, InvoiceId, OrgId};
use invoice_service::TemporalSettings;
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::account::{
    AccountEmailInput, AccountEmailWorkflow, account_email_workflow_id,
};
use invoice_workflows::invoice::messages::{
    ActorRequest, INVOICE_WORKFLOW_TYPE, InvoiceWorkflowInput, PageView, StatusView,
};
use invoice_workflows::invoice::search_attributes;
use invoice_workflows::{invoice_workflow_id, org_workflow_prefix, parse_invoice_workflow_id};
use sqlx::PgPool;
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::{
    Client, UntypedWorkflow, WorkflowExecuteUpdateOptions, WorkflowExecutionStatus,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowListOptions, WorkflowSignalOptions,
    WorkflowStartOptions, WorkflowUpdateWithStartOptions, tonic,
};
use temporalio_common::HasWorkflowDefinition;
use temporalio_common::UpdateDefinition;
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, ResetReapplyExcludeType};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, ResetWorkflowExecutionRequest,
};
use temporalio_common::search_attributes::SearchAttributes;
use tokio::time::Instant;
use tracing::Instrument as _;
use uuid::Uuid;

pub use errors::RunError;

use connection::Connection;
use turns::{TurnError, Turns};

/// How long creating an invoice waits for its run to store the row: usually milliseconds, but
/// a worker busy rendering PDFs can take seconds to pick up the run's first task.
const CREATE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long an update whose caller has stopped waiting (a worker down) keeps its invoice's turn
/// while Temporal still holds it: the next change waits for its outcome rather than pile up
/// beside it, and a run that never answers frees the turn after this.
const TURN_HOLD_AFTER_TIMEOUT: Duration = Duration::from_secs(600);
/// Bound on one describe, list, signal or reset call.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The update every new run is started with; its id makes a repeated create attach to the
/// first one's answer.
const STORED_UPDATE_ID: &str = "stored";
/// An account email's run ends within this, sent or not.
const ACCOUNT_EMAIL_RUN_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);

/// An invoice's workflow: the invoice and its organisation (the workflow id is derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceRun {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
}

impl InvoiceRun {
    pub fn new(org_id: impl Into<OrgId>, invoice_id: impl Into<InvoiceId>) -> Self {
        Self { org_id: org_id.into(), invoice_id: invoice_id.into() }
    }

    pub fn workflow_id(self) -> String {
        invoice_workflow_id(self.org_id, self.invoice_id)
    }
}

/// What the Temporal UI shows for a run in its list and on its page (sealed with the payload
/// keys like every payload, so only support reads it through the codec server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// One line.
    pub summary: String,
    /// Markdown.
    pub details: String,
}

/// Why a closed invoice run needs someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFailure {
    Failed,
    TimedOut,
    Terminated,
}

impl RunFailure {
    fn of(status: WorkflowExecutionStatus) -> Option<Self> {
        match status {
            WorkflowExecutionStatus::Failed => Some(Self::Failed),
            WorkflowExecutionStatus::TimedOut => Some(Self::TimedOut),
            WorkflowExecutionStatus::Terminated => Some(Self::Terminated),
            _ => None,
        }
    }
}

/// The invoice workflows' client. Cheap to clone; one per process, in `AppState`.
#[derive(Debug, Clone)]
pub struct InvoiceRuns {
    connection: Connection,
    turns: Turns,
    limits: UpdateLimits,
}

/// How updates wait.
#[derive(Debug, Clone, Copy)]
pub struct UpdateLimits {
    /// Turns held at once (connections of the turns' own pool).
    pub max_turns: u32,
    /// How long an update waits for its turn and for a busy run before giving up.
    pub turn_wait: Duration,
    /// How long the caller waits for the run's answer once the update has its turn.
    pub answer_wait: Duration,
}

impl InvoiceRuns {
    /// Nothing connects until the first call. Turns are held on connections of their own, to
    /// the database `db` connects to.
    pub fn new(settings: TemporalSettings, db: &PgPool, limits: UpdateLimits) -> Self {
        let turns = Turns::new(db, limits.max_turns);
        Self { connection: Connection::new(settings), turns, limits }
    }

    pub fn namespace(&self) -> &str {
        &self.connection.settings().namespace
    }

    async fn client(&self) -> Result<Client, RunError> {
        self.connection.client().await.map_err(RunError::unavailable)
    }

    /// Readiness: Temporal answers for our namespace.
    pub async fn check(&self) -> Result<(), RunError> {
        self.connection.check().await.map_err(RunError::unavailable)
    }

    /// Starts the invoice's run and answers once the run has stored the invoice row (the
    /// `stored` update, sent with the start). A repeated call for the same invoice attaches to
    /// the running run and gets the same answer; a run of that id that has closed is
    /// [`RunError::AlreadyExists`].
    pub async fn create(
        &self,
        input: &InvoiceWorkflowInput,
        summary: RunSummary,
    ) -> Result<StatusView, RunError> {
        let client = self.client().await?;
        let settings = self.connection.settings();
        let workflow_id = invoice_workflow_id(input.org_id, input.invoice_id);
        let options = WorkflowUpdateWithStartOptions::new(
            settings.task_queue.clone(),
            workflow_id,
            WorkflowIdConflictPolicy::UseExisting,
        )
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .update_id(STORED_UPDATE_ID.to_owned())
        .search_attributes(SearchAttributes::new(search_attributes::at_start(input)))
        .static_summary(summary.summary)
        .static_details(summary.details)
        .build();
        let request = ActorRequest { actor: input.actor.clone(), reason: None };
        let call = client.execute_update_with_start_workflow(
            InvoiceWorkflow::run,
            input.clone(),
            InvoiceWorkflow::stored,
            request,
            options,
        );
        tokio::time::timeout(CREATE_TIMEOUT, call)
            .await
            .map_err(|_| RunError::Timeout)?
            .map_err(RunError::from_update_with_start)
    }

    /// Sends an update to an invoice's run in the invoice's turn, and waits for its answer.
    ///
    /// `update_id` makes a retried request count once. The update runs on a task of its own:
    /// a client that hangs up does not cut it off between Temporal and the turn's release. When
    /// the run does not answer in time (its worker down), the caller hears
    /// [`RunError::Timeout`], but the turn stays taken until Temporal has the update's outcome
    /// (or [`TURN_HOLD_AFTER_TIMEOUT`]): the invoice's next change waits for it, so changes
    /// never pile up in Temporal to reach the run as one burst when its worker is back.
    pub async fn update<U>(
        &self,
        run: InvoiceRun,
        update: impl Fn() -> U + Send + Sync + 'static,
        input: U::Input,
        update_id: Option<String>,
    ) -> Result<U::Output, RunError>
    where
        U: UpdateDefinition<Workflow = <InvoiceWorkflow as HasWorkflowDefinition>::Run>
            + Send
            + 'static,
        U::Input: Clone + Send + Sync + 'static,
        U::Output: Send + Sync + 'static,
    {
        let client = self.client().await?;
        let turns = self.turns.clone();
        let limits = self.limits;
        let (answer, answered) = tokio::sync::oneshot::channel();
        tokio::spawn(
            async move {
                let workflow_id = run.workflow_id();
                let deadline = Instant::now() + limits.turn_wait;
                let turn = match turns.take(&workflow_id, deadline).await {
                    Ok(turn) => turn,
                    Err(e) => {
                        let _ = answer.send(Err(match e {
                            TurnError::Busy => RunError::Busy,
                            TurnError::Saturated => RunError::unavailable(e),
                            TurnError::Database(e) => RunError::Internal(anyhow::Error::new(e)),
                        }));
                        return;
                    }
                };
                let handle = client.get_workflow_handle::<InvoiceWorkflow>(&workflow_id);
                let options =
                    WorkflowExecuteUpdateOptions::builder().maybe_update_id(update_id).build();
                let mut pause = Duration::from_millis(20);
                loop {
                    let call = handle.execute_update(update(), input.clone(), options.clone());
                    let mut call = std::pin::pin!(call);
                    match tokio::time::timeout(limits.answer_wait, &mut call).await {
                        Ok(Err(e))
                            if RunError::is_busy(&e) && Instant::now() + pause < deadline =>
                        {
                            // Jittered, so that a burst does not come back as one burst.
                            let jitter = rand::random_range(0..=pause.as_millis() as u64);
                            tokio::time::sleep(pause + Duration::from_millis(jitter)).await;
                            pause = (pause * 2).min(Duration::from_millis(400));
                        }
                        Ok(result) => {
                            let _ = answer.send(result.map_err(RunError::from_update));
                            break;
                        }
                        Err(_) => {
                            let _ = answer.send(Err(RunError::Timeout));
                            let _ = tokio::time::timeout(TURN_HOLD_AFTER_TIMEOUT, call).await;
                            break;
                        }
                    }
                }
                turn.release().await;
            }
            // In the request's span: the update carries its trace context to the run.
            .instrument(tracing::Span::current()),
        );
        answered
            .await
            .map_err(|_| RunError::Internal(anyhow::anyhow!("the update task ended unanswered")))?
    }

    /// Starts the run that mails one account link (`account_tokens` row `token_id`). The run
    /// carries only the row's id; the worker makes the link's secret. Starting it again for
    /// the same row is a no-op.
    pub async fn start_account_email(&self, token_id: Uuid) -> Result<(), RunError> {
        let client = self.client().await?;
        let options = WorkflowStartOptions::new(
            self.connection.settings().task_queue.clone(),
            account_email_workflow_id(token_id),
        )
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        // Long enough for its send's retries; the run is short-lived otherwise.
        .execution_timeout(ACCOUNT_EMAIL_RUN_TIMEOUT)
        .build();
        let start = client.start_workflow(
            AccountEmailWorkflow::run,
            AccountEmailInput { token_id },
            options,
        );
        within("start", start).await?.map_err(RunError::unavailable)?;
        Ok(())
    }

    /// Tells the run the client opened the hosted page, without making the client wait.
    pub fn record_view(&self, run: InvoiceRun, device: Device) {
        let runs = self.clone();
        tokio::spawn(
            async move {
                let Ok(client) = runs.client().await else { return };
                let handle = client.get_workflow_handle::<InvoiceWorkflow>(run.workflow_id());
                let view = PageView { device };
                let signal = handle.signal(
                    InvoiceWorkflow::record_view,
                    view,
                    WorkflowSignalOptions::default(),
                );
                // A finished run (paid long ago) no longer counts views; nothing to do about it.
                if let Err(e) =
                    within("signal", signal).await.and_then(|r| r.map_err(RunError::unavailable))
                {
                    tracing::debug!(error = %e, invoice.id = %run.invoice_id, "view not recorded");
                }
            }
            .instrument(tracing::Span::current()),
        );
    }

    /// Whether the invoice's latest run closed without completing.
    pub async fn run_failure(&self, run: InvoiceRun) -> Result<Option<RunFailure>, RunError> {
        Ok(self.failed_run(run).await?.map(|failed| failed.failure))
    }

    /// The invoice's latest run, if it closed without completing. A workflow Temporal no longer
    /// knows (deleted after its retention) has nothing to retry either.
    async fn failed_run(&self, run: InvoiceRun) -> Result<Option<FailedRun>, RunError> {
        let client = self.client().await?;
        let handle = client.get_workflow_handle::<UntypedWorkflow>(run.workflow_id());
        let description = match within("describe", handle.describe(Default::default())).await? {
            Ok(description) => description,
            Err(WorkflowInteractionError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(RunError::unavailable(e)),
        };
        Ok(RunFailure::of(description.status()).map(|failure| FailedRun {
            run_id: description.run_id().to_owned(),
            failure,
            since: description.close_time().map_or_else(Utc::now, DateTime::<Utc>::from),
        }))
    }

    /// The organisation's invoices whose latest run closed without completing (looking at
    /// `limit` closed runs at most), with how and when. A run ops have reset stays in Temporal
    /// as failed; its invoice is listed only while the latest run has failed too.
    pub async fn failed_runs(
        &self,
        org_id: OrgId,
        limit: usize,
    ) -> Result<BTreeMap<InvoiceId, (RunFailure, DateTime<Utc>)>, RunError> {
        let client = self.client().await?;
        let prefix = org_workflow_prefix(org_id);
        // The organisation's own runs, found by Temporal's visibility store (each run carries
        // `OrgId` from its start), not filtered here out of every tenant's.
        let query = format!(
            "WorkflowType = '{INVOICE_WORKFLOW_TYPE}' AND OrgId = '{org_id}' \
             AND ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated')"
        );
        let mut stream =
            client.list_workflows(query, WorkflowListOptions::builder().limit(limit).build());
        let list = async {
            let mut invoices = BTreeSet::new();
            while let Some(run) = stream.next().await {
                let run = run.map_err(RunError::unavailable)?;
                if let Some((_, invoice_id)) =
                    parse_invoice_workflow_id(run.id()).filter(|_| run.id().starts_with(&prefix))
                {
                    invoices.insert(invoice_id);
                }
            }
            Ok::<_, RunError>(invoices)
        };
        let invoices = within("listing runs", list).await??;
        let latest: Vec<_> = futures::stream::iter(invoices)
            .map(|invoice_id| async move {
                let failed = self.failed_run(InvoiceRun { org_id, invoice_id }).await?;
                Ok::<_, RunError>(failed.map(|f| (invoice_id, (f.failure, f.since))))
            })
            .buffer_unordered(8)
            .collect()
            .await;
        latest.into_iter().filter_map(Result::transpose).collect()
    }

    /// Resets the invoice's latest run, when it closed without completing, to its first
    /// workflow task: the invoice runs again from the start in a new run of the same workflow
    /// id, its idempotent activities skipping what is done, and going on from the invoice row
    /// as it is (content, finalization, money). A run that has not failed (a second click, a
    /// run already reset) is refused, never reset.
    pub async fn reset_to_start(&self, run: InvoiceRun, actor: &Actor) -> Result<(), RunError> {
        let Some(failed) = self.failed_run(run).await? else {
            return Err(RunError::Refused {
                code: None,
                message: "the invoice's workflow run has not failed; nothing to retry".into(),
            });
        };
        let mut client = self.client().await?;
        let namespace = self.namespace().to_owned();
        let execution = WorkflowExecution { workflow_id: run.workflow_id(), run_id: failed.run_id };
        let history = within(
            "reading the run's history",
            WorkflowService::get_workflow_execution_history(
                &mut client,
                tonic::Request::new(GetWorkflowExecutionHistoryRequest {
                    namespace: namespace.clone(),
                    execution: Some(execution.clone()),
                    maximum_page_size: 20,
                    ..Default::default()
                }),
            ),
        )
        .await?
        .map_err(RunError::from_reset)?
        .into_inner();
        let first_task = history
            .history
            .iter()
            .flat_map(|h| h.events.iter())
            .find(|e| e.event_type() == EventType::WorkflowTaskCompleted)
            .map(|e| e.event_id)
            .ok_or_else(|| RunError::Refused {
                code: None,
                message: "the run never completed a workflow task; it cannot be reset".into(),
            })?;
        within(
            "reset",
            WorkflowService::reset_workflow_execution(
                &mut client,
                tonic::Request::new(ResetWorkflowExecutionRequest {
                    namespace,
                    workflow_execution: Some(execution),
                    reason: format!("ops retry by {actor}"),
                    workflow_task_finish_event_id: first_task,
                    request_id: Uuid::new_v4().to_string(),
                    // The new run reads the invoice from its row; updates sent to the old run
                    // are not played to it again (their ids stay free for a client's retry,
                    // which the run then refuses as a duplicate if the old run took it).
                    reset_reapply_exclude_types: vec![ResetReapplyExcludeType::Update as i32],
                    ..Default::default()
                }),
            ),
        )
        .await?
        .map(drop)
        .map_err(RunError::from_reset)
    }
}

/// A closed run that did not complete.
struct FailedRun {
    run_id: String,
    failure: RunFailure,
    since: DateTime<Utc>,
}

/// A describe, list, signal or reset call, bounded by [`REQUEST_TIMEOUT`].
async fn within<T>(what: &str, call: impl Future<Output = T>) -> Result<T, RunError> {
    tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .map_err(|_| RunError::unavailable(format!("{what} timed out")))
}

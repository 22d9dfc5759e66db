//! The worker as a library: build a worker with every workflow and activity registered. The
//! binary wires it to config, telemetry and signals; integration tests use the same function
//! so they exercise exactly what production runs.

pub mod providers;

use std::time::Duration;

use invoice_activities::InvoiceActivities;
use invoice_workflows::InvoiceWorkflow;
use temporalio_client::Client;
use temporalio_sdk::{Worker, WorkerCreateError, WorkerOptions, WorkflowRegistrationError};

pub use temporalio_sdk::Runtime;

/// How long in-flight activities may run on after shutdown starts before they are cancelled.
///
/// Shorter than the 30 s that Kubernetes and ECS wait before SIGKILL, so cancellations reach the
/// server and retries are scheduled at once instead of after a start-to-close timeout.
pub const GRACEFUL_SHUTDOWN_PERIOD: Duration = Duration::from_secs(20);

/// Runs kept in memory between their tasks (sticky execution), least recently used first out.
///
/// The SDK's default keeps 1 000 runs; after `make bench`'s 1 000 invoices the worker held about
/// 60 MiB less with 200 (docs/PERFORMANCE.md). An invoice run sleeps for days between events, so
/// a run evicted in between is simply replayed from its short history when its next task comes.
pub const CACHED_WORKFLOWS: usize = 200;

/// Errors building a worker.
#[derive(Debug, thiserror::Error)]
pub enum BuildWorkerError {
    /// Two workflows claim the same type name, or a workflow cannot be registered.
    #[error("registering workflows failed")]
    Register(#[from] WorkflowRegistrationError),
    /// The SDK rejected the worker options.
    #[error("creating the Temporal worker failed")]
    Create(#[from] WorkerCreateError),
}

/// Builds a worker polling `task_queue` with the invoice workflow and its activities registered
/// (and, in a `dev-tools` build, `PingWorkflow` with its activity).
///
/// The worker does nothing until [`Worker::run`] is awaited; that future is not `Send`, so run it
/// on the task that owns the worker (the binary's main task) and stop it through
/// [`Worker::shutdown_handle`].
pub fn build_worker(
    runtime: &Runtime,
    client: Client,
    task_queue: &str,
    invoices: InvoiceActivities,
) -> Result<Worker, BuildWorkerError> {
    let options = WorkerOptions::new(task_queue)
        .graceful_shutdown_period(GRACEFUL_SHUTDOWN_PERIOD)
        .max_cached_workflows(CACHED_WORKFLOWS)
        .register_activities(invoices);
    #[cfg(feature = "dev-tools")]
    let options = options
        .register_activities(invoice_activities::PlatformActivities::new())
        .register_workflow::<invoice_workflows::ping::PingWorkflow>()?;
    let options = options.register_workflow::<InvoiceWorkflow>()?.build();
    Ok(Worker::new(runtime, client, options)?)
}

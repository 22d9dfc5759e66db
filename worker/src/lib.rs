//! The worker as a library: connect to Temporal and build a worker with every workflow and
//! activity registered. The binary wires these to config, telemetry and signals; integration
//! tests use the same functions so they exercise exactly what production runs.

mod connection;
pub mod providers;

use std::time::Duration;

use invoice_activities::{InvoiceActivities, PlatformActivities};
use invoice_workflows::{InvoiceWorkflow, PingWorkflow};
use temporalio_client::Client;
use temporalio_sdk::{Worker, WorkerCreateError, WorkerOptions, WorkflowRegistrationError};

pub use connection::{ConnectError, TemporalConfig, connect, connect_with_retry, parse_address};
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

/// Builds a worker polling `task_queue` with all workflows and the given activities registered.
///
/// The worker does nothing until [`Worker::run`] is awaited; that future is not `Send`, so run it
/// on the task that owns the worker (the binary's main task) and stop it through
/// [`Worker::shutdown_handle`].
pub fn build_worker(
    runtime: &Runtime,
    client: Client,
    task_queue: &str,
    activities: PlatformActivities,
    invoices: InvoiceActivities,
) -> Result<Worker, BuildWorkerError> {
    let options = WorkerOptions::new(task_queue)
        .graceful_shutdown_period(GRACEFUL_SHUTDOWN_PERIOD)
        .max_cached_workflows(CACHED_WORKFLOWS)
        .register_activities(activities)
        .register_activities(invoices)
        .register_workflow::<PingWorkflow>()?
        .register_workflow::<InvoiceWorkflow>()?
        .build();
    Ok(Worker::new(runtime, client, options)?)
}

//! The worker as a library: build a worker with every workflow and activity registered. The
//! binary wires it to config, telemetry and signals; integration tests use the same function
//! so they exercise exactly what production runs.

mod activity_outcomes;
pub mod backlog;
pub mod feedback;
mod metrics;
pub mod presence;
pub mod providers;

pub use metrics::{SdkMetrics, serve_metrics, start_sdk_exporter};

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

/// A panic on any thread ends the process, except a panic that one activity contains
/// ([`invoice_activities::panics::contain`], e.g. the typst render of one invoice), which fails
/// only that activity.
///
/// The Temporal core runs workflows on its own thread; if that thread panics (sdk-core 0.10.1
/// does, "Trying to send a new WFT for a run which already has one!", under a burst of updates
/// on one run), the worker would stay up and poll nothing. Exiting lets the process manager
/// start a fresh worker, and Temporal hands the lost tasks to it: nothing is lost, only delayed.
/// A contained panic is different: the activity fails for good, so its invoice needs attention,
/// and aborting would only crash every worker that picks up the same invoice.
pub fn crash_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        if invoice_activities::panics::is_contained() {
            tracing::error!(panic = %info, "an activity panicked; failing that activity");
            return;
        }
        tracing::error!(
            panic = %info,
            "a worker thread panicked; exiting so that a fresh worker takes over"
        );
        std::process::abort();
    }));
}

/// Whether traces are exported (`OTEL_EXPORTER_OTLP_ENDPOINT`, see `invoice_service::traces`).
fn traces_on() -> bool {
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|e| !e.trim().is_empty())
}

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
    let counted = activity_outcomes::CountActivities(invoices.metrics.clone());
    let mut options = WorkerOptions::new(task_queue)
        .graceful_shutdown_period(GRACEFUL_SHUTDOWN_PERIOD)
        .max_cached_workflows(CACHED_WORKFLOWS)
        .activity_inbound_interceptor(counted)
        .register_activities(invoices);
    if traces_on() {
        // Temporal's tracing plugin: spans for the workflow, its handlers and each activity it
        // schedules (replay-safe), and each activity run, all under the `_tracer-data` context
        // the API's request sent (invoice_service::traces).
        options = options
            .worker_plugin(temporalio_sdk::opentelemetry::OpenTelemetryPlugin::builder().build());
    }
    #[cfg(feature = "dev-tools")]
    let options = options
        .register_activities(invoice_activities::PlatformActivities::new())
        .register_workflow::<invoice_workflows::ping::PingWorkflow>()?;
    let options = options
        .register_workflow::<InvoiceWorkflow>()?
        .register_workflow::<invoice_workflows::AccountEmailWorkflow>()?
        .build();
    Ok(Worker::new(runtime, client, options)?)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use invoice_activities::panics::contain;

    /// Set in the child process that [`an_uncontained_panic_still_ends_the_process`] starts.
    const CHILD: &str = "INVOICE_WORKER_PANIC_CHILD";

    #[test]
    fn a_contained_panic_fails_its_call_and_the_worker_lives_on() {
        // cargo-nextest runs each test in its own process: the hook stays within this test.
        super::crash_on_panic();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        // Where the render runs: the blocking pool.
        let rendered = runtime
            .block_on(async {
                tokio::task::spawn_blocking(|| contain(|| -> Vec<u8> { panic!("typst") })).await
            })
            .expect("the blocking task returns instead of unwinding");
        assert_eq!(rendered, Err("typst".to_owned()));
        assert_eq!(contain(|| 1), Ok(1));
    }

    #[test]
    fn an_uncontained_panic_still_ends_the_process() {
        if std::env::var_os(CHILD).is_some() {
            super::crash_on_panic();
            // Like a panic on the Temporal core's thread: nothing contains it.
            let _ = std::thread::spawn(|| panic!("core thread")).join();
            // Only reached if the hook let the panic through.
            std::process::exit(0);
        }
        let test = "tests::an_uncontained_panic_still_ends_the_process";
        let status = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .status()
            .unwrap();
        assert!(!status.success(), "the child survived an uncontained panic: {status}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(status.signal(), Some(6), "expected SIGABRT, got {status}");
        }
    }
}

//! The worker binary: config -> telemetry -> Temporal client -> register workflows and
//! activities -> poll until SIGTERM/SIGINT, then drain and exit 0.

mod telemetry;

use std::{process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::Parser;
use invoice_activities::PlatformActivities;
use invoice_worker::providers::ProviderConfig;
use invoice_worker::{Runtime, TemporalConfig, build_worker, connect_with_retry};
use temporalio_sdk::runtime::RuntimeOptions;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{error, info, warn};

use crate::telemetry::LogFormat;

/// Runs the invoice workflows and activities.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Config {
    /// Temporal frontend, `host:port` or URL.
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "http://127.0.0.1:7233")]
    temporal_address: String,
    /// Temporal namespace.
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    temporal_namespace: String,
    /// Task queue to poll.
    #[arg(long, env = "TEMPORAL_TASK_QUEUE", default_value = invoice_workflows::TASK_QUEUE)]
    temporal_task_queue: String,
    /// How long to keep retrying while Temporal is not reachable at start-up, in seconds.
    #[arg(long, env = "TEMPORAL_CONNECT_TIMEOUT_SECS", default_value_t = 60)]
    temporal_connect_timeout_secs: u64,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    #[command(flatten)]
    providers: ProviderConfig,
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(error) = telemetry::init(config.log_format) {
        eprintln!("invoice-worker: {error:#}");
        return ExitCode::FAILURE;
    }
    crash_on_panic();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!(error = format!("{error:#}"), "worker failed");
            ExitCode::FAILURE
        }
    }
}

/// A panic on any thread ends the process. The Temporal core runs workflows on its own thread;
/// if that thread panics (sdk-core 0.10.1 does, "Trying to send a new WFT for a run which
/// already has one!", under a burst of updates on one run), the worker would stay up and poll
/// nothing. Exiting lets the process manager start a fresh worker, and Temporal hands the lost
/// tasks to it: nothing is lost, only delayed.
fn crash_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        error!(panic = %info, "a worker thread panicked; exiting so that a fresh worker takes over");
        std::process::abort();
    }));
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Installed before connecting so that a stop request while we wait for Temporal is a clean
    // exit rather than the default signal disposition killing the process.
    let mut signals = ShutdownSignals::install()?;

    let temporal =
        TemporalConfig { address: config.temporal_address, namespace: config.temporal_namespace };
    let budget = Duration::from_secs(config.temporal_connect_timeout_secs);
    info!(address = %temporal.address, namespace = %temporal.namespace, "connecting to Temporal");
    let client = tokio::select! {
        client = connect_with_retry(&temporal, budget) => client?,
        signal = signals.next() => {
            info!(signal, "shutdown requested before Temporal was reachable; exiting");
            return Ok(());
        }
    };

    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())
        .context("starting the Temporal runtime")?;
    let invoices = config.providers.build().await.context("setting up the providers")?;
    let mut worker = build_worker(
        &runtime,
        client,
        &config.temporal_task_queue,
        PlatformActivities::new(),
        invoices,
    )?;

    // `Worker::run` is not `Send`, so it stays on this task and the signal watcher moves to
    // its own; initiating shutdown makes `run` stop polling, finish in-flight tasks and return.
    let initiate_shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        let signal = signals.next().await;
        info!(signal, "shutdown requested; finishing in-flight tasks");
        initiate_shutdown();
        let signal = signals.next().await;
        warn!(signal, "second shutdown request; exiting without draining");
        std::process::exit(1);
    });

    info!(
        task_queue = %config.temporal_task_queue,
        namespace = %temporal.namespace,
        "polling task queue"
    );
    worker.run().await.context("worker stopped with an error")?;
    info!("worker shut down cleanly");
    Ok(())
}

/// SIGTERM (orchestrators) and SIGINT (Ctrl-C in `make dev`).
struct ShutdownSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    /// Waits for the next shutdown signal and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

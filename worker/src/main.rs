//! The worker binary: config -> telemetry -> Temporal client -> register workflows and
//! activities -> poll until SIGTERM/SIGINT, then drain and exit 0.

use std::{process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::Parser;
use invoice_service::shutdown::ShutdownSignals;
use invoice_service::temporal::connect_with_retry;
use invoice_service::{LogFormat, PaymentProviderSetting, TemporalArgs, TemporalSettings};
use invoice_worker::providers::ProviderConfig;
use invoice_worker::{Runtime, build_worker};
use temporalio_sdk::runtime::RuntimeOptions;
use tracing::{error, info, warn};

/// Bound on one connection attempt (TCP connect, then the namespace check), so an address that
/// drops packets fails an attempt instead of hanging it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the invoice workflows and activities.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Config {
    #[command(flatten)]
    temporal: TemporalArgs,
    /// How long to keep retrying while Temporal is not reachable at start-up, in seconds.
    #[arg(long, env = "TEMPORAL_CONNECT_TIMEOUT_SECS", default_value_t = 60)]
    temporal_connect_timeout_secs: u64,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    #[command(flatten)]
    providers: ProviderConfig,
    /// Seconds between two reports of the task queue's backlog (gauges, and CloudWatch's
    /// embedded metric format with `CLOUDWATCH_EMF_NAMESPACE`); 0: none.
    #[arg(long = "backlog-report-seconds", env = "BACKLOG_REPORT_SECONDS", default_value_t = 60)]
    backlog_report_seconds: u64,
    /// CloudWatch namespace of the backlog metrics printed to stdout in the embedded metric
    /// format (ECS ships them; the worker service scales on `BacklogAgeSeconds`); unset or
    /// empty: none.
    #[arg(long = "cloudwatch-emf-namespace", env = "CLOUDWATCH_EMF_NAMESPACE")]
    cloudwatch_emf_namespace: Option<String>,
    /// Address of the Prometheus metrics listener (`GET /metrics`); unset: none.
    #[arg(long = "metrics-addr", env = "METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// The SQS queue SES's bounce and complaint events arrive on (configuration set -> SNS ->
    /// SQS); unset or empty: they are not read.
    #[arg(long = "ses-events-queue-url", env = "SES_EVENTS_QUEUE_URL")]
    ses_events_queue_url: Option<String>,
    /// An SQS-compatible endpoint instead of AWS (moto in tests).
    #[arg(long = "sqs-endpoint-url", env = "SQS_ENDPOINT_URL")]
    sqs_endpoint_url: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    // A setting that is unsafe where the worker runs stops it here, in one line naming the
    // variable, before it connects anywhere.
    let checked = config.providers.check().and_then(|provider| {
        if config.providers.environment.app_env()?.is_production() {
            invoice_service::temporal::production_check(&config.temporal)?;
        }
        Ok(provider)
    });
    let provider = match checked {
        Ok(provider) => provider,
        Err(refusal) => {
            eprintln!("invoice-worker: {refusal}");
            return ExitCode::from(invoice_service::environment::REFUSED_EXIT_CODE);
        }
    };
    // Workflow spans get their ids from the run's replay-safe randomness (Temporal's plugin).
    let traces =
        invoice_service::telemetry::init_with(config.log_format, "info", "invoice-worker", |p| {
            p.with_id_generator(temporalio_sdk::opentelemetry::WorkflowIdGenerator::default())
        });
    invoice_worker::crash_on_panic();
    let code = match run(config, provider).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!(error = format!("{error:#}"), "worker failed");
            ExitCode::FAILURE
        }
    };
    if let Some(traces) = traces {
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    code
}

async fn run(config: Config, provider: PaymentProviderSetting) -> anyhow::Result<()> {
    // Installed before connecting so that a stop request while we wait for Temporal is a clean
    // exit rather than the default signal disposition killing the process.
    let mut signals = ShutdownSignals::install().context("installing the signal handlers")?;

    let temporal = TemporalSettings::load(&config.temporal)?;
    let budget = Duration::from_secs(config.temporal_connect_timeout_secs);
    info!(address = %temporal.address, namespace = %temporal.namespace, tls = temporal.tls, "connecting to Temporal");
    let client = tokio::select! {
        client = connect_with_retry(&temporal, ATTEMPT_TIMEOUT, budget) => client?,
        signal = signals.next() => {
            info!(signal, "shutdown requested before Temporal was reachable; exiting");
            return Ok(());
        }
    };

    // With a metrics listener, the SDK's own metrics go to an exporter it republishes.
    let sdk_metrics = match config.metrics_addr {
        Some(_) => {
            Some(invoice_worker::start_sdk_exporter().context("starting the SDK's metrics")?)
        }
        None => None,
    };
    let runtime_options = match &sdk_metrics {
        Some(sdk) => RuntimeOptions::builder()
            .telemetry_options(sdk.telemetry())
            .build()
            .map_err(anyhow::Error::msg)?,
        None => RuntimeOptions::default(),
    };
    let runtime =
        Runtime::from_current_tokio(runtime_options).context("starting the Temporal runtime")?;
    let invoices = config.providers.build().await.context("setting up the providers")?;
    tokio::spawn(invoice_worker::presence::heartbeat(invoices.db.clone(), provider));
    if let Some(addr) = config.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("bind the metrics listener {addr}"))?;
        info!(%addr, "metrics at http://{addr}/metrics");
        let sdk = sdk_metrics.as_ref().map(|sdk| sdk.addr);
        tokio::spawn(invoice_worker::serve_metrics(listener, invoices.metrics.clone(), sdk));
    }
    if config.backlog_report_seconds > 0 {
        tokio::spawn(invoice_worker::backlog::report(
            client.clone(),
            temporal.namespace.clone(),
            temporal.task_queue.clone(),
            Duration::from_secs(config.backlog_report_seconds),
            config.cloudwatch_emf_namespace.clone().filter(|ns| !ns.trim().is_empty()),
            invoices.metrics.clone(),
        ));
    }
    if let Some(queue_url) = config.ses_events_queue_url.clone().filter(|u| !u.trim().is_empty()) {
        let endpoint = config.sqs_endpoint_url.as_deref().filter(|u| !u.trim().is_empty());
        let region = &config.providers.storage.aws_region;
        let queue =
            invoice_worker::feedback::FeedbackQueue::connect(queue_url, region, endpoint).await;
        tokio::spawn(invoice_worker::feedback::consume(
            queue,
            invoices.db.clone(),
            client.clone(),
            invoices.metrics.clone(),
        ));
    }
    let mut worker = build_worker(&runtime, client, &temporal.task_queue, invoices)?;

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

    info!(task_queue = %temporal.task_queue, namespace = %temporal.namespace, "polling task queue");
    worker.run().await.context("worker stopped with an error")?;
    info!("worker shut down cleanly");
    Ok(())
}

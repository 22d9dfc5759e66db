//! Logging for both binaries: JSON lines when stdout is not a terminal (containers, CI, `make
//! dev` writing to a log file), human-readable output on a terminal. `RUST_LOG` filters.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::traces::Exporter;

/// `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON unless stdout is a terminal.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable, coloured.
    Pretty,
}

/// Installs the global subscriber; `default_filter` applies when `RUST_LOG` is unset. A second
/// call (tests build several apps in one process) keeps the first subscriber.
///
/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported as traces (service
/// `service`, or `OTEL_SERVICE_NAME`), and JSON log lines carry their spans' fields, the trace
/// id among them (`crate::traces`). Keep the returned exporter and shut it down at exit.
pub fn init(format: LogFormat, default_filter: &str, service: &str) -> Option<Exporter> {
    init_with(format, default_filter, service, |provider| provider)
}

/// [`init`], adding to the tracer provider (the worker's replay-safe span ids).
pub fn init_with(
    format: LogFormat,
    default_filter: &str,
    service: &str,
    configure: impl FnOnce(
        opentelemetry_sdk::trace::TracerProviderBuilder,
    ) -> opentelemetry_sdk::trace::TracerProviderBuilder,
) -> Option<Exporter> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let (exporter, otel) = match crate::traces::exporter(service, configure) {
        Ok(Some((exporter, layer))) => (Some(exporter), Some(layer)),
        Ok(None) => (None, None),
        Err(problem) => {
            eprintln!("{service}: traces are off: {problem}");
            (None, None)
        }
    };
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let fmt = tracing_subscriber::fmt::layer().with_target(true);
    let _ = if json {
        // The span list: a line logged inside a request or an activity carries its trace id.
        registry
            .with(fmt.json().flatten_event(true).with_current_span(true).with_span_list(true))
            .try_init()
    } else {
        registry.with(fmt).try_init()
    };
    exporter
}

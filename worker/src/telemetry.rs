//! Logging for the worker binary: JSON lines when stdout is not a terminal (containers, CI,
//! `make dev` piping into a log collector), human-readable output on a terminal.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable, coloured.
    Pretty,
    /// JSON unless stdout is a terminal.
    Auto,
}

/// Installs the global subscriber. The filter comes from `RUST_LOG`, defaulting to `info`.
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info"))?;
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = fmt().with_env_filter(filter);
    let installed = if json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|error| anyhow::anyhow!("installing the log subscriber failed: {error}"))
}

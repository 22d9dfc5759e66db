//! `invoice-api`: serves the HTTP API (and the built web app), or applies migrations, prints the
//! OpenAPI document, or (in a `dev-tools` build) fills the demo organisation.

use anyhow::Context;
use clap::Parser;
use invoice_api::config::{Cli, Command};
use invoice_service::shutdown::ShutdownSignals;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let config = cli.config;
    let command = cli.command.unwrap_or(Command::Serve);
    // A setting that is unsafe where the API runs stops it here, in one line naming the
    // variable, before anything is served.
    if matches!(command, Command::Serve)
        && let Err(refusal) = config.checked_payment_provider()
    {
        eprintln!("invoice-api: {refusal}");
        return Ok(std::process::ExitCode::from(invoice_service::environment::REFUSED_EXIT_CODE));
    }
    let traces = invoice_service::telemetry::init(
        config.log_format,
        "info,tower_http=info,sqlx=warn",
        "invoice-api",
    );
    match command {
        Command::Migrate => {
            invoice_api::migrate(&config.database_url).await.context("migrate the database")?;
        }
        #[cfg(feature = "dev-tools")]
        Command::DemoData(args) => invoice_api::demo::run(&config, &args).await?,
        Command::Support(command) => {
            let db =
                invoice_service::database::pool(&config.database_url, 1).context("DATABASE_URL")?;
            invoice_api::support::run_command(&db, command).await?;
        }
        Command::Openapi => {
            println!("{}", invoice_api::openapi::document().to_pretty_json()?);
        }
        Command::Serve => {
            let mut signals = ShutdownSignals::install().context("installing signal handlers")?;
            let state = invoice_api::build_state(&config).await?;
            let live = state.live.clone();
            tokio::spawn(invoice_api::housekeeping::run(state.db.clone()));
            if let Some(addr) = config.metrics_addr {
                let metrics = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("bind the metrics listener {addr}"))?;
                tracing::info!(%addr, "metrics at http://{addr}/metrics");
                let routes = invoice_api::metrics::router(state.clone());
                tokio::spawn(async move {
                    if let Err(error) = axum::serve(metrics, routes).await {
                        tracing::error!(%error, "metrics listener failed");
                    }
                });
            }
            let app = invoice_api::router(state, config.body_limit_bytes);
            let listener = tokio::net::TcpListener::bind(config.addr)
                .await
                .with_context(|| format!("bind {}", config.addr))?;
            tracing::info!(addr = %config.addr, docs = %format!("http://{}/api-docs", config.addr), "API listening");
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let signal = signals.next().await;
                tracing::info!(signal, "shutdown requested; finishing in-flight requests");
                live.close_all();
            })
            .await?;
            tracing::info!("API stopped");
        }
    }
    if let Some(traces) = traces {
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

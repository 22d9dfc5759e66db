//! `invoice-api`: serves the HTTP API (and the built web app), or applies migrations, prints the
//! OpenAPI document, or fills the demo organisation.

use anyhow::Context;
use clap::Parser;
use invoice_api::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.config;
    invoice_api::telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            invoice_api::migrate(&config.database_url).await.context("migrate the database")
        }
        Command::DemoData(args) => invoice_api::demo::run(&config, &args).await,
        Command::Openapi => {
            println!("{}", invoice_api::openapi::document().to_pretty_json()?);
            Ok(())
        }
        Command::Serve => {
            let state = invoice_api::build_state(&config).await?;
            let live = state.live.clone();
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
                shutdown_signal().await;
                live.close_all();
            })
            .await?;
            tracing::info!("API stopped");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

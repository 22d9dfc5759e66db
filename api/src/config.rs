//! Typed configuration of the API binary, read from flags or the environment
//! (every variable is documented in `.env.example`).

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
pub use invoice_service::{LogFormat, TemporalArgs};
use secrecy::SecretString;

#[derive(Debug, Clone, Parser)]
#[command(name = "invoice-api", about = "The invoice platform's HTTP API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Create the database if it is missing, apply pending migrations, and exit.
    Migrate,
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Fill the demo organisation with deterministic invoices, payments and page views (for the
    /// dashboard), creating it and its owner if missing. Running it again changes nothing. A
    /// development tool: only in builds with the `dev-tools` feature.
    #[cfg(feature = "dev-tools")]
    DemoData(crate::demo::DemoArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Postgres connection string.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/invoices"
    )]
    pub database_url: String,

    /// Maximum connections in the Postgres pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Connections held by updates to invoices' workflows, one per invoice being changed at
    /// that moment, apart from the pool above; when all are in use, further updates answer 503.
    #[arg(long, env = "DATABASE_TURN_CONNECTIONS", default_value_t = 10)]
    pub database_turn_connections: u32,

    /// Seconds an action waits for another change to the same invoice to finish before it
    /// answers 503 `invoice_busy`.
    #[arg(long, env = "API_UPDATE_TURN_WAIT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub update_turn_wait_secs: u64,

    /// Seconds an action waits for the invoice's workflow to answer (a checkout or an edit runs
    /// an activity) before it answers 503 `workflow_slow`. The invoice's next change still waits
    /// until the workflow has answered this one.
    #[arg(long, env = "API_UPDATE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub update_timeout_secs: u64,

    /// Temporal: address, namespace and task queue as flags; TLS, API key and profiles from
    /// the SDK's standard `TEMPORAL_*` variables (see `invoice_service::temporal`).
    #[command(flatten)]
    pub temporal: TemporalArgs,

    #[command(flatten)]
    pub auth: AuthConfig,
    #[command(flatten)]
    pub payments: PaymentsConfig,
    #[command(flatten)]
    pub web: WebConfig,

    /// Where the worker stores PDFs: the API hands them out from there.
    #[command(flatten)]
    pub storage: invoice_storage::StorageArgs,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "API_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// Log output: `json`, `pretty`, or `auto` (JSON unless stdout is a terminal).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "auto")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuthConfig {
    /// HMAC key for access tokens (HS256); at least 32 bytes.
    #[arg(long = "jwt-secret", env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: SecretString,

    /// Lifetime of an access token, in seconds.
    #[arg(long = "access-token-ttl", env = "ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Lifetime of a refresh token, in seconds.
    #[arg(long = "refresh-token-ttl", env = "REFRESH_TOKEN_TTL_SECONDS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,

    /// Failed logins allowed per account within the window before 429.
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    pub login_max_failures_per_account: i32,

    /// Failed logins allowed per client IP within the window before 429.
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_IP", default_value_t = 20)]
    pub login_max_failures_per_ip: i32,

    /// Length of the login throttle window, in seconds.
    #[arg(long, env = "LOGIN_THROTTLE_WINDOW_SECONDS", default_value_t = 900)]
    pub login_throttle_window_secs: i64,

    /// How often an open `/api/ws` socket re-checks that its caller is still a member of the
    /// organisation (or its API key still valid), in seconds; it closes when not.
    #[arg(long, env = "LIVE_MEMBERSHIP_CHECK_SECONDS", default_value_t = 60)]
    pub live_membership_check_secs: u64,

    /// Take the client IP from the first `X-Forwarded-For` entry (only behind a trusted proxy).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
}

/// How clients pay: Stripe (when its webhook secret is set) or the built-in test checkout.
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentsConfig {
    /// Signing secret of the Stripe webhook endpoint (`whsec_...`). Without it the provider is
    /// `local`: the test checkout is served and its events are signed with the local secret.
    #[arg(long = "stripe-webhook-secret", env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<SecretString>,
    /// The secret the local test checkout signs its Stripe-format events with.
    #[arg(
        long = "local-webhook-secret",
        env = "LOCAL_WEBHOOK_SECRET",
        default_value = "whsec_local_test_checkout",
        hide_env_values = true
    )]
    pub local_webhook_secret: SecretString,
}

impl PaymentsConfig {
    /// The local test checkout with its default secret.
    pub fn local() -> Self {
        Self {
            stripe_webhook_secret: None,
            local_webhook_secret: SecretString::from("whsec_local_test_checkout"),
        }
    }
}

/// The web app the API serves, and the links it shows.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebConfig {
    /// Directory of the built web app (`frontend/dist`), served at `/` with every unknown path
    /// that is not under `/api` answered by its `index.html`. Unset: no web app is served.
    #[arg(long = "web-dist", env = "WEB_DIST")]
    pub dist: Option<std::path::PathBuf>,
    /// Base URL of the Temporal UI (e.g. `http://127.0.0.1:8233`), for "open in Temporal UI".
    #[arg(long = "temporal-ui-url", env = "TEMPORAL_UI_URL")]
    pub temporal_ui_url: Option<String>,
}

impl AuthConfig {
    /// Settings for tests and examples: a fixed secret and the default limits.
    pub fn for_tests(secret: &str) -> Self {
        Self {
            jwt_secret: SecretString::from(secret.to_owned()),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 20,
            login_throttle_window_secs: 900,
            live_membership_check_secs: 60,
            trust_forwarded_for: true,
        }
    }
}

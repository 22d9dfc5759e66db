//! Typed configuration of the API binary, read from flags or the environment
//! (every variable is documented in `.env.example`).

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use invoice_service::environment::production;
pub use invoice_service::{
    AppEnv, EnvironmentArgs, LogFormat, PaymentProviderSetting, Refusal, TemporalArgs,
};
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
    /// Grant, revoke or list platform support staff (read-only access to every organisation's
    /// invoices and runs, and the codec server). Only here, never over HTTP.
    #[command(subcommand)]
    Support(crate::support::SupportCommand),
    /// Fill the demo organisation with deterministic invoices, payments and page views (for the
    /// dashboard), creating it and its owner if missing. Running it again changes nothing. A
    /// development tool: only in builds with the `dev-tools` feature.
    #[cfg(feature = "dev-tools")]
    DemoData(crate::demo::DemoArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// `APP_ENV` and `PAYMENT_PROVIDER`.
    #[command(flatten)]
    pub environment: EnvironmentArgs,

    /// Address the HTTP server listens on.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Address of the Prometheus metrics listener (`GET /metrics`), apart from the public port
    /// so that it is never exposed with it; unset: no metrics listener.
    #[arg(long = "metrics-addr", env = "API_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

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
    pub limits: LimitsConfig,
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

    /// Absolute lifetime of a login session, in seconds: refreshing never extends it past this
    /// much time after the login (or registration); then the user logs in again.
    #[arg(long = "session-max-lifetime", env = "SESSION_MAX_LIFETIME_SECONDS", default_value_t = 90 * 24 * 3600)]
    pub session_max_lifetime_secs: u64,

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
}

/// Limits on the public endpoints (`crate::limits`), and where the client's address comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsConfig {
    /// Proxies (load balancers) in front of the API that append to `X-Forwarded-For`; the
    /// client IP is the entry this many places from the right. 0: the socket peer.
    #[arg(long, env = "TRUSTED_PROXY_COUNT", default_value_t = 0)]
    pub trusted_proxies: usize,
    /// Requests per client IP per minute to each kind of public endpoint (hosted pages, pay,
    /// login and refresh).
    #[arg(long, env = "PUBLIC_RATE_LIMIT_PER_IP_PER_MINUTE", default_value_t = 120)]
    pub public_per_ip_per_minute: u32,
    /// Views of one invoice link (page, PDF) per minute, from anywhere.
    #[arg(long, env = "PAGE_RATE_LIMIT_PER_TOKEN_PER_MINUTE", default_value_t = 60)]
    pub page_per_token_per_minute: u32,
    /// Pay and checkout calls on one invoice link per minute, from anywhere.
    #[arg(long, env = "PAY_RATE_LIMIT_PER_TOKEN_PER_MINUTE", default_value_t = 10)]
    pub pay_per_token_per_minute: u32,
    /// Registrations per client IP per hour.
    #[arg(long, env = "REGISTER_RATE_LIMIT_PER_IP_PER_HOUR", default_value_t = 10)]
    pub register_per_ip_per_hour: u32,
    /// Webhook deliveries per sender IP per minute (the provider's bursts fit well within).
    #[arg(long, env = "WEBHOOK_RATE_LIMIT_PER_IP_PER_MINUTE", default_value_t = 1200)]
    pub webhook_per_ip_per_minute: u32,
    /// Resends and remind-now calls per invoice per day (together).
    #[arg(long, env = "INVOICE_EMAILS_ON_DEMAND_PER_DAY", default_value_t = 5)]
    pub emails_on_demand_per_invoice_per_day: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: 0,
            public_per_ip_per_minute: 120,
            page_per_token_per_minute: 60,
            pay_per_token_per_minute: 10,
            register_per_ip_per_hour: 10,
            webhook_per_ip_per_minute: 1200,
            emails_on_demand_per_invoice_per_day: 5,
        }
    }
}

/// The secrets of the payment provider's events: Stripe's webhook secret, or the local one the
/// built-in test checkout signs with (`PAYMENT_PROVIDER` chooses which is in use).
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentsConfig {
    /// Signing secret of the Stripe webhook endpoint (`whsec_...`); required with
    /// `PAYMENT_PROVIDER=stripe`.
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

/// The secret the test checkout signs with unless `LOCAL_WEBHOOK_SECRET` says otherwise: public,
/// so never accepted as Stripe's.
pub const LOCAL_WEBHOOK_SECRET: &str = "whsec_local_test_checkout";

impl Config {
    /// The payment provider this API serves, after the start-up checks: in production every
    /// setting that is only safe on a developer's machine is a [`Refusal`] naming its variable.
    pub fn checked_payment_provider(&self) -> Result<PaymentProviderSetting, Refusal> {
        use secrecy::ExposeSecret as _;
        let stripe_secret = self
            .payments
            .stripe_webhook_secret
            .as_ref()
            .map(|s| s.expose_secret().trim().to_owned())
            .filter(|s| !s.is_empty());
        let provider = self.environment.payment_provider(stripe_secret.is_some())?;
        if provider == PaymentProviderSetting::Stripe {
            match stripe_secret.as_deref() {
                None => {
                    return Err(Refusal::new(
                        "STRIPE_WEBHOOK_SECRET",
                        "must be set with PAYMENT_PROVIDER=stripe",
                    ));
                }
                Some(LOCAL_WEBHOOK_SECRET) => {
                    return Err(Refusal::new(
                        "STRIPE_WEBHOOK_SECRET",
                        "is the public local test secret; set the endpoint's secret from Stripe",
                    ));
                }
                Some(_) => {}
            }
        }
        if self.environment.app_env()?.is_production() {
            production::jwt_secret(self.auth.jwt_secret.expose_secret())?;
            production::database_url("DATABASE_URL", &self.database_url)?;
            invoice_service::temporal::production_check(&self.temporal)?;
            if let Some(url) = self.web.temporal_ui_url.as_deref().map(str::trim)
                && !url.is_empty()
                && !url.starts_with("https://")
            {
                return Err(Refusal::new(
                    "TEMPORAL_UI_URL",
                    format!(
                        "is {url}: in production the Temporal UI that reads decrypted payloads \
                         must be reached over https://"
                    ),
                ));
            }
            for switch in ["DEMO_DATA", "FAULT_CRASH_EVERY"] {
                production::dev_switch_off(switch, std::env::var(switch).ok().as_deref())?;
            }
        }
        Ok(provider)
    }
}

impl PaymentsConfig {
    /// The local test checkout with its default secret.
    pub fn local() -> Self {
        Self {
            stripe_webhook_secret: None,
            local_webhook_secret: SecretString::from(LOCAL_WEBHOOK_SECRET),
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
    /// The Temporal UI support staff use (`http://127.0.0.1:8233` in `make dev`,
    /// `https://cloud.temporal.io` with Temporal Cloud): the support views link each run there,
    /// and the codec server (`/codec`) answers that origin's browser requests (CORS, with
    /// credentials). Unset or empty: no links, and only non-browser clients (the CLI) decode.
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
            session_max_lifetime_secs: 90 * 24 * 3600,
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 20,
            login_throttle_window_secs: 900,
            live_membership_check_secs: 60,
        }
    }
}

//! Configuration of the worker's providers (database, object storage, email, payments) from flags or the
//! environment, and building the invoice activities from it.

use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use invoice_activities::InvoiceActivities;
use invoice_activities::email::{EmailConfig, Mailer, SesConfig, SmtpConfig, TransportConfig};
use invoice_activities::metrics::WorkerMetrics;
use invoice_activities::payments::{Payments, PaymentsConfig, StripeConfig};
use invoice_activities::pdf::PdfRenderer;
use invoice_activities::storage::{ObjectStore, StorageArgs};
use invoice_service::environment::production;
use invoice_service::{EnvironmentArgs, PaymentProviderSetting, Refusal};
use secrecy::ExposeSecret as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmailBackend {
    Smtp,
    Ses,
}

#[derive(Debug, Clone, Args)]
pub struct ProviderConfig {
    /// `APP_ENV` and `PAYMENT_PROVIDER`.
    #[command(flatten)]
    pub environment: EnvironmentArgs,
    /// Postgres connection string.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/invoices"
    )]
    pub database_url: String,
    /// Maximum connections in the worker's Postgres pool.
    #[arg(long, env = "WORKER_DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// How email is sent.
    #[arg(long, env = "EMAIL_BACKEND", value_enum, default_value = "smtp")]
    pub email_backend: EmailBackend,
    /// Emails (invoices, reminders, receipts) one organisation may send per day; a send beyond
    /// it parks the invoice in `needs_attention`.
    #[arg(long, env = "EMAIL_DAILY_QUOTA_PER_ORG", default_value_t = 500)]
    pub email_daily_quota_per_org: u32,
    /// The sender of invoice emails.
    #[arg(long, env = "EMAIL_FROM", default_value = "Invoices <invoices@localhost>")]
    pub email_from: String,
    /// SMTP relay (with `EMAIL_BACKEND=smtp`), e.g. the local mail catcher.
    #[arg(long, env = "SMTP_URL", default_value = "smtp://127.0.0.1:1025")]
    pub smtp_url: String,
    #[arg(long, env = "SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// An SES-compatible endpoint instead of AWS.
    #[arg(long, env = "SES_ENDPOINT_URL")]
    pub ses_endpoint_url: Option<String>,
    /// SES configuration set for delivery events.
    #[arg(long, env = "SES_CONFIGURATION_SET")]
    pub ses_configuration_set: Option<String>,
    /// Where clients reach the API: the hosted invoice links in PDFs and emails, and the
    /// checkout's return URLs.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub public_base_url: String,
    /// Stripe secret key; required with `PAYMENT_PROVIDER=stripe`.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<secrecy::SecretString>,
    /// Another Stripe API base URL (tests); Stripe's own when unset.
    #[arg(long, env = "STRIPE_API_BASE")]
    pub stripe_api_base: Option<String>,
}

impl ProviderConfig {
    fn stripe_secret_key(&self) -> Option<&secrecy::SecretString> {
        self.stripe_secret_key.as_ref().filter(|k| !k.expose_secret().trim().is_empty())
    }

    /// The payment provider the worker uses, after the start-up checks: in production every
    /// setting that is only safe on a developer's machine is a [`Refusal`] naming its variable.
    pub fn check(&self) -> Result<PaymentProviderSetting, Refusal> {
        let provider = self.environment.payment_provider(self.stripe_secret_key().is_some())?;
        if provider == PaymentProviderSetting::Stripe && self.stripe_secret_key().is_none() {
            return Err(Refusal::new(
                "STRIPE_SECRET_KEY",
                "must be set with PAYMENT_PROVIDER=stripe",
            ));
        }
        if self.environment.app_env()?.is_production() {
            production::database_url("DATABASE_URL", &self.database_url)?;
            production::public_base_url(&self.public_base_url)?;
            if self.email_backend == EmailBackend::Smtp {
                production::smtp_url(&self.smtp_url)?;
            }
            for switch in ["DEMO_DATA", "FAULT_CRASH_EVERY"] {
                production::dev_switch_off(switch, std::env::var(switch).ok().as_deref())?;
            }
        }
        Ok(provider)
    }

    /// Builds the invoice activities. Nothing here needs the providers to be up yet: the pool
    /// connects lazily and the mailer and store connect on first use.
    pub async fn build(&self) -> anyhow::Result<InvoiceActivities> {
        let provider = self.check()?;
        let db = invoice_service::database::pool(&self.database_url, self.database_max_connections)
            .context("DATABASE_URL")?;
        let store =
            ObjectStore::from_config(&self.storage.config()).await.context("object storage")?;
        let transport = match self.email_backend {
            EmailBackend::Smtp => TransportConfig::Smtp(SmtpConfig {
                username: self.smtp_username.clone(),
                password: self.smtp_password.clone().map(Into::into),
                ..SmtpConfig::new(self.smtp_url.clone())
            }),
            EmailBackend::Ses => TransportConfig::Ses(SesConfig {
                region: self.storage.aws_region.clone(),
                endpoint_url: self.ses_endpoint_url.clone(),
                configuration_set: self.ses_configuration_set.clone(),
            }),
        };
        let mailer = Mailer::from_config(&EmailConfig { from: self.email_from.clone(), transport })
            .await
            .context("email")?;
        let payments = Payments::from_config(&PaymentsConfig {
            public_base_url: self.public_base_url.clone(),
            stripe: self
                .stripe_secret_key()
                .filter(|_| provider == PaymentProviderSetting::Stripe)
                .map(|secret_key| StripeConfig {
                    secret_key: secret_key.clone(),
                    api_base: self.stripe_api_base.clone().filter(|b| !b.is_empty()),
                }),
            online: provider != PaymentProviderSetting::None,
        })
        .context("payments")?;
        Ok(InvoiceActivities {
            db,
            pdf: Arc::new(PdfRenderer::new()),
            store,
            mailer,
            payments,
            daily_email_quota: self.email_daily_quota_per_org,
            metrics: Arc::new(WorkerMetrics::new()),
        })
    }
}

//! Where a binary runs (`APP_ENV`), which payment provider it uses (`PAYMENT_PROVIDER`), and
//! the checks that keep a production start-up from running on a development setting.
//!
//! In `production` a setting that is only safe on a developer's machine is refused at start-up,
//! with one line naming the variable ([`Refusal`]); it is never replaced by a default. The API
//! and the worker run the checks that concern what they read.

use std::fmt;

use clap::ValueEnum;

/// `APP_ENV`: `development` (the `make dev` default), `test` or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub fn is_production(self) -> bool {
        self == AppEnv::Production
    }
}

/// `PAYMENT_PROVIDER`: how clients pay. `test` is the built-in test checkout (development and
/// tests only); `none` shows no Pay button and accepts no provider events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaymentProviderSetting {
    Stripe,
    Test,
    None,
}

impl PaymentProviderSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentProviderSetting::Stripe => "stripe",
            PaymentProviderSetting::Test => "test",
            PaymentProviderSetting::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        <Self as ValueEnum>::from_str(text, true).ok()
    }
}

impl fmt::Display for PaymentProviderSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The variables both binaries read to know where they run and how clients pay.
#[derive(Debug, Clone, clap::Args)]
pub struct EnvironmentArgs {
    /// `development`, `test` or `production`; required to serve (a deployment that forgot it
    /// does not start on development defaults). In production unsafe settings are refused.
    #[arg(long = "app-env", env = "APP_ENV", value_enum)]
    pub app_env: Option<AppEnv>,
    /// `stripe`, `test` (the built-in test checkout; refused in production) or `none`. Required
    /// in production; elsewhere, unset means `stripe` when Stripe is configured, else `test`.
    #[arg(long = "payment-provider", env = "PAYMENT_PROVIDER", value_enum)]
    pub payment_provider: Option<PaymentProviderSetting>,
}

impl EnvironmentArgs {
    /// Where this binary runs; unset is a [`Refusal`].
    pub fn app_env(&self) -> Result<AppEnv, Refusal> {
        self.app_env.ok_or_else(|| {
            Refusal::new("APP_ENV", "must be set: `development`, `test` or `production`")
        })
    }

    /// The provider in use: the explicit one, or (outside production) the one the Stripe
    /// settings imply. In production an unset or `test` provider is a [`Refusal`].
    pub fn payment_provider(
        &self,
        stripe_configured: bool,
    ) -> Result<PaymentProviderSetting, Refusal> {
        match (self.payment_provider, self.app_env()?.is_production()) {
            (None, true) => Err(Refusal::new(
                "PAYMENT_PROVIDER",
                "must be set in production: `stripe` or `none`",
            )),
            (Some(PaymentProviderSetting::Test), true) => Err(Refusal::new(
                "PAYMENT_PROVIDER",
                "`test` (the built-in test checkout, which anyone can use to mark an invoice paid) \
                 is refused in production",
            )),
            (Some(provider), _) => Ok(provider),
            (None, false) if stripe_configured => Ok(PaymentProviderSetting::Stripe),
            (None, false) => Ok(PaymentProviderSetting::Test),
        }
    }
}

/// The exit status of a binary that refused its configuration (sysexits' `EX_CONFIG`).
pub const REFUSED_EXIT_CODE: u8 = 78;

/// A setting refused at start-up: which variable, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to start: {variable} {reason}")]
pub struct Refusal {
    pub variable: &'static str,
    pub reason: String,
}

impl Refusal {
    pub fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        Self { variable, reason: reason.into() }
    }
}

/// Checks that only apply in production; each returns the first problem of its setting.
pub mod production {
    use super::Refusal;

    /// The prefix `make dev` gives the JWT secret it generates, so production can recognise it.
    pub const DEV_SECRET_PREFIX: &str = "dev-only-";
    /// Shortest accepted JWT secret, in bytes.
    pub const MIN_JWT_SECRET_BYTES: usize = 32;

    /// A Postgres URL must ask for TLS: `sslmode=require`, `verify-ca` or `verify-full`.
    pub fn database_url(variable: &'static str, url: &str) -> Result<(), Refusal> {
        let mode = query_param(url, "sslmode");
        match mode.as_deref() {
            Some("require" | "verify-ca" | "verify-full") => Ok(()),
            Some(other) => Err(Refusal::new(
                variable,
                format!(
                    "has sslmode={other}; production needs sslmode=require, verify-ca or verify-full"
                ),
            )),
            None => Err(Refusal::new(
                variable,
                "does not ask for TLS; add sslmode=require (or verify-ca, verify-full)",
            )),
        }
    }

    /// The base of every link a client gets must be https.
    pub fn public_base_url(url: &str) -> Result<(), Refusal> {
        if url.trim().to_ascii_lowercase().starts_with("https://") {
            Ok(())
        } else {
            Err(Refusal::new("PUBLIC_BASE_URL", format!("must be an https URL, not {url:?}")))
        }
    }

    /// An SMTP relay must be reached over implicit TLS (`smtps://`) or required STARTTLS
    /// (`smtp://...?tls=required`); plain or opportunistic SMTP can be read or downgraded.
    pub fn smtp_url(url: &str) -> Result<(), Refusal> {
        let lower = url.trim().to_ascii_lowercase();
        if lower.starts_with("smtps://") {
            return Ok(());
        }
        if lower.starts_with("smtp://") && query_param(&lower, "tls").as_deref() == Some("required")
        {
            return Ok(());
        }
        Err(Refusal::new(
            "SMTP_URL",
            "must use TLS in production: smtps://host:465 or smtp://host:587?tls=required",
        ))
    }

    /// The JWT secret must be long and not the one `make dev` generated.
    pub fn jwt_secret(secret: &str) -> Result<(), Refusal> {
        if secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(Refusal::new(
                "JWT_SECRET",
                format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
            ));
        }
        if secret.starts_with(DEV_SECRET_PREFIX) {
            return Err(Refusal::new(
                "JWT_SECRET",
                "is the development secret `make dev` generated; set a random one",
            ));
        }
        Ok(())
    }

    /// A development-only switch (demo data, fault injection) must be unset or off.
    pub fn dev_switch_off(variable: &'static str, value: Option<&str>) -> Result<(), Refusal> {
        match value.map(str::trim) {
            None | Some("" | "0" | "false") => Ok(()),
            Some(_) => Err(Refusal::new(
                variable,
                "is a development tool and must not be set in production",
            )),
        }
    }

    /// The value of `name` in the URL's query, if present (no percent-decoding: the values
    /// checked here are plain words).
    fn query_param(url: &str, name: &str) -> Option<String> {
        let query = url.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or_default();
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then(|| value.to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::production::*;
    use super::*;

    fn args(app_env: AppEnv, provider: Option<PaymentProviderSetting>) -> EnvironmentArgs {
        EnvironmentArgs { app_env: Some(app_env), payment_provider: provider }
    }

    #[test]
    fn the_environment_must_be_named() {
        let unset = EnvironmentArgs { app_env: None, payment_provider: None };
        assert_eq!(unset.app_env().unwrap_err().variable, "APP_ENV");
        assert_eq!(unset.payment_provider(false).unwrap_err().variable, "APP_ENV");
    }

    #[test]
    fn production_needs_an_explicit_real_provider() {
        let prod = |p| args(AppEnv::Production, p).payment_provider(true);
        assert_eq!(prod(None).unwrap_err().variable, "PAYMENT_PROVIDER");
        assert!(prod(Some(PaymentProviderSetting::Test)).is_err());
        assert_eq!(prod(Some(PaymentProviderSetting::None)), Ok(PaymentProviderSetting::None));
        assert_eq!(prod(Some(PaymentProviderSetting::Stripe)), Ok(PaymentProviderSetting::Stripe));
        let dev = |stripe| args(AppEnv::Development, None).payment_provider(stripe);
        assert_eq!(dev(false), Ok(PaymentProviderSetting::Test));
        assert_eq!(dev(true), Ok(PaymentProviderSetting::Stripe));
    }

    #[test]
    fn database_urls_must_ask_for_tls() {
        assert!(database_url("DATABASE_URL", "postgres://u@db/x").is_err());
        assert!(database_url("DATABASE_URL", "postgres://u@db/x?sslmode=prefer").is_err());
        assert!(
            database_url("DATABASE_URL", "postgres://u@db/x?application_name=a&sslmode=require")
                .is_ok()
        );
        assert!(database_url("DATABASE_URL", "postgres://u@db/x?sslmode=verify-full").is_ok());
    }

    #[test]
    fn smtp_urls_must_use_tls() {
        assert!(smtp_url("smtp://relay:25").is_err());
        assert!(smtp_url("smtp://relay:587?tls=opportunistic").is_err());
        assert!(smtp_url("smtp://relay:587?tls=required").is_ok());
        assert!(smtp_url("smtps://relay:465").is_ok());
    }

    #[test]
    fn urls_secrets_and_switches() {
        assert!(public_base_url("http://pay.example.com").is_err());
        assert!(public_base_url("https://pay.example.com").is_ok());
        assert!(jwt_secret("short").is_err());
        assert!(jwt_secret(&format!("{DEV_SECRET_PREFIX}{}", "x".repeat(40))).is_err());
        assert!(jwt_secret(&"k".repeat(40)).is_ok());
        assert!(dev_switch_off("FAULT_CRASH_EVERY", Some("30")).is_err());
        assert!(dev_switch_off("FAULT_CRASH_EVERY", Some("0")).is_ok());
        assert!(dev_switch_off("DEMO_DATA", None).is_ok());
    }
}

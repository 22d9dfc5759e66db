//! Payments and the public side of invoices: the hosted invoice page (`/i/<token>`), the
//! checkout it starts (Stripe Checkout, or the built-in test checkout), and the webhook that
//! brings the provider's payment events to the invoice's workflow.

pub mod device;
mod events;
mod hosted;
mod page;
mod public;
pub mod signature;
mod test_checkout;
mod webhook;

use axum::Router;
use axum::routing::{get, post};
use invoice_domain::PaymentProvider;
use invoice_service::PaymentProviderSetting;
use secrecy::SecretString;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use events::WebhookAck;
pub use hosted::{CheckoutStarted, ViewThrottle};

use crate::config::PaymentsConfig;
use crate::state::AppState;

/// Which provider's events the webhook accepts, and with which secret.
#[derive(Debug)]
pub struct PaymentSettings {
    pub webhook_secret: SecretString,
    setting: PaymentProviderSetting,
}

impl PaymentSettings {
    /// The settings for `setting`, the provider the start-up checks chose
    /// ([`crate::config::Config::checked_payment_provider`]).
    pub fn from_config(config: &PaymentsConfig, setting: PaymentProviderSetting) -> Self {
        let webhook_secret = match setting {
            PaymentProviderSetting::Stripe => {
                config.stripe_webhook_secret.clone().unwrap_or_else(|| SecretString::from(""))
            }
            PaymentProviderSetting::Test => config.local_webhook_secret.clone(),
            PaymentProviderSetting::None => SecretString::from(""),
        };
        PaymentSettings { webhook_secret, setting }
    }

    /// The configured provider (`PAYMENT_PROVIDER`).
    pub fn setting(&self) -> PaymentProviderSetting {
        self.setting
    }

    /// Whose events are recorded: Stripe's, or the local test checkout's.
    pub fn provider(&self) -> PaymentProvider {
        if self.setting == PaymentProviderSetting::Stripe {
            PaymentProvider::Stripe
        } else {
            PaymentProvider::Local
        }
    }

    /// The built-in test checkout is served.
    pub fn is_local(&self) -> bool {
        self.setting == PaymentProviderSetting::Test
    }

    /// Clients can pay online (a provider is configured).
    pub fn online(&self) -> bool {
        self.setting != PaymentProviderSetting::None
    }
}

/// The documented JSON endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook::stripe_webhook))
        .routes(routes!(hosted::start_checkout))
}

/// The public HTML pages (not part of the JSON API).
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/i/{token}", get(hosted::show))
        .route("/i/{token}/pdf", get(hosted::pdf))
        .route("/i/{token}/pay", post(hosted::pay))
        .route("/i/{token}/test-checkout", get(test_checkout::show).post(test_checkout::complete))
}

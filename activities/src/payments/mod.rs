//! Payments: checkout sessions for the hosted invoice page's Pay button, at Stripe (Checkout,
//! through async-stripe) or, without Stripe keys, at the built-in test checkout of the API.
//! Money only ever reaches an invoice through the provider's signed events (the API's webhook),
//! never through this module.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use invoice_domain::PaymentProvider;
use invoice_workflows::invoice::activities::CheckoutInput;
use invoice_workflows::invoice::messages::CheckoutSession;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ExpireCheckoutSession, ProductData,
};

/// How long one request to Stripe may take. Below the checkout activity's start-to-close
/// timeout ([`invoice_workflows::invoice::options::CHECKOUT_TIMEOUT`]) with room for the database reads and writes around it: a
/// request still running when Temporal retries the attempt would race the retry (the
/// idempotency key makes that safe at Stripe, but the payer would wait for both).
pub(crate) const STRIPE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a test checkout session stays usable (Stripe's default for Checkout is 24 h).
const LOCAL_SESSION_HOURS: i64 = 24;

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: SecretString,
    /// Another API base (tests point it at a local server); Stripe's own by default.
    pub api_base: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// Where the API is reachable for clients: the hosted page, checkout return URLs.
    pub public_base_url: String,
    /// Without it, payments go through the built-in test checkout.
    pub stripe: Option<StripeConfig>,
    /// `false` (`PAYMENT_PROVIDER=none`): no checkout is opened, whatever the above says.
    pub online: bool,
}

enum Provider {
    Local,
    Stripe(Box<stripe::Client>),
    Disabled,
}

/// Opens checkout sessions at the configured provider.
pub struct Payments {
    public_base_url: String,
    provider: Provider,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let provider = match self.provider {
            Provider::Local => "local",
            Provider::Stripe(_) => "stripe",
            Provider::Disabled => "none",
        };
        f.debug_struct("Payments").field("provider", &provider).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// The provider refused the request; the message is for the payer.
    #[error("{0}")]
    Refused(String),
    /// The invoice cannot be paid online (not finalized, voided meanwhile, ...).
    #[error("{0}")]
    NotPayable(String),
    /// Worth retrying: the network, a timeout, the provider's 5xx or 429.
    #[error("the payment provider did not answer: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl CheckoutError {
    pub fn is_permanent(&self) -> bool {
        match self {
            CheckoutError::Refused(_) | CheckoutError::NotPayable(_) => true,
            CheckoutError::Database(e) => crate::postgres::is_data_exception(e),
            CheckoutError::Unavailable(_) => false,
        }
    }
}

impl Payments {
    pub fn from_config(config: &PaymentsConfig) -> Result<Payments, StripeError> {
        let provider = match &config.stripe {
            _ if !config.online => Provider::Disabled,
            None => Provider::Local,
            Some(stripe) => {
                let mut builder = stripe::ClientBuilder::new(stripe.secret_key.expose_secret())
                    .timeout(STRIPE_TIMEOUT);
                if let Some(base) = &stripe.api_base {
                    builder = builder.url(base.trim_end_matches('/'));
                }
                Provider::Stripe(Box::new(builder.build()?))
            }
        };
        Ok(Payments {
            public_base_url: config.public_base_url.trim_end_matches('/').to_owned(),
            provider,
        })
    }

    /// Where clients and users reach the API and the web app (`PUBLIC_BASE_URL`).
    pub fn public_base_url(&self) -> &str {
        &self.public_base_url
    }

    /// The hosted invoice page of a token.
    pub fn hosted_url(&self, token: &str) -> String {
        hosted_url(&self.public_base_url, token)
    }

    /// Opens a session for `input.amount`, at most once per idempotency key at Stripe.
    #[tracing::instrument(name = "payments.create_checkout_session", skip_all)]
    pub async fn create_checkout_session(
        &self,
        db: &PgPool,
        input: &CheckoutInput,
    ) -> Result<CheckoutSession, CheckoutError> {
        let (org_id, invoice_id) = (input.org_id.uuid(), input.invoice_id.uuid());
        let invoice = sqlx::query!(
            r#"SELECT i.number, i.public_token, COALESCE(c.email, i.client_email) AS client_email,
                      o.name AS org_name
               FROM invoices i
               JOIN organizations o ON o.id = i.org_id
               JOIN customers c ON c.id = i.customer_id AND c.org_id = i.org_id
               WHERE i.org_id = $1 AND i.id = $2"#,
            org_id,
            invoice_id
        )
        .fetch_optional(db)
        .await?
        .ok_or_else(|| CheckoutError::NotPayable(format!("invoice {invoice_id} not found")))?;
        let (Some(number), Some(token)) = (invoice.number, invoice.public_token) else {
            return Err(CheckoutError::NotPayable("this invoice cannot be paid online".into()));
        };
        let page = self.hosted_url(&token);
        match &self.provider {
            Provider::Disabled => {
                Err(CheckoutError::NotPayable("online payment is not enabled".into()))
            }
            Provider::Local => {
                // The test checkout is a page of the API; the session id only has to be stable
                // per key, like Stripe's answer to a repeated idempotency key.
                let digest = hex::encode(Sha256::digest(input.idempotency_key.as_bytes()));
                let id = format!("cs_test_local_{}", &digest[..24]);
                Ok(CheckoutSession {
                    url: format!("{page}/test-checkout?session={id}"),
                    id,
                    amount: input.amount,
                    currency: input.currency,
                    expires_at: Utc::now() + chrono::Duration::hours(LOCAL_SESSION_HOURS),
                    provider: PaymentProvider::Local,
                })
            }
            Provider::Stripe(client) => {
                let metadata = HashMap::from([
                    ("invoice_id".to_owned(), input.invoice_id.to_string()),
                    ("org_id".to_owned(), input.org_id.to_string()),
                    ("invoice_number".to_owned(), number.clone()),
                ]);
                let currency: stripe_types::Currency =
                    input.currency.code().to_lowercase().parse().unwrap_or_else(|e| match e {});
                let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
                price.unit_amount = Some(input.amount);
                price.product_data =
                    Some(ProductData::new(format!("Invoice {number} from {}", invoice.org_name)));
                let mut item = CreateCheckoutSessionLineItems::new();
                item.price_data = Some(price);
                item.quantity = Some(1);
                let mut intent = CreateCheckoutSessionPaymentIntentData::new();
                intent.metadata = Some(metadata.clone());
                intent.description = Some(format!("Invoice {number}"));
                let mut request = CreateCheckoutSession::new()
                    .mode(stripe_checkout::CheckoutSessionMode::Payment)
                    .line_items(vec![item])
                    .metadata(metadata)
                    .payment_intent_data(intent)
                    .client_reference_id(input.invoice_id.to_string())
                    .success_url(format!("{page}?checkout=success"))
                    .cancel_url(format!("{page}?checkout=cancelled"));
                if let Some(email) = invoice.client_email {
                    request = request.customer_email(email);
                }
                let key = IdempotencyKey::new(&input.idempotency_key)
                    .map_err(|e| CheckoutError::NotPayable(format!("idempotency key: {e}")))?;
                let session = request
                    .customize()
                    .request_strategy(RequestStrategy::Idempotent(key))
                    .send(client.as_ref())
                    .await
                    .map_err(stripe_error)?;
                let url = session.url.ok_or_else(|| {
                    CheckoutError::Unavailable("Stripe answered without a checkout URL".into())
                })?;
                Ok(CheckoutSession {
                    id: session.id.to_string(),
                    url,
                    amount: session.amount_total.unwrap_or(input.amount),
                    currency: input.currency,
                    expires_at: Utc
                        .timestamp_opt(session.expires_at, 0)
                        .single()
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                    provider: PaymentProvider::Stripe,
                })
            }
        }
    }
}

impl Payments {
    /// Expires a session at its provider, so that it can take no more money. A session the
    /// provider no longer holds open (paid, expired, unknown) has nothing left to expire.
    #[tracing::instrument(name = "payments.expire_checkout_session", skip_all, fields(provider = %provider))]
    pub async fn expire_checkout_session(
        &self,
        session_id: &str,
        provider: PaymentProvider,
    ) -> Result<(), CheckoutError> {
        match (provider, &self.provider) {
            // The test checkout charges what is due when it is used: nothing to expire.
            (PaymentProvider::Local, _) => Ok(()),
            (PaymentProvider::Stripe, Provider::Stripe(client)) => {
                match ExpireCheckoutSession::new(session_id).send(client.as_ref()).await {
                    Ok(_) => Ok(()),
                    // Stripe answers 400 for a session that is not open, 404 for one it
                    // does not know: either way it cannot take money.
                    Err(StripeError::Stripe(error, status @ (400 | 404))) => {
                        tracing::info!(
                            session_id,
                            status,
                            message = error.message.as_deref().unwrap_or_default(),
                            "checkout session no longer open"
                        );
                        Ok(())
                    }
                    Err(e) => Err(CheckoutError::Unavailable(e.to_string())),
                }
            }
            (PaymentProvider::Stripe, _) => Err(CheckoutError::NotPayable(format!(
                "Stripe is not configured on this worker: session {session_id} stays open \
                 until it expires"
            ))),
        }
    }
}

/// The hosted invoice page of a token under a public base URL.
pub fn hosted_url(public_base_url: &str, token: &str) -> String {
    format!("{}/i/{token}", public_base_url.trim_end_matches('/'))
}

/// Stripe's 4xx answers are final (and their message is meant for people); the rest retries.
fn stripe_error(e: StripeError) -> CheckoutError {
    match e {
        StripeError::Stripe(errors, status) if (400..500).contains(&status) && status != 429 => {
            let message = errors.message.clone().unwrap_or_else(|| format!("error {status}"));
            CheckoutError::Refused(format!("The payment provider refused the payment: {message}"))
        }
        other => CheckoutError::Unavailable(other.to_string()),
    }
}

//! Outgoing email (invoices, reminders, receipts): SMTP through lettre (the local mail catcher in
//! `make dev`, any relay in production) or Amazon SES v2. Both send the same MIME message, which
//! carries the caller's idempotency key so a support person can match a delivered mail to the
//! workflow step that sent it; errors say whether a retry can help.

mod mime;
mod ses;
mod smtp;

use std::time::Duration;

use invoice_workflows::invoice::options::STEP_TIMEOUT;
use secrecy::SecretString;

#[cfg(test)]
pub(crate) use ses::OPERATION_TIMEOUT as SES_OPERATION_TIMEOUT;
pub use ses::{SesMailer, ses_tag_value};
pub use smtp::SmtpMailer;

/// The header that carries [`Message::idempotency_key`] in every sent message.
pub const IDEMPOTENCY_HEADER: &str = "X-Idempotency-Key";
/// The SES message tag that carries [`ses_tag_value`] of the idempotency key.
pub const IDEMPOTENCY_TAG: &str = "idempotency_key";

/// One email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `Name <address>` or a bare address; `None` sends from the mailer's configured sender.
    pub from: Option<String>,
    /// At least one recipient.
    pub to: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text_body: String,
    /// Sent as the alternative to `text_body` when present.
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Derived by the caller from `<invoice id>:<step>:<n>`: printable ASCII, no spaces, at most
    /// 200 characters. Providers do not deduplicate on it; it travels with the message (header,
    /// SES tag, and the Message-ID derived from it) so that sends can be correlated.
    pub idempotency_key: String,
}

/// A file attached to a [`Message`], e.g. the invoice PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type such as `application/pdf`.
    pub content_type: String,
    pub content: Vec<u8>,
}

/// What the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// SES's message id; for SMTP, the Message-ID header (relays reply with free text, not ids).
    pub provider_message_id: String,
}

/// Why a message was not sent. [`EmailError::is_permanent`] tells the workflow whether to retry
/// or to move the invoice to `needs_attention`.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The message cannot be sent as it is (bad address, bad header value): never retry.
    #[error("invalid email message: {0}")]
    InvalidMessage(String),
    /// The provider refused this message or our account for good (SMTP 5xx, SES MessageRejected).
    #[error("{provider} rejected the message: {detail}")]
    Rejected { provider: &'static str, detail: String },
    /// The provider could not be reached or asked us to come back later (SMTP 4xx, throttling,
    /// connection refused, timeouts).
    #[error("{provider} could not take the message now: {detail}")]
    Transient { provider: &'static str, detail: String },
    /// The mailer's own configuration is unusable.
    #[error("email configuration: {0}")]
    Config(String),
}

impl EmailError {
    /// True when sending the same message again cannot succeed without a human changing
    /// something (the address, the account, the configuration).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Transient { .. })
    }
}

/// `EMAIL_FROM` and the backend `EMAIL_BACKEND` selects.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `EMAIL_FROM`: the default sender, `Name <address>` or a bare address.
    pub from: String,
    pub transport: TransportConfig,
}

/// `EMAIL_BACKEND=smtp|ses`.
#[derive(Debug, Clone)]
pub enum TransportConfig {
    Smtp(SmtpConfig),
    Ses(SesConfig),
}

/// An SMTP relay.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `SMTP_URL`: `smtp://host:port` (plain, for a local catcher), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtp://host:587?tls=opportunistic` or `smtps://host:465` (implicit TLS).
    /// Credentials do not belong in it, so the URL can be logged.
    pub url: String,
    /// `SMTP_USERNAME`, with `SMTP_PASSWORD`; both or neither (empty counts as unset).
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// How long one send (connect, greet, authenticate, transfer) may take before it counts as
    /// a transient failure. Keep it well below the send activity's start-to-close timeout
    /// ([`STEP_TIMEOUT`]): an exchange still running when Temporal gives up on the attempt may
    /// deliver the mail while the retry sends it again.
    pub timeout: Duration,
}

impl SmtpConfig {
    /// The default time allowed for one send: half the activity's time, the rest is for the
    /// database and the PDF download around it.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(STEP_TIMEOUT.as_secs() / 2);

    /// A relay at `url` without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), username: None, password: None, timeout: Self::DEFAULT_TIMEOUT }
    }
}

/// Amazon SES v2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesConfig {
    /// `AWS_REGION`.
    pub region: String,
    /// `SES_ENDPOINT_URL`: an SES-compatible endpoint instead of AWS (moto in tests). Empty
    /// means unset, here and for `configuration_set`.
    pub endpoint_url: Option<String>,
    /// `SES_CONFIGURATION_SET`: needed for SES to publish delivery events (with our tags).
    pub configuration_set: Option<String>,
}

/// The configured default sender, checked once when the mailer is built.
fn default_sender(from: &str) -> Result<lettre::message::Mailbox, EmailError> {
    from.parse().map_err(|e| EmailError::Config(format!("EMAIL_FROM {from:?} is not valid: {e}")))
}

/// Sends [`Message`]s through the configured provider.
#[derive(Debug, Clone)]
pub enum Mailer {
    Smtp(SmtpMailer),
    Ses(SesMailer),
}

impl Mailer {
    /// The mailer `config` describes. Contacts nothing: a wrong host shows up on the first send.
    pub async fn from_config(config: &EmailConfig) -> Result<Self, EmailError> {
        Ok(match &config.transport {
            TransportConfig::Smtp(smtp) => Self::Smtp(SmtpMailer::new(smtp, &config.from)?),
            TransportConfig::Ses(ses) => Self::Ses(SesMailer::connect(ses, &config.from).await?),
        })
    }

    /// `ses` or `smtp`, for traces and logs.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "smtp",
            Self::Ses(_) => "ses",
        }
    }

    /// Sends `message` once. A transient error may still mean the provider took it (a timeout
    /// after the data was sent): callers record sends and look before sending again.
    #[tracing::instrument(name = "email.send", skip_all, fields(provider = self.provider()))]
    pub async fn send(&self, message: &Message) -> Result<SentMessage, EmailError> {
        match self {
            Self::Smtp(mailer) => mailer.send(message).await,
            Self::Ses(mailer) => mailer.send(message).await,
        }
    }
}

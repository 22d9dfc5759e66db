//! The Amazon SES v2 backend: the MIME message goes out as SES "raw" content (so attachments and
//! our headers survive), with the idempotency key as a message tag for SES event publishing.

use std::time::Duration;

use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::config::timeout::TimeoutConfig;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};
use lettre::message::Mailbox;
use sha2::{Digest, Sha256};

use super::{EmailError, IDEMPOTENCY_TAG, Message, SentMessage, SesConfig, default_sender, mime};
use invoice_storage::load_sdk_config;

const PROVIDER: &str = "SES";

/// How long one send may take, the SDK's own retries included. Like SMTP's
/// ([`super::SmtpConfig::DEFAULT_TIMEOUT`]), well below the send activity's start-to-close
/// timeout, so an attempt never outlives the activity that Temporal already retries.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// One HTTP attempt within [`OPERATION_TIMEOUT`], leaving room for the SDK to retry once.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// SES's limit on a tag value.
const MAX_TAG_LEN: usize = 256;

/// Sends through Amazon SES v2 (or an SES-compatible endpoint).
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: Mailbox,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer for `config`, sending from `from` by default; credentials come from the standard
    /// AWS chain. Contacts nothing yet.
    pub async fn connect(config: &SesConfig, from: &str) -> Result<Self, EmailError> {
        let sdk = load_sdk_config(&config.region).await;
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(OPERATION_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build();
        let mut builder = aws_sdk_sesv2::config::Builder::from(&sdk).timeout_config(timeouts);
        if let Some(url) = config.endpoint_url.as_deref().filter(|url| !url.is_empty()) {
            builder = builder.endpoint_url(url);
        }
        let client = aws_sdk_sesv2::Client::from_conf(builder.build());
        let configuration_set = config.configuration_set.clone().filter(|set| !set.is_empty());
        Self::from_client(client, from, configuration_set)
    }

    /// Wraps a client built elsewhere.
    pub fn from_client(
        client: aws_sdk_sesv2::Client,
        from: &str,
        configuration_set: Option<String>,
    ) -> Result<Self, EmailError> {
        Ok(Self { client, from: default_sender(from)?, configuration_set })
    }

    /// The underlying client (tests use it to verify sender identities).
    pub fn client(&self) -> &aws_sdk_sesv2::Client {
        &self.client
    }

    pub(super) async fn send(&self, message: &Message) -> Result<SentMessage, EmailError> {
        let prepared = mime::prepare(message, &self.from)?;
        let invalid =
            |e: aws_sdk_sesv2::error::BuildError| EmailError::InvalidMessage(e.to_string());
        let raw = RawMessage::builder()
            .data(Blob::new(prepared.mime.formatted()))
            .build()
            .map_err(invalid)?;
        let tag = MessageTag::builder()
            .name(IDEMPOTENCY_TAG)
            .value(ses_tag_value(&message.idempotency_key))
            .build()
            .map_err(invalid)?;
        let destination = Destination::builder()
            .set_to_addresses(Some(prepared.to.iter().map(ToString::to_string).collect()))
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(prepared.from.to_string())
            .destination(destination)
            .content(EmailContent::builder().raw(raw).build())
            .email_tags(tag)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        // SES replaces our Message-ID with its own and returns that; without one, ours is still
        // the best handle (and failing here would make the caller send the mail again).
        let provider_message_id = output.message_id.unwrap_or(prepared.message_id);
        Ok(SentMessage { provider_message_id })
    }
}

/// The SES tag value for an idempotency key. Tag values allow only `[A-Za-z0-9_-]`: a key that
/// fits is used as it is; any other key keeps its readable shape (other characters become `_`)
/// and gets a hash of the exact key appended, so keys that differ only in those characters
/// (`a:b` and `a.b`) still get different tags.
pub fn ses_tag_value(key: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if key.len() <= MAX_TAG_LEN && !key.is_empty() && key.chars().all(allowed) {
        return key.to_owned();
    }
    let hash = hex::encode(&Sha256::digest(key.as_bytes())[..8]);
    let readable: String = key
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .take(MAX_TAG_LEN - hash.len() - 1)
        .collect();
    format!("{readable}-{hash}")
}

/// Rejections of this message or of the account are permanent; throttling, quotas that reset,
/// network failures and AWS-side errors are transient.
fn classify(e: SdkError<SendEmailError, HttpResponse>) -> EmailError {
    let permanent = match &e {
        // The request could not even be built: it would be built the same way again.
        SdkError::ConstructionFailure(_) => true,
        SdkError::ServiceError(context) => match context.err() {
            SendEmailError::TooManyRequestsException(_)
            | SendEmailError::LimitExceededException(_) => false,
            SendEmailError::MessageRejected(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::AccountSuspendedException(_)
            | SendEmailError::SendingPausedException(_)
            | SendEmailError::NotFoundException(_) => true,
            other => {
                let status = context.raw().status().as_u16();
                is_permanent_status(status) && !is_retryable_code(other.code())
            }
        },
        _ => false,
    };
    let detail = DisplayErrorContext(&e).to_string();
    if permanent {
        EmailError::Rejected { provider: PROVIDER, detail }
    } else {
        EmailError::Transient { provider: PROVIDER, detail }
    }
}

/// A 4xx other than timeout and rate limiting is about the request, not the moment.
fn is_permanent_status(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// 4xx codes that AWS uses for conditions that pass: throttling, and credentials or clocks that
/// the SDK refreshes.
fn is_retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "RequestThrottled"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "RequestExpired"
                | "RequestTimeTooSkewed"
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values_are_tag_safe_and_distinct() {
        assert_eq!(ses_tag_value("abc-DEF_123"), "abc-DEF_123");
        let key = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:send_invoice:1";
        let tag = ses_tag_value(key);
        assert!(tag.starts_with("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b_send_invoice_1-"));
        assert_ne!(tag, ses_tag_value("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b_send_invoice_1"));
        assert_ne!(tag, ses_tag_value("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.send_invoice.1"));
        let long = ses_tag_value(&"x".repeat(1000));
        assert_eq!(long.len(), MAX_TAG_LEN);
        for value in [tag, long, ses_tag_value("ä:ö")] {
            assert!(value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        }
    }

    #[test]
    fn status_rules() {
        assert!(is_permanent_status(400));
        assert!(is_permanent_status(403));
        assert!(!is_permanent_status(429));
        assert!(!is_permanent_status(408));
        assert!(!is_permanent_status(500));
        assert!(!is_permanent_status(503));
        assert!(is_retryable_code(Some("Throttling")));
        assert!(!is_retryable_code(Some("AccessDenied")));
        assert!(!is_retryable_code(None));
    }
}

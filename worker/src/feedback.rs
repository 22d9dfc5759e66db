//! SES's bounce and complaint events: SES publishes them (configuration set, SNS topic) to an
//! SQS queue (`SES_EVENTS_QUEUE_URL`), and the worker reads them here. Each event is matched to
//! the email it is about by SES's message id (`email_sends.provider_message_id`), which names
//! the organisation, the invoice and which of its emails it was. A permanent bounce or a
//! complaint suppresses the address for that organisation (`email_suppressions`, which the send
//! activity checks); every event goes to the invoice's run as the `record_email_feedback`
//! signal, which puts it on the timeline and, for an unpaid invoice, in `needs_attention`.
//!
//! A message is deleted once it is handled (or is about no email of ours, or is an event type
//! we do not read). One that cannot be handled now (Postgres or Temporal down) or cannot be read
//! at all stays: SQS shows it again after its visibility timeout, and after five receives moves
//! it to the dead-letter queue, where an alarm finds it (terraform/modules/email). Handling is
//! idempotent: the suppression is an upsert and the run records each feedback id once.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client as SqsClient;
use invoice_activities::metrics::WorkerMetrics;
use invoice_domain::{EmailKind, InvoiceId, OrgId};
use invoice_workflows::invoice::messages::{EmailFeedback, FeedbackOutcome};
use invoice_workflows::{InvoiceWorkflow, invoice_workflow_id};
use serde::Deserialize;
use sqlx::PgPool;
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{Client, WorkflowSignalOptions};
use tracing::{debug, info, warn};

/// Longest SQS long poll: an idle queue costs one request per 20 s.
const LONG_POLL_SECONDS: i32 = 20;
/// Wait after a failed receive before the next, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where the events are read from.
#[derive(Debug, Clone)]
pub struct FeedbackQueue {
    pub sqs: SqsClient,
    pub queue_url: String,
    /// Seconds one receive waits for a message (at most 20).
    pub wait_seconds: i32,
}

impl FeedbackQueue {
    /// The queue at `queue_url`, through `endpoint_url` (an SQS-compatible endpoint such as
    /// moto) when given, otherwise AWS in `region`.
    pub async fn connect(queue_url: String, region: &str, endpoint_url: Option<&str>) -> Self {
        let sdk = invoice_storage::load_sdk_config(region).await;
        let mut config = aws_sdk_sqs::config::Builder::from(&sdk);
        if let Some(endpoint) = endpoint_url {
            config = config.endpoint_url(endpoint);
        }
        let sqs = SqsClient::from_conf(config.build());
        Self { sqs, queue_url, wait_seconds: LONG_POLL_SECONDS }
    }
}

/// Reads the queue until the process ends.
pub async fn consume(
    queue: FeedbackQueue,
    db: PgPool,
    client: Client,
    metrics: Arc<WorkerMetrics>,
) {
    info!(queue = %queue.queue_url, "reading SES bounce and complaint events");
    let mut backoff = FIRST_BACKOFF;
    loop {
        let received = queue
            .sqs
            .receive_message()
            .queue_url(&queue.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(queue.wait_seconds)
            .send()
            .await;
        let messages = match received {
            Ok(out) => {
                backoff = FIRST_BACKOFF;
                out.messages.unwrap_or_default()
            }
            Err(error) => {
                let error = aws_sdk_sqs::error::DisplayErrorContext(&error);
                warn!(%error, retry_in = ?backoff, "reading the SES events queue failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        for message in messages {
            let (Some(body), Some(receipt)) = (message.body(), message.receipt_handle()) else {
                continue;
            };
            match handle(body, &db, &client, &metrics).await {
                Ok(()) => {
                    let deleted = queue
                        .sqs
                        .delete_message()
                        .queue_url(&queue.queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await;
                    // Not deleted: it comes back and is handled again, which changes nothing.
                    if let Err(error) = deleted {
                        let error = aws_sdk_sqs::error::DisplayErrorContext(&error);
                        warn!(%error, "an SES event was handled but not deleted");
                    }
                }
                Err(error) => {
                    warn!(error = %error, message_id = message.message_id(), "SES event left on the queue");
                }
            }
        }
    }
}

/// Why a message stays on the queue.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Not an SES event we can read: after five receives it waits in the dead-letter queue.
    #[error("unreadable SES event: {0}")]
    Unreadable(String),
    #[error("Postgres: {0}")]
    Database(#[from] sqlx::Error),
    #[error("signalling the invoice's run: {0}")]
    Temporal(String),
}

/// Handles one message body. `Ok` when nothing is left to do with it.
pub async fn handle(
    body: &str,
    db: &PgPool,
    client: &Client,
    metrics: &WorkerMetrics,
) -> Result<(), HandleError> {
    let Some(event) = parse(body)? else { return Ok(()) };
    let kind = event.kind();
    let sent = sqlx::query!(
        "SELECT org_id, invoice_id, kind FROM email_sends WHERE provider_message_id = $1",
        event.message_id
    )
    .fetch_optional(db)
    .await?;
    let Some(sent) = sent else {
        // An account email, or another sender's on a shared configuration set.
        info!(message_id = %event.message_id, kind, "SES event about no invoice email; dropped");
        metrics.email_feedback(kind, false);
        return Ok(());
    };
    let email: EmailKind = sent
        .kind
        .parse()
        .map_err(|_| HandleError::Unreadable(format!("unknown email kind {}", sent.kind)))?;
    let (org_id, invoice_id) = (OrgId::from(sent.org_id), InvoiceId::from(sent.invoice_id));
    for feedback in event.feedback(email) {
        if feedback.suppresses() {
            let (reason, detail) = match &feedback.outcome {
                FeedbackOutcome::Bounce { detail, .. } => ("bounce", detail.clone()),
                FeedbackOutcome::Complaint { feedback_type } => {
                    ("complaint", feedback_type.clone())
                }
            };
            sqlx::query!(
                "INSERT INTO email_suppressions
                     (org_id, address, reason, detail, invoice_id, provider_message_id)
                 VALUES ($1, lower($2), $3, $4, $5, $6)
                 ON CONFLICT (org_id, address) DO NOTHING",
                sent.org_id,
                feedback.to,
                reason,
                detail,
                sent.invoice_id,
                feedback.message_id
            )
            .execute(db)
            .await?;
        }
        info!(%invoice_id, kind, suppresses = feedback.suppresses(), "SES event for an invoice email");
        signal(client, org_id, invoice_id, feedback).await?;
    }
    metrics.email_feedback(kind, true);
    Ok(())
}

async fn signal(
    client: &Client,
    org_id: OrgId,
    invoice_id: InvoiceId,
    feedback: EmailFeedback,
) -> Result<(), HandleError> {
    let handle =
        client.get_workflow_handle::<InvoiceWorkflow>(invoice_workflow_id(org_id, invoice_id));
    let signal = handle.signal(
        InvoiceWorkflow::record_email_feedback,
        feedback,
        WorkflowSignalOptions::default(),
    );
    match tokio::time::timeout(Duration::from_secs(10), signal).await {
        Ok(Ok(())) => Ok(()),
        // The run has ended (paid, its refund window closed): the suppression still stands.
        Ok(Err(WorkflowInteractionError::NotFound(_))) => {
            debug!(%invoice_id, "the invoice's run has ended; event not on its timeline");
            Ok(())
        }
        Ok(Err(error)) => Err(HandleError::Temporal(error.to_string())),
        Err(_) => Err(HandleError::Temporal("timed out".into())),
    }
}

/// An SES bounce or complaint, as much of it as we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesEvent {
    pub message_id: String,
    pub outcome: SesOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesOutcome {
    Bounce {
        feedback_id: String,
        /// `Permanent`, `Transient` or `Undetermined`.
        bounce_type: String,
        bounce_sub_type: Option<String>,
        /// Address and the receiving server's answer.
        recipients: Vec<(String, Option<String>)>,
    },
    Complaint {
        feedback_id: String,
        feedback_type: Option<String>,
        recipients: Vec<String>,
    },
}

impl SesEvent {
    /// `bounce` or `complaint`, as counted.
    pub fn kind(&self) -> &'static str {
        match self.outcome {
            SesOutcome::Bounce { .. } => "bounce",
            SesOutcome::Complaint { .. } => "complaint",
        }
    }

    /// One signal per address it names (our emails have one recipient).
    pub fn feedback(&self, email: EmailKind) -> Vec<EmailFeedback> {
        let one = |feedback_id: &str, to: &str, outcome: FeedbackOutcome| EmailFeedback {
            feedback_id: format!("{feedback_id}:{}", to.to_lowercase()),
            email,
            to: to.to_owned(),
            message_id: self.message_id.clone(),
            outcome,
        };
        match &self.outcome {
            SesOutcome::Bounce { feedback_id, bounce_type, bounce_sub_type, recipients } => {
                let named = match bounce_sub_type {
                    Some(sub) => format!("{bounce_type}/{sub}"),
                    None => bounce_type.clone(),
                };
                recipients
                    .iter()
                    .map(|(to, detail)| {
                        let outcome = FeedbackOutcome::Bounce {
                            permanent: bounce_type == "Permanent",
                            bounce_type: named.clone(),
                            detail: detail.clone(),
                        };
                        one(feedback_id, to, outcome)
                    })
                    .collect()
            }
            SesOutcome::Complaint { feedback_id, feedback_type, recipients } => recipients
                .iter()
                .map(|to| {
                    let outcome =
                        FeedbackOutcome::Complaint { feedback_type: feedback_type.clone() };
                    one(feedback_id, to, outcome)
                })
                .collect(),
        }
    }
}

/// Reads a queue message: SES's event JSON, as the queue gets it with raw message delivery, or
/// wrapped in SNS's notification envelope without it. Both of SES's formats are read:
/// configuration-set event publishing (`eventType`) and identity notifications
/// (`notificationType`). `None` for events other than bounces and complaints (deliveries,
/// opens) and for SNS's own messages.
pub fn parse(body: &str) -> Result<Option<SesEvent>, HandleError> {
    let unreadable = |e: serde_json::Error| HandleError::Unreadable(e.to_string());
    let value: serde_json::Value = serde_json::from_str(body).map_err(unreadable)?;
    let value = match value.get("Type").and_then(|t| t.as_str()) {
        Some("Notification") => {
            let inner = value.get("Message").and_then(|m| m.as_str()).unwrap_or_default();
            serde_json::from_str(inner).map_err(unreadable)?
        }
        Some(_) => return Ok(None),
        None => value,
    };
    let raw: RawEvent = serde_json::from_value(value).map_err(unreadable)?;
    let kind = raw.event_type.or(raw.notification_type).unwrap_or_default();
    let missing = |what: &str| HandleError::Unreadable(format!("a {kind} event without {what}"));
    let outcome = match kind.as_str() {
        "Bounce" => {
            let b = raw.bounce.ok_or_else(|| missing("bounce"))?;
            SesOutcome::Bounce {
                feedback_id: b.feedback_id,
                bounce_type: b.bounce_type,
                bounce_sub_type: b.bounce_sub_type,
                recipients: b
                    .bounced_recipients
                    .into_iter()
                    .map(|r| (r.email_address, r.diagnostic_code))
                    .collect(),
            }
        }
        "Complaint" => {
            let c = raw.complaint.ok_or_else(|| missing("complaint"))?;
            SesOutcome::Complaint {
                feedback_id: c.feedback_id,
                feedback_type: c.complaint_feedback_type,
                recipients: c.complained_recipients.into_iter().map(|r| r.email_address).collect(),
            }
        }
        _ => return Ok(None),
    };
    let mail = raw.mail.ok_or_else(|| missing("mail"))?;
    Ok(Some(SesEvent { message_id: mail.message_id, outcome }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    event_type: Option<String>,
    notification_type: Option<String>,
    mail: Option<RawMail>,
    bounce: Option<RawBounce>,
    complaint: Option<RawComplaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMail {
    message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    feedback_id: String,
    #[serde(default)]
    bounced_recipients: Vec<RawRecipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawComplaint {
    feedback_id: String,
    complaint_feedback_type: Option<String>,
    #[serde(default)]
    complained_recipients: Vec<RawRecipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecipient {
    email_address: String,
    diagnostic_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A permanent bounce as SES's configuration-set event publishing writes it (AWS's
    /// documented example, trimmed of headers).
    const BOUNCE: &str = r#"{
      "eventType": "Bounce",
      "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{
          "emailAddress": "Recipient@example.com",
          "action": "failed",
          "status": "5.1.1",
          "diagnosticCode": "smtp; 550 5.1.1 user unknown"
        }],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com"
      },
      "mail": {
        "timestamp": "2017-08-05T00:40:02.012Z",
        "source": "Sender Name <sender@example.com>",
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": ["recipient@example.com"]
      }
    }"#;

    #[test]
    fn a_raw_bounce_reads_as_one_permanent_bounce_per_recipient() {
        let event = parse(BOUNCE).unwrap().unwrap();
        assert_eq!(
            event.message_id,
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
        );
        let feedback = event.feedback(EmailKind::Invoice);
        assert_eq!(feedback.len(), 1);
        assert!(feedback[0].suppresses());
        assert_eq!(feedback[0].to, "Recipient@example.com");
        assert!(feedback[0].feedback_id.ends_with(":recipient@example.com"));
        assert_eq!(
            feedback[0].outcome,
            FeedbackOutcome::Bounce {
                permanent: true,
                bounce_type: "Permanent/General".into(),
                detail: Some("smtp; 550 5.1.1 user unknown".into()),
            }
        );
    }

    #[test]
    fn an_sns_wrapped_complaint_and_identity_notifications_read_too() {
        let complaint = serde_json::json!({
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": "client@example.com"}],
                "complaintFeedbackType": "abuse",
                "feedbackId": "f-1"
            },
            "mail": {"messageId": "m-1"}
        });
        let envelope = serde_json::json!({
            "Type": "Notification",
            "MessageId": "sns-1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
            "Message": complaint.to_string()
        });
        let event = parse(&envelope.to_string()).unwrap().unwrap();
        let feedback = event.feedback(EmailKind::Reminder);
        assert_eq!(event.kind(), "complaint");
        assert_eq!(
            feedback[0].outcome,
            FeedbackOutcome::Complaint { feedback_type: Some("abuse".into()) }
        );
        assert!(feedback[0].suppresses());
    }

    #[test]
    fn other_events_are_skipped_and_garbage_is_refused() {
        let delivery = r#"{"eventType":"Delivery","mail":{"messageId":"m"},"delivery":{}}"#;
        assert_eq!(parse(delivery).unwrap(), None);
        assert_eq!(parse(r#"{"Type":"SubscriptionConfirmation"}"#).unwrap(), None);
        assert!(matches!(parse("not json"), Err(HandleError::Unreadable(_))));
        assert!(matches!(parse(r#"{"eventType":"Bounce"}"#), Err(HandleError::Unreadable(_))));
        let transient = BOUNCE.replace("\"Permanent\"", "\"Transient\"");
        let event = parse(&transient).unwrap().unwrap();
        assert!(!event.feedback(EmailKind::Invoice)[0].suppresses());
    }
}

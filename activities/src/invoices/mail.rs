//! The invoice emails (invoice, reminder, receipt): what they say, and sending each at most once
//! per idempotency key, remembered in `email_sends`.

use invoice_domain::{Currency, EmailKind, format_amount};
use invoice_workflows::invoice::activities::{SendEmailInput, SentEmail};
use sqlx::PgPool;

use super::records::RecordError;
use crate::email::{Attachment, EmailError, Mailer, Message};
use crate::storage::{ObjectKey, ObjectStore};

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error("the invoice PDF is not available: {0}")]
    Pdf(String),
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Record(RecordError::Permanent(_)) => true,
            SendError::Email(e) => e.is_permanent(),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for SendError {
    fn from(e: sqlx::Error) -> Self {
        SendError::Record(e.into())
    }
}

/// Sends the email unless its idempotency key was sent before; records the send.
/// `hosted_url` turns the invoice's page token into the link the client pays through.
pub async fn send(
    db: &PgPool,
    mailer: &Mailer,
    store: &ObjectStore,
    req: &SendEmailInput,
    hosted_url: impl Fn(&str) -> String,
) -> Result<SentEmail, SendError> {
    let (org_id, invoice_id) = (req.org_id.uuid(), req.invoice_id.uuid());
    if let Some(done) = previous_send(db, &req.idempotency_key).await? {
        return Ok(done);
    }
    let inv = sqlx::query!(
        r#"SELECT i.number, i.client_name, COALESCE(c.email, i.client_email) AS client_email,
                  i.currency, i.total, i.amount_due AS "amount_due!", i.due_date, i.pdf_key,
                  i.public_token, o.name AS org_name
           FROM invoices i
           JOIN organizations o ON o.id = i.org_id
           JOIN customers c ON c.id = i.customer_id AND c.org_id = i.org_id
           WHERE i.org_id = $1 AND i.id = $2"#,
        org_id,
        invoice_id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| RecordError::Permanent(format!("invoice {invoice_id} not found")))?;
    // The customer's current address: a corrected email reaches the client on the next send
    // (a retry, a reminder); the invoice's snapshot is the fallback.
    let recipient = inv
        .client_email
        .clone()
        .ok_or_else(|| RecordError::Permanent("the customer has no email address".into()))?;
    let number = inv.number.clone().unwrap_or_default();
    let currency: Currency =
        inv.currency.parse().map_err(|_| RecordError::Permanent("unknown currency".into()))?;
    let (total, due) =
        (format_amount(inv.total, currency), format_amount(inv.amount_due, currency));
    let due_date = inv.due_date.format("%-d %B %Y").to_string();
    let pay_online = inv
        .public_token
        .as_deref()
        .map(|token| format!("\n\nView and pay it online: {}", hosted_url(token)))
        .unwrap_or_default();
    let (subject, text) = match req.kind {
        EmailKind::Invoice => (
            format!("Invoice {number} from {} ({total})", inv.org_name),
            format!(
                "Hello {},\n\nplease find attached invoice {number} for {total}, due on {due_date}.{pay_online}\n\nThank you,\n{}\n",
                inv.client_name, inv.org_name
            ),
        ),
        EmailKind::Reminder => {
            let when = match req.offset_days {
                Some(d) if d < 0 => format!("is due on {due_date}"),
                Some(0) => "is due today".to_owned(),
                _ => format!("was due on {due_date}"),
            };
            (
                format!("Reminder: invoice {number} {when}"),
                format!(
                    "Hello {},\n\na friendly reminder that invoice {number} {when}; {due} is still open.{pay_online}\n\nIf you have paid already, please ignore this message.\n\n{}\n",
                    inv.client_name, inv.org_name
                ),
            )
        }
        EmailKind::Receipt => (
            format!("Receipt for invoice {number}"),
            format!(
                "Hello {},\n\nthank you: invoice {number} ({total}) is paid in full.\n\n{}\n",
                inv.client_name, inv.org_name
            ),
        ),
    };
    let mut attachments = Vec::new();
    if req.kind == EmailKind::Invoice {
        let key = inv.pdf_key.clone().ok_or_else(|| SendError::Pdf("not rendered yet".into()))?;
        let key = ObjectKey::parse(key).map_err(|e| SendError::Pdf(e.to_string()))?;
        let content = store.get(&key).await.map_err(|e| SendError::Pdf(e.to_string()))?;
        attachments.push(Attachment {
            filename: format!("{number}.pdf"),
            content_type: "application/pdf".into(),
            content,
        });
    }
    let mut html =
        format!("<p>{}</p>", html_escape(&text).replace("\n\n", "</p><p>").replace('\n', "<br>"));
    if let Some(token) = inv.public_token.as_deref() {
        let url = html_escape(&hosted_url(token));
        html = html.replace(&url, &format!("<a href=\"{url}\">{url}</a>"));
    }
    let message = Message {
        from: None,
        to: vec![recipient.clone()],
        reply_to: None,
        subject,
        text_body: text,
        html_body: Some(html),
        attachments,
        idempotency_key: req.idempotency_key.clone(),
    };
    let kind = req.kind.as_str();
    // Claim the key first, committed, so that a worker dying during the provider call leaves a
    // trace; a concurrent or later attempt that loses the claim reads what the winner recorded.
    let claimed = sqlx::query!(
        "INSERT INTO email_sends (idempotency_key, org_id, invoice_id, kind, recipient)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        req.idempotency_key,
        org_id,
        invoice_id,
        kind,
        recipient
    )
    .execute(db)
    .await?
    .rows_affected();
    if claimed == 0 {
        return previous_send(db, &req.idempotency_key)
            .await?
            .ok_or_else(|| RecordError::Permanent("the email claim vanished".into()).into());
    }
    let sent = match mailer.send(&message).await {
        Ok(sent) => sent,
        Err(e) => {
            // Not sent: release the claim so that the retry (or ops) can send it.
            sqlx::query!("DELETE FROM email_sends WHERE idempotency_key = $1", req.idempotency_key)
                .execute(db)
                .await?;
            return Err(e.into());
        }
    };
    sqlx::query!(
        "UPDATE email_sends SET status = 'sent', provider_message_id = $2, sent_at = now()
         WHERE idempotency_key = $1",
        req.idempotency_key,
        sent.provider_message_id
    )
    .execute(db)
    .await?;
    Ok(SentEmail { provider_message_id: sent.provider_message_id, recipient, newly_sent: true })
}

/// What an earlier attempt with this key did: sent (answered again, nothing is sent), or died
/// during the provider call (a permanent failure: only a person can tell whether it went).
async fn previous_send(db: &PgPool, key: &str) -> Result<Option<SentEmail>, SendError> {
    let Some(row) = sqlx::query!(
        "SELECT status, provider_message_id, recipient FROM email_sends WHERE idempotency_key = $1",
        key
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    match (row.status.as_str(), row.provider_message_id) {
        ("sent", Some(id)) => Ok(Some(SentEmail {
            provider_message_id: id,
            recipient: row.recipient,
            newly_sent: false,
        })),
        _ => Err(RecordError::Permanent(format!(
            "delivery unknown: the worker stopped while the email to {} was being handed to the \
             mail provider; check the provider's log, then retry to send it again",
            row.recipient
        ))
        .into()),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

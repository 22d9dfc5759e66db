//! The invoice emails (invoice, reminder, receipt): what they say, and sending each at most once
//! per idempotency key, remembered in `email_sends`. The words are askama templates in
//! `activities/templates/emails/`: the subject and the text part are `.txt` templates, which
//! write values as they are; the HTML part is an `.html` template, which escapes every value.

use askama::Template;
use chrono::NaiveDate;
use invoice_domain::{Currency, EmailKind, format_amount};
use invoice_workflows::invoice::activities::{SendEmailInput, SentEmail};
use sqlx::PgPool;
use tracing::Instrument as _;

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
            SendError::Record(e) => e.is_permanent(),
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
    daily_quota: u32,
) -> Result<SentEmail, SendError> {
    let (org_id, invoice_id) = (req.org_id.uuid(), req.invoice_id.uuid());
    if let Some(done) = previous_send(db, &req.idempotency_key).await? {
        return Ok(done);
    }
    may_send(db, org_id, daily_quota).await?;
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
    .instrument(postgres("read_invoice"))
    .await?
    .ok_or_else(|| RecordError::Permanent(format!("invoice {invoice_id} not found")))?;
    // The customer's current address: a corrected email reaches the client on the next send
    // (a retry, a reminder); the invoice's snapshot is the fallback.
    let recipient = inv
        .client_email
        .clone()
        .ok_or_else(|| RecordError::Permanent("the customer has no email address".into()))?;
    refuse_suppressed(db, org_id, &recipient).await?;
    let number = inv.number.clone().unwrap_or_default();
    let currency: Currency =
        inv.currency.parse().map_err(|_| RecordError::Permanent("unknown currency".into()))?;
    let (total, due) =
        (format_amount(inv.total, currency), format_amount(inv.amount_due, currency));
    let kind = match req.kind {
        EmailKind::Invoice => Kind::Invoice,
        EmailKind::Reminder => Kind::Reminder { deadline: deadline(req.offset_days, inv.due_date) },
        EmailKind::Receipt => Kind::Receipt,
    };
    let mail = Mail {
        kind,
        client_name: &inv.client_name,
        org_name: &inv.org_name,
        number: &number,
        total,
        due,
        due_date: long_date(inv.due_date),
        pay_url: inv.public_token.as_deref().map(hosted_url),
    };
    let (subject, text, html) = mail.render().map_err(|e| {
        RecordError::Permanent(format!("the {} email could not be written: {e}", req.kind.as_str()))
    })?;
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
    let message = Message {
        from: None,
        to: vec![recipient],
        reply_to: None,
        subject,
        text_body: text,
        html_body: Some(html),
        attachments,
        idempotency_key: req.idempotency_key.clone(),
    };
    send_once(db, mailer, req, message).await
}

/// A span for one Postgres statement of the send (traces).
fn postgres(operation: &'static str) -> tracing::Span {
    tracing::info_span!("postgres", db.system = "postgresql", db.operation = operation)
}

/// Whether the organisation may mail a client now: an owner's address is verified, and the
/// day's quota is not used up. A refusal is permanent: the invoice waits in `needs_attention`
/// with the reason.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "check_sending_quota"))]
async fn may_send(db: &PgPool, org_id: uuid::Uuid, daily_quota: u32) -> Result<(), SendError> {
    // Nothing goes to a client until an owner has shown the signup address is theirs: a
    // stranger cannot register with any address and have the platform mail third parties. The
    // invoice waits in `needs_attention`; once the address is verified, retry it.
    let verified = sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
               WHERE m.org_id = $1 AND m.role = 'owner' AND u.email_verified_at IS NOT NULL
           ) AS "verified!""#,
        org_id
    )
    .fetch_one(db)
    .await
    .map_err(RecordError::from)?;
    if !verified {
        return Err(RecordError::Permanent(
            "the organisation's email address is not verified yet: its owner must open the \
             link we emailed them (or send it again from the app), then retry"
                .into(),
        )
        .into());
    }
    // An organisation mails at most its quota a day: a compromised account or a runaway script
    // cannot get the shared sender suspended. A send beyond it parks the invoice in
    // `needs_attention` with this reason (retry it tomorrow); nothing is dropped silently.
    let sent_today = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM email_sends
           WHERE org_id = $1 AND claimed_at > now() - interval '1 day'"#,
        org_id
    )
    .fetch_one(db)
    .await
    .map_err(RecordError::from)?;
    if sent_today >= i64::from(daily_quota) {
        return Err(RecordError::Permanent(format!(
            "the organisation's daily sending quota ({daily_quota} emails) is used up; retry tomorrow"
        ))
        .into());
    }
    Ok(())
}

/// Refuses, for good, to mail an address that bounced for good or complained (the worker
/// records them from SES's events): mailing it again only hurts the sender's reputation. The
/// invoice waits in `needs_attention` (or the reminder is marked failed) with the reason; a
/// corrected customer email is a new address and goes out.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "check_suppressed_address"))]
async fn refuse_suppressed(
    db: &PgPool,
    org_id: uuid::Uuid,
    recipient: &str,
) -> Result<(), SendError> {
    let suppressed = sqlx::query!(
        r#"SELECT reason, suppressed_at FROM email_suppressions
           WHERE org_id = $1 AND address = lower($2)"#,
        org_id,
        recipient
    )
    .fetch_optional(db)
    .await
    .map_err(RecordError::from)?;
    let Some(row) = suppressed else { return Ok(()) };
    // The address itself stays out of the message: failure messages are not sealed payloads.
    let what = if row.reason == "complaint" { "marked our email as spam" } else { "bounced" };
    Err(RecordError::Permanent(format!(
        "not sent: the customer's email address {what} on {}; correct it, then resend",
        row.suppressed_at.format("%Y-%m-%d")
    ))
    .into())
}

/// Hands the message to the provider unless another attempt with its key got there first.
async fn send_once(
    db: &PgPool,
    mailer: &Mailer,
    req: &SendEmailInput,
    message: Message,
) -> Result<SentEmail, SendError> {
    let (org_id, invoice_id) = (req.org_id.uuid(), req.invoice_id.uuid());
    let recipient = message.to.join(", ");
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
    .instrument(postgres("claim_email_send"))
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
    .instrument(postgres("record_email_sent"))
    .await?;
    Ok(SentEmail { provider_message_id: sent.provider_message_id, recipient, newly_sent: true })
}

/// What an earlier attempt with this key did: sent (answered again, nothing is sent), or died
/// during the provider call (a permanent failure: only a person can tell whether it went).
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "read_email_send"))]
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

/// What an email says about its invoice, as plain text; the templates pick the words per kind.
struct Mail<'a> {
    kind: Kind,
    client_name: &'a str,
    org_name: &'a str,
    number: &'a str,
    total: String,
    /// The amount still due.
    due: String,
    due_date: String,
    /// The hosted page, where the client views and pays the invoice.
    pay_url: Option<String>,
}

enum Kind {
    Invoice,
    Reminder {
        /// "is due on 1 May 2026", "is due today" or "was due on 1 May 2026".
        deadline: String,
    },
    Receipt,
}

#[derive(Template)]
#[template(path = "emails/subject.txt")]
struct Subject<'a> {
    mail: &'a Mail<'a>,
}

#[derive(Template)]
#[template(path = "emails/body.txt")]
struct TextBody<'a> {
    mail: &'a Mail<'a>,
}

/// The text part's paragraphs and lines as HTML, with the hosted page's link clickable.
#[derive(Template)]
#[template(path = "emails/body.html")]
struct HtmlBody<'a> {
    mail: &'a Mail<'a>,
}

impl Mail<'_> {
    /// The subject, the text part and the HTML part.
    fn render(&self) -> askama::Result<(String, String, String)> {
        Ok((
            Subject { mail: self }.render()?,
            TextBody { mail: self }.render()?,
            HtmlBody { mail: self }.render()?,
        ))
    }
}

fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// When a reminder's invoice is due, from the reminder's offset to the due date (days after it;
/// negative before it).
fn deadline(offset_days: Option<i32>, due_date: NaiveDate) -> String {
    match offset_days {
        Some(d) if d < 0 => format!("is due on {}", long_date(due_date)),
        Some(0) => "is due today".to_owned(),
        _ => format!("was due on {}", long_date(due_date)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Typed by someone else: markup, both quotes and an ampersand.
    const TYPED: &str = "<script>alert(\"x\")</script> & 'y'";
    const ESCAPED: &str = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;";

    fn due_date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
    }

    /// The names people typed, owned here and lent to the `Mail`.
    struct Names {
        client: String,
        org: String,
        number: String,
    }

    impl Names {
        fn with(text: &str) -> Self {
            Names {
                client: format!("Globex {text}"),
                org: format!("Seller {text}"),
                number: format!("INV-{text}-7"),
            }
        }

        fn mail(&self, kind: Kind, pay_url: Option<&str>) -> Mail<'_> {
            Mail {
                kind,
                client_name: &self.client,
                org_name: &self.org,
                number: &self.number,
                total: "€1,130.50".into(),
                due: "€930.50".into(),
                due_date: long_date(due_date()),
                pay_url: pay_url.map(str::to_owned),
            }
        }
    }

    fn kinds() -> [Kind; 3] {
        let deadline = deadline(Some(3), due_date());
        [Kind::Invoice, Kind::Reminder { deadline }, Kind::Receipt]
    }

    #[test]
    fn the_emails_say_what_they_said() {
        let names = Names::with("Ltd");
        let url = Some("https://pay.seller.test/i/abc");

        let (subject, text, html) = names.mail(Kind::Invoice, url).render().unwrap();
        assert_eq!(subject, "Invoice INV-Ltd-7 from Seller Ltd (€1,130.50)");
        assert_eq!(
            text,
            "Hello Globex Ltd,\n\nplease find attached invoice INV-Ltd-7 for €1,130.50, due on \
             1 May 2026.\n\nView and pay it online: https://pay.seller.test/i/abc\n\nThank you,\n\
             Seller Ltd\n"
        );
        assert_eq!(
            html,
            "<p>Hello Globex Ltd,</p>\n<p>please find attached invoice INV-Ltd-7 for €1,130.50, \
             due on 1 May 2026.</p>\n<p>View and pay it online: <a \
             href=\"https://pay.seller.test/i/abc\">https://pay.seller.test/i/abc</a></p>\n\
             <p>Thank you,<br>Seller Ltd<br></p>"
        );

        let deadline = deadline(Some(-3), due_date());
        let (subject, text, _) = names.mail(Kind::Reminder { deadline }, None).render().unwrap();
        assert_eq!(subject, "Reminder: invoice INV-Ltd-7 is due on 1 May 2026");
        assert_eq!(
            text,
            "Hello Globex Ltd,\n\na friendly reminder that invoice INV-Ltd-7 is due on 1 May 2026; \
             €930.50 is still open.\n\nIf you have paid already, please ignore this message.\n\n\
             Seller Ltd\n"
        );

        // A receipt has nothing to pay, so no link.
        let (subject, text, html) = names.mail(Kind::Receipt, url).render().unwrap();
        assert_eq!(subject, "Receipt for invoice INV-Ltd-7");
        assert_eq!(
            text,
            "Hello Globex Ltd,\n\nthank you: invoice INV-Ltd-7 (€1,130.50) is paid in full.\n\n\
             Seller Ltd\n"
        );
        assert!(!html.contains("<a "), "{html}");
    }

    #[test]
    fn a_reminder_says_when_the_invoice_is_due() {
        assert_eq!(deadline(Some(-3), due_date()), "is due on 1 May 2026");
        assert_eq!(deadline(Some(0), due_date()), "is due today");
        assert_eq!(deadline(Some(7), due_date()), "was due on 1 May 2026");
        assert_eq!(deadline(None, due_date()), "was due on 1 May 2026");
    }

    #[test]
    fn the_html_part_escapes_what_people_typed_and_the_text_part_keeps_it() {
        let names = Names::with(TYPED);
        // The hosted page's address never has these characters; the test gives it some anyway.
        let url = "https://pay.seller.test/i/abc?a=\"1\"&b='2'";
        let escaped_url = "https://pay.seller.test/i/abc?a=&#34;1&#34;&#38;b=&#39;2&#39;";
        for kind in kinds() {
            let links = !matches!(kind, Kind::Receipt);
            let (subject, text, html) = names.mail(kind, Some(url)).render().unwrap();
            assert!(subject.contains(&format!("INV-{TYPED}-7")), "{subject}");
            for typed in [&names.client, &names.org, &names.number] {
                assert!(text.contains(typed.as_str()), "{typed:?} missing from the text:\n{text}");
            }
            assert_eq!(text.contains(&format!("View and pay it online: {url}\n")), links, "{text}");
            assert!(!html.contains("<script") && !html.contains(TYPED), "unescaped:\n{html}");
            for escaped in [
                format!("<p>Hello Globex {ESCAPED},</p>"),
                format!("invoice INV-{ESCAPED}-7"),
                format!("Seller {ESCAPED}<br></p>"),
            ] {
                assert!(html.contains(&escaped), "{escaped:?} missing from the HTML:\n{html}");
            }
            let link = format!("<a href=\"{escaped_url}\">{escaped_url}</a>");
            assert_eq!(html.contains(&link), links, "{link:?} in the HTML:\n{html}");
        }
    }

    /// The HTML part read back as text: paragraphs and line breaks as newlines, no tags, the
    /// five characters askama escapes unescaped.
    fn html_as_text(html: &str) -> String {
        let mut text = html.replace('\n', "").replace("</p><p>", "\n\n").replace("<br>", "\n");
        text = text.strip_prefix("<p>").and_then(|t| t.strip_suffix("</p>")).unwrap().to_owned();
        while let Some(start) = text.find("<a href=\"") {
            let end = start + text[start..].find("\">").unwrap() + 2;
            text.replace_range(start..end, "");
        }
        text.replace("</a>", "")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#38;", "&")
    }

    #[test]
    fn the_html_part_says_what_the_text_part_says() {
        let names = Names::with(TYPED);
        for url in [None, Some("https://pay.seller.test/i/abc")] {
            for kind in kinds() {
                let (_, text, html) = names.mail(kind, url).render().unwrap();
                assert_eq!(html_as_text(&html), text, "the HTML part:\n{html}");
            }
        }
    }
}

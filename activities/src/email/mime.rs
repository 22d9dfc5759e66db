//! The MIME form of a [`Message`], built once with lettre and sent as-is by both backends (SMTP,
//! and SES as a raw message), so a mail looks the same whichever provider carries it.

use lettre::Address;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use super::{EmailError, IDEMPOTENCY_HEADER, Message};

/// Longest idempotency key we accept; keeps the header on one line.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// A message ready for a transport.
pub(super) struct Prepared {
    pub mime: lettre::Message,
    pub message_id: String,
    pub from: Address,
    pub to: Vec<Address>,
}

/// Validates `message` and renders it, sending from `default_from` unless it names a sender.
pub(super) fn prepare(message: &Message, default_from: &Mailbox) -> Result<Prepared, EmailError> {
    let key = &message.idempotency_key;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(EmailError::InvalidMessage(format!(
            "idempotency key {key:?} must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII \
             characters without spaces"
        )));
    }
    let from = match &message.from {
        Some(from) => mailbox("from", from)?,
        None => default_from.clone(),
    };
    if message.to.is_empty() {
        return Err(EmailError::InvalidMessage("the message has no recipient".into()));
    }
    let to = message.to.iter().map(|to| mailbox("to", to)).collect::<Result<Vec<_>, _>>()?;

    // Derived from the key, so a retried send carries the same Message-ID and mail clients
    // that deduplicate on it show one message.
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    let message_id = format!("<{}@{}>", &digest[..32], from.email.domain());

    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .subject(message.subject.clone())
        .message_id(Some(message_id.clone()))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(IDEMPOTENCY_HEADER),
            key.clone(),
        ));
    for mailbox in &to {
        builder = builder.to(mailbox.clone());
    }
    if let Some(reply_to) = &message.reply_to {
        builder = builder.reply_to(mailbox("reply-to", reply_to)?);
    }

    let text = SinglePart::plain(message.text_body.clone());
    let alternative =
        |html: &String| MultiPart::alternative_plain_html(message.text_body.clone(), html.clone());
    let built = match (&message.html_body, message.attachments.as_slice()) {
        (None, []) => builder.singlepart(text),
        (Some(html), []) => builder.multipart(alternative(html)),
        (html, attachments) => {
            let mut mixed = match html {
                Some(html) => MultiPart::mixed().multipart(alternative(html)),
                None => MultiPart::mixed().singlepart(text),
            };
            for attachment in attachments {
                let content_type = ContentType::parse(&attachment.content_type).map_err(|e| {
                    EmailError::InvalidMessage(format!(
                        "attachment {:?} has an invalid content type {:?}: {e}",
                        attachment.filename, attachment.content_type
                    ))
                })?;
                mixed = mixed.singlepart(
                    lettre::message::Attachment::new(attachment.filename.clone())
                        .body(attachment.content.clone(), content_type),
                );
            }
            builder.multipart(mixed)
        }
    };
    let mime = built.map_err(|e| EmailError::InvalidMessage(e.to_string()))?;
    Ok(Prepared {
        mime,
        message_id,
        from: from.email,
        to: to.into_iter().map(|mailbox| mailbox.email).collect(),
    })
}

/// Parses `value` (`Name <address>` or a bare address) for the field named `field`.
pub(super) fn mailbox(field: &str, value: &str) -> Result<Mailbox, EmailError> {
    value.parse::<Mailbox>().map_err(|e| {
        EmailError::InvalidMessage(format!("{field} address {value:?} is not valid: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            from: None,
            to: vec!["Client <client@example.test>".into()],
            reply_to: Some("accounts@acme.test".into()),
            subject: "Invoice INV-0001".into(),
            text_body: "Please find your invoice attached.".into(),
            html_body: Some("<p>Please find your invoice attached.</p>".into()),
            attachments: vec![super::super::Attachment {
                filename: "INV-0001.pdf".into(),
                content_type: "application/pdf".into(),
                content: b"%PDF-1.7 fake".to_vec(),
            }],
            idempotency_key: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:send_invoice:1".into(),
        }
    }

    fn default_from() -> Mailbox {
        "Acme Billing <billing@acme.test>".parse().unwrap()
    }

    #[test]
    fn carries_the_key_and_derives_a_stable_message_id() {
        let first = prepare(&message(), &default_from()).unwrap();
        let again = prepare(&message(), &default_from()).unwrap();
        assert_eq!(first.message_id, again.message_id);
        assert!(first.message_id.ends_with("@acme.test>"));
        let text = String::from_utf8(first.mime.formatted()).unwrap();
        assert!(text.contains(&format!("{IDEMPOTENCY_HEADER}: {}", message().idempotency_key)));
        assert!(text.contains(&format!("Message-ID: {}", first.message_id)));
        assert!(text.contains("multipart/mixed"));
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("filename=\"INV-0001.pdf\""));
        assert_eq!(first.to, vec!["client@example.test".parse::<Address>().unwrap()]);
    }

    #[test]
    fn text_only_messages_stay_single_part() {
        let mut m = message();
        m.html_body = None;
        m.attachments.clear();
        let text = String::from_utf8(prepare(&m, &default_from()).unwrap().mime.formatted());
        assert!(!text.unwrap().contains("multipart"));
    }

    #[test]
    fn refuses_what_cannot_be_sent() {
        let cases: [fn(&mut Message); 6] = [
            |m| m.to.clear(),
            |m| m.to = vec!["not an address".into()],
            |m| m.reply_to = Some("@".into()),
            |m| m.idempotency_key = "has space".into(),
            |m| m.idempotency_key = "line\r\nX-Injected: 1".into(),
            |m| m.attachments[0].content_type = "no-slash".into(),
        ];
        for change in cases {
            let mut m = message();
            change(&mut m);
            let err = prepare(&m, &default_from()).err().expect("refused");
            assert!(matches!(err, EmailError::InvalidMessage(_)), "{err}");
            assert!(err.is_permanent());
        }
    }
}

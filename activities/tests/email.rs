//! Email against real local services: SES v2 on the moto server (`MOTO_ENDPOINT`) and SMTP into
//! the maildump catcher (`SMTP_TEST_URL`, read back through `MAILDUMP_API_URL`), both started by
//! scripts/test.sh; plus a closed port and a scripted SMTP server for the error classes. Every
//! test has its own sender and recipient, so they run in parallel against one moto and maildump.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use invoice_activities::email::{
    Attachment, EmailConfig, EmailError, IDEMPOTENCY_HEADER, Mailer, Message, SesConfig,
    SmtpConfig, TransportConfig,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use uuid::Uuid;

/// Bytes that survive only a binary-safe transfer encoding.
fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    bytes.extend(0..=255u8);
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

/// A variable scripts/test.sh exports; missing means the services were not started, which must
/// fail loudly rather than skip.
fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. The email tests need the services that `make test` \
             (scripts/test.sh) starts: moto (MOTO_ENDPOINT, AWS_ACCESS_KEY_ID, \
             AWS_SECRET_ACCESS_KEY, AWS_REGION) and maildump (SMTP_TEST_URL, MAILDUMP_API_URL). \
             By hand: `.venv/bin/moto_server -H 127.0.0.1 -p PORT` and `.venv/bin/maildump -n \
             --smtp-port P1 --http-port P2`, then export MOTO_ENDPOINT=http://127.0.0.1:PORT \
             AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
             SMTP_TEST_URL=smtp://127.0.0.1:P1 MAILDUMP_API_URL=http://127.0.0.1:P2"
        )
    })
}

fn invoice_message(to: &str) -> Message {
    let invoice = Uuid::new_v4();
    Message {
        from: None,
        to: vec![format!("Client Ltd <{to}>")],
        reply_to: Some("accounts@acme.test".into()),
        subject: format!("Invoice INV-0042 from Acme ({invoice})"),
        text_body: "Your invoice INV-0042 is attached. Amount due: 1,234.50 EUR.".into(),
        html_body: Some("<p>Your invoice <b>INV-0042</b> is attached.</p>".into()),
        attachments: vec![Attachment {
            filename: "INV-0042.pdf".into(),
            content_type: "application/pdf".into(),
            content: pdf(),
        }],
        idempotency_key: format!("{invoice}:send_invoice:1"),
    }
}

fn unique_address(local: &str, domain: &str) -> String {
    format!("{local}-{}@{domain}", Uuid::new_v4().simple())
}

/// Polls `check` until it yields a value or `within` has passed.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- SES on moto ------------------------------------------------------------------------------

async fn ses_mailer(from: &str) -> Result<Mailer> {
    required_env("AWS_ACCESS_KEY_ID");
    required_env("AWS_SECRET_ACCESS_KEY");
    let config = EmailConfig {
        from: format!("Acme Billing <{from}>"),
        transport: TransportConfig::Ses(SesConfig {
            region: required_env("AWS_REGION"),
            endpoint_url: Some(required_env("MOTO_ENDPOINT")),
            configuration_set: None,
        }),
    };
    Ok(Mailer::from_config(&config).await?)
}

/// moto's record of raw SES messages to `recipient`.
async fn moto_raw_messages_to(recipient: &str) -> Result<Vec<Value>> {
    let url = format!("{}/moto-api/data.json", required_env("MOTO_ENDPOINT"));
    let data: Value = reqwest::get(&url).await?.error_for_status()?.json().await?;
    let raw = data["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter(|m| {
            m["destinations"].as_array().is_some_and(|d| {
                d.iter().any(|a| a.as_str().is_some_and(|a| a.contains(recipient)))
            })
        })
        .collect())
}

#[tokio::test]
async fn ses_sends_one_raw_message_with_the_key() -> Result<()> {
    let sender = unique_address("billing", "ses-verified.test");
    let recipient = unique_address("client", "example.test");
    let mailer = ses_mailer(&sender).await?;
    let Mailer::Ses(ses) = &mailer else { bail!("expected the SES backend") };
    ses.client().create_email_identity().email_identity(&sender).send().await?;

    let message = invoice_message(&recipient);
    let sent = mailer.send(&message).await?;

    let recorded = moto_raw_messages_to(&recipient).await?;
    ensure!(recorded.len() == 1, "expected one message to {recipient}: {recorded:#?}");
    let m = &recorded[0];
    ensure!(m["id"] == sent.provider_message_id.as_str(), "{m:#?} vs {sent:?}");
    ensure!(m["source"] == sender.as_str(), "{m:#?}");
    // moto adds the To header's addresses to the explicit destination, so the recipient may be
    // listed twice; what matters is that nobody else is on it.
    let destinations = m["destinations"].as_array().context("destinations")?;
    ensure!(destinations.iter().all(|d| d.as_str().is_some_and(|d| d.contains(&recipient))));
    let raw = m["raw_data"].as_str().context("raw_data")?;
    ensure!(raw.contains(&format!("Subject: {}", message.subject)), "{raw}");
    ensure!(raw.contains(&format!("{IDEMPOTENCY_HEADER}: {}", message.idempotency_key)), "{raw}");
    ensure!(raw.contains("filename=\"INV-0042.pdf\""), "{raw}");
    Ok(())
}

#[tokio::test]
async fn ses_unverified_sender_is_a_permanent_error() -> Result<()> {
    let sender = unique_address("nobody", "ses-unverified.test");
    let recipient = unique_address("client", "example.test");
    let mailer = ses_mailer(&sender).await?;

    let err = mailer.send(&invoice_message(&recipient)).await.err().context("must fail")?;
    ensure!(err.is_permanent(), "{err}");
    ensure!(matches!(err, EmailError::Rejected { provider: "SES", .. }), "{err:?}");
    ensure!(err.to_string().contains("MessageRejected"), "{err}");
    ensure!(moto_raw_messages_to(&recipient).await?.is_empty());
    Ok(())
}

// ---- SMTP into maildump ----------------------------------------------------------------------

async fn smtp_mailer(url: &str) -> Result<Mailer> {
    let mut smtp = SmtpConfig::new(url);
    smtp.timeout = Duration::from_secs(10);
    let config = EmailConfig {
        from: "Acme Billing <billing@acme.test>".into(),
        transport: TransportConfig::Smtp(smtp),
    };
    Ok(Mailer::from_config(&config).await?)
}

async fn get_json(url: &str) -> Result<Value> {
    Ok(reqwest::get(url).await?.error_for_status()?.json().await?)
}

#[tokio::test]
async fn smtp_delivers_the_invoice_with_its_pdf_to_maildump() -> Result<()> {
    let api = required_env("MAILDUMP_API_URL");
    let mailer = smtp_mailer(&required_env("SMTP_TEST_URL")).await?;
    let recipient = unique_address("client", "example.test");
    let message = invoice_message(&recipient);
    let sent = mailer.send(&message).await?;

    let (api, recipient) = (api.as_str(), recipient.as_str());
    let listed =
        eventually(Duration::from_secs(10), "the message in maildump", move || async move {
            let all = get_json(&format!("{api}/messages/")).await?;
            let mine: Vec<Value> = all["messages"]
                .as_array()
                .context("messages")?
                .iter()
                .filter(|m| {
                    m["recipients"]["to"]
                        .as_array()
                        .is_some_and(|to| to.contains(&recipient.into()))
                })
                .cloned()
                .collect();
            Ok((!mine.is_empty()).then_some(mine))
        })
        .await?;
    ensure!(listed.len() == 1, "expected one message to {recipient}: {listed:#?}");
    let summary = &listed[0];
    ensure!(summary["subject"] == message.subject.as_str(), "{summary:#?}");
    ensure!(summary["sender"] == "billing@acme.test", "{summary:#?}");
    let id = summary["id"].as_i64().context("id")?;

    let source = reqwest::get(format!("{api}/messages/{id}.source")).await?.text().await?;
    ensure!(source.contains(&format!("{IDEMPOTENCY_HEADER}: {}", message.idempotency_key)));
    ensure!(source.contains(&format!("Message-ID: {}", sent.provider_message_id)), "{source}");
    ensure!(source.contains("Reply-To: accounts@acme.test"), "{source}");

    let detail = get_json(&format!("{api}/messages/{id}.json")).await?;
    let attachments = detail["attachments"].as_array().context("attachments")?;
    ensure!(attachments.len() == 1, "{detail:#?}");
    ensure!(attachments[0]["filename"] == "INV-0042.pdf", "{detail:#?}");
    ensure!(attachments[0]["type"] == "application/pdf", "{detail:#?}");
    let href = attachments[0]["href"].as_str().context("href")?;
    let bytes = reqwest::get(format!("{api}{href}")).await?.error_for_status()?.bytes().await?;
    ensure!(bytes.as_ref() == pdf().as_slice(), "the attachment came back altered");
    ensure!(detail["formats"]["html"].is_string() && detail["formats"]["plain"].is_string());
    Ok(())
}

#[tokio::test]
async fn smtp_to_a_closed_port_is_transient() -> Result<()> {
    // Bind and release a port so nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    let mailer = smtp_mailer(&format!("smtp://127.0.0.1:{port}")).await?;
    let err = mailer.send(&invoice_message("client@example.test")).await.err().context("fails")?;
    ensure!(!err.is_permanent(), "{err}");
    ensure!(matches!(err, EmailError::Transient { provider: "SMTP", .. }), "{err:?}");
    Ok(())
}

/// A one-connection SMTP server that answers RCPT TO with `rcpt_reply`; returns its URL.
async fn scripted_smtp(rcpt_reply: &'static str) -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("smtp://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 scripted ESMTP\r\n").await?;
        while let Some(line) = lines.next_line().await? {
            let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" | "HELO" => "250 scripted",
                "RCPT" => rcpt_reply,
                "QUIT" => "221 bye",
                _ => "250 ok",
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
            if verb == "QUIT" {
                break;
            }
        }
        anyhow::Ok(())
    });
    Ok(url)
}

#[tokio::test]
async fn smtp_5xx_is_permanent_and_4xx_is_transient() -> Result<()> {
    let rejected = scripted_smtp("550 5.1.1 <client@example.test>: user unknown").await?;
    let err = smtp_mailer(&rejected).await?.send(&invoice_message("client@example.test")).await;
    let err = err.err().context("a 550 must fail")?;
    ensure!(err.is_permanent(), "{err}");
    ensure!(err.to_string().contains("user unknown"), "{err}");

    let deferred = scripted_smtp("451 4.3.0 try again later").await?;
    let err = smtp_mailer(&deferred).await?.send(&invoice_message("client@example.test")).await;
    let err = err.err().context("a 451 must fail")?;
    ensure!(!err.is_permanent(), "{err}");
    Ok(())
}

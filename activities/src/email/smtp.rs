//! The SMTP backend (lettre on tokio): plain SMTP to the local mail catcher, STARTTLS or
//! implicit TLS with credentials to a real relay.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::{EmailError, Message, SentMessage, SmtpConfig, default_sender, mime};

const PROVIDER: &str = "SMTP";

/// Sends through one SMTP relay, one connection per message. lettre's connection pool is left
/// out on purpose: invoice mail is low-volume, and the pool runs a background task that makes
/// building or dropping the transport outside a tokio runtime panic.
#[derive(Debug, Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Bounds the whole send: lettre's own timeout applies to each command, not to the sum.
    timeout: Duration,
}

impl SmtpMailer {
    /// A mailer for the relay in `config`, sending from `from` by default. Connects lazily.
    pub fn new(config: &SmtpConfig, from: &str) -> Result<Self, EmailError> {
        if has_userinfo(&config.url) {
            // The URL is logged and shown in config dumps; a password must not ride in it.
            return Err(EmailError::Config(
                "SMTP_URL must not contain credentials; set SMTP_USERNAME and SMTP_PASSWORD".into(),
            ));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| EmailError::Config(format!("SMTP_URL {:?}: {e}", config.url)))?
            .timeout(Some(config.timeout));
        // Empty values count as unset: an env file with `SMTP_USERNAME=` means "no username".
        let username = config.username.as_deref().filter(|user| !user.is_empty());
        let password = config.password.as_ref().filter(|p| !p.expose_secret().is_empty());
        match (username, password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    user.to_owned(),
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            _ => {
                return Err(EmailError::Config(
                    "set both SMTP_USERNAME and SMTP_PASSWORD, or neither".into(),
                ));
            }
        }
        Ok(Self {
            transport: builder.build(),
            from: default_sender(from)?,
            timeout: config.timeout,
        })
    }

    pub(super) async fn send(&self, message: &Message) -> Result<SentMessage, EmailError> {
        let prepared = mime::prepare(message, &self.from)?;
        tokio::time::timeout(self.timeout, self.transport.send(prepared.mime))
            .await
            .map_err(|_| EmailError::Transient {
                provider: PROVIDER,
                detail: format!("no answer within {:?}", self.timeout),
            })?
            .map_err(classify)?;
        Ok(SentMessage { provider_message_id: prepared.message_id })
    }
}

/// 5xx replies and client-side refusals (no common auth mechanism, no STARTTLS, no SMTPUTF8)
/// repeat on every try; everything else (4xx, refused or dropped connections, timeouts, TLS
/// handshakes) can pass.
fn classify(e: lettre::transport::smtp::Error) -> EmailError {
    let detail = e.to_string();
    if e.is_permanent() || e.is_client() {
        EmailError::Rejected { provider: PROVIDER, detail }
    } else {
        EmailError::Transient { provider: PROVIDER, detail }
    }
}

/// Whether the URL's authority has a `user[:password]@` part.
fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_refused_in_the_url() {
        assert!(has_userinfo("smtps://user:secret@smtp.example.test:465"));
        assert!(has_userinfo("smtp://user@host"));
        assert!(!has_userinfo("smtp://127.0.0.1:1025"));
        assert!(!has_userinfo("smtp://host:587/ehlo.example?tls=required"));
        let config = SmtpConfig::new("smtp://user:secret@host:25");
        let err = SmtpMailer::new(&config, "billing@acme.test").unwrap_err();
        assert!(matches!(err, EmailError::Config(_)));
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn urls_and_senders_are_checked_up_front() {
        assert!(SmtpMailer::new(&SmtpConfig::new("smtp://127.0.0.1:1025"), "a@b.test").is_ok());
        // The sender .env.example ships for `make dev`.
        let local = SmtpMailer::new(
            &SmtpConfig::new("smtp://127.0.0.1:1025"),
            "Invoices <invoices@localhost>",
        );
        assert!(local.is_ok());
        assert!(SmtpMailer::new(&SmtpConfig::new("smtp://h:25?tls=required"), "a@b.test").is_ok());
        assert!(SmtpMailer::new(&SmtpConfig::new("http://h"), "a@b.test").is_err());
        assert!(SmtpMailer::new(&SmtpConfig::new("smtp://h:25"), "nobody").is_err());
        let mut half = SmtpConfig::new("smtp://h:25");
        half.username = Some("user".into());
        assert!(SmtpMailer::new(&half, "a@b.test").is_err());
        let mut empty = SmtpConfig::new("smtp://h:25");
        empty.username = Some(String::new());
        empty.password = Some(String::new().into());
        assert!(SmtpMailer::new(&empty, "a@b.test").is_ok(), "empty means unset");
    }
}

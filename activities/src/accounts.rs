//! The account emails (`AccountEmailWorkflow`): the link that verifies an address and the one
//! that resets a password. The API wrote the link's row in `account_tokens`; this makes the
//! link's secret, stores only its SHA-256 on the row, and mails the link. The secret is in no
//! workflow history and no log.
//!
//! Sent at most once per row as far as the row can tell: `sent_at` is set after the provider
//! took the message. A worker that dies between the two leaves the row unsent, and the retry
//! mails a new secret, which replaces the first (only the latest link works).

use askama::Template;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use invoice_workflows::account::AccountEmailOutcome;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::email::{EmailError, Mailer, Message};

#[derive(Debug, thiserror::Error)]
pub enum AccountEmailError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error("the account email could not be written: {0}")]
    Template(#[from] askama::Error),
    #[error("unknown link purpose {0:?}")]
    Purpose(String),
}

impl AccountEmailError {
    /// Retrying cannot help: the provider refused the message for good, or the row is wrong.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Database(e) => crate::postgres::is_data_exception(e),
            Self::Email(e) => e.is_permanent(),
            Self::Template(_) | Self::Purpose(_) => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }

    /// The web app's page that takes the link's token.
    fn page(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify-email",
            Self::ResetPassword => "reset-password",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Self::VerifyEmail => "Confirm your email address",
            Self::ResetPassword => "Reset your password",
        }
    }
}

#[derive(Template)]
#[template(path = "account/body.txt")]
struct TextBody<'a> {
    purpose: Purpose,
    email: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "account/body.html")]
struct HtmlBody<'a> {
    purpose: Purpose,
    email: &'a str,
    link: &'a str,
}

/// Mails the link of row `token_id`, unless it was mailed already or can no longer be used.
/// `public_base_url` is where the web app is served.
pub async fn send(
    db: &PgPool,
    mailer: &Mailer,
    public_base_url: &str,
    token_id: Uuid,
) -> Result<AccountEmailOutcome, AccountEmailError> {
    let Some(row) = sqlx::query!(
        r#"SELECT purpose, email, sent_at IS NOT NULL AS "sent!",
                  used_at IS NULL AND expires_at > now() AS "usable!"
           FROM account_tokens WHERE id = $1"#,
        token_id
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(AccountEmailOutcome::NotNeeded);
    };
    if row.sent {
        return Ok(AccountEmailOutcome::AlreadySent);
    }
    if !row.usable {
        return Ok(AccountEmailOutcome::NotNeeded);
    }
    let purpose = Purpose::parse(&row.purpose).ok_or(AccountEmailError::Purpose(row.purpose))?;
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let stored = sqlx::query!(
        "UPDATE account_tokens SET token_hash = $2
         WHERE id = $1 AND sent_at IS NULL AND used_at IS NULL",
        token_id,
        Sha256::digest(secret.as_bytes()).to_vec()
    )
    .execute(db)
    .await?
    .rows_affected();
    if stored == 0 {
        return Ok(AccountEmailOutcome::NotNeeded);
    }
    let link =
        format!("{}/{}#token={secret}", public_base_url.trim_end_matches('/'), purpose.page());
    let (email, link) = (row.email.as_str(), link.as_str());
    let message = Message {
        from: None,
        to: vec![row.email.clone()],
        reply_to: None,
        subject: purpose.subject().to_owned(),
        text_body: TextBody { purpose, email, link }.render()?,
        html_body: Some(HtmlBody { purpose, email, link }.render()?),
        attachments: Vec::new(),
        idempotency_key: format!("account:{token_id}"),
    };
    mailer.send(&message).await?;
    sqlx::query!("UPDATE account_tokens SET sent_at = now() WHERE id = $1", token_id)
        .execute(db)
        .await?;
    Ok(AccountEmailOutcome::Sent)
}

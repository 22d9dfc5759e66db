//! `invoice-api support grant|revoke|list`: who is platform support staff. Run by an operator
//! where the API runs (an ECS one-shot task, `docker compose run api support ...`); there is
//! no HTTP endpoint for it, so a stolen web session cannot make itself support. Each grant and
//! revocation is written to the audit log with the operator's name.

use anyhow::{Context as _, bail};
use sqlx::PgPool;

/// What the `support` command does.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SupportCommand {
    /// Make the user with this email support staff (they must have registered).
    Grant {
        email: String,
        /// Who grants it (your name, or a ticket), recorded with the grant.
        #[arg(long)]
        by: String,
    },
    /// End a user's support access (and their codec sessions) at once.
    Revoke {
        email: String,
        /// Who revokes it, recorded.
        #[arg(long)]
        by: String,
    },
    /// List support staff, current and revoked.
    List,
}

pub async fn run_command(db: &PgPool, command: SupportCommand) -> anyhow::Result<()> {
    match command {
        SupportCommand::Grant { email, by } => {
            let (user, email) = user_id(db, &email).await?;
            let by = operator(&by)?;
            sqlx::query!(
                "INSERT INTO support_staff (user_id, granted_by) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO UPDATE
                 SET granted_at = now(), granted_by = $2, revoked_at = NULL, revoked_by = NULL",
                user,
                by
            )
            .execute(db)
            .await?;
            record(db, user, &email, "support.grant", &by).await?;
            println!("{email} is support staff (granted by {by})");
        }
        SupportCommand::Revoke { email, by } => {
            let (user, email) = user_id(db, &email).await?;
            let by = operator(&by)?;
            let revoked = sqlx::query!(
                "UPDATE support_staff SET revoked_at = now(), revoked_by = $2
                 WHERE user_id = $1 AND revoked_at IS NULL",
                user,
                by
            )
            .execute(db)
            .await?
            .rows_affected();
            if revoked == 0 {
                bail!("{email} is not support staff");
            }
            sqlx::query!("DELETE FROM support_codec_sessions WHERE user_id = $1", user)
                .execute(db)
                .await?;
            record(db, user, &email, "support.revoke", &by).await?;
            println!("{email} is no longer support staff (revoked by {by})");
        }
        SupportCommand::List => {
            let staff = sqlx::query!(
                "SELECT u.email, s.granted_at, s.granted_by, s.revoked_at, s.revoked_by
                 FROM support_staff s JOIN users u ON u.id = s.user_id ORDER BY u.email"
            )
            .fetch_all(db)
            .await?;
            for s in staff {
                match (s.revoked_at, s.revoked_by) {
                    (Some(at), by) => println!(
                        "{}\trevoked {} by {}",
                        s.email,
                        at.format("%Y-%m-%d %H:%M"),
                        by.unwrap_or_default()
                    ),
                    (None, _) => println!(
                        "{}\tgranted {} by {}",
                        s.email,
                        s.granted_at.format("%Y-%m-%d %H:%M"),
                        s.granted_by
                    ),
                }
            }
        }
    }
    Ok(())
}

/// The user with this email (any case), and their email as stored.
async fn user_id(db: &PgPool, email: &str) -> anyhow::Result<(uuid::Uuid, String)> {
    let user =
        sqlx::query!("SELECT id, email FROM users WHERE lower(email) = lower($1)", email.trim())
            .fetch_optional(db)
            .await
            .context("reading the users")?
            .with_context(|| format!("no user has the email {email}; they must register first"))?;
    Ok((user.id, user.email))
}

fn operator(by: &str) -> anyhow::Result<String> {
    let by = by.trim();
    if by.is_empty() || by.len() > 200 {
        bail!("--by must name who does this (1-200 characters)");
    }
    Ok(by.to_owned())
}

async fn record(
    db: &PgPool,
    user: uuid::Uuid,
    email: &str,
    action: &str,
    by: &str,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO support_audit_log (user_id, email, action, detail) VALUES ($1, $2, $3, $4)",
        user,
        email,
        action,
        serde_json::json!({ "by": by })
    )
    .execute(db)
    .await?;
    Ok(())
}

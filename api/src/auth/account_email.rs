//! Links mailed to an account's address: verifying it, and resetting a forgotten password.
//!
//! The API writes the link's row (`account_tokens`) and starts an `AccountEmailWorkflow` with
//! only the row's id; the worker makes the link's secret, stores its SHA-256 on the row and mails
//! the link (`<PUBLIC_BASE_URL>/verify-email#token=...`, `/reset-password#token=...`: in the
//! fragment, so that no server log or Referer header sees it). Here a presented secret is
//! hashed and matched against unused, unexpired rows for the address the user still has.
//!
//! Until an owner of the organisation has verified their address, the worker refuses to email
//! the organisation's invoices to clients (the invoice waits in `needs_attention`): a stranger
//! cannot sign up with any address and use the platform to mail third parties.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Auth, Role, password, secret};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::Json;
use crate::limits;
use crate::state::AppState;

/// Verification links sent to one user per hour (resends included).
const VERIFY_LINKS_PER_USER_PER_HOUR: u32 = 5;
/// Reset links asked for one address per hour (whether or not it has an account).
const RESET_LINKS_PER_ADDRESS_PER_HOUR: u32 = 3;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(resend_verification))
        .routes(routes!(verify_email))
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
}

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }

    /// How long a link works: a reset link is a password, so it works briefly.
    fn lifetime(self) -> Duration {
        match self {
            Self::VerifyEmail => Duration::hours(48),
            Self::ResetPassword => Duration::hours(1),
        }
    }
}

/// Writes a link for `user_id` at `email` and starts the run that mails it. Earlier unused
/// links of the same purpose stop working: only the latest one mailed does.
pub async fn issue(
    state: &AppState,
    user_id: Uuid,
    email: &str,
    purpose: Purpose,
) -> ApiResult<Uuid> {
    let id = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    sqlx::query!(
        "UPDATE account_tokens SET expires_at = now()
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()",
        user_id,
        purpose.as_str()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO account_tokens (id, user_id, purpose, email, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        id,
        user_id,
        purpose.as_str(),
        email,
        purpose.lifetime().num_seconds() as f64
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // Row first, then the run: a crash between leaves a row no one mails (asking again sends a
    // new link), never a run without its row.
    state.runs.start_account_email(id).await?;
    tracing::info!(user.id = %user_id, token.id = %id, purpose = purpose.as_str(), "account link issued");
    Ok(id)
}

/// The unused, unexpired link a secret belongs to, still for the user's current address.
struct Link {
    id: Uuid,
    user_id: Uuid,
    email: String,
}

async fn find_link(
    conn: &mut sqlx::PgConnection,
    token: &str,
    purpose: Purpose,
) -> ApiResult<Link> {
    // `FOR UPDATE`: two uses of one link queue, and the second finds it used.
    let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT t.id, t.user_id, t.email FROM account_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > now()
           AND lower(t.email) = lower(u.email)
         FOR UPDATE OF t",
    )
    .bind(secret::sha256(token))
    .bind(purpose.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, user_id, email) = row.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_token",
            "This link is invalid or has expired; ask for a new one.",
        )
    })?;
    Ok(Link { id, user_id, email })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The token from the link's `#token=` fragment.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerified {
    /// The address now verified.
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSent {
    /// Where the link went.
    pub sent_to: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(example = "user@example.com")]
    pub email: String,
}

/// Answered whether or not the address has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetRequested {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the link's `#token=` fragment.
    pub token: String,
    /// The new password: 8 to 128 characters.
    pub password: String,
}

/// Mail the caller a new link that verifies their address (the previous one stops working).
#[utoipa::path(post, path = "/api/auth/verify-email/resend", tag = "auth", security(("bearer" = [])),
    responses((status = 202, body = VerificationSent), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn resend_verification(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<(StatusCode, Json<VerificationSent>)> {
    let user_id = auth.require_person(Role::Viewer)?;
    let user = sqlx::query!(
        r#"SELECT email, email_verified_at IS NOT NULL AS "verified!" FROM users WHERE id = $1"#,
        user_id
    )
    .fetch_one(&state.db)
    .await?;
    if user.verified {
        return Err(ApiError::conflict("already_verified", "This address is already verified."));
    }
    let key = format!("verify:user:{user_id}");
    if let Some(retry_after_secs) =
        limits::hit(&state.db, &key, 3600.0, VERIFY_LINKS_PER_USER_PER_HOUR).await?
    {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    issue(&state, user_id, &user.email, Purpose::VerifyEmail).await?;
    Ok((StatusCode::ACCEPTED, Json(VerificationSent { sent_to: user.email })))
}

/// Verify an address with the token of the link mailed to it. Needs no login: the link may be
/// opened on another device.
#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth",
    request_body = VerifyEmailRequest,
    responses((status = 200, body = EmailVerified), (status = 400, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn verify_email(
    State(state): State<AppState>,
    Json(req): Json<VerifyEmailRequest>,
) -> ApiResult<Json<EmailVerified>> {
    let mut tx = state.db.begin().await?;
    let link = find_link(&mut tx, &req.token, Purpose::VerifyEmail).await?;
    sqlx::query!(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, now()) WHERE id = $1",
        link.user_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("UPDATE account_tokens SET used_at = now() WHERE id = $1", link.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user.id = %link.user_id, "email verified");
    Ok(Json(EmailVerified { email: link.email }))
}

/// Mail a link that resets the password of the account with this address. The answer is the
/// same whether or not there is such an account, and comes before the link is written.
#[utoipa::path(post, path = "/api/auth/password-reset/request", tag = "auth",
    request_body = PasswordResetRequest,
    responses((status = 202, body = PasswordResetRequested), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn request_password_reset(
    State(state): State<AppState>,
    Json(req): Json<PasswordResetRequest>,
) -> ApiResult<(StatusCode, Json<PasswordResetRequested>)> {
    let email = req.email.trim().to_owned();
    if !invoice_domain::is_valid_email(&email) {
        let mut errors = FieldErrors::new();
        errors.add("email", "invalid_email", "Must be a valid email address.");
        errors.into_result()?;
    }
    // Counted per address whether or not it has an account, so the limit reveals nothing.
    let key = format!("reset:email:{}", email.to_lowercase());
    if let Some(retry_after_secs) =
        limits::hit(&state.db, &key, 3600.0, RESET_LINKS_PER_ADDRESS_PER_HOUR).await?
    {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    // Off the request: the answer's timing does not tell whether the account exists.
    tokio::spawn(async move {
        let user =
            sqlx::query!("SELECT id, email FROM users WHERE lower(email) = lower($1)", email)
                .fetch_optional(&state.db)
                .await;
        let result = match user {
            Ok(Some(user)) => issue(&state, user.id, &user.email, Purpose::ResetPassword)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Ok(None) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "password reset link not issued");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(PasswordResetRequested {})))
}

/// Set a new password with the token of a reset link. Every session of the account ends (log in
/// again), and the address counts as verified: the link reached it.
#[utoipa::path(post, path = "/api/auth/password-reset", tag = "auth",
    request_body = ResetPasswordRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    Json(req): Json<ResetPasswordRequest>,
) -> ApiResult<StatusCode> {
    let mut errors = FieldErrors::new();
    password::check_length(&mut errors, &req.password);
    errors.into_result()?;
    // The link is checked before the (costly) hash, and again under its lock afterwards.
    find_link(&mut *state.db.acquire().await?, &req.token, Purpose::ResetPassword).await?;
    let password_hash = password::hash(req.password).await?;
    let mut tx = state.db.begin().await?;
    let link = find_link(&mut tx, &req.token, Purpose::ResetPassword).await?;
    sqlx::query!(
        "UPDATE users SET password_hash = $2, email_verified_at = COALESCE(email_verified_at, now())
         WHERE id = $1",
        link.user_id,
        password_hash
    )
    .execute(&mut *tx)
    .await?;
    super::sessions::end_every_session(&mut tx, link.user_id).await?;
    // This link, and any other reset link still out, are spent.
    sqlx::query!(
        "UPDATE account_tokens SET used_at = now()
         WHERE user_id = $1 AND purpose = 'reset_password' AND used_at IS NULL",
        link.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(user.id = %link.user_id, "password reset; every session ended");
    Ok(StatusCode::NO_CONTENT)
}

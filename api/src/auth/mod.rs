//! Authentication and authorisation: who is calling (a user through an access token, or a
//! server through an API key), in which organisation, with which role.
//!
//! Every route that touches organisation data takes an [`Auth`] and calls [`Auth::require`]
//! with the least role it needs; the organisation id in [`Auth`] scopes every query.

pub mod account_email;
pub(crate) mod cookie;
pub mod jwt;
pub mod password;
pub mod routes;
pub mod secret;
pub mod sessions;
mod throttle;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use invoice_domain::{Actor, OrgId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use jwt::JwtError;

/// Roles, least to most powerful.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Creates and changes customers, invoices and payments.
    Accountant,
    /// Also manages members (except owners), API keys and organisation settings.
    Admin,
    /// Also manages owners.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Accountant => "accountant",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "accountant" => Some(Role::Accountant),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// Who made the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User(Uuid),
    ApiKey(Uuid),
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    pub principal: Principal,
    pub org_id: Uuid,
    pub role: Role,
}

/// Prefix of every API key, so keys are recognisable (and findable by secret scanners).
pub const API_KEY_PREFIX: &str = "inv_sk_";

impl Auth {
    /// Refuses the request unless the caller's role is at least `least`.
    pub fn require(&self, least: Role) -> Result<(), ApiError> {
        if self.role >= least {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "Your role ({}) cannot do this; it needs {} or higher.",
                self.role.as_str(),
                least.as_str()
            )))
        }
    }

    /// Who the timeline records as having acted.
    pub fn actor(&self) -> Actor {
        match self.principal {
            Principal::User(id) => Actor::User(id.into()),
            Principal::ApiKey(id) => Actor::ApiKey(id.into()),
        }
    }

    /// The caller's organisation, typed.
    pub fn org(&self) -> OrgId {
        self.org_id.into()
    }

    /// The user behind the request; API keys have none.
    /// Managing who has access (members, API keys) takes a person: a key cannot add members
    /// or make keys, so a leaked key cannot entrench itself.
    pub fn require_person(&self, least: Role) -> Result<Uuid, ApiError> {
        self.require(least)?;
        match self.principal {
            Principal::User(id) => Ok(id),
            Principal::ApiKey(_) => Err(ApiError::forbidden(
                "Members and API keys are managed by people, not by API keys.",
            )),
        }
    }

    pub fn user_id(&self) -> Result<Uuid, ApiError> {
        match self.principal {
            Principal::User(id) => Ok(id),
            Principal::ApiKey(_) => {
                Err(ApiError::forbidden("This action needs a user's token, not an API key."))
            }
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing_token", "Send `Authorization: Bearer <token>`.")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "invalid_token",
                    "The Authorization header must be `Bearer <token>`.",
                )
            })?;
        authenticate(state, token).await
    }
}

/// The caller behind a bearer token (an access token or an API key), with the role read now.
/// Also used where the token cannot travel in a header (the WebSocket's first message).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Auth, ApiError> {
    if token.starts_with(API_KEY_PREFIX) {
        return authenticate_api_key(state, token).await;
    }
    let claims = state.jwt.verify(token).map_err(|err| match err {
        JwtError::Expired => {
            ApiError::unauthorized("token_expired", "The access token has expired; refresh it.")
        }
        other => {
            tracing::debug!(error = %other, "access token refused");
            ApiError::unauthorized("invalid_token", "The access token is not valid.")
        }
    })?;
    // The role is read on every request, so a demotion or removal takes effect at once.
    let member = sqlx::query!(
        r#"SELECT m.role, u.session_epoch
           FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.org_id = $1 AND m.user_id = $2"#,
        claims.org,
        claims.sub
    )
    .fetch_optional(&state.db)
    .await?;
    let role = member.as_ref().and_then(|m| Role::parse(&m.role)).ok_or_else(|| {
        ApiError::unauthorized("invalid_token", "You are no longer a member of this organisation.")
    })?;
    // Every session of the user ended (logged out everywhere, password reset) since this token
    // was issued.
    if member.is_some_and(|m| m.session_epoch != claims.epoch) {
        return Err(ApiError::unauthorized(
            "session_ended",
            "This session was ended (logged out everywhere); log in again.",
        ));
    }
    Ok(Auth { principal: Principal::User(claims.sub), org_id: claims.org, role })
}

async fn authenticate_api_key(state: &AppState, key: &str) -> Result<Auth, ApiError> {
    let invalid = || ApiError::unauthorized("invalid_token", "The API key is not valid.");
    let prefix = key
        .strip_prefix(API_KEY_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .map(|(prefix, _)| prefix)
        .ok_or_else(invalid)?;
    // A key acts for the member who made it: never beyond that member's current role, and
    // not at all once they left the organisation (or their account is gone).
    let row = sqlx::query!(
        r#"SELECT k.id, k.org_id, k.key_hash, k.role, m.role AS "creator_role?"
           FROM api_keys k
           LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.created_by
           WHERE k.prefix = $1 AND k.revoked_at IS NULL"#,
        prefix
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(invalid)?;
    if !secret::constant_time_eq(&row.key_hash, &secret::sha256(key)) {
        return Err(invalid());
    }
    let role = Role::parse(&row.role).ok_or_else(invalid)?;
    let creator = row.creator_role.as_deref().and_then(Role::parse).ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_token",
            "The API key's creator is no longer a member of this organisation.",
        )
    })?;
    let role = role.min(creator);
    // Coarse last-use tracking: at most one write a minute per key.
    sqlx::query!(
        "UPDATE api_keys SET last_used_at = now()
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        row.id
    )
    .execute(&state.db)
    .await?;
    Ok(Auth { principal: Principal::ApiKey(row.id), org_id: row.org_id, role })
}

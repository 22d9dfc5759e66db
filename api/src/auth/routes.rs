//! `/api/auth/*` and `/api/me`: registration (user + personal organisation), login with
//! throttling, rotating refresh tokens, logout, and who-am-I.
//!
//! The refresh token travels in the JSON body, or, for a client that sends
//! `X-Refresh-Token-Transport: cookie` (the web app), as an `HttpOnly` cookie ([`cookie`]).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::account_email::{self, Purpose};
use super::{Auth, Principal, Role, cookie, password, secret, throttle};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, PeerAddr};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "user@example.com")]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(example = "SecurePassword123!")]
    pub password: String,
    /// Name of the personal organisation; defaults to one derived from the email.
    pub organization_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Organisation to act in; defaults to the first one the user joined.
    pub organization_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token; may be left out when the browser sends it as the `invoices_refresh`
    /// cookie.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Switch to another organisation the user belongs to.
    pub organization_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogoutRequest {
    /// The refresh token; may be left out when the browser sends it as the `invoices_refresh`
    /// cookie.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub created_at: DateTime<Utc>,
    /// The user followed the link mailed to this address. Until an owner's address is
    /// verified, the organisation's invoices are not emailed to its clients.
    pub email_verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipView {
    pub organization: OrganizationView,
    pub role: Role,
}

/// Tokens plus who they are for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_token: String,
    /// Single use: each refresh returns the next one. Absent when the client asked for it as
    /// a cookie (`X-Refresh-Token-Transport: cookie`): then it is the `HttpOnly` cookie
    /// `invoices_refresh` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserView,
    pub organization: OrganizationView,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// Absent when the caller is an API key.
    pub user: Option<UserView>,
    pub organization: OrganizationView,
    pub role: Role,
    /// Every organisation the user belongs to (for the organisation switcher).
    pub memberships: Vec<MembershipView>,
}

/// Create an account and its personal organisation (the user is its owner).
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header,
        description = "`cookie`: the refresh token as the `HttpOnly` cookie `invoices_refresh`, left out of the body.")),
    responses((status = 201, body = Session, headers(("Set-Cookie" = String, description = "With the cookie transport: `invoices_refresh=<token>; HttpOnly; Secure; SameSite=Strict; Path=/api/auth; Max-Age=<refresh token lifetime>`."))),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, HeaderMap, Json<Session>)> {
    let email = req.email.trim().to_owned();
    let mut errors = FieldErrors::new();
    if !invoice_domain::is_valid_email(&email) {
        errors.add("email", "invalid_email", "Must be a valid email address.");
    }
    password::check_length(&mut errors, &req.password);
    let org_name = match req.organization_name.as_deref().map(str::trim) {
        Some(name) => {
            errors.text("organizationName", name, 200);
            name.to_owned()
        }
        None => format!("{}'s organisation", email.split('@').next().unwrap_or("My")),
    };
    errors.into_result()?;

    let password_hash = password::hash(req.password).await?;
    let (user_id, org_id) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = state.db.begin().await?;
    let created_at = sqlx::query_scalar!(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) RETURNING created_at",
        user_id,
        email,
        password_hash
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            ApiError::conflict("email_taken", "An account with this email already exists.")
        }
        _ => err.into(),
    })?;
    sqlx::query!("INSERT INTO organizations (id, name) VALUES ($1, $2)", org_id, org_name)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')",
        org_id,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    let refresh_token =
        insert_refresh_token(&mut tx, &state, user_id, org_id, SessionFamily::start()).await?;
    tx.commit().await?;
    tracing::info!(user.id = %user_id, org.id = %org_id, "account registered");
    // The account works at once; the link that verifies the address goes out meanwhile. If it
    // cannot be sent now, the web app's banner sends it again.
    if let Err(error) = account_email::issue(&state, user_id, &email, Purpose::VerifyEmail).await {
        tracing::warn!(%error, user.id = %user_id, "verification email not started");
    }

    let session = Session {
        access_token: state.jwt.issue(user_id, org_id, 0).map_err(anyhow::Error::from)?,
        refresh_token: Some(refresh_token),
        token_type: "Bearer",
        expires_in: state.jwt.ttl().as_secs(),
        user: UserView { id: user_id, email: email.clone(), created_at, email_verified: false },
        organization: OrganizationView { id: org_id, name: org_name },
        role: Role::Owner,
    };
    let (headers, session) = deliver(&state, session, cookie::requested(&headers));
    Ok((StatusCode::CREATED, headers, session))
}

/// Log in with email and password. Failed attempts are limited per account and per client IP.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header,
        description = "`cookie`: the refresh token as the `HttpOnly` cookie `invoices_refresh`, left out of the body.")),
    responses((status = 200, body = Session, headers(("Set-Cookie" = String, description = "With the cookie transport: `invoices_refresh=<token>; HttpOnly; Secure; SameSite=Strict; Path=/api/auth; Max-Age=<refresh token lifetime>`."))),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> ApiResult<(HeaderMap, Json<Session>)> {
    let email = req.email.trim();
    let ip = crate::limits::client_ip(&headers, peer, state.limits.trusted_proxies);
    let keys = throttle::Keys::new(email, ip);
    throttle::attempt(&state.db, &state.auth, &keys).await?;

    let user = sqlx::query!(
        "SELECT id, email, password_hash, created_at, session_epoch,
                email_verified_at IS NOT NULL AS \"email_verified!\"
         FROM users WHERE lower(email) = lower($1)",
        email
    )
    .fetch_optional(&state.db)
    .await?;
    let verified =
        password::verify(req.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| verified) else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "The email or password is wrong.",
        ));
    };
    throttle::succeeded(&state.db, &keys).await?;

    let mut tx = state.db.begin().await?;
    let (organization, role) = membership(&mut tx, user.id, req.organization_id).await?;
    let refresh_token =
        insert_refresh_token(&mut tx, &state, user.id, organization.id, SessionFamily::start())
            .await?;
    tx.commit().await?;
    let session = Session {
        access_token: state
            .jwt
            .issue(user.id, organization.id, user.session_epoch)
            .map_err(anyhow::Error::from)?,
        refresh_token: Some(refresh_token),
        token_type: "Bearer",
        expires_in: state.jwt.ttl().as_secs(),
        user: UserView {
            id: user.id,
            email: user.email,
            created_at: user.created_at,
            email_verified: user.email_verified,
        },
        organization,
        role,
    };
    Ok(deliver(&state, session, cookie::requested(&headers)))
}

/// Trade a refresh token for a new access token and the next refresh token. A refresh token
/// works once: presenting a used one revokes every token of its session (`refresh_token_reused`).
/// A session ends `SESSION_MAX_LIFETIME_SECONDS` after its login however often it is refreshed
/// (`session_expired`): then the user logs in again.
///
/// The token comes from the body, or else from the `invoices_refresh` cookie; one that came as
/// the cookie is answered as a cookie again, and a refused one is deleted.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header,
        description = "`cookie`: the refresh token as the `HttpOnly` cookie `invoices_refresh`, left out of the body.")),
    responses((status = 200, body = Session, headers(("Set-Cookie" = String, description = "With the cookie transport: `invoices_refresh=<token>; HttpOnly; Secure; SameSite=Strict; Path=/api/auth; Max-Age=<refresh token lifetime>`."))),
        (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<RefreshRequest>,
) -> Response {
    let from_cookie = req.refresh_token.is_none();
    let Some(token) = req.refresh_token.clone().or_else(|| cookie::read(&headers)) else {
        return ApiError::unauthorized(
            "missing_refresh_token",
            "Send the refresh token in the body or as the invoices_refresh cookie.",
        )
        .into_response();
    };
    let as_cookie = from_cookie || cookie::requested(&headers);
    match rotate(&state, &token, req.organization_id).await {
        Ok(session) => deliver(&state, session, as_cookie).into_response(),
        Err(err) => {
            let mut response = err.into_response();
            if from_cookie && response.status() == StatusCode::UNAUTHORIZED {
                cookie::clear(response.headers_mut());
            }
            response
        }
    }
}

/// Trades `token` for the next session of its family, or revokes the family if it was used.
async fn rotate(
    state: &AppState,
    token: &str,
    organization_id: Option<Uuid>,
) -> ApiResult<Session> {
    let invalid = || {
        ApiError::unauthorized(
            "invalid_refresh_token",
            "The refresh token is not valid; log in again.",
        )
    };
    let mut tx = state.db.begin().await?;
    let row = sqlx::query!(
        "SELECT id, user_id, org_id, family_id, expires_at, revoked_at, session_started_at
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        secret::sha256(token)
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(invalid)?;
    if row.revoked_at.is_some() {
        // Reuse of a rotated token: someone holds a copy. End the whole session.
        sqlx::query!(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
            row.family_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(user.id = %row.user_id, "refresh token reused; session revoked");
        return Err(ApiError::unauthorized(
            "refresh_token_reused",
            "This refresh token was already used; log in again.",
        ));
    }
    if row.expires_at <= Utc::now() {
        return Err(invalid());
    }
    let family = SessionFamily { id: row.family_id, started_at: row.session_started_at };
    if family.ends_at(state) <= Utc::now() {
        return Err(ApiError::unauthorized(
            "session_expired",
            "This session reached its maximum lifetime; log in again.",
        ));
    }
    let (organization, role) =
        membership(&mut tx, row.user_id, organization_id.or(Some(row.org_id)))
            .await
            .map_err(|_| invalid())?;
    let next = insert_refresh_token(&mut tx, state, row.user_id, organization.id, family).await?;
    sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now(),
                replaced_by = (SELECT id FROM refresh_tokens WHERE token_hash = $2)
         WHERE id = $1",
        row.id,
        secret::sha256(&next)
    )
    .execute(&mut *tx)
    .await?;
    let user = sqlx::query!(
        r#"SELECT email, created_at, session_epoch,
                  email_verified_at IS NOT NULL AS "email_verified!"
           FROM users WHERE id = $1"#,
        row.user_id
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Session {
        access_token: state
            .jwt
            .issue(row.user_id, organization.id, user.session_epoch)
            .map_err(anyhow::Error::from)?,
        refresh_token: Some(next),
        token_type: "Bearer",
        expires_in: state.jwt.ttl().as_secs(),
        user: UserView {
            id: row.user_id,
            email: user.email,
            created_at: user.created_at,
            email_verified: user.email_verified,
        },
        organization,
        role,
    })
}

/// End the session of a refresh token (every token of its family is revoked). The token comes
/// from the body, or else from the `invoices_refresh` cookie, which is deleted either way.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = LogoutRequest,
    responses((status = 204, headers(("Set-Cookie" = String, description = "Deletes the `invoices_refresh` cookie.")))))]
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<LogoutRequest>,
) -> ApiResult<(StatusCode, HeaderMap)> {
    if let Some(token) = req.refresh_token.or_else(|| cookie::read(&headers)) {
        sqlx::query!(
            "UPDATE refresh_tokens SET revoked_at = now()
         WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)
           AND revoked_at IS NULL",
            secret::sha256(&token)
        )
        .execute(&state.db)
        .await?;
    }
    let mut cleared = HeaderMap::new();
    cookie::clear(&mut cleared);
    Ok((StatusCode::NO_CONTENT, cleared))
}

/// The session as the client asked for it: the refresh token in the body, or moved into an
/// `HttpOnly` cookie and left out of the body.
fn deliver(state: &AppState, mut session: Session, as_cookie: bool) -> (HeaderMap, Json<Session>) {
    let mut headers = HeaderMap::new();
    if as_cookie && let Some(token) = session.refresh_token.take() {
        cookie::set(&mut headers, &token, state.auth.refresh_token_ttl_secs);
    }
    (headers, Json(session))
}

/// The caller: user, current organisation and role, and every organisation they belong to.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Me>> {
    let organization = sqlx::query_as!(
        OrganizationView,
        "SELECT id, name FROM organizations WHERE id = $1",
        auth.org_id
    )
    .fetch_one(&state.db)
    .await?;
    let (user, memberships) = match auth.principal {
        Principal::User(user_id) => {
            let user = sqlx::query_as!(
                UserView,
                r#"SELECT id, email, created_at, email_verified_at IS NOT NULL AS "email_verified!"
                   FROM users WHERE id = $1"#,
                user_id
            )
            .fetch_one(&state.db)
            .await?;
            let memberships = sqlx::query!(
                "SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
                 WHERE m.user_id = $1 ORDER BY m.created_at, o.id",
                user_id
            )
            .fetch_all(&state.db)
            .await?
            .into_iter()
            .filter_map(|r| {
                Some(MembershipView { organization: OrganizationView { id: r.id, name: r.name }, role: Role::parse(&r.role)? })
            })
            .collect();
            (Some(user), memberships)
        }
        Principal::ApiKey(_) => (None, Vec::new()),
    };
    Ok(Json(Me { user, organization, role: auth.role, memberships }))
}

/// The organisation a user acts in: the requested one (if a member) or their first.
async fn membership(
    conn: &mut PgConnection,
    user_id: Uuid,
    requested: Option<Uuid>,
) -> ApiResult<(OrganizationView, Role)> {
    let row = sqlx::query!(
        "SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 AND ($2::uuid IS NULL OR m.org_id = $2)
         ORDER BY m.created_at, o.id LIMIT 1",
        user_id,
        requested
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::forbidden("You are not a member of that organisation."))?;
    let role =
        Role::parse(&row.role).ok_or_else(|| anyhow::anyhow!("unknown role {}", row.role))?;
    Ok((OrganizationView { id: row.id, name: row.name }, role))
}

/// A login session: the family of refresh tokens one login started, each token replacing the
/// one before it.
#[derive(Debug, Clone, Copy)]
struct SessionFamily {
    id: Uuid,
    started_at: DateTime<Utc>,
}

impl SessionFamily {
    /// The family a login or a registration starts.
    fn start() -> Self {
        Self { id: Uuid::now_v7(), started_at: Utc::now() }
    }

    /// When the session ends however often it is refreshed (`SESSION_MAX_LIFETIME_SECONDS`).
    fn ends_at(&self, state: &AppState) -> DateTime<Utc> {
        self.started_at + Duration::seconds(state.auth.session_max_lifetime_secs as i64)
    }
}

/// A new refresh token in `family`, expiring after `REFRESH_TOKEN_TTL_SECONDS` or at the
/// session's end, whichever comes first.
async fn insert_refresh_token(
    conn: &mut PgConnection,
    state: &AppState,
    user_id: Uuid,
    org_id: Uuid,
    family: SessionFamily,
) -> ApiResult<String> {
    let token = secret::random_token();
    let expires_at = (Utc::now() + Duration::seconds(state.auth.refresh_token_ttl_secs as i64))
        .min(family.ends_at(state));
    sqlx::query!(
        "INSERT INTO refresh_tokens
             (id, org_id, user_id, family_id, token_hash, expires_at, session_started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        Uuid::now_v7(),
        org_id,
        user_id,
        family.id,
        secret::sha256(&token),
        expires_at,
        family.started_at
    )
    .execute(conn)
    .await?;
    Ok(token)
}

//! `/api/org`: the caller's organisation, its members and roles, and its API keys.
//!
//! Admins manage members and keys; only owners grant, change or remove the owner role, and an
//! organisation always keeps at least one owner.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{API_KEY_PREFIX, Auth, Role, secret};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_org, update_org))
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub default_currency: String,
    /// Days relative to the due date on which reminders go out (09:00 in the customer's zone).
    #[schema(example = json!([-3, 0, 3, 7, 14]))]
    pub reminder_offsets: Vec<i32>,
    /// Printed on every invoice as the seller.
    pub seller_details: SellerDetails,
    /// Printed on every invoice (bank account, terms).
    pub payment_instructions: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Who the invoices are from, as printed on them. The organisation's name stands in for a
/// missing legal name.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SellerDetails {
    pub legal_name: Option<String>,
    #[serde(default)]
    pub address_lines: Vec<String>,
    pub email: Option<String>,
    /// VAT or other tax number.
    pub tax_id: Option<String>,
}

const MAX_REMINDERS: usize = 10;

async fn load_org(state: &AppState, org_id: Uuid) -> ApiResult<Organization> {
    let r = sqlx::query!(
        "SELECT id, name, default_currency, reminder_offsets, seller_details, payment_instructions, created_at
         FROM organizations WHERE id = $1",
        org_id
    )
    .fetch_one(&state.db)
    .await?;
    Ok(Organization {
        id: r.id,
        name: r.name,
        default_currency: r.default_currency,
        reminder_offsets: r.reminder_offsets,
        seller_details: r
            .seller_details
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        payment_instructions: r.payment_instructions,
        created_at: r.created_at,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateOrganization {
    pub name: Option<String>,
    /// ISO 4217 code used for new customers unless they say otherwise.
    pub default_currency: Option<String>,
    /// Reminder days relative to the due date, e.g. `[-3, 0, 3, 7, 14]`; `[]` for none. Applies to
    /// invoices created from now on.
    pub reminder_offsets: Option<Vec<i32>>,
    pub seller_details: Option<SellerDetails>,
    pub payment_instructions: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddMember {
    /// Email of a registered user.
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateMember {
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// Identifies the key in lists and logs; the secret part is never shown again.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The key itself. Shown once: store it now.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// `viewer`, `accountant` or `admin` (never `owner`), at most the caller's own role.
    pub role: Role,
}

/// The current organisation.
#[utoipa::path(get, path = "/api/org", tag = "organization", security(("bearer" = [])),
    responses((status = 200, body = Organization)))]
async fn get_org(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Organization>> {
    auth.require(Role::Viewer)?;
    Ok(Json(load_org(&state, auth.org_id).await?))
}

/// Rename the organisation or change its default currency (admins).
#[utoipa::path(patch, path = "/api/org", tag = "organization", request_body = UpdateOrganization,
    security(("bearer" = [])),
    responses((status = 200, body = Organization), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_org(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<UpdateOrganization>,
) -> ApiResult<Json<Organization>> {
    auth.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let name = req.name.map(|n| n.trim().to_owned());
    if let Some(name) = &name {
        errors.text("name", name, 200);
    }
    if req.default_currency.as_ref().is_some_and(|c| c.parse::<invoice_domain::Currency>().is_err())
    {
        errors.add(
            "defaultCurrency",
            "unknown_currency",
            "Must be an ISO 4217 currency code such as `EUR`.",
        );
    }
    if let Some(offsets) = &req.reminder_offsets {
        let mut unique = offsets.clone();
        unique.sort_unstable();
        unique.dedup();
        if offsets.len() > MAX_REMINDERS
            || unique.len() != offsets.len()
            || offsets.iter().any(|d| !(-90..=365).contains(d))
        {
            errors.add(
                "reminderOffsets",
                "invalid_offsets",
                format!("At most {MAX_REMINDERS} different days from -90 to 365."),
            );
        }
    }
    if let Some(seller) = &req.seller_details {
        for (field, value, max) in [
            ("sellerDetails.legalName", &seller.legal_name, 200),
            ("sellerDetails.taxId", &seller.tax_id, 50),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                errors.add(field, "too_long", format!("Must be at most {max} characters."));
            }
        }
        if seller.address_lines.len() > 6
            || seller.address_lines.iter().any(|l| l.chars().count() > 200)
        {
            errors.add(
                "sellerDetails.addressLines",
                "too_long",
                "At most 6 lines of 200 characters.",
            );
        }
        if seller.email.as_ref().is_some_and(|e| !invoice_domain::is_valid_email(e)) {
            errors.add("sellerDetails.email", "invalid_email", "Must be a valid email address.");
        }
    }
    if req.payment_instructions.as_ref().is_some_and(|p| p.chars().count() > 2000) {
        errors.add("paymentInstructions", "too_long", "Must be at most 2000 characters.");
    }
    errors.into_result()?;
    let seller = req.seller_details.map(|s| serde_json::to_value(s).unwrap_or_default());
    let mut offsets = req.reminder_offsets;
    if let Some(o) = offsets.as_mut() {
        o.sort_unstable();
    }
    sqlx::query!(
        "UPDATE organizations
         SET name = COALESCE($2, name), default_currency = COALESCE($3, default_currency),
             reminder_offsets = COALESCE($4, reminder_offsets), seller_details = COALESCE($5, seller_details),
             payment_instructions = COALESCE($6, payment_instructions), updated_at = now()
         WHERE id = $1",
        auth.org_id,
        name,
        req.default_currency,
        offsets.as_deref(),
        seller,
        req.payment_instructions
    )
    .execute(&state.db)
    .await?;
    Ok(Json(load_org(&state, auth.org_id).await?))
}

/// Members of the organisation and their roles.
#[utoipa::path(get, path = "/api/org/members", tag = "organization", security(("bearer" = [])),
    responses((status = 200, body = [Member])))]
async fn list_members(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<Member>>> {
    auth.require(Role::Viewer)?;
    let members = sqlx::query!(
        "SELECT u.id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 ORDER BY m.created_at, u.id",
        auth.org_id
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .filter_map(|r| Some(Member { user_id: r.id, email: r.email, role: Role::parse(&r.role)?, joined_at: r.created_at }))
    .collect();
    Ok(Json(members))
}

/// Add a registered user to the organisation with a role (admins; owners for `owner`).
#[utoipa::path(post, path = "/api/org/members", tag = "organization", request_body = AddMember,
    security(("bearer" = [])),
    responses((status = 201, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<AddMember>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    auth.require_person(Role::Admin)?;
    if req.role == Role::Owner {
        auth.require(Role::Owner)?;
    }
    let user = sqlx::query!(
        "SELECT id, email FROM users WHERE lower(email) = lower($1)",
        req.email.trim()
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::NotFound {
        message: "No account has this email; ask them to sign up first.".into(),
    })?;
    let joined_at = sqlx::query_scalar!(
        "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING created_at",
        auth.org_id,
        user.id,
        req.role.as_str()
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::conflict("already_member", "This user is already a member."))?;
    Ok((
        StatusCode::CREATED,
        Json(Member { user_id: user.id, email: user.email, role: req.role, joined_at }),
    ))
}

/// Change a member's role (admins; owners when the owner role is involved).
#[utoipa::path(patch, path = "/api/org/members/{userId}", tag = "organization", request_body = UpdateMember,
    params(("userId" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn update_member(
    State(state): State<AppState>,
    auth: Auth,
    Path(user_id): Path<Uuid>,
    Json(req): Json<UpdateMember>,
) -> ApiResult<Json<Member>> {
    auth.require_person(Role::Admin)?;
    let mut tx = state.db.begin().await?;
    let current = lock_member(&mut tx, auth.org_id, user_id).await?;
    if current.role == Role::Owner || req.role == Role::Owner {
        auth.require(Role::Owner)?;
    }
    if current.role == Role::Owner && req.role != Role::Owner {
        ensure_another_owner(&mut tx, auth.org_id, user_id).await?;
    }
    sqlx::query!(
        "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2",
        auth.org_id,
        user_id,
        req.role.as_str()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(Member { role: req.role, ..current }))
}

/// Remove a member (admins; owners to remove an owner). Members may also remove themselves.
#[utoipa::path(delete, path = "/api/org/members/{userId}", tag = "organization", params(("userId" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    Path(user_id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let leaving_self = auth.user_id().is_ok_and(|me| me == user_id);
    if !leaving_self {
        auth.require_person(Role::Admin)?;
    }
    let mut tx = state.db.begin().await?;
    let current = lock_member(&mut tx, auth.org_id, user_id).await?;
    if current.role == Role::Owner {
        if !leaving_self {
            auth.require(Role::Owner)?;
        }
        ensure_another_owner(&mut tx, auth.org_id, user_id).await?;
    }
    sqlx::query!(
        "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
        auth.org_id,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    // Their sessions for this organisation end with the membership.
    sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        auth.org_id,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Locks the organisation's memberships for the transaction and reads one of them; locking
/// all of them serialises concurrent demotions, so two owners cannot demote each other at once.
async fn lock_member(
    conn: &mut sqlx::PgConnection,
    org_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Member> {
    let rows = sqlx::query!(
        "SELECT u.id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 ORDER BY m.user_id FOR UPDATE OF m",
        org_id
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .find(|r| r.id == user_id)
        .and_then(|r| {
            Some(Member {
                user_id: r.id,
                email: r.email,
                role: Role::parse(&r.role)?,
                joined_at: r.created_at,
            })
        })
        .ok_or_else(|| ApiError::not_found("Member"))
}

async fn ensure_another_owner(
    conn: &mut sqlx::PgConnection,
    org_id: Uuid,
    except: Uuid,
) -> ApiResult<()> {
    let others = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM memberships WHERE org_id = $1 AND role = 'owner' AND user_id <> $2"#,
        org_id,
        except
    )
    .fetch_one(conn)
    .await?;
    if others == 0 {
        return Err(ApiError::conflict(
            "last_owner",
            "An organisation needs at least one owner; make someone else owner first.",
        ));
    }
    Ok(())
}

/// API keys of the organisation (admins).
#[utoipa::path(get, path = "/api/org/api-keys", tag = "organization", security(("bearer" = [])),
    responses((status = 200, body = [ApiKey]), (status = 403, body = ErrorBody)))]
async fn list_api_keys(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<ApiKey>>> {
    auth.require(Role::Admin)?;
    let keys = sqlx::query!(
        "SELECT id, name, role, prefix, created_at, last_used_at FROM api_keys
         WHERE org_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id",
        auth.org_id
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .filter_map(|r| {
        Some(ApiKey {
            id: r.id,
            name: r.name,
            role: Role::parse(&r.role)?,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    })
    .collect();
    Ok(Json(keys))
}

/// Create an API key for server-to-server use (admins). The key is in this response only.
#[utoipa::path(post, path = "/api/org/api-keys", tag = "organization", request_body = CreateApiKey,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedApiKey), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_api_key(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let creator = auth.require_person(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let name = req.name.trim().to_owned();
    errors.text("name", &name, 100);
    if req.role == Role::Owner || req.role > auth.role {
        errors.add(
            "role",
            "role_not_allowed",
            "An API key can be viewer, accountant or admin, and not above your role.",
        );
    }
    errors.into_result()?;
    let prefix = secret::random_prefix();
    let key = format!("{API_KEY_PREFIX}{prefix}_{}", secret::random_token());
    let row = sqlx::query!(
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at",
        Uuid::now_v7(),
        auth.org_id,
        name,
        prefix,
        secret::sha256(&key),
        req.role.as_str(),
        creator
    )
    .fetch_one(&state.db)
    .await?;
    tracing::info!(org.id = %auth.org_id, api_key.id = %row.id, "API key created");
    let api_key = ApiKey {
        id: row.id,
        name,
        role: req.role,
        prefix,
        created_at: row.created_at,
        last_used_at: None,
    };
    Ok((StatusCode::CREATED, Json(CreatedApiKey { api_key, key })))
}

/// Revoke an API key (admins). It stops working at once.
#[utoipa::path(delete, path = "/api/org/api-keys/{id}", tag = "organization", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Admin)?;
    let revoked = sqlx::query!(
        "UPDATE api_keys SET revoked_at = now() WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
        auth.org_id,
        id
    )
    .execute(&state.db)
    .await?
    .rows_affected();
    if revoked == 0 {
        return Err(ApiError::not_found("API key"));
    }
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/customers`: the clients an organisation invoices. Every query is scoped by the caller's
//! organisation, so another organisation's customer is indistinguishable from a missing one.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::types::Json as SqlJson;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, Path, Query};
use crate::pagination::{self, Page};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_customers, create_customer)).routes(routes!(
        get_customer,
        update_customer,
        delete_customer
    ))
}

/// A postal address; `country` is an ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: Option<String>,
    pub postal_code: String,
    #[schema(example = "DE")]
    pub country: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    #[schema(value_type = Option<Address>)]
    pub address: Option<SqlJson<Address>>,
    pub tax_id: Option<String>,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// IANA time zone; reminders go out at 09:00 there.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    /// BCP 47 language tag.
    #[schema(example = "de-DE")]
    pub locale: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCustomer {
    #[schema(example = "Acme Corp")]
    pub name: String,
    #[schema(example = "billing@acme.com")]
    pub email: Option<String>,
    pub address: Option<Address>,
    pub tax_id: Option<String>,
    /// Defaults to the organisation's currency.
    pub currency: Option<String>,
    /// Defaults to `UTC`.
    pub time_zone: Option<String>,
    /// Defaults to `en-US`.
    pub locale: Option<String>,
}

/// Fields to change. An absent field stays as it is; `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCustomer {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Address>)]
    pub address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    pub currency: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Matches name or email, case-insensitively.
    pub q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

/// Validated, normalised customer fields ready to store.
struct Fields {
    name: String,
    email: Option<String>,
    address: Option<Address>,
    tax_id: Option<String>,
    currency: String,
    time_zone: String,
    locale: String,
}

fn validate(f: &mut Fields) -> ApiResult<()> {
    let mut errors = FieldErrors::new();
    f.name = f.name.trim().to_owned();
    errors.text("name", &f.name, 200);
    f.email = f.email.take().map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if f.email.as_deref().is_some_and(|e| !invoice_domain::is_valid_email(e)) {
        errors.add("email", "invalid_email", "Must be a valid email address.");
    }
    if let Some(a) = &mut f.address {
        for (field, value, max) in [
            ("address.line1", &mut a.line1, 200),
            ("address.city", &mut a.city, 100),
            ("address.postalCode", &mut a.postal_code, 20),
        ] {
            *value = value.trim().to_owned();
            errors.text(field, value, max);
        }
        for (field, value) in [("address.line2", &mut a.line2), ("address.region", &mut a.region)] {
            *value = value.take().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
                errors.add(field, "too_long", "Must be at most 200 characters.");
            }
        }
        if !invoice_domain::is_valid_country(&a.country) {
            errors.add(
                "address.country",
                "invalid_country",
                "Must be an ISO 3166-1 alpha-2 code such as `DE`.",
            );
        }
    }
    f.tax_id = f.tax_id.take().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if f.tax_id.as_ref().is_some_and(|t| t.chars().count() > 64) {
        errors.add("taxId", "too_long", "Must be at most 64 characters.");
    }
    if f.currency.parse::<invoice_domain::Currency>().is_err() {
        errors.add(
            "currency",
            "unknown_currency",
            "Must be an ISO 4217 currency code such as `EUR`.",
        );
    }
    if invoice_domain::parse_time_zone(&f.time_zone).is_none() {
        errors.add(
            "timeZone",
            "unknown_time_zone",
            "Must be an IANA time zone such as `Europe/Berlin`.",
        );
    }
    if !invoice_domain::is_valid_locale(&f.locale) {
        errors.add("locale", "invalid_locale", "Must be a language tag such as `en-US`.");
    }
    errors.into_result()
}

/// List customers, newest first.
#[utoipa::path(get, path = "/api/customers", tag = "customers", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = Page<Customer>), (status = 401, body = ErrorBody)))]
async fn list_customers(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Page<Customer>>> {
    auth.require(Role::Viewer)?;
    let limit = pagination::limit(params.limit)?;
    let after: Option<Cursor> = params.cursor.as_deref().map(pagination::decode).transpose()?;
    let pattern =
        params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(|q| {
            format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
        });
    let mut items = sqlx::query_as!(
        Customer,
        r#"SELECT id, name, email, address AS "address: SqlJson<Address>", tax_id, currency, time_zone,
                  locale, created_at, updated_at
           FROM customers
           WHERE org_id = $1
             AND ($2::text IS NULL OR name ILIKE $2 OR email ILIKE $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
           ORDER BY created_at DESC, id DESC
           LIMIT $5"#,
        auth.org_id,
        pattern,
        after.as_ref().map(|c| c.created_at),
        after.as_ref().map(|c| c.id),
        limit + 1
    )
    .fetch_all(&state.db)
    .await?;
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        let last = items.last().expect("a full page has a last item");
        pagination::encode(&Cursor { created_at: last.created_at, id: last.id })
    });
    Ok(Json(Page { items, next_cursor }))
}

/// Create a customer.
#[utoipa::path(post, path = "/api/customers", tag = "customers", request_body = CreateCustomer,
    security(("bearer" = [])),
    responses((status = 201, body = Customer), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_customer(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateCustomer>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    auth.require(Role::Accountant)?;
    let currency = match req.currency {
        Some(c) => c,
        None => {
            sqlx::query_scalar!(
                "SELECT default_currency FROM organizations WHERE id = $1",
                auth.org_id
            )
            .fetch_one(&state.db)
            .await?
        }
    };
    let mut f = Fields {
        name: req.name,
        email: req.email,
        address: req.address,
        tax_id: req.tax_id,
        currency,
        time_zone: req.time_zone.unwrap_or_else(|| "UTC".to_owned()),
        locale: req.locale.unwrap_or_else(|| "en-US".to_owned()),
    };
    validate(&mut f)?;
    let customer = sqlx::query_as!(
        Customer,
        r#"INSERT INTO customers (id, org_id, name, email, address, tax_id, currency, time_zone, locale)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           RETURNING id, name, email, address AS "address: SqlJson<Address>", tax_id, currency, time_zone,
                     locale, created_at, updated_at"#,
        Uuid::now_v7(),
        auth.org_id,
        f.name,
        f.email,
        f.address.map(SqlJson) as Option<SqlJson<Address>>,
        f.tax_id,
        f.currency,
        f.time_zone,
        f.locale
    )
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// Get one customer.
#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))]
async fn get_customer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Customer>> {
    auth.require(Role::Viewer)?;
    fetch(&state, auth.org_id, id).await.map(Json)
}

/// Change a customer. Absent fields stay; `null` clears `email`, `address` or `taxId`.
#[utoipa::path(patch, path = "/api/customers/{id}", tag = "customers", params(("id" = Uuid, Path)),
    request_body = UpdateCustomer, security(("bearer" = [])),
    responses((status = 200, body = Customer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_customer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateCustomer>,
) -> ApiResult<Json<Customer>> {
    auth.require(Role::Accountant)?;
    let current = fetch(&state, auth.org_id, id).await?;
    let mut f = Fields {
        name: req.name.unwrap_or(current.name),
        email: req.email.unwrap_or(current.email),
        address: req.address.unwrap_or(current.address.map(|a| a.0)),
        tax_id: req.tax_id.unwrap_or(current.tax_id),
        currency: req.currency.unwrap_or(current.currency),
        time_zone: req.time_zone.unwrap_or(current.time_zone),
        locale: req.locale.unwrap_or(current.locale),
    };
    validate(&mut f)?;
    let customer = sqlx::query_as!(
        Customer,
        r#"UPDATE customers
           SET name = $3, email = $4, address = $5, tax_id = $6, currency = $7, time_zone = $8, locale = $9,
               updated_at = now()
           WHERE org_id = $1 AND id = $2
           RETURNING id, name, email, address AS "address: SqlJson<Address>", tax_id, currency, time_zone,
                     locale, created_at, updated_at"#,
        auth.org_id,
        id,
        f.name,
        f.email,
        f.address.map(SqlJson) as Option<SqlJson<Address>>,
        f.tax_id,
        f.currency,
        f.time_zone,
        f.locale
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::not_found("Customer"))?;
    Ok(Json(customer))
}

/// Delete a customer that has no invoices (invoices keep their customer: 409 otherwise).
#[utoipa::path(delete, path = "/api/customers/{id}", tag = "customers", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The customer has invoices")))]
async fn delete_customer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Accountant)?;
    let deleted = sqlx::query!(
        "DELETE FROM customers WHERE org_id = $1 AND id = $2",
        auth.org_id,
        id
    )
    .execute(&state.db)
    .await
    .map_err(|e| match &e {
        // invoices.customer_id is ON DELETE RESTRICT.
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => ApiError::conflict(
            "customer_has_invoices",
            "This customer has invoices; they keep their customer, so it cannot be deleted.",
        ),
        _ => ApiError::from(e),
    })?
    .rows_affected();
    if deleted == 0 {
        return Err(ApiError::not_found("Customer"));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn fetch(state: &AppState, org_id: Uuid, id: Uuid) -> ApiResult<Customer> {
    sqlx::query_as!(
        Customer,
        r#"SELECT id, name, email, address AS "address: SqlJson<Address>", tax_id, currency, time_zone,
                  locale, created_at, updated_at
           FROM customers WHERE org_id = $1 AND id = $2"#,
        org_id,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::not_found("Customer"))
}

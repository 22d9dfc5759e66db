//! Invoice reads from Postgres: one invoice with lines, totals and payments; filtered lists with
//! keyset pagination; the timeline.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::TimelineKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::view::{InvoiceRow, InvoiceView, fetch_invoice, stored};
use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, Path, Query};
use crate::pagination::{self, Page};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub id: i64,
    pub kind: TimelineKind,
    /// `user:<id>`, `api_key:<id>`, `system`, `client`, `stripe` or `test_checkout`.
    pub actor: String,
    /// The event's fields (camelCase), by `kind`.
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// One invoice with its lines, payments, amount due and next scheduled action.
#[utoipa::path(get, path = "/api/invoices/{id}", tag = "invoices", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 200, body = InvoiceView), (status = 404, body = ErrorBody)))]
pub(super) async fn get_invoice(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InvoiceView>> {
    auth.require(Role::Viewer)?;
    fetch_invoice(&state, auth.org_id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Invoice"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// One status, or several separated by commas.
    pub status: Option<String>,
    pub customer_id: Option<Uuid>,
    /// Matches the number, the client's name or email, and line descriptions.
    pub q: Option<String>,
    /// Issue date from (inclusive), `YYYY-MM-DD`.
    pub from: Option<NaiveDate>,
    /// Issue date to (inclusive).
    pub to: Option<NaiveDate>,
    /// Total at least, minor units.
    pub min_amount: Option<i64>,
    /// Total at most, minor units.
    pub max_amount: Option<i64>,
    /// `createdAt`, `issueDate`, `dueDate`, `total` or `number`; `-` first for descending.
    /// Default `-createdAt` (newest first).
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A sortable column: its SQL expression (never null) and the type its cursor value casts to.
fn sort_column(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "createdAt" => ("i.created_at", "timestamptz"),
        "issueDate" => ("COALESCE(i.issue_date, DATE '0001-01-01')", "date"),
        "dueDate" => ("i.due_date", "date"),
        "total" => ("i.total", "bigint"),
        "number" => ("COALESCE(i.number, '')", "text"),
        _ => return None,
    })
}

/// Where the previous page ended: the sort it was made with, that row's sort value and id.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    sort: String,
    value: String,
    id: Uuid,
}

/// The validated SQL of a list request, ready to run.
pub struct ListQuery {
    pub sql: sqlx::QueryBuilder<sqlx::Postgres>,
    sort: String,
    limit: i64,
    after: Option<Cursor>,
}

/// Validates list parameters and builds their SQL for the organisation's invoices. Public so
/// that `make bench` can time exactly this query without HTTP, as the floor of the endpoint.
pub fn list_query(org_id: Uuid, p: &ListParams) -> ApiResult<ListQuery> {
    let limit = pagination::limit(p.limit)?;
    let mut errors = FieldErrors::new();
    let statuses: Option<Vec<String>> =
        p.status.as_deref().map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    if statuses
        .as_ref()
        .is_some_and(|ss| ss.iter().any(|s| invoice_domain::InvoiceStatus::parse(s).is_none()))
    {
        errors.add("status", "unknown_status", "Unknown status.");
    }
    let sort = p.sort.clone().unwrap_or_else(|| "-createdAt".to_owned());
    let (descending, sort_name) = match sort.strip_prefix('-') {
        Some(name) => (true, name),
        None => (false, sort.as_str()),
    };
    let column = sort_column(sort_name);
    if column.is_none() {
        errors.add(
            "sort",
            "unknown_sort",
            "Must be createdAt, issueDate, dueDate, total or number, optionally with a leading -.",
        );
    }
    errors.into_result()?;
    let (expr, cast) = column.expect("validated");
    let after: Option<Cursor> = p.cursor.as_deref().map(pagination::decode).transpose()?;
    if after.as_ref().is_some_and(|c| c.sort != sort) {
        return Err(ApiError::bad_request(
            "invalid_cursor",
            "The cursor belongs to another sort order.",
        ));
    }
    let pattern =
        p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(|q| {
            format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
        });

    // Deferred join: the page's ids are found and ordered first (from an index alone where the
    // filters allow), and only those rows are read whole.
    //
    // With an issue-date range and the default creation order, the inner ORDER BY uses a fenced
    // expression: otherwise the planner, expecting matches spread evenly over creation order,
    // walks the organisation's whole creation index for a range far in the past (300 ms at
    // 1 000 000 invoices) instead of reading the range from its issue-date index (7 ms).
    let order_expr = if sort_name == "createdAt" && (p.from.is_some() || p.to.is_some()) {
        "(i.created_at + interval '0 s')"
    } else {
        expr
    };
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
        "SELECT i.id, i.number, i.status, i.customer_id, i.client_name, i.client_email, i.currency,
                i.issue_date, i.due_date, i.tax_rate::text AS tax_rate, i.discount_rate::text AS discount_rate,
                i.subtotal, i.discount_total, i.tax_total, i.total, i.amount_paid, i.amount_due, i.notes,
                i.reference, i.attention_reason, i.next_action, i.pdf_key, i.public_token, i.workflow_id, i.created_at,
                i.updated_at, i.sent_at, i.paid_at, i.voided_at, ({expr})::text AS sort_value
         FROM invoices i WHERE i.id IN (SELECT i.id FROM invoices i WHERE i.org_id = "
    ));
    sql.push_bind(org_id);
    if let Some(statuses) = statuses {
        sql.push(" AND i.status = ANY(").push_bind(statuses).push(")");
    }
    if let Some(customer) = p.customer_id {
        sql.push(" AND i.customer_id = ").push_bind(customer);
    }
    if let Some(pattern) = pattern {
        // One id set per trigram index (migration 006), so a rare term is found without
        // reading every invoice of the organisation.
        sql.push(" AND i.id IN (SELECT t.id FROM invoices t WHERE t.org_id = ").push_bind(org_id);
        sql.push(" AND (t.number ILIKE ").push_bind(pattern.clone());
        sql.push(" OR t.client_name ILIKE ").push_bind(pattern.clone());
        sql.push(" OR t.client_email ILIKE ").push_bind(pattern.clone());
        sql.push(") UNION ALL SELECT l.invoice_id FROM invoice_lines l WHERE l.org_id = ")
            .push_bind(org_id)
            .push(" AND l.description ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    if let Some(from) = p.from {
        sql.push(" AND i.issue_date >= ").push_bind(from);
    }
    if let Some(to) = p.to {
        sql.push(" AND i.issue_date <= ").push_bind(to);
    }
    if let Some(min) = p.min_amount {
        sql.push(" AND i.total >= ").push_bind(min);
    }
    if let Some(max) = p.max_amount {
        sql.push(" AND i.total <= ").push_bind(max);
    }
    let (cmp, order) = if descending { ("<", "DESC") } else { (">", "ASC") };
    if let Some(c) = &after {
        sql.push(format!(" AND ({order_expr}, i.id) {cmp} ("))
            .push_bind(c.value.clone())
            .push(format!("::{cast}, "))
            .push_bind(c.id)
            .push(")");
    }
    sql.push(format!(" ORDER BY {order_expr} {order}, i.id {order} LIMIT "))
        .push_bind(limit + 1)
        .push(format!(") ORDER BY {expr} {order}, i.id {order}"));
    Ok(ListQuery { sql, sort, limit, after })
}

/// List invoices with filters and a sort order, one keyset page at a time.
#[utoipa::path(get, path = "/api/invoices", tag = "invoices", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = Page<InvoiceView>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn list_invoices(
    State(state): State<AppState>,
    auth: Auth,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Page<InvoiceView>>> {
    auth.require(Role::Viewer)?;
    let ListQuery { mut sql, sort, limit, after } = list_query(auth.org_id, &p)?;
    let mut rows: Vec<InvoiceRow> =
        sql.build_query_as().fetch_all(&state.db).await.map_err(|e| match &e {
            // A hand-made cursor whose value does not cast (SQLSTATE class 22: data exception).
            sqlx::Error::Database(db)
                if after.is_some() && db.code().is_some_and(|c| c.starts_with("22")) =>
            {
                ApiError::bad_request("invalid_cursor", "The cursor is not one this API returned.")
            }
            _ => ApiError::from(e),
        })?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|last| {
            pagination::encode(&Cursor {
                sort: sort.clone(),
                value: last.sort_value.clone(),
                id: last.id,
            })
        })
    } else {
        None
    };
    let items = rows.into_iter().map(InvoiceRow::into_view).collect::<ApiResult<_>>()?;
    Ok(Json(Page { items, next_cursor }))
}

/// Everything that happened to the invoice, oldest first, with time and actor.
#[utoipa::path(get, path = "/api/invoices/{id}/timeline", tag = "invoices", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 200, body = [TimelineEntry]), (status = 404, body = ErrorBody)))]
pub(super) async fn timeline(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<TimelineEntry>>> {
    auth.require(Role::Viewer)?;
    let events = load_timeline(&state, auth.org_id, id).await?;
    Ok(Json(events.ok_or_else(|| ApiError::not_found("Invoice"))?))
}

/// The invoice's timeline, oldest first; `None` when the organisation has no such invoice.
pub(crate) async fn load_timeline(
    state: &AppState,
    org_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<Vec<TimelineEntry>>> {
    let exists =
        sqlx::query_scalar!("SELECT id FROM invoices WHERE org_id = $1 AND id = $2", org_id, id)
            .fetch_optional(&state.db)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let events = sqlx::query!(
        r#"SELECT id, kind, actor, data, occurred_at AS "at" FROM invoice_events
           WHERE org_id = $1 AND invoice_id = $2 ORDER BY occurred_at, id"#,
        org_id,
        id
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|e| {
        Ok(TimelineEntry {
            id: e.id,
            kind: stored(TimelineKind::parse(&e.kind), "timeline event", &e.kind)?,
            actor: e.actor,
            data: e.data,
            at: e.at,
        })
    })
    .collect::<ApiResult<_>>()?;
    Ok(Some(events))
}

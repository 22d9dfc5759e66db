//! Invoice reads from Postgres: one invoice with lines, totals and payments; filtered lists with
//! keyset pagination; the timeline.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::{InvoiceStatus, PaymentMethod, TimelineKind};
use invoice_workflows::invoice::messages::NextAction;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, Path, Query};
use crate::pagination::{self, Page};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLineView {
    pub description: String,
    /// Decimal as text, e.g. `1.5`.
    pub quantity: String,
    /// Minor units.
    pub unit_price: i64,
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub id: Uuid,
    /// Minor units; negative for a refund.
    pub amount: i64,
    pub currency: String,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub paid_at: DateTime<Utc>,
}

/// An invoice. Money is in minor units of `currency` (cents for USD, yen for JPY).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceView {
    pub id: Uuid,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub customer_id: Uuid,
    pub client_name: String,
    pub client_email: Option<String>,
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    /// Percent.
    pub tax_rate: String,
    /// Percent.
    pub discount_rate: String,
    pub subtotal: i64,
    pub discount_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub notes: Option<String>,
    pub reference: Option<String>,
    /// Why the invoice needs attention, when it does.
    pub attention_reason: Option<String>,
    /// The next thing the workflow does by itself.
    pub next_action: Option<NextAction>,
    pub has_pdf: bool,
    /// `GET` this for the PDF once it is rendered.
    pub pdf_url: Option<String>,
    /// The client's page for this invoice (`/i/<token>`, on the API's public address): view,
    /// download, pay. Set once finalized; gone when voided.
    pub hosted_path: Option<String>,
    pub workflow_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    /// In `GET /api/invoices/{id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<InvoiceLineView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<Vec<PaymentView>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct TimelineEntry {
    pub id: i64,
    pub kind: TimelineKind,
    /// `user:<id>`, `api_key:<id>`, `system`, `client`, `stripe` or `test_checkout`.
    pub actor: String,
    /// The event's fields (camelCase), by `kind`.
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// The invoice with its lines and payments, or `None`.
pub(super) async fn fetch_invoice(
    state: &AppState,
    org_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<InvoiceView>> {
    let row = sqlx::query_as!(
        ListRow,
        r#"SELECT id, number, status, customer_id, client_name, client_email, currency, issue_date, due_date,
                  tax_rate::text AS "tax_rate!", discount_rate::text AS "discount_rate!", subtotal, discount_total,
                  tax_total, total, amount_paid, amount_due AS "amount_due!", notes, reference, attention_reason,
                  next_action, pdf_key, public_token, workflow_id, created_at, updated_at, sent_at, paid_at,
                  voided_at, '' AS "sort_value!"
           FROM invoices WHERE org_id = $1 AND id = $2"#,
        org_id,
        id
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let lines = sqlx::query!(
        r#"SELECT description, quantity::text AS "quantity!", unit_price, amount
           FROM invoice_lines WHERE invoice_id = $1 ORDER BY position"#,
        id
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|l| InvoiceLineView {
        description: l.description,
        quantity: trim(&l.quantity),
        unit_price: l.unit_price,
        amount: l.amount,
    })
    .collect();
    let payments = sqlx::query!(
        "SELECT id, amount, currency, method, reference, paid_at FROM payments
         WHERE org_id = $1 AND invoice_id = $2 ORDER BY paid_at, id",
        org_id,
        id
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|p| {
        Ok(PaymentView {
            id: p.id,
            amount: p.amount,
            currency: p.currency,
            method: stored(PaymentMethod::parse(&p.method), "payment method", &p.method)?,
            reference: p.reference,
            paid_at: p.paid_at,
        })
    })
    .collect::<ApiResult<_>>()?;
    let mut invoice = r.into_view()?;
    invoice.lines = Some(lines);
    invoice.payments = Some(payments);
    Ok(Some(invoice))
}

/// A name read back from a column its writers only fill with known values.
fn stored<T>(parsed: Option<T>, what: &str, value: &str) -> ApiResult<T> {
    parsed.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("stored {what} {value:?} is unknown")))
}

/// `10.0000` -> `10`.
fn trim(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
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

#[derive(Debug, sqlx::FromRow)]
struct ListRow {
    id: Uuid,
    number: Option<String>,
    status: String,
    customer_id: Uuid,
    client_name: String,
    client_email: Option<String>,
    currency: String,
    issue_date: Option<NaiveDate>,
    due_date: NaiveDate,
    tax_rate: String,
    discount_rate: String,
    subtotal: i64,
    discount_total: i64,
    tax_total: i64,
    total: i64,
    amount_paid: i64,
    amount_due: i64,
    notes: Option<String>,
    reference: Option<String>,
    attention_reason: Option<String>,
    next_action: Option<serde_json::Value>,
    pdf_key: Option<String>,
    public_token: Option<String>,
    workflow_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    voided_at: Option<DateTime<Utc>>,
    sort_value: String,
}

impl ListRow {
    fn into_view(self) -> ApiResult<InvoiceView> {
        let status = stored(InvoiceStatus::parse(&self.status), "invoice status", &self.status)?;
        // Written by the workflow from `NextAction`; a row it never wrote has none.
        let next_action = self.next_action.and_then(|v| serde_json::from_value(v).ok());
        Ok(InvoiceView {
            pdf_url: self.pdf_key.as_ref().map(|_| format!("/api/invoices/{}/pdf", self.id)),
            hosted_path: self.public_token.as_ref().map(|t| format!("/i/{t}")),
            id: self.id,
            number: self.number,
            status,
            customer_id: self.customer_id,
            client_name: self.client_name,
            client_email: self.client_email,
            currency: self.currency,
            issue_date: self.issue_date,
            due_date: self.due_date,
            tax_rate: trim(&self.tax_rate),
            discount_rate: trim(&self.discount_rate),
            subtotal: self.subtotal,
            discount_total: self.discount_total,
            tax_total: self.tax_total,
            total: self.total,
            amount_paid: self.amount_paid,
            amount_due: self.amount_due,
            notes: self.notes,
            reference: self.reference,
            attention_reason: self.attention_reason,
            next_action,
            has_pdf: self.pdf_key.is_some(),
            workflow_id: self.workflow_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            sent_at: self.sent_at,
            paid_at: self.paid_at,
            voided_at: self.voided_at,
            lines: None,
            payments: None,
        })
    }
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
    let mut rows: Vec<ListRow> =
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
    let items = rows.into_iter().map(ListRow::into_view).collect::<ApiResult<_>>()?;
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
    let exists = sqlx::query_scalar!(
        "SELECT id FROM invoices WHERE org_id = $1 AND id = $2",
        auth.org_id,
        id
    )
    .fetch_optional(&state.db)
    .await?;
    if exists.is_none() {
        return Err(ApiError::not_found("Invoice"));
    }
    let events = sqlx::query!(
        r#"SELECT id, kind, actor, data, occurred_at AS "at" FROM invoice_events
           WHERE org_id = $1 AND invoice_id = $2 ORDER BY occurred_at, id"#,
        auth.org_id,
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
    Ok(Json(events))
}

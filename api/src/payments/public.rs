//! The public side of an invoice as its client sees it: found by the hosted page's token, and
//! the headers every public page is served with. Shared by the hosted page and the test
//! checkout.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::page;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Everything the page shows.
pub(super) struct HostedInvoice {
    pub id: Uuid,
    pub org_id: Uuid,
    pub number: String,
    pub status: String,
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    pub subtotal: i64,
    pub discount_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub client_name: String,
    pub client_email: Option<String>,
    pub client_snapshot: Option<Value>,
    pub notes: Option<String>,
    pub org_name: String,
    pub seller_details: Option<Value>,
    pub payment_instructions: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub has_pdf: bool,
    pub lines: Vec<HostedLine>,
    pub payments: Vec<HostedPayment>,
    /// The open checkout session as the workflow projected it.
    pub checkout: Option<Value>,
}

pub(super) struct HostedLine {
    pub description: String,
    pub quantity: String,
    pub unit_price: i64,
    pub amount: i64,
}

pub(super) struct HostedPayment {
    pub amount: i64,
    pub method: String,
    pub paid_at: DateTime<Utc>,
}

impl HostedInvoice {
    /// Whether the Pay button shows.
    pub(super) fn payable(&self) -> bool {
        self.amount_due > 0 && !matches!(self.status.as_str(), "void" | "draft" | "refunded")
    }
}

/// Tokens are 43 URL-safe base64 characters; anything else is not looked up.
pub(super) fn plausible(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) async fn load(state: &AppState, token: &str) -> ApiResult<Option<HostedInvoice>> {
    if !plausible(token) {
        return Ok(None);
    }
    let Some(row) = sqlx::query!(
        r#"SELECT i.id, i.org_id, i.number AS "number!", i.status, i.currency, i.issue_date,
                  i.due_date, i.subtotal, i.discount_total, i.tax_total, i.total, i.amount_paid,
                  i.amount_due AS "amount_due!", i.client_name, i.client_email, i.client_snapshot, i.notes,
                  o.name AS org_name, o.seller_details, o.payment_instructions, i.paid_at,
                  i.pdf_key IS NOT NULL AS "has_pdf!", i.checkout
           FROM invoices i JOIN organizations o ON o.id = i.org_id
           WHERE i.public_token = $1 AND i.number IS NOT NULL"#,
        token
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(None);
    };
    let lines = sqlx::query_as!(
        HostedLine,
        r#"SELECT description, trim_scale(quantity)::text AS "quantity!", unit_price, amount
           FROM invoice_lines WHERE invoice_id = $1 ORDER BY position"#,
        row.id
    )
    .fetch_all(&state.db)
    .await?;
    let payments = sqlx::query_as!(
        HostedPayment,
        "SELECT amount, method, paid_at FROM payments WHERE invoice_id = $1 ORDER BY paid_at, recorded_at",
        row.id
    )
    .fetch_all(&state.db)
    .await?;
    Ok(Some(HostedInvoice {
        id: row.id,
        org_id: row.org_id,
        number: row.number,
        status: row.status,
        currency: row.currency,
        issue_date: row.issue_date,
        due_date: row.due_date,
        subtotal: row.subtotal,
        discount_total: row.discount_total,
        tax_total: row.tax_total,
        total: row.total,
        amount_paid: row.amount_paid,
        amount_due: row.amount_due,
        client_name: row.client_name,
        client_email: row.client_email,
        client_snapshot: row.client_snapshot,
        notes: row.notes,
        org_name: row.org_name,
        seller_details: row.seller_details,
        payment_instructions: row.payment_instructions,
        paid_at: row.paid_at,
        has_pdf: row.has_pdf,
        lines,
        payments,
        checkout: row.checkout,
    }))
}

/// An HTML page with the headers every public page carries: never cached, never indexed, and
/// no Referer (the token is in the URL) to the payment provider or anywhere else.
pub(super) fn html(status: StatusCode, page: impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            return ApiError::from(anyhow::Error::new(e).context("rendering a page"))
                .into_response();
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::HeaderName::from_static("x-robots-tag"), "noindex, nofollow"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

pub(super) fn not_found() -> Response {
    html(StatusCode::NOT_FOUND, page::not_found())
}

//! The invoice as the API shows it, read from Postgres: the row the workflow's activities keep
//! current, with its lines and payments. Read by every endpoint that answers with an invoice.

use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::{InvoiceStatus, PaymentMethod};
use invoice_workflows::invoice::messages::NextAction;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
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

/// The invoice with its lines and payments, or `None`.
pub(crate) async fn fetch_invoice(
    state: &AppState,
    org_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<InvoiceView>> {
    let row = sqlx::query_as!(
        InvoiceRow,
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
pub(super) fn stored<T>(parsed: Option<T>, what: &str, value: &str) -> ApiResult<T> {
    parsed.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("stored {what} {value:?} is unknown")))
}

/// `10.0000` -> `10`.
pub(super) fn trim(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct InvoiceRow {
    pub id: Uuid,
    pub number: Option<String>,
    pub status: String,
    pub customer_id: Uuid,
    pub client_name: String,
    pub client_email: Option<String>,
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    pub tax_rate: String,
    pub discount_rate: String,
    pub subtotal: i64,
    pub discount_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub notes: Option<String>,
    pub reference: Option<String>,
    pub attention_reason: Option<String>,
    pub next_action: Option<serde_json::Value>,
    pub pdf_key: Option<String>,
    pub public_token: Option<String>,
    pub workflow_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub sort_value: String,
}

impl InvoiceRow {
    pub(super) fn into_view(self) -> ApiResult<InvoiceView> {
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

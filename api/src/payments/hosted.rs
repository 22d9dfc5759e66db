//! The hosted invoice page, `/i/<token>`: public, no login. The client sees the invoice, its
//! payments and the PDF, and pays what is due through the checkout (Stripe's or the built-in
//! test checkout). The token is the only key: an unknown, malformed or revoked (voided) token is
//! a 404 like any other, and nothing of other invoices is reachable from it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::{Actor, Currency, Device, PaymentProvider};
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::messages::{CheckoutRequest, CheckoutSession};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::device;
use super::page;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::runs::InvoiceRun;
use crate::state::AppState;

/// A view of the same page on the same device counts once per this window (per API replica);
/// the workflow keeps its own, longer visit window. Keeps a refreshing browser or a bot from
/// filling the invoice's history with views.
const VIEW_SIGNAL_WINDOW: Duration = Duration::from_secs(600);
const VIEW_THROTTLE_MAX_ENTRIES: usize = 10_000;

/// Which (token, device) pairs were signalled recently.
#[derive(Debug, Default)]
pub struct ViewThrottle {
    seen: Mutex<HashMap<(String, Device), Instant>>,
}

impl ViewThrottle {
    fn admit(&self, token: &str, device: Device) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if seen.len() >= VIEW_THROTTLE_MAX_ENTRIES {
            seen.retain(|_, at| now.duration_since(*at) < VIEW_SIGNAL_WINDOW);
        }
        match seen.get(&(token.to_owned(), device)) {
            Some(at) if now.duration_since(*at) < VIEW_SIGNAL_WINDOW => false,
            _ => {
                seen.insert((token.to_owned(), device), now);
                true
            }
        }
    }
}

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
fn plausible(token: &str) -> bool {
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
                  i.pdf_key IS NOT NULL AS "has_pdf!"
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

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    /// Where the payer comes back from: success, cancelled, failed.
    checkout: Option<String>,
}

/// The hosted invoice page.
pub(super) async fn show(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(invoice) = load(&state, &token).await? else { return Ok(not_found()) };
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    // Views of one device class count once per window (per replica); the workflow keeps its
    // own, longer visit window.
    if let Some(device) = device::classify(user_agent)
        && state.views.admit(&token, device)
    {
        state.runs.record_view(InvoiceRun::new(invoice.org_id, invoice.id), device);
    }
    let notice = query.checkout.as_deref().and_then(|c| page::Notice::from_return(c, &invoice));
    Ok(html(StatusCode::OK, page::invoice(&invoice, &token, notice, state.payments.is_local())))
}

/// The invoice PDF, for the client.
pub(super) async fn pdf(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> ApiResult<Response> {
    if !plausible(&token) {
        return Ok(not_found());
    }
    let row = sqlx::query!(
        "SELECT pdf_key, number FROM invoices WHERE public_token = $1 AND number IS NOT NULL",
        token
    )
    .fetch_optional(&state.db)
    .await?;
    match row {
        Some(row) => match row.pdf_key {
            Some(key) => crate::documents::serve_pdf(&state, key, row.number.as_deref()).await,
            None => Ok(html(
                StatusCode::NOT_FOUND,
                page::message("The PDF is being prepared", "Please try again in a minute."),
            )),
        },
        None => Ok(not_found()),
    }
}

/// Opens a checkout for what is due, through the invoice's workflow.
async fn checkout(state: &AppState, invoice: &HostedInvoice) -> ApiResult<CheckoutSession> {
    let run = InvoiceRun::new(invoice.org_id, invoice.id);
    let request = CheckoutRequest { actor: Actor::Client };
    let outcome = state.runs.update(run, || InvoiceWorkflow::start_checkout, request, None).await?;
    match (outcome.session, outcome.error) {
        (Some(session), _) => Ok(session),
        (None, error) => Err(ApiError::Unprocessable {
            code: "payment_provider_refused",
            message: error.unwrap_or_else(|| "The payment could not be started.".into()),
        }),
    }
}

/// The Pay button: on to the checkout, or back to the page with what went wrong.
pub(super) async fn pay(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> ApiResult<Response> {
    let Some(invoice) = load(&state, &token).await? else { return Ok(not_found()) };
    if !invoice.payable() {
        return Ok(Redirect::to(&format!("/i/{token}")).into_response());
    }
    match checkout(&state, &invoice).await {
        Ok(session) => Ok(Redirect::to(&session.url).into_response()),
        Err(e) => {
            let (status, message) = match &e {
                ApiError::Unprocessable { message, .. } | ApiError::Conflict { message, .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, message.clone())
                }
                ApiError::Unavailable { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Payments are unavailable right now; please try again in a few minutes.".into(),
                ),
                _ => return Err(e),
            };
            let notice = Some(page::Notice::error(message));
            Ok(html(status, page::invoice(&invoice, &token, notice, state.payments.is_local())))
        }
    }
}

/// Where to send the payer to pay.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutStarted {
    pub session_id: String,
    pub url: String,
    /// Minor units.
    pub amount: i64,
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
    pub expires_at: DateTime<Utc>,
    /// `local` is the built-in test checkout.
    pub provider: PaymentProvider,
}

/// Starts paying an invoice from its hosted-page token (for clients that render their own page).
#[utoipa::path(post, path = "/api/public/invoices/{token}/checkout", tag = "payments",
    params(("token" = String, Path, description = "The hosted page's token")),
    responses((status = 200, body = CheckoutStarted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Nothing is due"),
        (status = 422, body = ErrorBody, description = "The payment provider refused")))]
pub(super) async fn start_checkout(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<CheckoutStarted>> {
    let invoice = load(&state, &token).await?.ok_or_else(|| ApiError::not_found("Invoice"))?;
    if !invoice.payable() {
        return Err(ApiError::conflict(
            "nothing_due",
            format!("Nothing is due on this invoice; it is {}.", invoice.status),
        ));
    }
    let session = checkout(&state, &invoice).await?;
    Ok(Json(CheckoutStarted {
        session_id: session.id,
        url: session.url,
        amount: session.amount,
        currency: session.currency,
        expires_at: session.expires_at,
        provider: session.provider,
    }))
}

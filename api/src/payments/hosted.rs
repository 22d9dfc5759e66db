//! The hosted invoice page, `/i/<token>`: public, no login. The client sees the invoice, its
//! payments and the PDF, and pays what is due through the checkout (Stripe's or the built-in
//! test checkout). The token is the only key: an unknown, malformed or revoked (voided) token is
//! a 404 like any other, and nothing of other invoices is reachable from it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use invoice_domain::{Actor, Currency, Device, PaymentProvider};
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::messages::{CheckoutRequest, CheckoutSession};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::device;
use super::page;
use super::public::{HostedInvoice, html, load, not_found, plausible};
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
    // Views of one device class count once per window: first per replica (in memory), then
    // across replicas (in Postgres); the workflow keeps its own, longer visit window.
    if let Some(device) = device::classify(user_agent)
        && state.views.admit(&token, device)
        && crate::limits::once_per_window(
            &state.db,
            &format!("view:{token}:{}", device.as_str()),
            VIEW_SIGNAL_WINDOW,
        )
        .await
    {
        state.runs.record_view(InvoiceRun::new(invoice.org_id, invoice.id), device);
    }
    let notice = query.checkout.as_deref().and_then(|c| page::Notice::from_return(c, &invoice));
    Ok(html(StatusCode::OK, page::invoice(&invoice, &token, notice, &state.payments)))
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

/// A checkout session is handed out from the projection while it has at least this long left
/// (the workflow's own reuse margin: past it, the workflow opens a new one).
const OPEN_SESSION_MARGIN_MINUTES: i64 = 10;

/// The open session the workflow projected, while it is for the amount due and has time left.
fn open_session(invoice: &HostedInvoice, now: DateTime<Utc>) -> Option<CheckoutSession> {
    let session: CheckoutSession = serde_json::from_value(invoice.checkout.clone()?).ok()?;
    let margin = chrono::Duration::minutes(OPEN_SESSION_MARGIN_MINUTES);
    (session.amount == invoice.amount_due
        && session.currency.code() == invoice.currency
        && session.expires_at > now + margin)
        .then_some(session)
}

/// Opens a checkout for what is due: the open session when there is one (no workflow update:
/// repeated clicks do not grow the run's history), otherwise through the invoice's workflow.
async fn checkout(state: &AppState, invoice: &HostedInvoice) -> ApiResult<CheckoutSession> {
    if let Some(session) = open_session(invoice, Utc::now()) {
        return Ok(session);
    }
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
    if !invoice.payable() || !state.payments.online() {
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
            Ok(html(status, page::invoice(&invoice, &token, notice, &state.payments)))
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
    if !state.payments.online() {
        return Err(ApiError::conflict(
            "payments_disabled",
            "This invoice cannot be paid online; see its payment instructions.",
        ));
    }
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

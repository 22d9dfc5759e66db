//! The built-in test checkout (the `local` provider, the `make dev` default): a page clearly
//! marked TEST MODE whose Pay and Fail buttons produce the payment events Stripe would send,
//! in Stripe's format, signed with the local webhook secret, through the same verification and
//! processing as a real webhook delivery. Served only while no Stripe secret is configured.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use super::public::{self, html, not_found};
use super::{events, page, signature};
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct SessionQuery {
    session: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Outcome {
    session: String,
    /// `pay` or `fail`.
    outcome: String,
}

/// Session ids the local provider hands out: `cs_test_local_` and 24 hex digits.
fn is_local_session(id: &str) -> bool {
    id.strip_prefix("cs_test_local_")
        .is_some_and(|hex| hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) async fn show(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    Query(query): Query<SessionQuery>,
) -> ApiResult<Response> {
    if !state.payments.is_local() || !is_local_session(&query.session) {
        return Ok(not_found());
    }
    let Some(invoice) = public::load(&state, &token).await? else { return Ok(not_found()) };
    if !invoice.payable() {
        return Ok(Redirect::to(&format!("/i/{token}")).into_response());
    }
    Ok(html(StatusCode::OK, page::test_checkout(&invoice, &token, &query.session)))
}

pub(super) async fn complete(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    Form(form): Form<Outcome>,
) -> ApiResult<Response> {
    if !state.payments.is_local() || !is_local_session(&form.session) {
        return Ok(not_found());
    }
    let Some(invoice) = public::load(&state, &token).await? else { return Ok(not_found()) };
    let (kind, payment_status, back) = match form.outcome.as_str() {
        "pay" => ("checkout.session.completed", "paid", "success"),
        "fail" => ("checkout.session.async_payment_failed", "unpaid", "failed"),
        _ => return Ok(not_found()),
    };
    if !invoice.payable() {
        return Ok(Redirect::to(&format!("/i/{token}")).into_response());
    }
    let now = Utc::now().timestamp();
    let suffix = &form.session["cs_test_local_".len()..];
    let page_url = format!("/i/{token}");
    // One event per session and outcome: a double click is a replay, not a second payment.
    let event = json!({
        "id": format!("evt_test_local_{suffix}_{}", form.outcome),
        "object": "event",
        "api_version": "2024-06-20",
        "created": now,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": {
            "id": form.session,
            "object": "checkout.session",
            "amount_subtotal": invoice.amount_due,
            "amount_total": invoice.amount_due,
            "client_reference_id": invoice.id,
            "created": now,
            "currency": invoice.currency.to_lowercase(),
            "customer_email": invoice.client_email,
            "expires_at": now + 24 * 3600,
            "livemode": false,
            "metadata": {
                "invoice_id": invoice.id,
                "org_id": invoice.org_id,
                "invoice_number": invoice.number,
            },
            "mode": "payment",
            "payment_intent": format!("pi_test_local_{suffix}"),
            "payment_method_types": ["card"],
            "payment_status": payment_status,
            "status": "complete",
            "success_url": format!("{page_url}?checkout=success"),
            "cancel_url": format!("{page_url}?checkout=cancelled"),
            "url": null,
        }},
    });
    let body = serde_json::to_vec(&event).map_err(anyhow::Error::from)?;
    let secret = state.payments.webhook_secret.expose_secret().to_owned();
    let header = signature::sign(&body, &secret, now);
    events::receive(&state, Some(&header), &body).await?;
    Ok(Redirect::to(&format!("{page_url}?checkout={back}")).into_response())
}

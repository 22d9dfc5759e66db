//! Payment events, from Stripe's webhook or the local test checkout alike: verified, stored
//! once by their event id, and handed to the invoice's workflow as updates.

use chrono::{DateTime, TimeZone, Utc};
use invoice_domain::{Actor, Currency, PaymentMethod};
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::RefusalCode;
use invoice_workflows::invoice::messages::{PaymentFailure, PaymentRequest, RefundRequest};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::signature::{self, SignatureError};
use crate::error::{ApiError, ApiResult};
use crate::runs::{InvoiceRun, RunError};
use crate::state::AppState;

/// What the endpoint answers to an event it accepted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAck {
    pub received: bool,
    /// The event had been processed before; nothing changed.
    pub duplicate: bool,
    /// `applied`, `ignored: <why>` or `refused: <the workflow's reason>`.
    pub outcome: String,
}

/// The envelope of every Stripe event (the object inside depends on `type`).
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// Verifies and processes one delivery: the path every payment event takes, the test
/// checkout's included.
pub(super) async fn receive(
    state: &AppState,
    signature_header: Option<&str>,
    body: &[u8],
) -> ApiResult<WebhookAck> {
    if !state.payments.online() {
        return Err(ApiError::NotFound { message: "No payment provider is configured.".into() });
    }
    let secret = state.payments.webhook_secret.expose_secret();
    signature::verify(signature_header, body, secret, Utc::now().timestamp()).map_err(|e| {
        let code = match e {
            SignatureError::Missing => "signature_missing",
            SignatureError::Stale => "signature_expired",
            SignatureError::Malformed | SignatureError::Mismatch => "signature_invalid",
        };
        ApiError::bad_request(code, format!("Webhook refused: {e}."))
    })?;
    let event: Event = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_event", format!("Not a Stripe event: {e}.")))?;
    // Stored once; a delivery that failed half-way (no `processed_at`) is processed again.
    let fresh = sqlx::query!(
        "INSERT INTO payment_provider_events (id, provider, type) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO NOTHING",
        event.id,
        state.payments.provider().as_str(),
        event.kind
    )
    .execute(&state.db)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        let done = sqlx::query!(
            "SELECT outcome FROM payment_provider_events WHERE id = $1 AND processed_at IS NOT NULL",
            event.id
        )
        .fetch_optional(&state.db)
        .await?;
        if let Some(done) = done {
            return Ok(WebhookAck {
                received: true,
                duplicate: true,
                outcome: done.outcome.unwrap_or_default(),
            });
        }
    }
    let (invoice, outcome) = apply(state, &event).await?;
    match &invoice {
        Some(inv) => {
            tracing::info!(event.id = %event.id, event.kind = %event.kind, invoice.id = %inv.id, %outcome, "payment event")
        }
        None => {
            tracing::warn!(event.id = %event.id, event.kind = %event.kind, %outcome, "payment event not applied")
        }
    }
    sqlx::query!(
        "UPDATE payment_provider_events SET processed_at = now(), outcome = $2, org_id = $3, invoice_id = $4
         WHERE id = $1",
        event.id,
        outcome,
        invoice.as_ref().map(|i| i.org_id),
        invoice.as_ref().map(|i| i.id)
    )
    .execute(&state.db)
    .await?;
    Ok(WebhookAck { received: true, duplicate: false, outcome })
}

struct Invoice {
    id: Uuid,
    org_id: Uuid,
}

impl Invoice {
    fn run(&self) -> InvoiceRun {
        InvoiceRun::new(self.org_id, self.id)
    }
}

/// Hands the event to its invoice's workflow. Errors only when it is worth a retry by Stripe.
async fn apply(state: &AppState, event: &Event) -> ApiResult<(Option<Invoice>, String)> {
    let object = &event.data.object;
    let at = Utc.timestamp_opt(event.created, 0).single().unwrap_or_else(Utc::now);
    let actor = Actor::of_provider(state.payments.provider());
    let ignored = |why: &str| -> ApiResult<(Option<Invoice>, String)> {
        Ok((None, format!("ignored: {why}")))
    };
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            apply_payment(state, event, at, actor).await
        }
        "checkout.session.async_payment_failed" => {
            let Some(invoice) = invoice_of(state, object).await? else {
                return ignored("no such invoice in that organisation");
            };
            let failure = PaymentFailure {
                event_id: event.id.clone(),
                amount: object["amount_total"].as_i64().unwrap_or_default(),
                reference: reference(object),
                reason: Some("the payment failed at the payment provider".into()),
                actor,
            };
            let update_id = Some(event.id.clone());
            let result = state
                .runs
                .update(
                    invoice.run(),
                    || InvoiceWorkflow::record_payment_failure,
                    failure,
                    update_id,
                )
                .await;
            Ok((Some(invoice), outcome(result)?))
        }
        "charge.refunded" => {
            let Some(payment_intent) = object["payment_intent"].as_str().map(str::to_owned) else {
                return ignored("the charge has no payment intent");
            };
            let invoice = match invoice_of(state, object).await? {
                Some(invoice) => Some(invoice),
                // Charges do not always carry the session's metadata: find the payment.
                None => invoice_of_payment(state, &payment_intent).await?,
            };
            let Some(invoice) = invoice else {
                return ignored("no payment of this platform has that payment intent");
            };
            let Some(currency) = currency_of(object) else {
                return ignored("the charge's currency is not one of this platform's");
            };
            let refund = RefundRequest {
                event_id: event.id.clone(),
                payment_reference: payment_intent,
                total_refunded: object["amount_refunded"].as_i64().unwrap_or_default(),
                currency,
                method: method_of_charge(object),
                refunded_at: at,
                actor,
            };
            let update_id = Some(event.id.clone());
            let result = state
                .runs
                .update(invoice.run(), || InvoiceWorkflow::record_refund, refund, update_id)
                .await;
            Ok((Some(invoice), outcome(result)?))
        }
        _ => ignored("event type not handled"),
    }
}

/// A settled checkout: the payment goes to its invoice's workflow; confirmed money the workflow
/// does not take is listed for ops.
async fn apply_payment(
    state: &AppState,
    event: &Event,
    at: DateTime<Utc>,
    actor: Actor,
) -> ApiResult<(Option<Invoice>, String)> {
    let object = &event.data.object;
    let ignored = |why: &str| -> ApiResult<(Option<Invoice>, String)> {
        Ok((None, format!("ignored: {why}")))
    };
    // A completed session whose payment is still on its way (a bank debit) is paid by
    // its `async_payment_succeeded` event.
    if object["payment_status"].as_str() != Some("paid") {
        return ignored("the payment is not settled yet");
    }
    let Some(invoice) = invoice_of(state, object).await? else {
        return ignored("no such invoice in that organisation");
    };
    let Some(amount) = object["amount_total"].as_i64() else {
        return Err(ApiError::bad_request("invalid_event", "The session has no amount_total."));
    };
    let Some(currency) = currency_of(object) else {
        return ignored("the session's currency is not one of this platform's");
    };
    let payment = PaymentRequest {
        event_id: event.id.clone(),
        amount,
        currency,
        method: channel(object, event.kind.ends_with("async_payment_succeeded")),
        reference: reference(object),
        paid_at: at,
        actor,
        provider_confirmed: true,
    };
    let reference = payment.reference.clone();
    let update_id = Some(event.id.clone());
    let result = state
        .runs
        .update(invoice.run(), || InvoiceWorkflow::record_payment, payment, update_id)
        .await;
    let outcome = outcome(result)?;
    if outcome != "applied" {
        // Confirmed money no invoice took: an ops item, never only a log line.
        let unapplied = Unapplied { amount, currency, reference, reason: &outcome };
        record_unapplied(state, &invoice, event, unapplied).await?;
    }
    Ok((Some(invoice), outcome))
}

/// A confirmed payment that its invoice's workflow did not take.
struct Unapplied<'a> {
    amount: i64,
    currency: Currency,
    reference: Option<String>,
    reason: &'a str,
}

async fn record_unapplied(
    state: &AppState,
    invoice: &Invoice,
    event: &Event,
    p: Unapplied<'_>,
) -> ApiResult<()> {
    tracing::error!(event.id = %event.id, invoice.id = %invoice.id, reason = p.reason, "a confirmed payment was not applied; listed for ops");
    sqlx::query!(
        "INSERT INTO unapplied_payments (event_id, org_id, invoice_id, provider, amount, currency, reference, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
        event.id,
        invoice.org_id,
        invoice.id,
        state.payments.provider().as_str(),
        p.amount,
        p.currency.code(),
        p.reference,
        p.reason
    )
    .execute(&state.db)
    .await?;
    Ok(())
}

/// The invoice named by the object's metadata, if it belongs to the organisation named there.
async fn invoice_of(state: &AppState, object: &Value) -> ApiResult<Option<Invoice>> {
    let id = |key: &str| object["metadata"][key].as_str().and_then(|v| v.parse::<Uuid>().ok());
    let (Some(org_id), Some(invoice_id)) = (id("org_id"), id("invoice_id")) else {
        return Ok(None);
    };
    Ok(sqlx::query_as!(
        Invoice,
        "SELECT id, org_id FROM invoices WHERE org_id = $1 AND id = $2",
        org_id,
        invoice_id
    )
    .fetch_optional(&state.db)
    .await?)
}

async fn invoice_of_payment(state: &AppState, reference: &str) -> ApiResult<Option<Invoice>> {
    Ok(sqlx::query_as!(
        Invoice,
        // Only payments the provider confirmed: a manual payment's reference is whatever its
        // organisation typed, and must never capture another organisation's refund.
        "SELECT i.id, i.org_id FROM payments p JOIN invoices i ON i.id = p.invoice_id
         WHERE p.reference = $1 AND p.amount > 0 AND p.recorded_by IN ('stripe', 'test_checkout')
         LIMIT 1",
        reference
    )
    .fetch_optional(&state.db)
    .await?)
}

/// Stripe's lower-case currency code as one of ours.
fn currency_of(object: &Value) -> Option<Currency> {
    object["currency"].as_str()?.to_uppercase().parse().ok()
}

/// The payment's reference: Stripe's payment intent, else the session itself.
fn reference(session: &Value) -> Option<String> {
    session["payment_intent"].as_str().or_else(|| session["id"].as_str()).map(str::to_owned)
}

/// The dashboard's payment channel. A session only lists the methods it offered; with one
/// offered that is the channel, otherwise payments settled later are bank payments and
/// immediate ones cards.
fn channel(session: &Value, settled_later: bool) -> PaymentMethod {
    let offered: Vec<&str> = session["payment_method_types"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match offered.as_slice() {
        [only] => method_name(only),
        _ if settled_later => PaymentMethod::BankTransfer,
        _ => PaymentMethod::Card,
    }
}

fn method_of_charge(charge: &Value) -> PaymentMethod {
    charge["payment_method_details"]["type"].as_str().map_or(PaymentMethod::Card, method_name)
}

fn method_name(stripe_type: &str) -> PaymentMethod {
    match stripe_type {
        "card" | "card_present" => PaymentMethod::Card,
        "link" | "paypal" | "amazon_pay" | "revolut_pay" | "cashapp" | "wechat_pay" | "alipay"
        | "mobilepay" | "samsung_pay" | "kakao_pay" | "naver_pay" => PaymentMethod::Wallet,
        t if t.ends_with("_debit") || t.ends_with("bank_account") || t.contains("transfer") => {
            PaymentMethod::BankTransfer
        }
        "ideal" | "bancontact" | "sofort" | "eps" | "giropay" | "p24" | "blik" | "twint" => {
            PaymentMethod::BankTransfer
        }
        _ => PaymentMethod::Other,
    }
}

/// What became of the update; an unreachable workflow service is an error so Stripe retries.
fn outcome<T>(result: Result<T, RunError>) -> ApiResult<String> {
    match result {
        Ok(_) => Ok("applied".into()),
        // Not refused, just early: the provider must deliver it again.
        Err(RunError::Refused { code: Some(RefusalCode::NotStoredYet), .. }) => {
            Err(ApiError::Unavailable {
                code: "invoice_not_ready",
                message: "The invoice is still being stored; the event will be retried.".into(),
                details: None,
            })
        }
        Err(RunError::Refused { message, .. }) => Ok(format!("refused: {message}")),
        // Money that arrives after the run ended (voided, or paid long ago) needs a person.
        Err(RunError::Finished) => {
            tracing::error!("a payment event arrived for an invoice whose workflow has finished");
            Ok("ignored: the invoice's workflow has finished; check the payment by hand".into())
        }
        Err(other) => {
            tracing::warn!(error = %other, "payment event not delivered to its workflow");
            Err(ApiError::Unavailable {
                code: "workflow_service_unavailable",
                message: "The workflow service did not answer; the event will be retried.".into(),
                details: None,
            })
        }
    }
}

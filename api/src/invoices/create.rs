//! `POST /api/invoices`: validates the seed's sample body (or a `customerId`), resolves or
//! creates the customer, and starts the invoice's workflow, which writes the invoice row as its
//! first step. The row therefore never exists without its workflow, and a workflow whose start
//! was refused leaves no row.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use invoice_workflows::invoice::messages::InvoiceWorkflowInput;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::content::{CreateInvoice, resolve_customer, validate};
use super::view::{InvoiceView, fetch_invoice};
use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use crate::runs::RunError;
use crate::runs::RunSummary;
use crate::state::AppState;

/// Create an invoice and start its life: it is numbered, rendered and sent at once unless
/// `draft` is true.
///
/// With an `Idempotency-Key` header a retried request creates nothing new: it answers 200 with
/// the invoice the first request created.
#[utoipa::path(post, path = "/api/invoices", tag = "invoices", request_body = CreateInvoice,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: one invoice per key")),
    security(("bearer" = [])),
    responses((status = 201, body = InvoiceView), (status = 200, body = InvoiceView, description = "Created before with this Idempotency-Key"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(super) async fn create_invoice(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Json(req): Json<CreateInvoice>,
) -> ApiResult<(StatusCode, Json<InvoiceView>)> {
    let idempotency_key = idempotency_key(&headers)?;
    let (status, invoice) = start_invoice(&state, &auth, &req, idempotency_key).await?;
    Ok((status, Json(invoice)))
}

/// Validates a new invoice and starts its workflow, which stores the row as its first step:
/// answered (201) once the run says the row is stored, or 200 with the invoice an earlier
/// request with the same key created.
pub(crate) async fn start_invoice(
    state: &AppState,
    auth: &Auth,
    req: &CreateInvoice,
    idempotency_key: Option<String>,
) -> ApiResult<(StatusCode, InvoiceView)> {
    auth.require(Role::Accountant)?;
    let content = validate(req)?;
    // A retried request with the same key names the same invoice, and so the same workflow:
    // it attaches to the first request's run (or finds the invoice stored).
    let invoice_id = match &idempotency_key {
        Some(key) => keyed_invoice_id(auth.org_id, key),
        None => Uuid::now_v7(),
    };
    if idempotency_key.is_some()
        && let Some(existing) = fetch_invoice(state, auth.org_id, invoice_id).await?
    {
        return Ok((StatusCode::OK, existing));
    }
    let customer_id = resolve_customer(state, auth, req).await?;
    let input = InvoiceWorkflowInput {
        org_id: auth.org(),
        invoice_id: invoice_id.into(),
        customer_id: customer_id.into(),
        draft: req.draft,
        content,
        actor: auth.actor(),
        history_limit: None,
        continued: None,
    };
    let summary = run_summary(&input);
    crate::fault::maybe_crash(crate::fault::CrashPoint::BeforeWorkflowStart);
    match state.runs.create(&input, summary).await {
        Ok(_) => {}
        // Only reachable with an idempotency key (otherwise the id is new): its invoice existed
        // and its run has ended since (a deleted draft).
        Err(RunError::AlreadyExists) => {
            return match fetch_invoice(state, auth.org_id, invoice_id).await? {
                Some(existing) => Ok((StatusCode::OK, existing)),
                None => Err(ApiError::conflict(
                    "idempotency_key_reused",
                    "This Idempotency-Key belongs to an invoice that was deleted; use a new key.",
                )),
            };
        }
        Err(RunError::Timeout) => {
            return Err(ApiError::Unavailable {
                code: "workflow_slow",
                message: format!(
                    "The invoice {invoice_id} was accepted but is not stored yet; read it again shortly."
                ),
                details: Some(serde_json::json!({ "invoiceId": invoice_id })),
            });
        }
        Err(other) => return Err(other.into()),
    }
    crate::fault::maybe_crash(crate::fault::CrashPoint::AfterWorkflowStart);
    tracing::info!(invoice.id = %invoice_id, "invoice stored by its workflow");
    let invoice = fetch_invoice(state, auth.org_id, invoice_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Invoice"))?;
    Ok((StatusCode::CREATED, invoice))
}

/// The optional `Idempotency-Key` header: 1 to 200 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 200 => Ok(Some(key.to_owned())),
        _ => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 200 visible ASCII characters.",
        )),
    }
}

/// The invoice id an idempotency key stands for, per organisation (a UUID built from a hash).
fn keyed_invoice_id(org_id: Uuid, key: &str) -> Uuid {
    let digest = Sha256::digest(format!("invoice:{org_id}:{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// What the Temporal UI's run list shows for the run: its kind and due date, and no client or
/// invoice data. The 1.1.1 client writes a run's static summary and details without the payload
/// codec (plain JSON in the history, found by the history test), so the client, the number and
/// the money are in the run's current details instead, which the workflow sets and the codec
/// seals (support reads them through the codec server).
fn run_summary(input: &InvoiceWorkflowInput) -> RunSummary {
    let kind = if input.draft { "Draft invoice" } else { "Invoice" };
    RunSummary {
        summary: format!("{kind} due {}", input.content.due_date),
        details: format!(
            "**Invoice** {}\n\n**Organisation** {}\n\nClient, number and amounts: the run's \
             current details (sealed; decoded for support through the codec server).",
            input.invoice_id, input.org_id
        ),
    }
}

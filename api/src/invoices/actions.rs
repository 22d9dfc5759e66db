//! Invoice actions: each is an update of the invoice's workflow, whose validator decides whether
//! it is allowed now (a refusal is a 409 with the workflow's reason). Payments carry an event id
//! that is also the update id, so a retried request is answered once.

use axum::extract::State;
use chrono::{DateTime, Utc};
use invoice_domain::{Currency, DecimalText, PaymentMethod, parse_amount};
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::messages::{
    ActorRequest, PaymentOutcome, PaymentRequest, StatusView,
};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldErrors};
use crate::extract::{Json, OptionalJson, Path};
use crate::runs::InvoiceRun;
use crate::state::AppState;

/// Resends and reminders sent on demand, per invoice per day: beyond it 429, so that a script or
/// a stuck button cannot mail one client over and over (and get the sender suspended).
async fn limit_emails_on_demand(state: &AppState, id: Uuid) -> ApiResult<()> {
    let limit = state.limits.emails_on_demand_per_invoice_per_day;
    let key = format!("emails-on-demand:{id}");
    match crate::limits::hit(&state.db, &key, 86_400.0, limit).await? {
        None => Ok(()),
        Some(retry_after_secs) => Err(ApiError::TooManyRequests { retry_after_secs }),
    }
}

/// Longest reason an action keeps on the timeline.
const MAX_REASON_CHARS: usize = 1_000;

/// Optional body of an action.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ActionBody {
    /// Why (kept on the timeline), e.g. for a void.
    pub reason: Option<String>,
}

/// A manual payment (bank transfer, cash, ...). Partial payments are allowed; more than is due
/// is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RecordPayment {
    /// In major units of the invoice currency, e.g. `250.00`.
    #[schema(value_type = String, example = "250.00")]
    pub amount: DecimalText,
    /// Kept as text so that an unknown method is a field error like any other.
    #[schema(value_type = PaymentMethod, example = "bank_transfer")]
    pub method: String,
    pub reference: Option<String>,
    /// When the money arrived; defaults to now.
    pub paid_at: Option<DateTime<Utc>>,
    /// Makes retries safe: the same key records the payment once.
    pub idempotency_key: Option<String>,
}

/// The run of an invoice of the caller's organisation (404 otherwise), with its currency.
async fn invoice_of(state: &AppState, auth: &Auth, id: Uuid) -> ApiResult<(InvoiceRun, String)> {
    let currency = sqlx::query_scalar!(
        "SELECT currency FROM invoices WHERE org_id = $1 AND id = $2",
        auth.org_id,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::not_found("Invoice"))?;
    Ok((InvoiceRun::new(auth.org_id, id), currency))
}

macro_rules! simple_action {
    ($fn_name:ident, $update:ident, $path:literal, $doc:literal, $role:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "invoices", params(("id" = Uuid, Path)), request_body = Option<ActionBody>,
            security(("bearer" = [])),
            responses((status = 200, body = StatusView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
                (status = 503, body = ErrorBody)))]
        pub(super) async fn $fn_name(
            State(state): State<AppState>,
            auth: Auth,
            Path(id): Path<Uuid>,
            OptionalJson(body): OptionalJson<ActionBody>,
        ) -> ApiResult<Json<StatusView>> {
            auth.require($role)?;
            let reason = body.and_then(|b| b.reason);
            if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
                return Err(ApiError::field(
                    "reason",
                    "too_long",
                    format!("Must be at most {MAX_REASON_CHARS} characters."),
                ));
            }
            let (run, _) = invoice_of(&state, &auth, id).await?;
            if matches!(stringify!($fn_name), "resend" | "remind") {
                limit_emails_on_demand(&state, id).await?;
            }
            let request = ActorRequest { actor: auth.actor(), reason };
            let view = state.runs.update(run, || InvoiceWorkflow::$update, request, None).await?;
            Ok(Json(view))
        }
    };
}

simple_action!(
    finalize,
    finalize,
    "/api/invoices/{id}/finalize",
    "Finalize a draft: number it, render and send it.",
    Role::Accountant
);
simple_action!(
    void,
    void,
    "/api/invoices/{id}/void",
    "Void the invoice: no more emails, reminders or payments.",
    Role::Accountant
);
simple_action!(
    resend,
    resend,
    "/api/invoices/{id}/resend",
    "Send the invoice email again.",
    Role::Accountant
);
simple_action!(
    remind,
    send_reminder_now,
    "/api/invoices/{id}/remind",
    "Send a payment reminder now.",
    Role::Accountant
);
simple_action!(
    retry,
    retry,
    "/api/invoices/{id}/retry",
    "Retry the step that failed (invoice in needs_attention).",
    Role::Admin
);

/// Record a manual payment.
#[utoipa::path(post, path = "/api/invoices/{id}/payments", tag = "invoices", params(("id" = Uuid, Path)),
    request_body = RecordPayment, security(("bearer" = [])),
    responses((status = 200, body = PaymentOutcome), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(super) async fn record_payment(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
    Json(req): Json<RecordPayment>,
) -> ApiResult<Json<PaymentOutcome>> {
    auth.require(Role::Accountant)?;
    let (run, currency) = invoice_of(&state, &auth, id).await?;
    let parsed: Currency =
        currency.parse().map_err(|_| anyhow::anyhow!("stored currency {currency} is unknown"))?;
    let mut errors = FieldErrors::new();
    let amount = match parse_amount(&req.amount.0, parsed) {
        Ok(0) => {
            errors.add("amount", "not_positive", "Must be greater than 0.");
            0
        }
        Ok(a) => a,
        Err(e) => {
            errors.add(
                "amount",
                e.code(),
                format!("Must be an amount with at most {} decimals.", parsed.exponent()),
            );
            0
        }
    };
    let method = PaymentMethod::parse(&req.method);
    if method.is_none() {
        let names: Vec<&str> = PaymentMethod::ALL.iter().map(|m| m.as_str()).collect();
        errors.add("method", "unknown_method", format!("Must be one of {}.", names.join(", ")));
    }
    if req.reference.as_ref().is_some_and(|r| r.chars().count() > 200) {
        errors.add("reference", "too_long", "Must be at most 200 characters.");
    }
    if req.idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 200) {
        errors.add("idempotencyKey", "invalid", "Must be 1 to 200 characters.");
    }
    errors.into_result()?;
    let event_id =
        format!("manual:{}", req.idempotency_key.unwrap_or_else(|| Uuid::new_v4().to_string()));
    let payment = PaymentRequest {
        event_id: event_id.clone(),
        amount,
        currency: parsed,
        method: method.expect("validated"),
        reference: req.reference,
        paid_at: req.paid_at.unwrap_or_else(Utc::now),
        actor: auth.actor(),
        provider_confirmed: false,
    };
    let update_id = Some(format!("payment:{event_id}"));
    let outcome =
        state.runs.update(run, || InvoiceWorkflow::record_payment, payment, update_id).await?;
    Ok(Json(outcome))
}

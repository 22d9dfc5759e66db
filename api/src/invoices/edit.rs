//! `PATCH` and `DELETE` on drafts. Both are updates of the invoice's workflow, which owns the
//! row: the workflow refuses them (409) once the invoice is finalized, even if Postgres has not
//! caught up yet.

use axum::extract::State;
use axum::http::StatusCode;
use invoice_domain::{Currency, DecimalText, InvoiceStatus};
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::messages::{ActorRequest, DraftEdit};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::content::{CreateInvoice, CreateLine, resolve_customer, validate};
use super::view::{InvoiceView, fetch_invoice};
use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::runs::InvoiceRun;
use crate::state::AppState;

/// Changes to a draft: only what is given changes. `items` replaces all lines.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UpdateInvoice {
    pub customer_id: Option<Uuid>,
    /// With `clientEmail`: bill another (new or known-by-email) client.
    pub client_name: Option<String>,
    pub client_email: Option<String>,
    pub currency: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub issue_date: Option<String>,
    pub items: Option<Vec<CreateLine>>,
    #[schema(value_type = Option<String>)]
    pub tax_rate: Option<DecimalText>,
    #[schema(value_type = Option<String>)]
    pub discount: Option<DecimalText>,
    pub notes: Option<String>,
    pub reference: Option<String>,
}

/// The draft as a create request, so that an edit is validated by exactly the same rules.
async fn current_as_request(state: &AppState, auth: &Auth, id: Uuid) -> ApiResult<CreateInvoice> {
    let draft = fetch_invoice(state, auth.org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Invoice"))?;
    if draft.status != InvoiceStatus::Draft {
        return Err(ApiError::conflict(
            "not_a_draft",
            format!("Only a draft can be changed; this invoice is {}.", draft.status),
        ));
    }
    let currency: Currency =
        draft.currency.parse().map_err(|_| anyhow::anyhow!("stored currency is unknown"))?;
    let items = draft
        .lines
        .unwrap_or_default()
        .into_iter()
        .map(|l| CreateLine {
            description: l.description,
            quantity: DecimalText(l.quantity),
            unit_price: DecimalText(invoice_domain::money::to_decimal_string(
                l.unit_price,
                currency,
            )),
        })
        .collect();
    Ok(CreateInvoice {
        customer_id: Some(draft.customer_id),
        client_name: None,
        client_email: None,
        amount: None,
        currency: draft.currency,
        due_date: draft.due_date.to_string(),
        issue_date: draft.issue_date.map(|d| d.to_string()),
        items,
        draft: true,
        tax_rate: Some(DecimalText(draft.tax_rate)),
        discount: Some(DecimalText(draft.discount_rate)),
        notes: draft.notes,
        reference: draft.reference,
    })
}

/// Change a draft (409 once it is finalized).
#[utoipa::path(patch, path = "/api/invoices/{id}", tag = "invoices", params(("id" = Uuid, Path)),
    request_body = UpdateInvoice, security(("bearer" = [])),
    responses((status = 200, body = InvoiceView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(super) async fn update_invoice(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
    Json(patch): Json<UpdateInvoice>,
) -> ApiResult<Json<InvoiceView>> {
    auth.require(Role::Accountant)?;
    let mut req = current_as_request(&state, &auth, id).await?;
    if patch.client_name.is_some() || patch.client_email.is_some() {
        req.customer_id = None;
        req.client_name = patch.client_name;
        req.client_email = patch.client_email;
    }
    if let Some(customer) = patch.customer_id {
        req.customer_id = Some(customer);
    }
    req.currency = patch.currency.unwrap_or(req.currency);
    req.due_date = patch.due_date.unwrap_or(req.due_date);
    req.issue_date = patch.issue_date.or(req.issue_date);
    req.items = patch.items.unwrap_or(req.items);
    req.tax_rate = patch.tax_rate.or(req.tax_rate);
    req.discount = patch.discount.or(req.discount);
    req.notes = patch.notes.or(req.notes);
    req.reference = patch.reference.or(req.reference);
    let content = validate(&req)?;
    let customer_id = resolve_customer(&state, &auth, &req).await?;
    let edit = DraftEdit { content, customer_id: customer_id.into(), actor: auth.actor() };
    // The update answers once the run has stored the edit.
    let run = InvoiceRun::new(auth.org_id, id);
    state.runs.update(run, || InvoiceWorkflow::edit_draft, edit, None).await?;
    fetch_invoice(&state, auth.org_id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Invoice"))
}

/// Delete a draft (409 once it is finalized: a numbered invoice can only be voided).
#[utoipa::path(delete, path = "/api/invoices/{id}", tag = "invoices", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_invoice(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Accountant)?;
    current_as_request(&state, &auth, id).await?;
    let request = ActorRequest { actor: auth.actor(), reason: None };
    // The update answers once the run has deleted the row.
    let run = InvoiceRun::new(auth.org_id, id);
    state.runs.update(run, || InvoiceWorkflow::discard, request, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

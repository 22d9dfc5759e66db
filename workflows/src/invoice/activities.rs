//! The contracts of the activities `InvoiceWorkflow` calls: each activity's name, input and
//! output. The activities crate implements them with `#[activity(definition = ...)]`, which
//! fails to compile if an implementation drifts from its contract. Names are spelled out so that
//! renaming a Rust type never renames an activity type recorded in running histories.

use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::{Actor, Currency, CustomerId, EmailKind, InvoiceId, OrgId, PaymentProvider};
use serde::{Deserialize, Serialize};
use temporalio_workflow::common::ActivityDefinition;

use super::messages::{
    CheckoutSession, InvoiceContent, InvoiceRecord, InvoiceWorkflowInput, Projection,
};

macro_rules! activity_contract {
    ($(#[$doc:meta])* $marker:ident, $name:literal, $input:ty => $output:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $marker;

        impl ActivityDefinition for $marker {
            type Input = $input;
            type Output = $output;

            fn name(&self) -> &str {
                $name
            }
        }
    };
}

activity_contract!(
    /// Stores the invoice row, its lines and the `created` event (idempotent on the id).
    CreateInvoiceRecord, "create_invoice_record", CreateRecordInput => InvoiceRecord
);
activity_contract!(
    /// Replaces a draft's content (refused once finalized).
    UpdateDraft, "update_draft", UpdateDraftInput => InvoiceRecord
);
activity_contract!(
    /// Deletes a discarded draft (never numbered) with its lines and events.
    DeleteDraft, "delete_draft", InvoiceRef => ()
);
activity_contract!(
    /// Takes the next gapless number of the organisation and freezes the invoice.
    FinalizeInvoice, "finalize_invoice", FinalizeInput => Finalized
);
activity_contract!(
    /// Renders the PDF and stores it content-addressed; the workflow projects its key.
    RenderInvoicePdf, "render_invoice_pdf", InvoiceRef => RenderedPdf
);
activity_contract!(
    /// Sends one email (invoice, reminder or receipt) at most once per idempotency key.
    SendInvoiceEmail, "send_invoice_email", SendEmailInput => SentEmail
);
activity_contract!(
    /// Opens a checkout session for the amount due at the payment provider (once per key).
    CreateCheckoutSession, "create_checkout_session", CheckoutInput => CheckoutSession
);
activity_contract!(
    /// Expires a checkout session at its provider, so that it can no longer take money (done
    /// when it is no longer open: paid, expired).
    ExpireCheckoutSession, "expire_checkout_session", ExpireCheckoutInput => ()
);
activity_contract!(
    /// Marks the invoice row as needing attention, with the reason, when Postgres refused its
    /// projection for good (stale versions lose).
    RecordAttention, "record_attention", AttentionRecord => ()
);
activity_contract!(
    /// Writes the workflow's state to Postgres (stale versions lose) and appends timeline
    /// events and payments; Postgres announces the change to the API's live updates.
    RecordProjection, "record_projection", Projection => ()
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRecordInput {
    pub input: InvoiceWorkflowInput,
    pub workflow_id: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDraftInput {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    pub customer_id: CustomerId,
    pub content: InvoiceContent,
    pub actor: Actor,
    pub version: u64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceRef {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalizeInput {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    /// Workflow time of finalization: the issue date (if none was given) is its local date.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finalized {
    pub number: String,
    pub issue_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedPdf {
    pub key: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutInput {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    /// Minor units: what is due now.
    pub amount: i64,
    pub currency: Currency,
    /// Derived in the workflow from the invoice and the amount due: a double click, or a retry,
    /// never opens two sessions for the same state.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpireCheckoutInput {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    pub session_id: String,
    /// Who opened the session; a session of the built-in test checkout has nothing to expire.
    pub provider: PaymentProvider,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendEmailInput {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    pub kind: EmailKind,
    /// `<invoice id>:<step>:<n>`, derived in the workflow (see `keys`).
    pub idempotency_key: String,
    /// For reminders: days relative to the due date (negative: before).
    pub offset_days: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEmail {
    pub provider_message_id: String,
    pub recipient: String,
    /// False when the key had been sent before and this call did nothing.
    pub newly_sent: bool,
}

/// An invoice parked because Postgres refused its projection (see `RecordAttention`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionRecord {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    pub version: u64,
    pub reason: String,
}

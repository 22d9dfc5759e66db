//! What goes in and out of an `InvoiceWorkflow`: its start input, the updates the API sends
//! (payments, finalize, void, resend, remind, retry), the query answers, and the contracts of
//! the activities it calls. Everything is plain JSON on the wire; no personal data goes into
//! search attributes.

use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::{Decimal4, InvoiceStatus};
use serde::{Deserialize, Serialize};
use temporalio_workflow::common::ActivityDefinition;

use super::schedule::ReminderSlot;

/// Workflow type name of the invoice workflow, for callers that start it by name.
pub const INVOICE_WORKFLOW_TYPE: &str = "InvoiceWorkflow";

/// How an update is refused when it arrives before the run has stored its invoice (the row can
/// be visible a moment before the run's history records that it was written). Callers should
/// try again shortly: the API answers 503 `invoice_not_ready` for it.
pub const NOT_STORED_YET: &str = "the invoice is still being stored; try again in a moment";

/// One invoice line as entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineContent {
    pub description: String,
    pub quantity: Decimal4,
    /// Minor units.
    pub unit_price: i64,
}

/// The editable content of an invoice (frozen at finalization).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceContent {
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    pub lines: Vec<LineContent>,
    pub tax_rate: Decimal4,
    pub discount_rate: Decimal4,
    pub notes: Option<String>,
    pub reference: Option<String>,
}

/// Start input: the API has validated the content and knows the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceWorkflowInput {
    pub org_id: String,
    pub invoice_id: String,
    pub customer_id: String,
    /// Stay a draft until `finalize`; otherwise finalize at once.
    pub draft: bool,
    pub content: InvoiceContent,
    /// Who created it: `user:<id>` or `api_key:<id>`.
    pub actor: String,
}

/// What the first step stored, as the workflow needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceRecord {
    pub total: i64,
    pub currency: String,
    pub due_date: NaiveDate,
    /// IANA zone of the customer: reminders go out at 09:00 there.
    pub time_zone: String,
    /// The organisation's reminder schedule, in days relative to the due date.
    pub reminder_offsets: Vec<i32>,
}

/// A payment (or, with a negative amount, a refund) for the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    /// Provider event id or client idempotency key: a repeated id is refused.
    pub event_id: String,
    /// Minor units, > 0.
    pub amount: i64,
    pub currency: String,
    /// card, bank_transfer, wallet, cash, check, manual, other.
    pub method: String,
    pub reference: Option<String>,
    pub paid_at: DateTime<Utc>,
    pub actor: String,
    /// Confirmed by a payment provider: the money has moved, so it is recorded even when it is
    /// more than is due (the excess shows on the timeline for the seller to refund).
    #[serde(default)]
    pub provider_confirmed: bool,
}

/// A refund reported by the payment provider for one earlier payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// Provider event id: a repeated id is refused.
    pub event_id: String,
    /// The refunded payment's reference (Stripe: the payment intent id).
    pub payment_reference: String,
    /// Everything refunded of that payment so far, in minor units (Stripe reports the running
    /// total, so an event delivered twice or out of order never refunds twice).
    pub total_refunded: i64,
    pub currency: String,
    /// The channel the money goes back through (card, bank_transfer, ...).
    pub method: String,
    pub refunded_at: DateTime<Utc>,
    pub actor: String,
}

/// A payment that the provider reports as failed (e.g. a bank debit that bounced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFailure {
    pub event_id: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub actor: String,
}

/// A client opened the hosted invoice page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView {
    /// desktop, mobile or tablet.
    pub device: String,
}

/// The payer asked to pay what is due (the hosted page's Pay button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutRequest {
    pub actor: String,
}

/// A checkout session for the amount due, at the payment provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSession {
    pub id: String,
    /// Where the payer goes to pay.
    pub url: String,
    pub amount: i64,
    pub currency: String,
    pub expires_at: DateTime<Utc>,
    /// `stripe` or `local` (the built-in test checkout).
    pub provider: String,
}

/// What `start_checkout` answers: a session to send the payer to, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutOutcome {
    pub session: Option<CheckoutSession>,
    /// The payment provider's refusal, for the payer (e.g. "Your card was declined").
    pub error: Option<String>,
}

/// What a payment update answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOutcome {
    pub status: InvoiceStatus,
    pub amount_paid: i64,
    pub amount_due: i64,
}

/// A command from a person or a system: finalize, void, resend, remind now, retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorRequest {
    pub actor: String,
    /// Free text (e.g. why an invoice is voided).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The `status` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub status: InvoiceStatus,
    pub number: Option<String>,
    pub currency: Option<String>,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub attention_reason: Option<String>,
    pub next_action: Option<NextAction>,
    pub version: u64,
}

/// The next thing the workflow does on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextAction {
    /// `reminder` or `mark_overdue`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// For reminders: days relative to the due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_days: Option<i32>,
}

/// The `schedule` query: upcoming automatic actions with their times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub upcoming: Vec<NextAction>,
    pub reminders: Vec<ReminderSlot>,
    pub reminders_done: usize,
}

// ---------------------------------------------------------------------------------------------
// Activity contracts
// ---------------------------------------------------------------------------------------------

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
    /// Renders the PDF, stores it content-addressed and records its key.
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
    /// Writes the workflow's state to Postgres (stale versions lose), appends timeline events
    /// and payments, and announces the change with NOTIFY.
    RecordProjection, "record_projection", Projection => ()
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRecordInput {
    pub input: InvoiceWorkflowInput,
    pub workflow_id: String,
    pub at: DateTime<Utc>,
}

/// New content for a draft (the `edit_draft` update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftEdit {
    pub content: InvoiceContent,
    pub customer_id: String,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDraftInput {
    pub org_id: String,
    pub invoice_id: String,
    pub customer_id: String,
    pub content: InvoiceContent,
    pub actor: String,
    pub version: u64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceRef {
    pub org_id: String,
    pub invoice_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalizeInput {
    pub org_id: String,
    pub invoice_id: String,
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
    pub org_id: String,
    pub invoice_id: String,
    /// Minor units: what is due now.
    pub amount: i64,
    pub currency: String,
    /// Derived in the workflow from the invoice and the amount due: a double click, or a retry,
    /// never opens two sessions for the same state.
    pub idempotency_key: String,
}

/// Which email to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    Invoice,
    Reminder,
    Receipt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendEmailInput {
    pub org_id: String,
    pub invoice_id: String,
    pub kind: EmailKind,
    /// `<invoice id>:<step>:<n>`, derived in the workflow.
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

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    /// Position in the run's timeline (1, 2, ...): deterministic across workflow-task retries,
    /// so an event re-sent after a crash is stored once.
    #[serde(default)]
    pub seq: u64,
    pub kind: String,
    pub actor: String,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// The workflow's view of the invoice, written to Postgres.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    pub org_id: String,
    pub invoice_id: String,
    pub version: u64,
    pub status: InvoiceStatus,
    pub amount_paid: i64,
    pub attention_reason: Option<String>,
    pub next_action: Option<NextAction>,
    pub pdf_key: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub payments: Vec<PaymentRequest>,
    pub events: Vec<TimelineEvent>,
}

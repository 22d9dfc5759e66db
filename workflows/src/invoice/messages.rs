//! What goes in and out of an `InvoiceWorkflow`: its start input, the updates the API sends
//! (payments, finalize, void, resend, remind, retry), the query answers and the timeline entries
//! it projects. Plain JSON on the wire, with typed ids and enums in code; no personal data goes
//! into search attributes.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::{
    Actor, Currency, CustomerId, Decimal4, Device, EmailKind, InvoiceId, InvoiceStatus,
    NextActionKind, OrgId, PaymentMethod, PaymentProvider, TimelineEvent,
};
use serde::{Deserialize, Serialize};

use super::schedule::ReminderSlot;

/// Workflow type name of the invoice workflow, for callers that start it by name.
pub const INVOICE_WORKFLOW_TYPE: &str = "InvoiceWorkflow";

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
    pub currency: Currency,
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
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    pub customer_id: CustomerId,
    /// Stay a draft until `finalize`; otherwise finalize at once.
    pub draft: bool,
    pub content: InvoiceContent,
    /// Who created it.
    pub actor: Actor,
    /// Continue as new once the run's history has this many events (default
    /// [`MAX_HISTORY_EVENTS`], or sooner when the server suggests it); tests set it low.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_limit: Option<u32>,
    /// Set only on a run that continues an earlier one (see [`ContinuedRun`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued: Option<Box<ContinuedRun>>,
}

/// A run's history is bounded: a long-lived invoice (open for months, then in its refund window
/// for 180 days, paid or retried through its page many times) continues as a new run of the
/// same workflow id at this many events, well below Temporal's limit of 51 200.
pub const MAX_HISTORY_EVENTS: u32 = 10_000;

/// What a run hands the run it continues as: its whole state and where in the invoice's life
/// it stood (waiting for payment, or in the refund window). Only the workflow makes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinuedRun {
    pub(super) state: super::state::InvoiceState,
    pub(super) stage: Stage,
    /// Receipts sent so far (their keys go on from here).
    pub(super) receipts: u32,
    /// Whether the first run took the `local-steps` patch.
    pub(super) local_steps: bool,
}

/// Where a continued run picks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "stage")]
pub(super) enum Stage {
    /// Sent (or partially paid, or voided on the way): waiting for payment.
    Collecting,
    /// Paid: open to refunds until `until`.
    RefundWindow { until: DateTime<Utc> },
}

/// What the first step stored (or found stored), as the workflow needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceRecord {
    pub total: i64,
    pub currency: Currency,
    pub due_date: NaiveDate,
    /// IANA zone of the customer: reminders go out at 09:00 there.
    pub time_zone: String,
    /// The organisation's reminder schedule, in days relative to the due date.
    pub reminder_offsets: Vec<i32>,
    /// The money the invoice's row already holds. Empty for a new invoice; after ops reset a
    /// failed run, the new run starts from it, so an amount paid never goes back.
    #[serde(default)]
    pub stored: StoredPayments,
    /// The row as it was, when it existed before this run (ops reset a failed run): edits and
    /// finalization the old run stored are not lost with its history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<StoredInvoice>,
    /// The customer's name, for the run's current details in the Temporal UI (sealed). Empty in
    /// records stored before it was kept.
    #[serde(default)]
    pub client_name: String,
}

/// An invoice row an earlier run of the same workflow stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredInvoice {
    pub status: InvoiceStatus,
    pub customer_id: CustomerId,
    pub content: InvoiceContent,
}

/// Payments and refunds already recorded for an invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPayments {
    pub amount_paid: i64,
    /// Every payment, refund and failure event id seen so far.
    pub event_ids: Vec<String>,
    /// Refunded so far per payment reference.
    pub refunded_by_reference: BTreeMap<String, i64>,
    /// When it was paid in full, if it is.
    pub paid_at: Option<DateTime<Utc>>,
}

/// A payment (or, inside the workflow, a refund with a negative amount) for the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    /// Provider event id or client idempotency key: a repeated id is refused.
    pub event_id: String,
    /// Minor units, > 0.
    pub amount: i64,
    pub currency: Currency,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub paid_at: DateTime<Utc>,
    pub actor: Actor,
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
    pub currency: Currency,
    /// The channel the money goes back through.
    pub method: PaymentMethod,
    pub refunded_at: DateTime<Utc>,
    pub actor: Actor,
}

/// A payment that the provider reports as failed (e.g. a bank debit that bounced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFailure {
    pub event_id: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub actor: Actor,
}

/// A client opened the hosted invoice page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView {
    pub device: Device,
}

/// What a client's mail server or mailbox said about an email we sent (SES's bounce and
/// complaint events), matched to the email by its provider message id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailFeedback {
    /// SES's feedback id: an event delivered twice is recorded once.
    pub feedback_id: String,
    /// Which of the invoice's emails it was.
    pub email: EmailKind,
    /// The address that bounced or complained.
    pub to: String,
    pub message_id: String,
    pub outcome: FeedbackOutcome,
}

/// A bounce or a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum FeedbackOutcome {
    #[serde(rename_all = "camelCase")]
    Bounce {
        /// A permanent bounce (no such mailbox): the address is suppressed. A transient one
        /// (mailbox full, after SES's own retries) is only shown.
        permanent: bool,
        bounce_type: String,
        detail: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Complaint { feedback_type: Option<String> },
}

impl EmailFeedback {
    /// Whether no more email should go to the address (and an open invoice needs someone).
    pub fn suppresses(&self) -> bool {
        match &self.outcome {
            FeedbackOutcome::Bounce { permanent, .. } => *permanent,
            FeedbackOutcome::Complaint { .. } => true,
        }
    }
}

/// The payer asked to pay what is due (the hosted page's Pay button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutRequest {
    pub actor: Actor,
}

/// A checkout session for the amount due, at the payment provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSession {
    pub id: String,
    /// Where the payer goes to pay.
    pub url: String,
    pub amount: i64,
    pub currency: Currency,
    pub expires_at: DateTime<Utc>,
    pub provider: PaymentProvider,
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PaymentOutcome {
    pub status: InvoiceStatus,
    pub amount_paid: i64,
    pub amount_due: i64,
}

/// A command from a person or a system: finalize, void, resend, remind now, retry, discard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorRequest {
    pub actor: Actor,
    /// Free text (e.g. why an invoice is voided).
    #[serde(default)]
    pub reason: Option<String>,
}

/// New content for a draft (the `edit_draft` update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftEdit {
    pub content: InvoiceContent,
    pub customer_id: CustomerId,
    pub actor: Actor,
}

/// The `status` query, and what most updates answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub status: InvoiceStatus,
    pub number: Option<String>,
    pub currency: Option<Currency>,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub attention_reason: Option<String>,
    pub next_action: Option<NextAction>,
    pub version: u64,
}

/// The next thing the workflow does on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NextAction {
    pub kind: NextActionKind,
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

/// One timeline entry as the workflow projects it: `{seq, kind, actor, data, at}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectedEvent {
    /// Position in the run's timeline (1, 2, ...): deterministic across workflow-task retries,
    /// so an event re-sent after a crash is stored once.
    #[serde(default)]
    pub seq: u64,
    pub actor: Actor,
    #[serde(flatten)]
    pub event: TimelineEvent,
    pub at: DateTime<Utc>,
}

/// The workflow's view of the invoice, written to Postgres.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    pub org_id: OrgId,
    pub invoice_id: InvoiceId,
    /// The run that projects: timeline events are stored once per run and place in it, so a
    /// run that ops started again (a reset) stores its own events beside the old run's.
    #[serde(default)]
    pub run_id: String,
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
    pub events: Vec<ProjectedEvent>,
    /// The open checkout session, so that the API hands it to a payer who presses Pay again
    /// without asking the workflow (a flood of Pay clicks must not grow the run's history).
    /// Absent from projections made before it existed, and when no session is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<CheckoutSession>,
}

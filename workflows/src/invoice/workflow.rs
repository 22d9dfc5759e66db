//! `InvoiceWorkflow`: one durable run per invoice, from creation to paid or void. A paid
//! invoice's run stays open for refunds for a while, since a refund can make money due again.
//!
//! The run owns the invoice's state. Updates only change that state (and are validated first);
//! every side effect happens in the main loop, one at a time, through activities, so effects
//! never race each other and every Postgres write carries a higher version than the last.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use invoice_domain::InvoiceStatus;
use serde_json::json;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, CancellableFuture, LocalActivityOptions, RetryPolicy,
    SyncWorkflowContext, TimerOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use temporalio_workflow::common::ActivityDefinition;
use temporalio_workflow::common::data_converters::TemporalDeserializable;

use super::messages::*;
use super::schedule::{self, ReminderSlot};
use super::search_attributes;

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Transient failures retry with backoff for about half an hour; then the invoice needs
/// attention (ops can retry it). Permanent failures (non-retryable) need attention at once.
/// The summary is what support reads for this step in the Temporal UI.
///
/// The start-to-close timeout is also how long a run waits before retrying an attempt whose
/// worker died (activities do not heartbeat), so it is kept short: every step is one database
/// transaction, one render or one provider call.
fn effect_options(summary: impl Into<String>) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(20))
        .summary(summary.into())
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(300))
                .maximum_attempts(14)
                .build(),
        )
        .build()
}

/// [`effect_options`] for a step that runs as a local activity: the same attempts and backoff.
/// Long backoffs wait on a workflow timer, so a step failing for half an hour holds no worker.
fn local_effect_options() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(20))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(300))
                .maximum_attempts(14)
                .build(),
        )
        .build()
}

/// Projection writes are short database transactions: local activities, retried for long,
/// because a projection must never be skipped.
fn projection_options() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .build(),
        )
        .build()
}

/// Checkout sessions are opened while the payer waits: a few quick attempts, then the payer is
/// told (and can press Pay again).
fn checkout_options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(15))
        .summary("Open a checkout session".to_owned())
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_attempts(3)
                .build(),
        )
        .build()
}

/// How long a paid invoice keeps its run open for refunds (card refunds are possible for
/// about six months).
const REFUND_WINDOW_DAYS: i64 = 180;

/// Runs started before refunds existed complete as soon as they are paid.
const REFUND_WINDOW_PATCH: &str = "refund-window";

/// Runs started since store, finalize and render became local activities (see [`quick_step`]);
/// earlier runs replay them as activities.
const LOCAL_STEPS_PATCH: &str = "local-steps";

/// A client opening the hosted page again within this time is the same visit.
const VIEW_VISIT_MINUTES: i64 = 30;

/// A checkout session is reused while it has at least this long left.
const CHECKOUT_REUSE_MARGIN_MINUTES: i64 = 10;

/// A command that the main loop carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Resend(String),
    RemindNow(String),
}

/// The steps that can fail for good and be retried by ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Finalize,
    Render,
    Send,
}

#[workflow]
pub struct InvoiceWorkflow {
    input: InvoiceWorkflowInput,
    record: Option<InvoiceRecord>,
    status: InvoiceStatus,
    number: Option<String>,
    amount_paid: i64,
    seen_payment_events: BTreeSet<String>,
    pending_payments: Vec<PaymentRequest>,
    pending_events: Vec<TimelineEvent>,
    commands: VecDeque<Command>,
    finalize_requested: bool,
    void_requested: Option<ActorRequest>,
    /// A draft being edited (`edit_draft` runs its activity): finalize waits for it.
    editing: bool,
    /// A draft to delete (`discard`).
    discard_requested: Option<ActorRequest>,
    retry_requested: bool,
    attention_reason: Option<String>,
    reminders: Vec<ReminderSlot>,
    reminders_done: usize,
    overdue_at: Option<DateTime<Utc>>,
    overdue_marked: bool,
    version: u64,
    pdf_key: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    voided_at: Option<DateTime<Utc>>,
    resends: u32,
    manual_reminders: u32,
    /// Bumped by every update so the main loop wakes up.
    wakeups: u64,
    /// Timeline events pushed so far (their `seq`).
    event_seq: u64,
    /// Refunded so far per payment reference (the provider reports running totals).
    refunded_by_reference: BTreeMap<String, i64>,
    /// The latest checkout session, reused while the amount due is the same.
    checkout: Option<CheckoutSession>,
    /// Sessions opened again for the same amount because the previous one expired.
    checkout_renewals: u32,
    /// When each device class last opened the hosted page.
    last_views: BTreeMap<String, DateTime<Utc>>,
    /// Store, finalize and render run as local activities (the `local-steps` patch).
    local_steps: bool,
}

#[workflow_methods]
impl InvoiceWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: InvoiceWorkflowInput) -> Self {
        Self {
            status: if input.draft { InvoiceStatus::Draft } else { InvoiceStatus::Open },
            finalize_requested: !input.draft,
            input,
            record: None,
            number: None,
            amount_paid: 0,
            seen_payment_events: BTreeSet::new(),
            pending_payments: Vec::new(),
            pending_events: Vec::new(),
            commands: VecDeque::new(),
            void_requested: None,
            editing: false,
            discard_requested: None,
            retry_requested: false,
            attention_reason: None,
            reminders: Vec::new(),
            reminders_done: 0,
            overdue_at: None,
            overdue_marked: false,
            version: 0,
            pdf_key: None,
            sent_at: None,
            paid_at: None,
            voided_at: None,
            resends: 0,
            manual_reminders: 0,
            wakeups: 0,
            event_seq: 0,
            refunded_by_reference: BTreeMap::new(),
            checkout: None,
            checkout_renewals: 0,
            last_views: BTreeMap::new(),
            local_steps: false,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<StatusView> {
        let input = ctx.state(|s| s.input.clone());
        let created = CreateRecordInput {
            input: input.clone(),
            workflow_id: ctx.workflow_id().to_owned(),
            at: now(ctx),
        };
        let local_steps = ctx.patched(LOCAL_STEPS_PATCH);
        ctx.state_mut(|s| s.local_steps = local_steps);
        let record = quick_step(ctx, CreateInvoiceRecord, created, "Store the invoice").await?;
        ctx.state_mut(|s| s.record = Some(record));
        project(ctx).await?;

        // A draft waits for finalize, void or discard (edits happen meanwhile, in their update).
        ctx.wait_condition(|s| {
            !s.editing
                && (s.finalize_requested
                    || s.void_requested.is_some()
                    || s.discard_requested.is_some())
        })
        .await?;
        if let Some(req) = ctx.state(|s| s.discard_requested.clone()) {
            let invoice = ctx.state(|s| InvoiceRef {
                org_id: s.input.org_id.clone(),
                invoice_id: s.input.invoice_id.clone(),
            });
            ctx.execute_activity(DeleteDraft, invoice, effect_options("Delete the draft")).await?;
            ctx.state_mut(|s| s.status = InvoiceStatus::Void);
            ctx.upsert_search_attributes(ctx.state(search_attributes::updates));
            let mut view = ctx.state(|s| s.view());
            view.attention_reason = Some(format!("draft deleted by {}", req.actor));
            return Ok(view);
        }
        if !ctx.state(|s| s.void_requested.is_some()) {
            if input.draft {
                ctx.state_mut(|s| s.status = InvoiceStatus::Open);
            }
            for step in [Step::Finalize, Step::Render, Step::Send] {
                // A void that arrives mid-way stops before the next side effect.
                if ctx.state(|s| s.void_requested.is_some()) || !run_step(ctx, step).await? {
                    break;
                }
            }
        }
        let mut receipts = 0u32;
        loop {
            wait_for_payment(ctx).await?;
            if ctx.state(|s| s.status != InvoiceStatus::Paid) {
                break;
            }
            receipts += 1;
            let key = format!("{}:receipt:{receipts}", input.invoice_id);
            let sent = ctx
                .execute_activity(
                    SendInvoiceEmail,
                    email_input(ctx, EmailKind::Receipt, key, None),
                    effect_options("Send the receipt"),
                )
                .await;
            match sent {
                Ok(sent) => event(
                    ctx,
                    "receipt_sent",
                    "system",
                    json!({ "messageId": sent.provider_message_id, "to": sent.recipient }),
                ),
                // The invoice is paid either way; a lost receipt must not reopen it.
                Err(err) => {
                    event(ctx, "receipt_failed", "system", json!({ "reason": reason(&err) }))
                }
            }
            project(ctx).await?;
            if !ctx.patched(REFUND_WINDOW_PATCH) || !await_refunds(ctx).await? {
                break;
            }
        }
        Ok(ctx.state(|s| s.view()))
    }

    /// Finalize a draft: number it, freeze it, render and send it.
    #[update_validator(finalize)]
    fn validate_finalize(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        self.require_open_draft("finalized")
    }

    #[update]
    pub fn finalize(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        req: ActorRequest,
    ) -> StatusView {
        self.finalize_requested = true;
        self.push_event(ctx, "finalize_requested", &req.actor, json!({}));
        self.wakeups += 1;
        self.view()
    }

    /// Replace a draft's content (and customer): stored, totals recomputed, then answered.
    #[update_validator(edit_draft)]
    fn validate_edit(
        &self,
        _ctx: &WorkflowContextView,
        _req: &DraftEdit,
    ) -> Result<(), HandlerError> {
        self.require_open_draft("edited")
    }

    #[update]
    pub async fn edit_draft(ctx: &mut WorkflowContext<Self>, req: DraftEdit) -> StatusView {
        ctx.state_mut(|s| s.editing = true);
        let (input, version) = ctx.state(|s| (s.input.clone(), s.version));
        let update = UpdateDraftInput {
            org_id: input.org_id.clone(),
            invoice_id: input.invoice_id.clone(),
            customer_id: req.customer_id.clone(),
            content: req.content.clone(),
            actor: req.actor.clone(),
            version,
            at: now(ctx),
        };
        match ctx.execute_activity(UpdateDraft, update, effect_options("Save the draft edit")).await
        {
            Ok(record) => ctx.state_mut(|s| {
                s.record = Some(record);
                s.input.content = req.content;
                s.input.customer_id = req.customer_id;
            }),
            Err(err) => event(ctx, "edit_failed", &req.actor, json!({ "reason": reason(&err) })),
        }
        // A projection failure here is retried by the next projection of the main loop.
        let _ = project(ctx).await;
        ctx.state_mut(|s| {
            s.editing = false;
            s.wakeups += 1;
            s.view()
        })
    }

    /// Delete a draft: it was never numbered, so nothing is left of it but this run's history.
    #[update_validator(discard)]
    fn validate_discard(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        self.require_open_draft("deleted")
    }

    #[update]
    pub fn discard(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        req: ActorRequest,
    ) -> StatusView {
        self.discard_requested = Some(req);
        self.wakeups += 1;
        self.view()
    }

    /// Record a payment (validated: new event id, positive, same currency, not more than due).
    #[update_validator(record_payment)]
    fn validate_payment(
        &self,
        _ctx: &WorkflowContextView,
        p: &PaymentRequest,
    ) -> Result<(), HandlerError> {
        if self.record.is_none() {
            return Err(NOT_STORED_YET.into());
        }
        let due = self.total() - self.amount_paid;
        if self.seen_payment_events.contains(&p.event_id) {
            return Err(format!("duplicate payment event {}", p.event_id).into());
        }
        if p.amount <= 0 {
            return Err("a payment amount must be positive".into());
        }
        if self.record.as_ref().is_some_and(|r| r.currency != p.currency) {
            return Err(
                format!("payment currency {} does not match the invoice", p.currency).into()
            );
        }
        if matches!(
            self.status,
            InvoiceStatus::Draft | InvoiceStatus::Void | InvoiceStatus::Refunded
        ) {
            return Err(format!("cannot pay an invoice that is {}", self.status.as_str()).into());
        }
        // An accepted void is final even before the main loop applies it: a payment let in
        // now would end either as a void invoice holding money or as a paid invoice whose void
        // was confirmed to its caller.
        if self.void_requested.is_some() || self.discard_requested.is_some() {
            return Err("cannot pay an invoice that is being voided".into());
        }
        if p.amount > due && !p.provider_confirmed {
            return Err(format!("overpayment: {} is more than the {} due", p.amount, due).into());
        }
        Ok(())
    }

    #[update]
    pub fn record_payment(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        p: PaymentRequest,
    ) -> PaymentOutcome {
        self.seen_payment_events.insert(p.event_id.clone());
        // A session opened before this payment is for another amount (or already used).
        self.checkout = None;
        let overpaid = (p.amount - (self.total() - self.amount_paid)).max(0);
        self.amount_paid += p.amount;
        let mut data = json!({ "eventId": p.event_id, "amount": p.amount, "method": p.method, "reference": p.reference });
        if overpaid > 0 {
            data["overpaid"] = json!(overpaid);
        }
        self.push_event(ctx, "payment_recorded", &p.actor, data);
        if self.amount_paid >= self.total() {
            self.status = InvoiceStatus::Paid;
            self.paid_at = Some(p.paid_at);
            // Paying is final: nothing pending may follow it.
            self.commands.clear();
        } else if self.status != InvoiceStatus::NeedsAttention {
            self.status = InvoiceStatus::PartiallyPaid;
        }
        self.pending_payments.push(p);
        self.wakeups += 1;
        PaymentOutcome {
            status: self.status,
            amount_paid: self.amount_paid,
            amount_due: self.total() - self.amount_paid,
        }
    }

    /// Record a refund of an earlier payment (validated: new event id, same currency, something
    /// new refunded, not more than was paid).
    #[update_validator(record_refund)]
    fn validate_refund(
        &self,
        _ctx: &WorkflowContextView,
        r: &RefundRequest,
    ) -> Result<(), HandlerError> {
        if self.record.is_none() {
            return Err(NOT_STORED_YET.into());
        }
        if self.seen_payment_events.contains(&r.event_id) {
            return Err(format!("duplicate payment event {}", r.event_id).into());
        }
        if self.record.as_ref().is_some_and(|rec| rec.currency != r.currency) {
            return Err(format!("refund currency {} does not match the invoice", r.currency).into());
        }
        let already = self.refunded_by_reference.get(&r.payment_reference).copied().unwrap_or(0);
        if r.total_refunded <= already {
            return Err(format!(
                "refund already recorded: {already} of payment {} is refunded",
                r.payment_reference
            )
            .into());
        }
        if r.total_refunded - already > self.amount_paid {
            return Err(format!(
                "a refund of {} is more than the {} paid",
                r.total_refunded - already,
                self.amount_paid
            )
            .into());
        }
        Ok(())
    }

    #[update]
    pub fn record_refund(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        r: RefundRequest,
    ) -> PaymentOutcome {
        let already = self.refunded_by_reference.get(&r.payment_reference).copied().unwrap_or(0);
        let amount = r.total_refunded - already;
        self.seen_payment_events.insert(r.event_id.clone());
        self.checkout = None;
        self.refunded_by_reference.insert(r.payment_reference.clone(), r.total_refunded);
        self.amount_paid -= amount;
        if self.status == InvoiceStatus::Paid && self.amount_paid <= 0 {
            // Everything paid went back: the sale is undone.
            self.status = InvoiceStatus::Refunded;
        } else if self.status != InvoiceStatus::NeedsAttention {
            // Money went back, so money is due again.
            self.status = if self.amount_paid > 0 {
                InvoiceStatus::PartiallyPaid
            } else if self.overdue_marked {
                InvoiceStatus::Overdue
            } else {
                InvoiceStatus::Sent
            };
        }
        if self.status != InvoiceStatus::Paid {
            self.paid_at = None;
        }
        let data = json!({
            "eventId": r.event_id, "amount": amount, "totalRefunded": r.total_refunded,
            "reference": r.payment_reference, "method": r.method,
        });
        self.push_event(ctx, "refund_recorded", &r.actor, data);
        self.pending_payments.push(PaymentRequest {
            event_id: r.event_id,
            amount: -amount,
            currency: r.currency,
            method: r.method,
            reference: Some(r.payment_reference),
            paid_at: r.refunded_at,
            actor: r.actor,
            provider_confirmed: true,
        });
        self.wakeups += 1;
        PaymentOutcome {
            status: self.status,
            amount_paid: self.amount_paid,
            amount_due: self.total() - self.amount_paid,
        }
    }

    /// Record that a payment failed at the provider (the timeline shows it; nothing is owed less).
    #[update_validator(record_payment_failure)]
    fn validate_payment_failure(
        &self,
        _ctx: &WorkflowContextView,
        f: &PaymentFailure,
    ) -> Result<(), HandlerError> {
        if self.seen_payment_events.contains(&f.event_id) {
            return Err(format!("duplicate payment event {}", f.event_id).into());
        }
        Ok(())
    }

    #[update]
    pub async fn record_payment_failure(
        ctx: &mut WorkflowContext<Self>,
        f: PaymentFailure,
    ) -> StatusView {
        ctx.state_mut(|s| {
            s.seen_payment_events.insert(f.event_id.clone());
            // That session is used up: the next Pay opens a new one.
            s.checkout = None;
        });
        let data = json!({ "eventId": f.event_id, "amount": f.amount, "reference": f.reference, "reason": f.reason });
        event(ctx, "payment_failed", &f.actor, data);
        // A projection failure here is retried by the next projection of the main loop.
        let _ = project(ctx).await;
        ctx.state(|s| s.view())
    }

    /// Open (or reuse) a checkout session for what is due: the hosted page's Pay button.
    #[update_validator(start_checkout)]
    fn validate_checkout(
        &self,
        _ctx: &WorkflowContextView,
        _req: &CheckoutRequest,
    ) -> Result<(), HandlerError> {
        if self.number.is_none()
            || self.status.is_final()
            || self.void_requested.is_some()
            || self.total() - self.amount_paid <= 0
        {
            return Err(format!("nothing to pay: the invoice is {}", self.status.as_str()).into());
        }
        Ok(())
    }

    #[update]
    pub async fn start_checkout(
        ctx: &mut WorkflowContext<Self>,
        req: CheckoutRequest,
    ) -> CheckoutOutcome {
        let at = now(ctx);
        let margin = chrono::Duration::minutes(CHECKOUT_REUSE_MARGIN_MINUTES);
        let (input, due, currency, previous, payment_events) = ctx.state(|s| {
            (
                s.input.clone(),
                s.total() - s.amount_paid,
                s.input.content.currency.clone(),
                s.checkout.clone(),
                s.seen_payment_events.len(),
            )
        });
        if let Some(session) =
            previous.as_ref().filter(|c| c.amount == due && c.expires_at > at + margin)
        {
            return CheckoutOutcome { session: Some(session.clone()), error: None };
        }
        // The same state (amount due after the same payment events) gives the same key, so a
        // double click opens one session; a new key only when that session has expired.
        let renewals = ctx.state_mut(|s| {
            if previous.as_ref().is_some_and(|c| c.amount == due) {
                s.checkout_renewals += 1;
            }
            s.checkout_renewals
        });
        let idempotency_key = match renewals {
            0 => format!("{}:checkout:{due}:{payment_events}", input.invoice_id),
            n => format!("{}:checkout:{due}:{payment_events}:renewed-{n}", input.invoice_id),
        };
        let checkout = CheckoutInput {
            org_id: input.org_id.clone(),
            invoice_id: input.invoice_id.clone(),
            amount: due,
            currency,
            idempotency_key,
        };
        let outcome = match ctx
            .execute_activity(CreateCheckoutSession, checkout, checkout_options())
            .await
        {
            Ok(session) => {
                let new = ctx.state(|s| s.checkout.as_ref().is_none_or(|c| c.id != session.id));
                if new {
                    ctx.state_mut(|s| s.checkout = Some(session.clone()));
                    event(
                        ctx,
                        "checkout_started",
                        &req.actor,
                        json!({ "sessionId": session.id, "amount": session.amount, "provider": session.provider }),
                    );
                }
                CheckoutOutcome { session: Some(session), error: None }
            }
            Err(err) => {
                let why = reason(&err);
                event(ctx, "checkout_failed", &req.actor, json!({ "reason": why }));
                CheckoutOutcome { session: None, error: Some(why) }
            }
        };
        // A projection failure here is retried by the next projection of the main loop.
        let _ = project(ctx).await;
        outcome
    }

    /// The client opened the hosted page. Repeated opens on one device within a visit count
    /// once; the device class feeds the dashboard's charts.
    #[signal]
    pub async fn record_view(ctx: &mut WorkflowContext<Self>, view: PageView) {
        let at = now(ctx);
        let visit = chrono::Duration::minutes(VIEW_VISIT_MINUTES);
        let counted = ctx.state_mut(|s| {
            if s.last_views.get(&view.device).is_some_and(|last| at - *last < visit) {
                return false;
            }
            s.last_views.insert(view.device.clone(), at);
            true
        });
        if counted {
            event(ctx, "viewed", "client", json!({ "device": view.device }));
            let _ = project(ctx).await;
        }
    }

    /// Void the invoice: no more emails, reminders or payments.
    #[update_validator(void)]
    fn validate_void(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        if self.status.is_final()
            || self.void_requested.is_some()
            || self.discard_requested.is_some()
        {
            return Err(format!("cannot void an invoice that is {}", self.status.as_str()).into());
        }
        if self.amount_paid > 0 {
            return Err("cannot void an invoice with payments; refund them first".into());
        }
        Ok(())
    }

    #[update]
    pub fn void(&mut self, _ctx: &mut SyncWorkflowContext<Self>, req: ActorRequest) -> StatusView {
        self.void_requested = Some(req);
        self.wakeups += 1;
        let mut view = self.view();
        view.status = InvoiceStatus::Void;
        view
    }

    /// Send the invoice email again.
    #[update_validator(resend)]
    fn validate_resend(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        self.require_sendable("resend")
    }

    #[update]
    pub fn resend(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        req: ActorRequest,
    ) -> StatusView {
        self.commands.push_back(Command::Resend(req.actor));
        self.wakeups += 1;
        self.view()
    }

    /// Send a payment reminder now.
    #[update_validator(send_reminder_now)]
    fn validate_remind(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        self.require_sendable("remind")
    }

    #[update]
    pub fn send_reminder_now(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        req: ActorRequest,
    ) -> StatusView {
        self.commands.push_back(Command::RemindNow(req.actor));
        self.wakeups += 1;
        self.view()
    }

    /// Retry the step that failed for good (ops).
    #[update_validator(retry)]
    fn validate_retry(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        if self.status != InvoiceStatus::NeedsAttention || self.retry_requested {
            return Err(format!(
                "only an invoice that needs attention can be retried; this one is {}",
                self.status.as_str()
            )
            .into());
        }
        Ok(())
    }

    #[update]
    pub fn retry(&mut self, ctx: &mut SyncWorkflowContext<Self>, req: ActorRequest) -> StatusView {
        self.retry_requested = true;
        self.push_event(ctx, "retry_requested", &req.actor, json!({}));
        self.wakeups += 1;
        self.view()
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> StatusView {
        self.view()
    }

    #[query]
    pub fn schedule(&self, _ctx: &WorkflowContextView) -> ScheduleView {
        let upcoming = if self.status.is_final() || self.sent_at.is_none() {
            Vec::new()
        } else {
            let mut upcoming: Vec<NextAction> = self.reminders
                [self.reminders_done.min(self.reminders.len())..]
                .iter()
                .map(|slot| NextAction {
                    kind: "reminder".into(),
                    at: slot.at,
                    offset_days: Some(slot.offset_days),
                })
                .collect();
            if let Some(at) = self.overdue_at.filter(|_| !self.overdue_marked) {
                upcoming.push(NextAction { kind: "mark_overdue".into(), at, offset_days: None });
            }
            upcoming.sort_by_key(|a| a.at);
            upcoming
        };
        ScheduleView {
            upcoming,
            reminders: self.reminders.clone(),
            reminders_done: self.reminders_done,
        }
    }
}

impl InvoiceWorkflow {
    fn total(&self) -> i64 {
        self.record.as_ref().map_or(0, |r| r.total)
    }

    /// A draft that nothing else is happening to.
    fn require_open_draft(&self, what: &str) -> Result<(), HandlerError> {
        if self.status != InvoiceStatus::Draft
            || self.finalize_requested
            || self.void_requested.is_some()
            || self.discard_requested.is_some()
            || self.editing
        {
            let state = if self.status == InvoiceStatus::Draft && self.editing {
                "being edited"
            } else {
                self.status.as_str()
            };
            return Err(format!("only a draft can be {what}; this invoice is {state}").into());
        }
        Ok(())
    }

    fn require_sendable(&self, what: &str) -> Result<(), HandlerError> {
        if self.sent_at.is_none() || self.status.is_final() || self.void_requested.is_some() {
            return Err(format!(
                "cannot {what}: the invoice is {} and not yet sent or already settled",
                self.status.as_str()
            )
            .into());
        }
        Ok(())
    }

    fn push_event(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        kind: &str,
        actor: &str,
        data: serde_json::Value,
    ) {
        let at = utc(ctx.workflow_time());
        self.event_seq += 1;
        self.pending_events.push(TimelineEvent {
            seq: self.event_seq,
            kind: kind.into(),
            actor: actor.into(),
            data,
            at,
        });
    }

    fn next_action(&self) -> Option<NextAction> {
        if self.status.is_final()
            || self.sent_at.is_none()
            || self.status == InvoiceStatus::NeedsAttention
        {
            return None;
        }
        let reminder = self.reminders.get(self.reminders_done).map(|slot| NextAction {
            kind: "reminder".into(),
            at: slot.at,
            offset_days: Some(slot.offset_days),
        });
        let overdue = self.overdue_at.filter(|_| !self.overdue_marked).map(|at| NextAction {
            kind: "mark_overdue".into(),
            at,
            offset_days: None,
        });
        [reminder, overdue].into_iter().flatten().min_by_key(|a| a.at)
    }

    pub(super) fn status_view(&self) -> StatusView {
        self.view()
    }

    pub(super) fn input(&self) -> &InvoiceWorkflowInput {
        &self.input
    }

    fn view(&self) -> StatusView {
        StatusView {
            status: self.status,
            number: self.number.clone(),
            currency: self.record.as_ref().map(|r| r.currency.clone()),
            total: self.total(),
            amount_paid: self.amount_paid,
            amount_due: self.total() - self.amount_paid,
            attention_reason: self.attention_reason.clone(),
            next_action: self.next_action(),
            version: self.version,
        }
    }
}

/// What went wrong, for people: the innermost cause's message (what the activity said), not
/// the SDK's "Activity task failed" wrapper.
fn reason(err: &ActivityExecutionError) -> String {
    let Some(mut failure) = err.failure() else { return err.to_string() };
    while let Some(cause) = failure.cause.as_deref() {
        failure = cause;
    }
    if failure.message.is_empty() { err.to_string() } else { failure.message.clone() }
}

/// Workflow time as a UTC instant. Every activation carries one; the epoch is only a guard.
fn utc(t: Option<SystemTime>) -> DateTime<Utc> {
    t.map_or(DateTime::<Utc>::UNIX_EPOCH, DateTime::<Utc>::from)
}

fn now(ctx: &WorkflowContext<InvoiceWorkflow>) -> DateTime<Utc> {
    utc(ctx.workflow_time())
}

fn event(
    ctx: &mut WorkflowContext<InvoiceWorkflow>,
    kind: &str,
    actor: &str,
    data: serde_json::Value,
) {
    let at = now(ctx);
    ctx.state_mut(|s| {
        s.event_seq += 1;
        let seq = s.event_seq;
        s.pending_events.push(TimelineEvent {
            seq,
            kind: kind.into(),
            actor: actor.into(),
            data,
            at,
        })
    });
}

fn email_input(
    ctx: &WorkflowContext<InvoiceWorkflow>,
    kind: EmailKind,
    idempotency_key: String,
    offset_days: Option<i32>,
) -> SendEmailInput {
    ctx.state(|s| SendEmailInput {
        org_id: s.input.org_id.clone(),
        invoice_id: s.input.invoice_id.clone(),
        kind,
        idempotency_key,
        offset_days,
    })
}

/// Writes the current state to Postgres (with a new version) and to the search attributes.
///
/// The version is at least the workflow time in microseconds, so it keeps growing across runs:
/// a run that ops reset to its start (a new run of the same id, later in time) wins over every
/// projection of the run it replaces instead of being ignored as stale.
async fn project(ctx: &mut WorkflowContext<InvoiceWorkflow>) -> WorkflowResult<()> {
    let micros = u64::try_from(now(ctx).timestamp_micros()).unwrap_or(0);
    let projection = ctx.state_mut(|s| {
        s.version = (s.version + 1).max(micros);
        Projection {
            org_id: s.input.org_id.clone(),
            invoice_id: s.input.invoice_id.clone(),
            version: s.version,
            status: s.status,
            amount_paid: s.amount_paid,
            attention_reason: s.attention_reason.clone(),
            next_action: s.next_action(),
            pdf_key: s.pdf_key.clone(),
            sent_at: s.sent_at,
            paid_at: s.paid_at,
            voided_at: s.voided_at,
            payments: std::mem::take(&mut s.pending_payments),
            events: std::mem::take(&mut s.pending_events),
        }
    });
    ctx.upsert_search_attributes(ctx.state(search_attributes::updates));
    ctx.execute_local_activity(RecordProjection, projection, projection_options()).await?;
    Ok(())
}

/// Runs one of our own quick steps: storing the row, numbering, rendering and storing the PDF
/// (each a database transaction or a render and an upload, idempotent like every activity).
///
/// Runs with the `local-steps` patch run them as local activities inside the workflow task:
/// no round trip through the server's task queues and a marker instead of six history events,
/// which is what lets an invoice go from POST to sent nearly as fast as the server's trivial
/// workflow (`make bench`). Attempts and backoff are the same; a worker that dies mid-step
/// loses the workflow task, and the next worker runs the step again. Support sees these steps
/// as markers named after the activity; the email, an outside effect, stays an activity.
async fn quick_step<A>(
    ctx: &mut WorkflowContext<InvoiceWorkflow>,
    activity: A,
    input: A::Input,
    summary: &str,
) -> Result<A::Output, ActivityExecutionError>
where
    A: ActivityDefinition,
    A::Output: TemporalDeserializable,
{
    if ctx.state(|s| s.local_steps) {
        ctx.execute_local_activity(activity, input, local_effect_options()).await
    } else {
        ctx.execute_activity(activity, input, effect_options(summary)).await
    }
}

/// Runs one step until it succeeds, or until the invoice is voided while it needs attention.
/// Returns false when the invoice was voided instead.
async fn run_step(ctx: &mut WorkflowContext<InvoiceWorkflow>, step: Step) -> WorkflowResult<bool> {
    let invoice = ctx.state(|s| InvoiceRef {
        org_id: s.input.org_id.clone(),
        invoice_id: s.input.invoice_id.clone(),
    });
    // Ops retries of this step so far: a retried send uses a new email key, because the failed
    // one may stand for an email whose delivery is unknown (see `SendInvoiceEmail`).
    let mut retries = 0u32;
    loop {
        let outcome: Result<(), String> = match step {
            Step::Finalize => {
                let input = FinalizeInput {
                    org_id: invoice.org_id.clone(),
                    invoice_id: invoice.invoice_id.clone(),
                    at: now(ctx),
                };
                match quick_step(ctx, FinalizeInvoice, input, "Number and freeze the invoice").await
                {
                    Ok(done) => {
                        ctx.state_mut(|s| s.number = Some(done.number.clone()));
                        event(
                            ctx,
                            "finalized",
                            "system",
                            json!({ "number": done.number, "issueDate": done.issue_date }),
                        );
                        Ok(())
                    }
                    Err(err) => Err(reason(&err)),
                }
            }
            Step::Render => {
                match quick_step(ctx, RenderInvoicePdf, invoice.clone(), "Render and store the PDF")
                    .await
                {
                    Ok(pdf) => {
                        ctx.state_mut(|s| s.pdf_key = Some(pdf.key.clone()));
                        event(
                            ctx,
                            "pdf_rendered",
                            "system",
                            json!({ "key": pdf.key, "size": pdf.size }),
                        );
                        Ok(())
                    }
                    Err(err) => Err(reason(&err)),
                }
            }
            Step::Send => {
                let key = match retries {
                    0 => format!("{}:invoice_email:1", invoice.invoice_id),
                    n => format!("{}:invoice_email:1:retry-{n}", invoice.invoice_id),
                };
                match ctx
                    .execute_activity(
                        SendInvoiceEmail,
                        email_input(ctx, EmailKind::Invoice, key, None),
                        effect_options("Send the invoice email"),
                    )
                    .await
                {
                    Ok(sent) => {
                        mark_sent(ctx);
                        event(
                            ctx,
                            "email_sent",
                            "system",
                            json!({ "kind": "invoice", "messageId": sent.provider_message_id, "to": sent.recipient }),
                        );
                        Ok(())
                    }
                    Err(err) => Err(reason(&err)),
                }
            }
        };
        match outcome {
            Ok(()) => {
                project(ctx).await?;
                return Ok(true);
            }
            Err(reason) => {
                // Failed for good: park the invoice until ops retry it or someone voids it.
                ctx.state_mut(|s| {
                    s.attention_reason = Some(reason.clone());
                    s.status = InvoiceStatus::NeedsAttention;
                    s.retry_requested = false;
                });
                event(
                    ctx,
                    "failed",
                    "system",
                    json!({ "step": format!("{step:?}").to_lowercase(), "reason": reason }),
                );
                project(ctx).await?;
                ctx.wait_condition(|s| s.retry_requested || s.void_requested.is_some()).await?;
                if ctx.state(|s| s.void_requested.is_some()) {
                    return Ok(false);
                }
                retries += 1;
                ctx.state_mut(|s| {
                    s.attention_reason = None;
                    // Money may have arrived while it waited (even all of it).
                    s.status = if s.record.is_some() && s.amount_paid >= s.total() {
                        InvoiceStatus::Paid
                    } else if s.amount_paid > 0 {
                        InvoiceStatus::PartiallyPaid
                    } else {
                        InvoiceStatus::Open
                    };
                });
            }
        }
    }
}

/// The invoice email was accepted: plan reminders and the overdue mark from now on.
fn mark_sent(ctx: &mut WorkflowContext<InvoiceWorkflow>) {
    let at = now(ctx);
    ctx.state_mut(|s| {
        s.sent_at = Some(at);
        let Some(record) = &s.record else { return };
        let tz: Tz = record.time_zone.parse().unwrap_or(chrono_tz::UTC);
        s.reminders = schedule::reminder_slots(record.due_date, &record.reminder_offsets, tz);
        // Slots before the invoice went out are covered by the invoice email itself.
        s.reminders_done = s.reminders.iter().take_while(|slot| slot.at <= at).count();
        let overdue_at = schedule::overdue_at(record.due_date, tz);
        s.overdue_at = Some(overdue_at);
        s.overdue_marked = overdue_at <= at;
        if s.status != InvoiceStatus::PartiallyPaid && s.status != InvoiceStatus::Paid {
            s.status = if s.overdue_marked { InvoiceStatus::Overdue } else { InvoiceStatus::Sent };
        }
    });
}

/// Waits on payments, commands and the clock until the invoice is paid or void.
async fn wait_for_payment(ctx: &mut WorkflowContext<InvoiceWorkflow>) -> WorkflowResult<()> {
    loop {
        // Payments first: reaching the total ends the loop before any reminder can go out.
        if ctx.state(|s| !s.pending_payments.is_empty()) {
            project(ctx).await?;
        }
        if ctx.state(|s| matches!(s.status, InvoiceStatus::Paid | InvoiceStatus::Refunded)) {
            return Ok(());
        }
        if let Some(req) = ctx.state(|s| s.void_requested.clone()) {
            let at = now(ctx);
            ctx.state_mut(|s| {
                s.status = InvoiceStatus::Void;
                s.voided_at = Some(at);
                s.commands.clear();
            });
            event(ctx, "voided", &req.actor, json!({ "reason": req.reason }));
            project(ctx).await?;
            return Ok(());
        }
        if let Some(command) = ctx.state_mut(|s| s.commands.pop_front()) {
            run_command(ctx, command).await?;
            continue;
        }
        let now_at = now(ctx);
        apply_clock(ctx, now_at).await?;
        let wakeups = ctx.state(|s| s.wakeups);
        match ctx.state(|s| s.next_action()) {
            Some(next) => {
                let wait = (next.at - now_at)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(1));
                let summary = format!("Wait for {} at {}", next.kind.replace('_', " "), next.at);
                let mut timer =
                    Box::pin(ctx.timer(TimerOptions::builder(wait).summary(summary).build()));
                let mut woken = Box::pin(ctx.wait_condition(move |s| s.wakeups != wakeups));
                temporalio_workflow::workflows::select! {
                    _ = timer => {}
                    _ = woken => { timer.cancel(); }
                }
            }
            None => ctx.wait_condition(move |s| s.wakeups != wakeups).await?,
        }
    }
}

/// Keeps a paid invoice open to refunds for the refund window. True when a refund made money
/// due again (back to collecting it), false when the window closed or everything was refunded.
async fn await_refunds(ctx: &mut WorkflowContext<InvoiceWorkflow>) -> WorkflowResult<bool> {
    let deadline = now(ctx) + chrono::Duration::days(REFUND_WINDOW_DAYS);
    loop {
        if ctx.state(|s| !s.pending_payments.is_empty()) {
            project(ctx).await?;
        }
        match ctx.state(|s| s.status) {
            InvoiceStatus::Paid => {}
            InvoiceStatus::Refunded => return Ok(false),
            _ => return Ok(true),
        }
        let now_at = now(ctx);
        if now_at >= deadline {
            return Ok(false);
        }
        let wait =
            (deadline - now_at).to_std().unwrap_or(Duration::ZERO).max(Duration::from_secs(1));
        let wakeups = ctx.state(|s| s.wakeups);
        let mut timer =
            Box::pin(ctx.timer(
                TimerOptions::builder(wait).summary("Refund window closes".to_owned()).build(),
            ));
        let mut woken = Box::pin(ctx.wait_condition(move |s| s.wakeups != wakeups));
        temporalio_workflow::workflows::select! {
            _ = timer => {}
            _ = woken => { timer.cancel(); }
        }
    }
}

/// Applies what the clock says: the overdue mark, and reminders whose time has come. After an
/// outage several slots may have passed: they collapse into one reminder.
async fn apply_clock(
    ctx: &mut WorkflowContext<InvoiceWorkflow>,
    now_at: DateTime<Utc>,
) -> WorkflowResult<()> {
    // A partially paid invoice keeps that status past its due date; only its flag changes.
    let turned_overdue = ctx.state_mut(|s| {
        let due = !s.overdue_marked && s.overdue_at.is_some_and(|at| at <= now_at);
        if due {
            s.overdue_marked = true;
            if s.status == InvoiceStatus::Sent {
                s.status = InvoiceStatus::Overdue;
            }
        }
        due
    });
    if turned_overdue {
        event(ctx, "status_changed", "system", json!({ "status": "overdue" }));
        project(ctx).await?;
    }
    let missed: Vec<ReminderSlot> = ctx.state_mut(|s| {
        let start = s.reminders_done.min(s.reminders.len());
        let due: Vec<ReminderSlot> =
            s.reminders[start..].iter().take_while(|slot| slot.at <= now_at).copied().collect();
        s.reminders_done += due.len();
        due
    });
    if let Some(latest) = missed.last() {
        let key = format!(
            "{}:reminder:{}",
            ctx.state(|s| s.input.invoice_id.clone()),
            latest.offset_days
        );
        let input = email_input(ctx, EmailKind::Reminder, key, Some(latest.offset_days));
        let skipped: Vec<i32> = missed[..missed.len() - 1].iter().map(|s| s.offset_days).collect();
        match ctx
            .execute_activity(
                SendInvoiceEmail,
                input,
                effect_options(format!("Send reminder ({:+} days)", latest.offset_days)),
            )
            .await
        {
            Ok(sent) => event(
                ctx,
                "reminder_sent",
                "system",
                json!({
                    "offsetDays": latest.offset_days, "collapsed": skipped, "messageId": sent.provider_message_id, "to": sent.recipient,
                }),
            ),
            // A reminder that cannot be sent is not worth parking the invoice for.
            Err(err) => event(
                ctx,
                "reminder_failed",
                "system",
                json!({ "offsetDays": latest.offset_days, "reason": reason(&err) }),
            ),
        }
        project(ctx).await?;
    }
    Ok(())
}

async fn run_command(
    ctx: &mut WorkflowContext<InvoiceWorkflow>,
    command: Command,
) -> WorkflowResult<()> {
    let invoice_id = ctx.state(|s| s.input.invoice_id.clone());
    let (kind, actor, key, event_kind) = match command {
        Command::Resend(actor) => {
            let n = ctx.state_mut(|s| {
                s.resends += 1;
                s.resends + 1
            });
            (EmailKind::Invoice, actor, format!("{invoice_id}:invoice_email:{n}"), "email_sent")
        }
        Command::RemindNow(actor) => {
            let n = ctx.state_mut(|s| {
                s.manual_reminders += 1;
                s.manual_reminders
            });
            (
                EmailKind::Reminder,
                actor,
                format!("{invoice_id}:reminder:manual-{n}"),
                "reminder_sent",
            )
        }
    };
    let kind_name = match kind {
        EmailKind::Invoice => "invoice",
        EmailKind::Reminder => "reminder",
        EmailKind::Receipt => "receipt",
    };
    match ctx
        .execute_activity(
            SendInvoiceEmail,
            email_input(ctx, kind, key, None),
            effect_options(format!("Send {kind_name} email (manual)")),
        )
        .await
    {
        Ok(sent) => event(
            ctx,
            event_kind,
            &actor,
            json!({ "kind": kind_name, "manual": true, "messageId": sent.provider_message_id, "to": sent.recipient }),
        ),
        Err(err) => {
            event(ctx, "email_failed", &actor, json!({ "kind": kind_name, "reason": reason(&err) }))
        }
    }
    project(ctx).await
}

//! `InvoiceWorkflow`: one durable run per invoice, from creation to paid or void. A paid
//! invoice's run stays open for refunds for a while, since a refund can make money due again.
//!
//! The run owns the invoice's state (`state/`). Updates are validated, then change that state;
//! every side effect happens in the main loop (`steps.rs`), one at a time, through activities,
//! so effects never race each other and every Postgres write carries a higher version than the
//! last.

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use super::messages::Stage;
use super::messages::{
    ActorRequest, CheckoutOutcome, CheckoutRequest, DraftEdit, EmailFeedback, InvoiceWorkflowInput,
    PageView, PaymentFailure, PaymentOutcome, PaymentRequest, RefundRequest, ScheduleView,
    StatusView,
};
use super::state::{Command, InvoiceState};
use super::steps::{self, utc};

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Runs started since a refund of money paid beyond the total keeps a paid invoice paid;
/// earlier runs reopened it as partially paid (found by the state machine's property tests).
const REFUND_KEEPS_PAID_PATCH: &str = "refund-keeps-paid";

#[workflow]
pub struct InvoiceWorkflow {
    pub(super) state: InvoiceState,
    /// Store, finalize and render run as local activities (the `local-steps` patch).
    pub(super) local_steps: bool,
    /// The discarded draft's row is gone (the `discard` update answers then)...
    pub(super) draft_deleted: bool,
    /// ...and the update has answered (the run ends then).
    pub(super) discard_answered: bool,
    /// Where a run that continues an earlier one picks up, and its receipts so far.
    pub(super) resume: Option<(Stage, u32)>,
}

#[workflow_methods]
impl InvoiceWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, mut input: InvoiceWorkflowInput) -> Self {
        match input.continued.take() {
            // The run before grew long and handed over its state.
            Some(continued) => Self {
                state: continued.state,
                local_steps: continued.local_steps,
                draft_deleted: false,
                discard_answered: false,
                resume: Some((continued.stage, continued.receipts)),
            },
            None => Self {
                state: InvoiceState::new(input),
                local_steps: false,
                draft_deleted: false,
                discard_answered: false,
                resume: None,
            },
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<StatusView> {
        steps::run(ctx).await
    }

    /// Answers once the run has stored its invoice. Sent with the start (update-with-start),
    /// it is how the API learns that the invoice row exists without polling Postgres.
    #[update]
    pub async fn stored(ctx: &mut WorkflowContext<Self>, _req: ActorRequest) -> StatusView {
        // Cancellation ends the run, and with it this update.
        let _ = ctx.wait_condition(|w| w.state.is_stored()).await;
        ctx.state(|w| w.state.view())
    }

    /// Finalize a draft: number it, freeze it, render and send it.
    #[update_validator(finalize)]
    fn validate_finalize(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_draft_change("finalized")?)
    }

    #[update]
    pub fn finalize(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        req: ActorRequest,
    ) -> StatusView {
        self.state.request_finalize(req.actor, utc(ctx.workflow_time()))
    }

    /// Replace a draft's content (and customer): stored, totals recomputed, then answered.
    #[update_validator(edit_draft)]
    fn validate_edit(
        &self,
        _ctx: &WorkflowContextView,
        _req: &DraftEdit,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_draft_change("edited")?)
    }

    #[update]
    pub async fn edit_draft(ctx: &mut WorkflowContext<Self>, req: DraftEdit) -> StatusView {
        steps::edit_draft(ctx, req).await
    }

    /// Delete a draft: it was never numbered, so nothing is left of it but this run's history.
    /// Answers once the row is gone.
    #[update_validator(discard)]
    fn validate_discard(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_draft_change("deleted")?)
    }

    #[update]
    pub async fn discard(ctx: &mut WorkflowContext<Self>, req: ActorRequest) -> StatusView {
        ctx.state_mut(|w| w.state.request_discard(req));
        // The main loop deletes the row, and ends the run once this has answered.
        let _ = ctx.wait_condition(|w| w.draft_deleted).await;
        ctx.state_mut(|w| {
            w.discard_answered = true;
            w.state.view()
        })
    }

    /// Record a payment (validated: new event id, positive, same currency, not more than due).
    #[update_validator(record_payment)]
    fn validate_payment(
        &self,
        _ctx: &WorkflowContextView,
        p: &PaymentRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_payment(p)?)
    }

    #[update]
    pub fn record_payment(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        p: PaymentRequest,
    ) -> PaymentOutcome {
        self.state.apply_payment(p, utc(ctx.workflow_time()))
    }

    /// Record a refund of an earlier payment (validated: new event id, same currency, something
    /// new refunded, not more than was paid).
    #[update_validator(record_refund)]
    fn validate_refund(
        &self,
        _ctx: &WorkflowContextView,
        r: &RefundRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_refund(r)?)
    }

    #[update]
    pub fn record_refund(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        r: RefundRequest,
    ) -> PaymentOutcome {
        // Asked only when it matters, so that other refunds record no patch marker.
        let keep_paid = self.state.refund_leaves_paid(&r) && ctx.patched(REFUND_KEEPS_PAID_PATCH);
        self.state.apply_refund(r, utc(ctx.workflow_time()), keep_paid)
    }

    /// Record that a payment failed at the provider (the timeline shows it; nothing is owed less).
    #[update_validator(record_payment_failure)]
    fn validate_payment_failure(
        &self,
        _ctx: &WorkflowContextView,
        f: &PaymentFailure,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_payment_failure(f)?)
    }

    #[update]
    pub async fn record_payment_failure(
        ctx: &mut WorkflowContext<Self>,
        f: PaymentFailure,
    ) -> StatusView {
        let at = steps::now(ctx);
        ctx.state_mut(|w| w.state.apply_payment_failure(f, at));
        steps::project_from_handler(ctx).await;
        ctx.state(|w| w.state.view())
    }

    /// Open (or reuse) a checkout session for what is due: the hosted page's Pay button.
    #[update_validator(start_checkout)]
    fn validate_checkout(
        &self,
        _ctx: &WorkflowContextView,
        _req: &CheckoutRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_checkout()?)
    }

    #[update]
    pub async fn start_checkout(
        ctx: &mut WorkflowContext<Self>,
        req: CheckoutRequest,
    ) -> CheckoutOutcome {
        steps::start_checkout(ctx, req).await
    }

    /// The client opened the hosted page. Repeated opens on one device within a visit count
    /// once; the device class feeds the dashboard's charts.
    #[signal]
    pub async fn record_view(ctx: &mut WorkflowContext<Self>, view: PageView) {
        let at = steps::now(ctx);
        if ctx.state_mut(|w| w.state.record_view(view.device, at)) {
            steps::project_from_handler(ctx).await;
        }
    }

    /// The client's mail server bounced one of the invoice's emails, or the client marked it
    /// as spam (the worker reads SES's events and signals them here). Recorded once per event.
    #[signal]
    pub async fn record_email_feedback(ctx: &mut WorkflowContext<Self>, feedback: EmailFeedback) {
        let at = steps::now(ctx);
        if ctx.state_mut(|w| w.state.email_feedback(feedback, at)) {
            steps::project_from_handler(ctx).await;
        }
    }

    /// Void the invoice: no more emails, reminders or payments.
    #[update_validator(void)]
    fn validate_void(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_void()?)
    }

    #[update]
    pub fn void(&mut self, _ctx: &mut SyncWorkflowContext<Self>, req: ActorRequest) -> StatusView {
        self.state.request_void(req)
    }

    /// Send the invoice email again.
    #[update_validator(resend)]
    fn validate_resend(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_sendable("resend")?)
    }

    #[update]
    pub fn resend(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        req: ActorRequest,
    ) -> StatusView {
        self.state.queue(Command::Resend(req.actor))
    }

    /// Send a payment reminder now.
    #[update_validator(send_reminder_now)]
    fn validate_remind(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_sendable("remind")?)
    }

    #[update]
    pub fn send_reminder_now(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        req: ActorRequest,
    ) -> StatusView {
        self.state.queue(Command::RemindNow(req.actor))
    }

    /// Retry the step that failed for good (ops).
    #[update_validator(retry)]
    fn validate_retry(
        &self,
        _ctx: &WorkflowContextView,
        _req: &ActorRequest,
    ) -> Result<(), HandlerError> {
        Ok(self.state.validate_retry()?)
    }

    #[update]
    pub fn retry(&mut self, ctx: &mut SyncWorkflowContext<Self>, req: ActorRequest) -> StatusView {
        self.state.request_retry(req.actor, utc(ctx.workflow_time()))
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> StatusView {
        self.state.view()
    }

    #[query]
    pub fn schedule(&self, _ctx: &WorkflowContextView) -> ScheduleView {
        self.state.schedule()
    }
}

//! The side effects of `InvoiceWorkflow`, run by its main loop and its async update handlers:
//! store, finalize, render, send, remind, receipts, checkout sessions and projections to
//! Postgres. Each step asks the state (`state/`) what to do, runs one activity, and tells the
//! state what came of it.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use invoice_domain::{EmailKind, InvoiceStatus, Step};
use temporalio_workflow::common::ActivityDefinition;
use temporalio_workflow::common::data_converters::TemporalDeserializable;
use temporalio_workflow::{
    ActivityExecutionError, CancellableFuture, ContinueAsNewOptions, TimerOptions, WorkflowContext,
    WorkflowResult,
};

use super::activities::{
    CreateCheckoutSession, CreateInvoiceRecord, CreateRecordInput, DeleteDraft,
    ExpireCheckoutInput, ExpireCheckoutSession, FinalizeInput, FinalizeInvoice, RecordAttention,
    RecordProjection, RenderInvoicePdf, SendEmailInput, SendInvoiceEmail, UpdateDraft,
    UpdateDraftInput,
};
use super::keys;
use super::messages::{CheckoutOutcome, CheckoutRequest, DraftEdit, Stage, StatusView};
use super::options;
use super::search_attributes;
use super::state::{CheckoutPlan, Command, DraftOutcome};
use super::workflow::InvoiceWorkflow;

type Ctx = WorkflowContext<InvoiceWorkflow>;

/// How long a paid invoice keeps its run open for refunds (card refunds are possible for
/// about six months).
const REFUND_WINDOW_DAYS: i64 = 180;

/// Runs started before refunds existed complete as soon as they are paid.
const REFUND_WINDOW_PATCH: &str = "refund-window";

/// Runs started since store, finalize and render became local activities (see [`quick_step`]);
/// earlier runs replay them as activities.
const LOCAL_STEPS_PATCH: &str = "local-steps";

/// Runs started since checkout sessions are expired once what they ask for is no longer due;
/// earlier runs left them to end on their own.
const EXPIRE_CHECKOUTS_PATCH: &str = "expire-checkouts";

/// The whole life of an invoice. A run that continues an earlier one (whose history grew
/// long) picks up where that one stood.
pub(super) async fn run(ctx: &mut Ctx) -> WorkflowResult<StatusView> {
    let (mut stage, mut receipts) = match ctx.state_mut(|w| w.resume.take()) {
        Some(resume) => {
            // The row as it stands (idempotent: it is there), in case ops started this run
            // again after the one before recorded more.
            let created = record_input(ctx);
            let row =
                quick_step(ctx, CreateInvoiceRecord, created, "Read the stored invoice").await?;
            ctx.state_mut(|w| w.state.resumed(&row));
            resume
        }
        None => {
            if let Some(discarded) = create_and_send(ctx).await? {
                return Ok(discarded);
            }
            (Stage::Collecting, 0)
        }
    };
    let invoice_id = ctx.state(|w| w.state.invoice_id());
    loop {
        if stage == Stage::Collecting {
            wait_for_payment(ctx, receipts).await?;
            if ctx.state(|w| w.state.status() != InvoiceStatus::Paid) {
                break;
            }
            receipts += 1;
            let key = keys::receipt(invoice_id, receipts);
            let input = email_input(ctx, EmailKind::Receipt, key, None);
            let options = options::step("Send the receipt");
            let sent = ctx.execute_activity(SendInvoiceEmail, input, options).await;
            let at = now(ctx);
            // The invoice is paid either way; a lost receipt must not reopen it.
            match sent {
                Ok(sent) => ctx.state_mut(|w| w.state.receipt_sent(sent, at)),
                Err(err) => ctx.state_mut(|w| w.state.receipt_failed(reason(&err), at)),
            }
            project(ctx).await?;
            if !ctx.patched(REFUND_WINDOW_PATCH) {
                break;
            }
            stage = Stage::RefundWindow {
                until: now(ctx) + chrono::Duration::days(REFUND_WINDOW_DAYS),
            };
        }
        let Stage::RefundWindow { until } = stage else { continue };
        if !await_refunds(ctx, until, receipts).await? {
            break;
        }
        stage = Stage::Collecting;
    }
    Ok(ctx.state(|w| w.state.view()))
}

/// Stores the invoice, waits out its draft stage, and numbers, renders and sends it. Answers
/// the final view when the draft was deleted instead (the run ends then).
async fn create_and_send(ctx: &mut Ctx) -> WorkflowResult<Option<StatusView>> {
    let created = record_input(ctx);
    let local_steps = ctx.patched(LOCAL_STEPS_PATCH);
    ctx.state_mut(|w| w.local_steps = local_steps);
    let record = quick_step(ctx, CreateInvoiceRecord, created, "Store the invoice").await?;
    ctx.state_mut(|w| w.state.stored(record));
    project(ctx).await?;

    // A draft waits for finalize, void or discard (edits happen meanwhile, in their update).
    ctx.wait_condition(|w| w.state.draft_decided()).await?;
    match ctx.state_mut(|w| w.state.leave_draft()) {
        DraftOutcome::Discard(req) => {
            let invoice = ctx.state(|w| w.state.invoice());
            ctx.execute_activity(DeleteDraft, invoice, options::step("Delete the draft")).await?;
            let view = ctx.state_mut(|w| {
                w.draft_deleted = true;
                w.state.discarded(&req)
            });
            ctx.upsert_search_attributes(ctx.state(search_attributes::updates));
            // The `discard` update answers first: the run must outlive its handler.
            ctx.wait_condition(|w| w.discard_answered).await?;
            return Ok(Some(view));
        }
        DraftOutcome::Void => {}
        DraftOutcome::Finalize => {
            for step in [Step::Finalize, Step::Render, Step::Send] {
                // A void that arrives mid-way stops before the next side effect.
                if ctx.state(|w| w.state.is_voiding()) || !run_step(ctx, step).await? {
                    break;
                }
            }
        }
    }
    Ok(None)
}

/// What storing the invoice (or reading it back) takes.
fn record_input(ctx: &Ctx) -> CreateRecordInput {
    CreateRecordInput {
        input: ctx.state(|w| w.state.input().clone()),
        workflow_id: ctx.workflow_id().to_owned(),
        at: now(ctx),
    }
}

/// Continues as a new run when this one's history has grown long (at the invoice's history
/// limit, or when the server suggests it), handing over the whole state. Only between steps:
/// never while an update or signal handler is still running, and only once everything the run
/// knows is in Postgres. Returns (without continuing) otherwise.
async fn continue_if_long(ctx: &mut Ctx, stage: Stage, receipts: u32) -> WorkflowResult<()> {
    let limit = ctx.state(|w| w.state.history_limit());
    let long = ctx.history_length() >= limit || ctx.continue_as_new_suggested();
    if !long || !ctx.all_handlers_finished() {
        return Ok(());
    }
    if ctx.state(|w| w.state.has_unprojected()) {
        project(ctx).await?;
    }
    let input = ctx.state(|w| w.state.continued_input(stage, receipts, w.local_steps));
    ctx.continue_as_new(input, ContinueAsNewOptions::default())?;
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
    ctx: &mut Ctx,
    activity: A,
    input: A::Input,
    summary: &str,
) -> Result<A::Output, ActivityExecutionError>
where
    A: ActivityDefinition,
    A::Output: TemporalDeserializable,
{
    if ctx.state(|w| w.local_steps) {
        ctx.execute_local_activity(activity, input, options::local_step()).await
    } else {
        ctx.execute_activity(activity, input, options::step(summary)).await
    }
}

/// Runs one finalization step until it succeeds, or until the invoice is voided while it needs
/// attention. Returns false when the invoice was voided instead.
async fn run_step(ctx: &mut Ctx, step: Step) -> WorkflowResult<bool> {
    let invoice = ctx.state(|w| w.state.invoice());
    // Ops retries of this step so far (the send's key changes with them, see `keys`).
    let mut retries = 0u32;
    loop {
        let outcome: Result<(), String> = match step {
            Step::Finalize => {
                let input = FinalizeInput {
                    org_id: invoice.org_id,
                    invoice_id: invoice.invoice_id,
                    at: now(ctx),
                };
                match quick_step(ctx, FinalizeInvoice, input, "Number and freeze the invoice").await
                {
                    Ok(done) => {
                        let at = now(ctx);
                        ctx.state_mut(|w| w.state.finalized(done, at));
                        Ok(())
                    }
                    Err(err) => Err(reason(&err)),
                }
            }
            Step::Render => {
                match quick_step(ctx, RenderInvoicePdf, invoice, "Render and store the PDF").await {
                    Ok(pdf) => {
                        let at = now(ctx);
                        ctx.state_mut(|w| w.state.rendered(pdf, at));
                        Ok(())
                    }
                    Err(err) => Err(reason(&err)),
                }
            }
            Step::Send => {
                let key = keys::invoice_email(invoice.invoice_id, retries);
                let input = email_input(ctx, EmailKind::Invoice, key, None);
                let options = options::step("Send the invoice email");
                match ctx.execute_activity(SendInvoiceEmail, input, options).await {
                    Ok(sent) => {
                        let at = now(ctx);
                        ctx.state_mut(|w| w.state.invoice_sent(sent, at));
                        Ok(())
                    }
                    Err(err) => Err(reason(&err)),
                }
            }
        };
        let Err(reason) = outcome else {
            project(ctx).await?;
            return Ok(true);
        };
        // Failed for good: park the invoice until ops retry it or someone voids it.
        let at = now(ctx);
        ctx.state_mut(|w| w.state.step_failed(step, reason, at));
        project(ctx).await?;
        ctx.wait_condition(|w| w.state.parked_decided()).await?;
        if ctx.state(|w| w.state.is_voiding()) {
            return Ok(false);
        }
        retries += 1;
        ctx.state_mut(|w| w.state.retry_started());
    }
}

/// Waits on payments, commands and the clock until the invoice is paid, refunded or void.
async fn wait_for_payment(ctx: &mut Ctx, receipts: u32) -> WorkflowResult<()> {
    loop {
        continue_if_long(ctx, Stage::Collecting, receipts).await?;
        // Payments first: reaching the total ends the loop before any reminder can go out. A
        // projection a handler could not store is stored (or parks the invoice) here too.
        if ctx.state(|w| w.state.has_pending_payments() || w.state.projection_pending()) {
            project(ctx).await?;
        }
        expire_checkouts(ctx).await;
        if ctx.state(|w| matches!(w.state.status(), InvoiceStatus::Paid | InvoiceStatus::Refunded))
        {
            return Ok(());
        }
        let at = now(ctx);
        if ctx.state_mut(|w| w.state.void_if_requested(at)) {
            project(ctx).await?;
            expire_checkouts(ctx).await;
            return Ok(());
        }
        if let Some(command) = ctx.state_mut(|w| w.state.next_command()) {
            run_command(ctx, command).await?;
            continue;
        }
        let now_at = now(ctx);
        apply_clock(ctx, now_at).await?;
        match ctx.state(|w| w.state.next_action()) {
            Some(next) => {
                let wait = (next.at - now_at)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(1));
                let summary =
                    format!("Wait for {} at {}", next.kind.as_str().replace('_', " "), next.at);
                sleep_or_wake(ctx, wait, summary).await;
            }
            None => {
                let wakeups = ctx.state(|w| w.state.wakeups());
                ctx.wait_condition(move |w| w.state.wakeups() != wakeups).await?;
            }
        }
    }
}

/// Waits for `wait`, or until an update wakes the main loop, whichever comes first.
async fn sleep_or_wake(ctx: &mut Ctx, wait: Duration, summary: String) {
    let wakeups = ctx.state(|w| w.state.wakeups());
    let mut timer = Box::pin(ctx.timer(TimerOptions::builder(wait).summary(summary).build()));
    let mut woken = Box::pin(ctx.wait_condition(move |w| w.state.wakeups() != wakeups));
    temporalio_workflow::workflows::select! {
        _ = timer => {}
        _ = woken => { timer.cancel(); }
    }
}

/// Keeps a paid invoice open to refunds for the refund window. True when a refund made money
/// due again (back to collecting it), false when the window closed or everything was refunded.
async fn await_refunds(
    ctx: &mut Ctx,
    deadline: DateTime<Utc>,
    receipts: u32,
) -> WorkflowResult<bool> {
    loop {
        continue_if_long(ctx, Stage::RefundWindow { until: deadline }, receipts).await?;
        if ctx.state(|w| w.state.has_pending_payments() || w.state.projection_pending()) {
            project(ctx).await?;
        }
        expire_checkouts(ctx).await;
        match ctx.state(|w| w.state.status()) {
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
        sleep_or_wake(ctx, wait, "Refund window closes".to_owned()).await;
    }
}

/// Expires, at the provider, the checkout sessions whose amount is no longer due (a payment or
/// a refund changed it, or the invoice was voided), so that a payer on an old tab cannot pay
/// what is not owed. A session that cannot be expired ends on its own at its expiry (24 hours
/// at Stripe); its failed activity shows in the run.
async fn expire_checkouts(ctx: &mut Ctx) {
    let at = now(ctx);
    let sessions = ctx.state_mut(|w| w.state.take_checkouts_to_expire(at));
    // Asked only when there is something to expire, so other runs record no marker.
    if sessions.is_empty() || !ctx.patched(EXPIRE_CHECKOUTS_PATCH) {
        return;
    }
    let invoice = ctx.state(|w| w.state.invoice());
    for session in sessions {
        let summary = format!("Expire checkout session {}", session.id);
        let input = ExpireCheckoutInput {
            org_id: invoice.org_id,
            invoice_id: invoice.invoice_id,
            session_id: session.id,
            provider: session.provider,
        };
        let options = options::expire_checkout(summary);
        let _ = ctx.execute_activity(ExpireCheckoutSession, input, options).await;
    }
}

/// Applies what the clock says: the overdue mark, and the reminder whose time has come.
async fn apply_clock(ctx: &mut Ctx, now_at: DateTime<Utc>) -> WorkflowResult<()> {
    if ctx.state_mut(|w| w.state.mark_overdue_if_due(now_at)) {
        project(ctx).await?;
    }
    let Some(reminder) = ctx.state_mut(|w| w.state.take_due_reminder(now_at)) else {
        return Ok(());
    };
    let offset = reminder.latest.offset_days;
    let key = ctx.state(|w| w.state.reminder_key(&reminder));
    let input = email_input(ctx, EmailKind::Reminder, key, Some(offset));
    let options = options::step(format!("Send reminder ({offset:+} days)"));
    let sent = ctx.execute_activity(SendInvoiceEmail, input, options).await;
    let at = now(ctx);
    match sent {
        Ok(sent) => ctx.state_mut(|w| w.state.reminder_sent(reminder, sent, at)),
        // A reminder that cannot be sent is not worth parking the invoice for.
        Err(err) => ctx.state_mut(|w| w.state.reminder_failed(&reminder, reason(&err), at)),
    }
    project(ctx).await
}

/// Sends the email someone asked for (resend, remind now).
async fn run_command(ctx: &mut Ctx, command: Command) -> WorkflowResult<()> {
    let (kind, key) = ctx.state_mut(|w| w.state.command_email(&command));
    let input = email_input(ctx, kind, key, None);
    let options = options::step(format!("Send {} email (manual)", kind.as_str()));
    let sent = ctx.execute_activity(SendInvoiceEmail, input, options).await;
    let at = now(ctx);
    match sent {
        Ok(sent) => ctx.state_mut(|w| w.state.command_sent(command, sent, at)),
        Err(err) => ctx.state_mut(|w| w.state.command_failed(command, reason(&err), at)),
    }
    project(ctx).await
}

/// The `edit_draft` update: stores the new content, then answers with the draft's totals.
pub(super) async fn edit_draft(ctx: &mut Ctx, req: DraftEdit) -> StatusView {
    ctx.state_mut(|w| w.state.begin_edit());
    let (invoice, version) = ctx.state(|w| (w.state.invoice(), w.state.version()));
    let update = UpdateDraftInput {
        org_id: invoice.org_id,
        invoice_id: invoice.invoice_id,
        customer_id: req.customer_id,
        content: req.content.clone(),
        actor: req.actor.clone(),
        version,
        at: now(ctx),
    };
    let stored =
        ctx.execute_activity(UpdateDraft, update, options::step("Save the draft edit")).await;
    let at = now(ctx);
    match stored {
        Ok(record) => ctx.state_mut(|w| w.state.edit_stored(record, req)),
        Err(err) => ctx.state_mut(|w| w.state.edit_failed(req.actor.clone(), reason(&err), at)),
    }
    project_from_handler(ctx).await;
    ctx.state_mut(|w| w.state.end_edit())
}

/// The `start_checkout` update: the open session for the amount due, or a new one.
pub(super) async fn start_checkout(ctx: &mut Ctx, req: CheckoutRequest) -> CheckoutOutcome {
    let at = now(ctx);
    let input = match ctx.state_mut(|w| w.state.plan_checkout(at)) {
        CheckoutPlan::Reuse(session) => {
            return CheckoutOutcome { session: Some(session), error: None };
        }
        CheckoutPlan::Open(input) => input,
    };
    let opened = ctx.execute_activity(CreateCheckoutSession, input, options::checkout()).await;
    let at = now(ctx);
    let outcome = match opened {
        Ok(session) => {
            ctx.state_mut(|w| w.state.checkout_opened(&session, req.actor.clone(), at));
            CheckoutOutcome { session: Some(session), error: None }
        }
        Err(err) => {
            let why = reason(&err);
            ctx.state_mut(|w| w.state.checkout_failed(why.clone(), req.actor.clone(), at));
            CheckoutOutcome { session: None, error: Some(why) }
        }
    };
    project_from_handler(ctx).await;
    outcome
}

/// Writes the current state to Postgres (with a new version) and to the search attributes.
///
/// Postgres refusing the state for good (a value it cannot store, SQLSTATE class 22) parks the
/// invoice: the row says it needs attention and why, and the run waits until ops retry it
/// (after fixing the cause) or someone voids it. Nothing of the refused projection is lost: it
/// is written again with the next one.
pub(super) async fn project(ctx: &mut Ctx) -> WorkflowResult<()> {
    loop {
        if try_project(ctx).await? {
            return Ok(());
        }
        let at = now(ctx);
        let attention = ctx.state_mut(|w| w.state.attention(at));
        ctx.execute_local_activity(RecordAttention, attention, options::projection()).await?;
        ctx.wait_condition(|w| w.state.parked_decided()).await?;
        let voiding = ctx.state(|w| w.state.is_voiding());
        ctx.state_mut(|w| w.state.projection_retry_started());
        if voiding {
            // The main loop voids the invoice next, and projects that (parking again if
            // Postgres still refuses: the run then ends, the row needing attention).
            return Ok(());
        }
    }
}

/// [`project`] from an update or signal handler, which must not wait for ops: a refused
/// projection is left to the main loop, which projects it again and parks the invoice.
pub(super) async fn project_from_handler(ctx: &mut Ctx) {
    let _ = try_project(ctx).await;
}

/// One projection. False when Postgres refused it for good: the state keeps what it held.
async fn try_project(ctx: &mut Ctx) -> WorkflowResult<bool> {
    let at = now(ctx);
    let run_id = ctx.run_id().to_owned();
    let projection = ctx.state_mut(|w| w.state.projection(&run_id, at));
    ctx.upsert_search_attributes(ctx.state(search_attributes::updates));
    // Not a command: the Temporal UI asks for it (and nothing is recorded in the history).
    ctx.set_current_details(ctx.state(|w| w.state.current_details()));
    let options = options::projection();
    match ctx.execute_local_activity(RecordProjection, projection.clone(), options).await {
        Ok(()) => Ok(true),
        // Projections retry without limit: only a non-retryable failure ends one.
        Err(err @ ActivityExecutionError::Failed(_)) => {
            let why = format!("the invoice's state could not be stored: {}", reason(&err));
            ctx.state_mut(|w| w.state.projection_refused(projection, why));
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

fn email_input(
    ctx: &Ctx,
    kind: EmailKind,
    idempotency_key: String,
    offset_days: Option<i32>,
) -> SendEmailInput {
    let invoice = ctx.state(|w| w.state.invoice());
    SendEmailInput {
        org_id: invoice.org_id,
        invoice_id: invoice.invoice_id,
        kind,
        idempotency_key,
        offset_days,
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
pub(super) fn utc(t: Option<SystemTime>) -> DateTime<Utc> {
    t.map_or(DateTime::<Utc>::UNIX_EPOCH, DateTime::<Utc>::from)
}

pub(super) fn now(ctx: &Ctx) -> DateTime<Utc> {
    utc(ctx.workflow_time())
}

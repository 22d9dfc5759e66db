//! The invoice's state and every change to it, as plain functions of their inputs (workflow
//! time is passed in): what the workflow's handlers and main loop do to the invoice, without
//! Temporal, so they are tested directly (`tests.rs`, with property tests over random sequences
//! of payments, refunds, voids and retries).
//!
//! The workflow (`workflow.rs`) owns one `InvoiceState`; its update handlers validate
//! (`validate.rs`) and apply a change here (payments, refunds and checkouts in `money.rs`;
//! emails, reminders and bounces in `emails.rs`), and its main loop (`steps.rs`) runs the side
//! effects these changes call for, one at a time.

mod emails;
mod money;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use invoice_domain::{
    Actor, Device, EmailKind, InvoiceId, InvoiceStatus, NextActionKind, Step, TimelineEvent,
};
use serde::{Deserialize, Serialize};

use super::activities::{
    AttentionRecord, CheckoutInput, Finalized, InvoiceRef, RenderedPdf, SentEmail,
};
use super::messages::{
    ActorRequest, CheckoutSession, ContinuedRun, DraftEdit, InvoiceRecord, InvoiceWorkflowInput,
    MAX_HISTORY_EVENTS, NextAction, PaymentOutcome, PaymentRequest, ProjectedEvent, Projection,
    ScheduleView, Stage, StatusView,
};
use super::schedule::{self, ReminderSlot};

/// A client opening the hosted page again within this time is the same visit.
const VIEW_VISIT_MINUTES: i64 = 30;

/// What someone asked the run to do that it has not done yet. The requests exclude each
/// other: a draft is edited, or finalized, or voided, or deleted; a parked invoice is retried
/// or voided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Request {
    None,
    /// A draft edit is being stored; nothing else may happen to the draft meanwhile.
    Edit,
    /// Number, render and send the invoice.
    Finalize,
    /// Ops asked to run the failed step again.
    Retry,
    /// No more emails, reminders or payments.
    Void(ActorRequest),
    /// Delete the draft.
    Discard(ActorRequest),
}

/// An email someone asked for, sent by the main loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Command {
    Resend(Actor),
    RemindNow(Actor),
}

/// What the draft stage ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DraftOutcome {
    Finalize,
    Void,
    Discard(ActorRequest),
}

/// What the Pay button gets: the session already open for this amount, or a new one to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CheckoutPlan {
    Reuse(CheckoutSession),
    Open(CheckoutInput),
}

/// Reminders whose time has come: the latest is sent, the earlier ones (missed in an outage)
/// collapse into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DueReminder {
    pub latest: ReminderSlot,
    pub collapsed: Vec<i32>,
}

/// Serialized only to carry a run's state into the run it continues as (see `steps`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct InvoiceState {
    input: InvoiceWorkflowInput,
    record: Option<InvoiceRecord>,
    status: InvoiceStatus,
    number: Option<String>,
    amount_paid: i64,
    /// Payment, refund and failure event ids seen: a repeated one is refused.
    seen_events: BTreeSet<String>,
    /// Refunded so far per payment reference (the provider reports running totals).
    refunded_by_reference: BTreeMap<String, i64>,
    request: Request,
    commands: VecDeque<Command>,
    attention_reason: Option<String>,
    reminders: Vec<ReminderSlot>,
    reminders_done: usize,
    overdue_at: Option<DateTime<Utc>>,
    overdue_marked: bool,
    pdf_key: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    voided_at: Option<DateTime<Utc>>,
    resends: u32,
    manual_reminders: u32,
    /// The latest checkout session, reused while the amount due is the same.
    checkout: Option<CheckoutSession>,
    /// Sessions opened again for the same amount because the previous one expired.
    checkout_renewals: u32,
    /// Every session opened since the amount due last changed: each can still take the
    /// payer's money for the amount it asks, the latest and any a failed payment left open.
    open_checkouts: Vec<CheckoutSession>,
    /// Sessions whose amount is no longer due (a payment, a refund, a void), to expire at the
    /// provider.
    checkouts_to_expire: Vec<CheckoutSession>,
    /// When each device class last opened the hosted page.
    last_views: BTreeMap<Device, DateTime<Utc>>,
    /// Version of the last projection; Postgres ignores older ones.
    version: u64,
    /// Timeline entries pushed so far (their `seq`).
    event_seq: u64,
    pending_events: Vec<ProjectedEvent>,
    pending_payments: Vec<PaymentRequest>,
    /// Why Postgres refused the last projection for good (a value it cannot store): the row
    /// shows the invoice as needing attention, and the run waits for ops to retry.
    projection_refused: Option<String>,
    /// Bumped by every change the main loop must look at, so it wakes up.
    wakeups: u64,
    /// Bounce and complaint events recorded (SES feedback ids): one delivered twice counts
    /// once. Absent from states handed over before bounces were read.
    #[serde(default)]
    feedback_seen: BTreeSet<String>,
    /// The invoice needs attention because the client's address bounced (or complained): a
    /// resend that goes through, a retry or the payment clears it.
    #[serde(default)]
    bounced: bool,
}

impl InvoiceState {
    pub(super) fn new(input: InvoiceWorkflowInput) -> Self {
        Self {
            status: if input.draft { InvoiceStatus::Draft } else { InvoiceStatus::Open },
            request: if input.draft { Request::None } else { Request::Finalize },
            input,
            record: None,
            number: None,
            amount_paid: 0,
            seen_events: BTreeSet::new(),
            refunded_by_reference: BTreeMap::new(),
            commands: VecDeque::new(),
            attention_reason: None,
            reminders: Vec::new(),
            reminders_done: 0,
            overdue_at: None,
            overdue_marked: false,
            pdf_key: None,
            sent_at: None,
            paid_at: None,
            voided_at: None,
            resends: 0,
            manual_reminders: 0,
            checkout: None,
            checkout_renewals: 0,
            open_checkouts: Vec::new(),
            checkouts_to_expire: Vec::new(),
            last_views: BTreeMap::new(),
            version: 0,
            event_seq: 0,
            pending_events: Vec::new(),
            pending_payments: Vec::new(),
            projection_refused: None,
            wakeups: 0,
            feedback_seen: BTreeSet::new(),
            bounced: false,
        }
    }

    // ---- reading -------------------------------------------------------------------------

    pub(super) fn input(&self) -> &InvoiceWorkflowInput {
        &self.input
    }

    pub(super) fn invoice(&self) -> InvoiceRef {
        InvoiceRef { org_id: self.input.org_id, invoice_id: self.input.invoice_id }
    }

    pub(super) fn invoice_id(&self) -> InvoiceId {
        self.input.invoice_id
    }

    pub(super) fn status(&self) -> InvoiceStatus {
        self.status
    }

    #[cfg(test)]
    pub(super) fn request(&self) -> &Request {
        &self.request
    }

    #[cfg(test)]
    pub(super) fn amount_paid(&self) -> i64 {
        self.amount_paid
    }

    pub(super) fn is_stored(&self) -> bool {
        self.record.is_some()
    }

    pub(super) fn is_voiding(&self) -> bool {
        matches!(self.request, Request::Void(_))
    }

    /// Version of the last projection.
    pub(super) fn version(&self) -> u64 {
        self.version
    }

    pub(super) fn wakeups(&self) -> u64 {
        self.wakeups
    }

    pub(super) fn has_pending_payments(&self) -> bool {
        !self.pending_payments.is_empty()
    }

    fn total(&self) -> i64 {
        self.record.as_ref().map_or(0, |r| r.total)
    }

    fn due(&self) -> i64 {
        self.total() - self.amount_paid
    }

    /// The draft stage is over: finalize, void or discard was asked for (and no edit runs).
    pub(super) fn draft_decided(&self) -> bool {
        matches!(self.request, Request::Finalize | Request::Void(_) | Request::Discard(_))
    }

    /// A parked step may go on: retried, or the invoice voided.
    pub(super) fn parked_decided(&self) -> bool {
        matches!(self.request, Request::Retry | Request::Void(_))
    }

    pub(super) fn view(&self) -> StatusView {
        if let Some(reason) = &self.projection_refused {
            return StatusView {
                status: InvoiceStatus::NeedsAttention,
                attention_reason: Some(reason.clone()),
                next_action: None,
                ..self.view_of_state()
            };
        }
        self.view_of_state()
    }

    fn view_of_state(&self) -> StatusView {
        StatusView {
            status: self.status,
            number: self.number.clone(),
            currency: self.record.as_ref().map(|r| r.currency),
            total: self.total(),
            amount_paid: self.amount_paid,
            amount_due: self.due(),
            attention_reason: self.attention_reason.clone(),
            next_action: self.next_action(),
            version: self.version,
        }
    }

    fn payment_outcome(&self) -> PaymentOutcome {
        PaymentOutcome {
            status: self.status,
            amount_paid: self.amount_paid,
            amount_due: self.due(),
        }
    }

    fn upcoming_reminders(&self) -> impl Iterator<Item = NextAction> + '_ {
        self.reminders[self.reminders_done.min(self.reminders.len())..].iter().map(|slot| {
            NextAction {
                kind: NextActionKind::Reminder,
                at: slot.at,
                offset_days: Some(slot.offset_days),
            }
        })
    }

    fn overdue_mark(&self) -> Option<NextAction> {
        self.overdue_at.filter(|_| !self.overdue_marked).map(|at| NextAction {
            kind: NextActionKind::MarkOverdue,
            at,
            offset_days: None,
        })
    }

    /// The next thing the run does on its own, if anything.
    pub(super) fn next_action(&self) -> Option<NextAction> {
        if self.status.is_final()
            || self.sent_at.is_none()
            || self.status == InvoiceStatus::NeedsAttention
        {
            return None;
        }
        [self.upcoming_reminders().next(), self.overdue_mark()]
            .into_iter()
            .flatten()
            .min_by_key(|a| a.at)
    }

    pub(super) fn schedule(&self) -> ScheduleView {
        let upcoming = if self.status.is_final() || self.sent_at.is_none() {
            Vec::new()
        } else {
            let mut upcoming: Vec<NextAction> =
                self.upcoming_reminders().chain(self.overdue_mark()).collect();
            upcoming.sort_by_key(|a| a.at);
            upcoming
        };
        ScheduleView {
            upcoming,
            reminders: self.reminders.clone(),
            reminders_done: self.reminders_done,
        }
    }

    /// What the Temporal UI shows as the run's current details (the `__temporal_workflow_metadata`
    /// query, sealed like every payload): the number, status, client and money, so support reads
    /// the run like the invoice. (The static summary set at the start holds no client data: the
    /// 1.1.1 client does not pass it through the payload codec.)
    pub(super) fn current_details(&self) -> String {
        let number = self.number.as_deref().unwrap_or("Draft (not numbered yet)");
        let status = self.view().status;
        let Some(record) = &self.record else { return format!("**{number}** · {status}") };
        let amount = |minor| invoice_domain::format_amount(minor, record.currency);
        let mut details = format!(
            "**{number}** · {status} · {}\n\ntotal {} · paid {} · due now {} · due date {}",
            record.client_name,
            amount(self.total()),
            amount(self.amount_paid),
            amount(self.due()),
            record.due_date
        );
        if let Some(reason) = &self.view().attention_reason {
            details.push_str(&format!("\n\nNeeds attention: {reason}"));
        }
        details
    }

    /// Where the money leaves the invoice, when nothing else decides its status.
    fn settled_status(&self) -> InvoiceStatus {
        if self.record.is_some() && self.amount_paid >= self.total() {
            InvoiceStatus::Paid
        } else if self.amount_paid > 0 {
            InvoiceStatus::PartiallyPaid
        } else {
            InvoiceStatus::Open
        }
    }

    /// The status of a sent invoice that is being collected, from its money and the clock.
    fn collecting_status(&self) -> InvoiceStatus {
        match self.settled_status() {
            InvoiceStatus::Open if self.overdue_marked => InvoiceStatus::Overdue,
            InvoiceStatus::Open => InvoiceStatus::Sent,
            status => status,
        }
    }

    // ---- writing the timeline and Postgres -----------------------------------------------

    fn push(&mut self, actor: Actor, event: TimelineEvent, at: DateTime<Utc>) {
        self.event_seq += 1;
        self.pending_events.push(ProjectedEvent { seq: self.event_seq, actor, event, at });
    }

    fn push_system(&mut self, event: TimelineEvent, at: DateTime<Utc>) {
        self.push(Actor::System, event, at);
    }

    /// The state to write to Postgres, with a new version and the events and payments not
    /// written yet.
    ///
    /// The version is at least the workflow time in microseconds, so it keeps growing across
    /// runs: a run that ops reset (a new run of the same id, later in time) wins over every
    /// projection of the run it replaces instead of being ignored as stale.
    pub(super) fn projection(&mut self, run_id: &str, at: DateTime<Utc>) -> Projection {
        let micros = u64::try_from(at.timestamp_micros()).unwrap_or(0);
        self.version = (self.version + 1).max(micros);
        Projection {
            org_id: self.input.org_id,
            invoice_id: self.input.invoice_id,
            run_id: run_id.to_owned(),
            version: self.version,
            status: self.status,
            amount_paid: self.amount_paid,
            attention_reason: self.attention_reason.clone(),
            next_action: self.next_action(),
            pdf_key: self.pdf_key.clone(),
            sent_at: self.sent_at,
            paid_at: self.paid_at,
            voided_at: self.voided_at,
            payments: std::mem::take(&mut self.pending_payments),
            events: std::mem::take(&mut self.pending_events),
            checkout: self.checkout.clone(),
        }
    }

    /// Postgres refused `refused` for good. Its events and payments go back to be written with
    /// the next projection (nothing is lost), and the invoice waits, parked, for ops: what
    /// [`Self::attention`] writes instead.
    pub(super) fn projection_refused(&mut self, refused: Projection, reason: String) {
        let (mut events, mut payments) = (refused.events, refused.payments);
        events.append(&mut self.pending_events);
        payments.append(&mut self.pending_payments);
        self.pending_events = events;
        self.pending_payments = payments;
        self.projection_refused = Some(reason);
        self.wakeups += 1;
    }

    /// Events this run's history may reach before the run continues as new.
    pub(super) fn history_limit(&self) -> u32 {
        self.input.history_limit.unwrap_or(MAX_HISTORY_EVENTS)
    }

    /// Anything not yet written to Postgres (it is, before the run continues as new).
    pub(super) fn has_unprojected(&self) -> bool {
        !self.pending_events.is_empty()
            || !self.pending_payments.is_empty()
            || self.projection_refused.is_some()
    }

    /// The input of the run this one continues as: the state as it stands, handed over whole.
    pub(super) fn continued_input(
        &self,
        stage: Stage,
        receipts: u32,
        local_steps: bool,
    ) -> InvoiceWorkflowInput {
        let mut input = self.input.clone();
        input.continued =
            Some(Box::new(ContinuedRun { state: self.clone(), stage, receipts, local_steps }));
        input
    }

    /// Whether a refused projection waits to be written again.
    pub(super) fn projection_pending(&self) -> bool {
        self.projection_refused.is_some()
    }

    /// What the row shows while a projection is refused: needs attention, and why. With its own
    /// version, so that a stale projection cannot overwrite it.
    pub(super) fn attention(&mut self, at: DateTime<Utc>) -> AttentionRecord {
        let micros = u64::try_from(at.timestamp_micros()).unwrap_or(0);
        self.version = (self.version + 1).max(micros);
        AttentionRecord {
            org_id: self.input.org_id,
            invoice_id: self.input.invoice_id,
            version: self.version,
            reason: self.projection_refused.clone().unwrap_or_default(),
        }
    }

    /// Ops retried (or someone voided) the invoice parked by a refused projection: it is
    /// written again.
    pub(super) fn projection_retry_started(&mut self) {
        self.projection_refused = None;
        if self.request == Request::Retry {
            self.request = Request::None;
        }
    }

    // ---- the draft stage -----------------------------------------------------------------

    /// The first step stored the invoice (or found it stored, when ops started the run again:
    /// then the run goes on from the money the row already holds).
    pub(super) fn stored(&mut self, mut record: InvoiceRecord) {
        if let Some(existing) = record.existing.take() {
            // The row an earlier run left: its edits, and its finalization, stand.
            self.input.content = existing.content;
            self.input.customer_id = existing.customer_id;
            match existing.status {
                InvoiceStatus::Draft => {}
                // Voided before: it stays void, and nothing is sent.
                InvoiceStatus::Void => {
                    let reason = Some("voided before the run was started again".to_owned());
                    self.request = Request::Void(ActorRequest { actor: Actor::System, reason });
                }
                _ if self.status == InvoiceStatus::Draft => {
                    self.status = InvoiceStatus::Open;
                    self.request = Request::Finalize;
                }
                _ => {}
            }
        }
        let stored = &record.stored;
        self.amount_paid = stored.amount_paid;
        self.seen_events.extend(stored.event_ids.iter().cloned());
        self.refunded_by_reference.clone_from(&stored.refunded_by_reference);
        self.paid_at = stored.paid_at;
        self.record = Some(record);
        if self.amount_paid != 0 && self.status != InvoiceStatus::Draft {
            self.status = self.settled_status();
        }
    }

    /// A run that continues an earlier one read the row first. Normally the row holds what the
    /// handed-over state holds; after ops reset a failed continued run, it also holds the
    /// payments that run recorded after it had continued, and the row's money wins.
    pub(super) fn resumed(&mut self, record: &InvoiceRecord) {
        let stored = &record.stored;
        if stored.event_ids.iter().all(|id| self.seen_events.contains(id)) {
            return;
        }
        self.seen_events.extend(stored.event_ids.iter().cloned());
        self.amount_paid = stored.amount_paid;
        self.refunded_by_reference.clone_from(&stored.refunded_by_reference);
        self.paid_at = stored.paid_at;
        if matches!(
            self.status,
            InvoiceStatus::Void | InvoiceStatus::NeedsAttention | InvoiceStatus::Draft
        ) {
            return;
        }
        self.status = if self.amount_paid >= self.total() {
            self.commands.clear();
            InvoiceStatus::Paid
        } else if self.amount_paid > 0 {
            InvoiceStatus::PartiallyPaid
        } else if self.overdue_marked {
            InvoiceStatus::Overdue
        } else {
            InvoiceStatus::Sent
        };
        self.wakeups += 1;
    }

    pub(super) fn request_finalize(&mut self, actor: Actor, at: DateTime<Utc>) -> StatusView {
        self.request = Request::Finalize;
        self.push(actor, TimelineEvent::FinalizeRequested {}, at);
        self.wakeups += 1;
        self.view()
    }

    pub(super) fn begin_edit(&mut self) {
        self.request = Request::Edit;
    }

    /// A draft edit was stored: the new content and totals are the invoice's.
    pub(super) fn edit_stored(&mut self, record: InvoiceRecord, edit: DraftEdit) {
        self.record = Some(record);
        self.input.content = edit.content;
        self.input.customer_id = edit.customer_id;
    }

    pub(super) fn edit_failed(&mut self, actor: Actor, reason: String, at: DateTime<Utc>) {
        self.push(actor, TimelineEvent::EditFailed { reason }, at);
    }

    pub(super) fn end_edit(&mut self) -> StatusView {
        if self.request == Request::Edit {
            self.request = Request::None;
        }
        self.wakeups += 1;
        self.view()
    }

    pub(super) fn request_discard(&mut self, req: ActorRequest) -> StatusView {
        self.request = Request::Discard(req);
        self.wakeups += 1;
        self.view()
    }

    /// Once [`Self::draft_decided`]: what the draft stage ends with.
    pub(super) fn leave_draft(&mut self) -> DraftOutcome {
        match &self.request {
            Request::Discard(req) => DraftOutcome::Discard(req.clone()),
            Request::Void(_) => DraftOutcome::Void,
            _ => {
                self.request = Request::None;
                if self.status == InvoiceStatus::Draft {
                    self.status = InvoiceStatus::Open;
                }
                DraftOutcome::Finalize
            }
        }
    }

    /// The draft was deleted: the run ends with this view.
    pub(super) fn discarded(&mut self, req: &ActorRequest) -> StatusView {
        self.status = InvoiceStatus::Void;
        let mut view = self.view();
        view.attention_reason = Some(format!("draft deleted by {}", req.actor));
        view
    }

    // ---- finalization steps --------------------------------------------------------------

    pub(super) fn finalized(&mut self, done: Finalized, at: DateTime<Utc>) {
        self.number = Some(done.number.clone());
        let event = TimelineEvent::Finalized { number: done.number, issue_date: done.issue_date };
        self.push_system(event, at);
    }

    pub(super) fn rendered(&mut self, pdf: RenderedPdf, at: DateTime<Utc>) {
        self.pdf_key = Some(pdf.key.clone());
        self.push_system(TimelineEvent::PdfRendered { key: pdf.key, size: pdf.size }, at);
    }

    pub(super) fn invoice_sent(&mut self, sent: SentEmail, at: DateTime<Utc>) {
        self.mark_sent(at);
        let event = TimelineEvent::EmailSent {
            kind: EmailKind::Invoice,
            manual: false,
            message_id: sent.provider_message_id,
            to: sent.recipient,
        };
        self.push_system(event, at);
    }

    /// The invoice email was accepted: plan reminders and the overdue mark from now on.
    fn mark_sent(&mut self, at: DateTime<Utc>) {
        self.sent_at = Some(at);
        let Some(record) = &self.record else { return };
        let tz: Tz = record.time_zone.parse().unwrap_or(chrono_tz::UTC);
        self.reminders = schedule::reminder_slots(record.due_date, &record.reminder_offsets, tz);
        // Slots before the invoice went out are covered by the invoice email itself.
        self.reminders_done = self.reminders.iter().take_while(|slot| slot.at <= at).count();
        let overdue_at = schedule::overdue_at(record.due_date, tz);
        self.overdue_at = Some(overdue_at);
        self.overdue_marked = overdue_at <= at;
        if !matches!(self.status, InvoiceStatus::PartiallyPaid | InvoiceStatus::Paid) {
            self.status =
                if self.overdue_marked { InvoiceStatus::Overdue } else { InvoiceStatus::Sent };
        }
    }

    /// A step failed for good: park the invoice until ops retry it or someone voids it.
    pub(super) fn step_failed(&mut self, step: Step, reason: String, at: DateTime<Utc>) {
        self.attention_reason = Some(reason.clone());
        self.status = InvoiceStatus::NeedsAttention;
        if self.request == Request::Retry {
            self.request = Request::None;
        }
        self.push_system(TimelineEvent::Failed { step, reason }, at);
    }

    /// Ops retried the parked step: it runs again.
    pub(super) fn retry_started(&mut self) {
        self.attention_reason = None;
        self.request = Request::None;
        // Money may have arrived while it waited (even all of it).
        self.status = self.settled_status();
    }

    // ---- updates -------------------------------------------------------------------------

    /// The client opened the hosted page: counted once per visit and device class. True when
    /// counted.
    pub(super) fn record_view(&mut self, device: Device, at: DateTime<Utc>) -> bool {
        let visit = chrono::Duration::minutes(VIEW_VISIT_MINUTES);
        if self.last_views.get(&device).is_some_and(|last| at - *last < visit) {
            return false;
        }
        self.last_views.insert(device, at);
        self.push(Actor::Client, TimelineEvent::Viewed { device }, at);
        true
    }

    /// The update answers with the invoice as it will be (void); the main loop voids it.
    pub(super) fn request_void(&mut self, req: ActorRequest) -> StatusView {
        self.request = Request::Void(req);
        self.wakeups += 1;
        let mut view = self.view();
        view.status = InvoiceStatus::Void;
        view
    }

    pub(super) fn queue(&mut self, command: Command) -> StatusView {
        self.commands.push_back(command);
        self.wakeups += 1;
        self.view()
    }

    pub(super) fn request_retry(&mut self, actor: Actor, at: DateTime<Utc>) -> StatusView {
        self.request = Request::Retry;
        self.push(actor, TimelineEvent::RetryRequested {}, at);
        self.wakeups += 1;
        self.view()
    }

    // ---- waiting for payment -------------------------------------------------------------

    /// Voids the invoice if a void was asked for. True when it did.
    pub(super) fn void_if_requested(&mut self, at: DateTime<Utc>) -> bool {
        let Request::Void(req) = &self.request else { return false };
        let (actor, reason) = (req.actor.clone(), req.reason.clone());
        self.status = InvoiceStatus::Void;
        self.voided_at = Some(at);
        self.commands.clear();
        if std::mem::take(&mut self.bounced) {
            self.attention_reason = None;
        }
        self.retire_checkouts();
        self.push(actor, TimelineEvent::Voided { reason }, at);
        true
    }

    pub(super) fn next_command(&mut self) -> Option<Command> {
        // Ops retried an invoice held up by a bounce: the retry is sending it again (to the
        // customer's address as it is now).
        if self.bounced && self.request == Request::Retry {
            self.request = Request::None;
            self.commands.push_front(Command::Resend(Actor::System));
        }
        self.commands.pop_front()
    }

    /// The overdue mark, once its time has come. True when the invoice turned overdue now (a
    /// partially paid invoice keeps that status; only its flag changes).
    pub(super) fn mark_overdue_if_due(&mut self, now: DateTime<Utc>) -> bool {
        let due = !self.overdue_marked && self.overdue_at.is_some_and(|at| at <= now);
        if due {
            self.overdue_marked = true;
            if self.status == InvoiceStatus::Sent {
                self.status = InvoiceStatus::Overdue;
            }
            self.push_system(TimelineEvent::StatusChanged { status: InvoiceStatus::Overdue }, now);
        }
        due
    }
}

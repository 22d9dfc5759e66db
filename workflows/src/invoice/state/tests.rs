//! The state machine without Temporal: examples, then properties over random sequences of
//! payments, refunds, failures, voids and retries.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use invoice_domain::{
    Actor, Currency, CustomerId, Decimal4, EmailKind, InvoiceId, InvoiceStatus, OrgId,
    PaymentMethod, Step, TimelineEvent,
};
use proptest::prelude::*;

use super::{CheckoutPlan, Command, DraftOutcome, InvoiceState, Request};
use crate::invoice::activities::{Finalized, RenderedPdf, SentEmail};
use crate::invoice::messages::{
    ActorRequest, EmailFeedback, FeedbackOutcome, InvoiceContent, InvoiceRecord,
    InvoiceWorkflowInput, LineContent, PaymentFailure, PaymentRequest, RefundRequest,
    StoredInvoice, StoredPayments,
};
use crate::invoice::refusal::RefusalCode;

fn usd() -> Currency {
    "USD".parse().unwrap()
}

fn t0() -> DateTime<Utc> {
    "2026-11-01T10:00:00Z".parse().unwrap()
}

fn input(draft: bool) -> InvoiceWorkflowInput {
    InvoiceWorkflowInput {
        org_id: OrgId::new(),
        invoice_id: InvoiceId::new(),
        customer_id: CustomerId::new(),
        draft,
        content: InvoiceContent {
            currency: usd(),
            issue_date: None,
            due_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            lines: vec![LineContent {
                description: "Work".into(),
                quantity: Decimal4::from_int(1),
                unit_price: 1000,
            }],
            tax_rate: Decimal4::ZERO,
            discount_rate: Decimal4::ZERO,
            notes: None,
            reference: None,
        },
        actor: Actor::System,
        history_limit: None,
        continued: None,
    }
}

fn record(total: i64, stored: StoredPayments) -> InvoiceRecord {
    InvoiceRecord {
        total,
        currency: usd(),
        due_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        time_zone: "Europe/Berlin".into(),
        reminder_offsets: vec![-3, 0, 3, 7, 14],
        stored,
        existing: None,
        client_name: "Acme Corp".into(),
    }
}

fn sent() -> SentEmail {
    SentEmail { provider_message_id: "m".into(), recipient: "a@b.c".into(), newly_sent: true }
}

/// A finalized invoice of `total`, its email accepted at `t0`.
fn sent_invoice(total: i64) -> InvoiceState {
    let mut s = InvoiceState::new(input(false));
    s.stored(record(total, StoredPayments::default()));
    assert_eq!(s.leave_draft(), DraftOutcome::Finalize);
    let issue_date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    s.finalized(Finalized { number: "INV-2026-00001".into(), issue_date }, t0());
    s.rendered(RenderedPdf { key: "k".into(), size: 1 }, t0());
    s.invoice_sent(sent(), t0());
    s
}

fn payment(event_id: &str, amount: i64) -> PaymentRequest {
    PaymentRequest {
        event_id: event_id.into(),
        amount,
        currency: usd(),
        method: PaymentMethod::BankTransfer,
        reference: Some(format!("ref-{event_id}")),
        paid_at: t0(),
        actor: Actor::System,
        provider_confirmed: false,
    }
}

fn refund(event_id: &str, reference: &str, total_refunded: i64) -> RefundRequest {
    RefundRequest {
        event_id: event_id.into(),
        payment_reference: reference.into(),
        total_refunded,
        currency: usd(),
        method: PaymentMethod::Card,
        refunded_at: t0(),
        actor: Actor::Stripe,
    }
}

fn refusal(result: Result<(), crate::invoice::Refusal>) -> RefusalCode {
    result.expect_err("refused").code
}

fn void_request() -> ActorRequest {
    ActorRequest { actor: Actor::System, reason: Some("test".into()) }
}

#[test]
fn a_draft_is_finalized_once_and_edits_exclude_everything_else() {
    let mut s = InvoiceState::new(input(true));
    s.stored(record(1000, StoredPayments::default()));
    assert!(!s.draft_decided());
    s.begin_edit();
    assert_eq!(refusal(s.validate_draft_change("finalized")), RefusalCode::BeingEdited);
    assert_eq!(refusal(s.validate_void()), RefusalCode::BeingEdited);
    s.end_edit();
    s.validate_draft_change("finalized").unwrap();
    s.request_finalize(Actor::System, t0());
    assert!(s.draft_decided());
    assert_eq!(refusal(s.validate_draft_change("finalized")), RefusalCode::NotADraft);
    assert_eq!(s.leave_draft(), DraftOutcome::Finalize);
    assert_eq!(s.status(), InvoiceStatus::Open);
    assert_eq!(s.request(), &Request::None);
}

#[test]
fn a_void_before_finalization_wins() {
    let mut s = InvoiceState::new(input(true));
    s.stored(record(1000, StoredPayments::default()));
    s.request_finalize(Actor::System, t0());
    s.validate_void().unwrap();
    s.request_void(void_request());
    assert_eq!(s.leave_draft(), DraftOutcome::Void);
    assert!(s.void_if_requested(t0()));
    assert_eq!(s.status(), InvoiceStatus::Void);
}

#[test]
fn payments_refunds_and_their_refusals() {
    let mut s = sent_invoice(1000);
    assert_eq!(refusal(s.validate_payment(&payment("p0", 0))), RefusalCode::InvalidAmount);
    assert_eq!(refusal(s.validate_payment(&payment("p0", 1001))), RefusalCode::Overpayment);
    let mut euro = payment("p0", 10);
    euro.currency = "EUR".parse().unwrap();
    assert_eq!(refusal(s.validate_payment(&euro)), RefusalCode::CurrencyMismatch);

    s.validate_payment(&payment("p1", 400)).unwrap();
    let outcome = s.apply_payment(payment("p1", 400), t0());
    assert_eq!((outcome.status, outcome.amount_due), (InvoiceStatus::PartiallyPaid, 600));
    assert_eq!(refusal(s.validate_payment(&payment("p1", 1))), RefusalCode::DuplicateEvent);
    assert_eq!(refusal(s.validate_void()), RefusalCode::HasPayments);

    let outcome = s.apply_payment(payment("p2", 600), t0());
    assert_eq!(outcome.status, InvoiceStatus::Paid);
    assert_eq!(refusal(s.validate_sendable("resend")), RefusalCode::NotSendable);

    let r = refund("r1", "ref-p2", 1100);
    assert_eq!(refusal(s.validate_refund(&r)), RefusalCode::RefundExceedsPaid);
    let r = refund("r1", "ref-p2", 100);
    s.validate_refund(&r).unwrap();
    let outcome = s.apply_refund(r, t0(), true);
    assert_eq!((outcome.status, outcome.amount_paid), (InvoiceStatus::PartiallyPaid, 900));
    // The provider reports running totals: the same total again refunds nothing.
    let again = refund("r2", "ref-p2", 100);
    assert_eq!(refusal(s.validate_refund(&again)), RefusalCode::RefundAlreadyRecorded);
}

#[test]
fn provider_confirmed_money_beyond_the_total_is_kept_and_shown() {
    let mut s = sent_invoice(1000);
    let mut p = payment("p1", 1200);
    p.provider_confirmed = true;
    s.validate_payment(&p).unwrap();
    s.apply_payment(p, t0());
    let projection = s.projection("run", t0());
    let overpaid = projection.events.iter().find_map(|e| match &e.event {
        TimelineEvent::PaymentRecorded { overpaid, .. } => *overpaid,
        _ => None,
    });
    assert_eq!(overpaid, Some(200));
    assert_eq!(projection.status, InvoiceStatus::Paid);
    // The seller refunds the excess: still paid in full.
    let excess = refund("r1", "ref-p1", 200);
    assert!(s.refund_leaves_paid(&excess));
    let outcome = s.apply_refund(excess, t0(), true);
    assert_eq!((outcome.status, outcome.amount_due), (InvoiceStatus::Paid, 0));
}

#[test]
fn a_run_started_again_keeps_the_money_already_recorded() {
    // Ops reset a failed run: the new run finds the row with a payment on it.
    let mut s = InvoiceState::new(input(false));
    let stored = StoredPayments {
        amount_paid: 400,
        event_ids: vec!["manual:p1".into()],
        refunded_by_reference: Default::default(),
        paid_at: None,
    };
    s.stored(record(1000, stored));
    assert_eq!(s.amount_paid(), 400);
    assert_eq!(s.status(), InvoiceStatus::PartiallyPaid);
    let again = payment("manual:p1", 400);
    assert_eq!(refusal(s.validate_payment(&again)), RefusalCode::DuplicateEvent);
    s.leave_draft();
    s.invoice_sent(sent(), t0());
    let projection = s.projection("new-run", t0());
    assert_eq!((projection.amount_paid, projection.status), (400, InvoiceStatus::PartiallyPaid));
}

#[test]
fn a_run_started_again_goes_on_from_the_row_not_from_its_start_input() {
    // Created as a draft, then edited and finalized by the old run; ops reset it. The new run
    // starts from the creation input (a draft of 1000) but finds the row.
    let mut edited = input(true).content;
    edited.lines[0].quantity = Decimal4::from_int(3);
    edited.currency = "EUR".parse().unwrap();
    let customer_id = CustomerId::new();
    let existing = |status| StoredInvoice { status, customer_id, content: edited.clone() };

    let mut s = InvoiceState::new(input(true));
    s.stored(InvoiceRecord {
        existing: Some(existing(InvoiceStatus::Sent)),
        ..record(3000, StoredPayments::default())
    });
    assert_eq!(s.status(), InvoiceStatus::Open);
    assert!(s.draft_decided(), "a finalized row is not waited on as a draft");
    assert_eq!(s.leave_draft(), DraftOutcome::Finalize);
    assert_eq!((s.input().content.clone(), s.input().customer_id), (edited.clone(), customer_id));
    assert_eq!(s.view().amount_due, 3000);

    // Still a draft: still waits, with the edits.
    let mut s = InvoiceState::new(input(true));
    s.stored(InvoiceRecord {
        existing: Some(existing(InvoiceStatus::Draft)),
        ..record(3000, StoredPayments::default())
    });
    assert_eq!(s.status(), InvoiceStatus::Draft);
    assert!(!s.draft_decided());
    assert_eq!(s.input().content, edited);

    // Voided: it is voided again, never finalized or sent.
    let mut s = InvoiceState::new(input(false));
    s.stored(InvoiceRecord {
        existing: Some(existing(InvoiceStatus::Void)),
        ..record(3000, StoredPayments::default())
    });
    assert_eq!(s.leave_draft(), DraftOutcome::Void);
    assert!(s.void_if_requested(t0()));
    assert_eq!(s.status(), InvoiceStatus::Void);
}

#[test]
fn a_failed_step_parks_until_retried_or_voided() {
    let mut s = InvoiceState::new(input(false));
    s.stored(record(1000, StoredPayments::default()));
    s.leave_draft();
    s.step_failed(Step::Send, "mailbox unavailable".into(), t0());
    assert_eq!(s.status(), InvoiceStatus::NeedsAttention);
    assert!(s.next_action().is_none());
    s.validate_retry().unwrap();
    s.request_retry(Actor::System, t0());
    assert!(s.parked_decided());
    assert_eq!(refusal(s.validate_retry()), RefusalCode::NotRetryable);
    s.retry_started();
    assert_eq!((s.status(), s.request()), (InvoiceStatus::Open, &Request::None));
}

fn bounce(id: &str, email: EmailKind, permanent: bool) -> EmailFeedback {
    EmailFeedback {
        feedback_id: id.into(),
        email,
        to: "a@b.c".into(),
        message_id: "m".into(),
        outcome: FeedbackOutcome::Bounce {
            permanent,
            bounce_type: if permanent { "Permanent/General" } else { "Transient/MailboxFull" }
                .into(),
            detail: Some("smtp; 550 5.1.1 user unknown".into()),
        },
    }
}

#[test]
fn a_bounced_invoice_needs_attention_until_a_resend_goes_through() {
    let mut s = sent_invoice(1000);
    // A transient bounce is only shown.
    assert!(s.email_feedback(bounce("f1", EmailKind::Invoice, false), t0()));
    assert_eq!(s.status(), InvoiceStatus::Sent);
    // A permanent one holds the invoice up, once however often it is delivered.
    assert!(s.email_feedback(bounce("f2", EmailKind::Invoice, true), t0()));
    assert!(!s.email_feedback(bounce("f2", EmailKind::Invoice, true), t0()));
    let view = s.view();
    assert_eq!(view.status, InvoiceStatus::NeedsAttention);
    assert!(view.attention_reason.unwrap().contains("a@b.c bounced (smtp; 550"));
    // What the Temporal UI shows as the run's current details.
    let details = s.current_details();
    assert!(details.starts_with("**INV-2026-00001** · needs_attention · Acme Corp"), "{details}");
    assert!(
        details.contains("total $10.00 · paid $0.00 · due now $10.00 · due date 2026-12-01"),
        "{details}"
    );
    assert!(details.contains("Needs attention: the client's address a@b.c bounced"), "{details}");
    assert!(s.next_action().is_none());
    let late: DateTime<Utc> = "2026-12-20T12:00:00Z".parse().unwrap();
    assert!(s.take_due_reminder(late).is_none(), "no reminders to an address that bounced");
    let events = s.projection("run", t0()).events;
    assert_eq!(events.iter().filter(|e| e.event.kind().as_str() == "email_bounced").count(), 2);
    // A payment of part keeps it waiting; the resend that goes through clears it.
    s.apply_payment(payment("p1", 100), t0());
    assert_eq!(s.status(), InvoiceStatus::NeedsAttention);
    s.validate_sendable("resend").unwrap();
    s.queue(Command::Resend(Actor::System));
    let resend = s.next_command().unwrap();
    s.command_sent(resend, sent(), t0());
    assert_eq!((s.status(), s.view().attention_reason), (InvoiceStatus::PartiallyPaid, None));
    // The reminders held back collapse into one.
    let due = s.take_due_reminder(late).unwrap();
    assert_eq!(due.collapsed.len(), 4);
}

#[test]
fn a_retry_of_a_bounced_invoice_resends_it_and_a_receipt_bounce_holds_nothing_up() {
    let mut s = sent_invoice(1000);
    let complaint = EmailFeedback {
        outcome: FeedbackOutcome::Complaint { feedback_type: Some("abuse".into()) },
        ..bounce("c1", EmailKind::Reminder, true)
    };
    s.email_feedback(complaint, t0());
    assert!(s.view().attention_reason.unwrap().contains("as spam"));
    s.validate_retry().unwrap();
    s.request_retry(Actor::System, t0());
    assert_eq!(s.next_command(), Some(Command::Resend(Actor::System)));
    assert_eq!(s.request(), &Request::None);
    // Paid in full: nothing is held up any more, whatever bounces later.
    s.apply_payment(payment("p1", 1000), t0());
    assert_eq!((s.status(), s.view().attention_reason), (InvoiceStatus::Paid, None));
    s.email_feedback(bounce("f3", EmailKind::Receipt, true), t0());
    assert_eq!(s.status(), InvoiceStatus::Paid);
}

#[test]
fn manual_emails_get_keys_of_their_own() {
    let mut s = sent_invoice(1000);
    let id = s.invoice_id();
    s.queue(Command::Resend(Actor::System));
    s.queue(Command::RemindNow(Actor::System));
    let first = s.next_command().unwrap();
    assert_eq!(s.command_email(&first), (EmailKind::Invoice, format!("{id}:invoice_email:2")));
    let second = s.next_command().unwrap();
    assert_eq!(s.command_email(&second), (EmailKind::Reminder, format!("{id}:reminder:manual-1")));
    assert_eq!(s.next_command(), None);
}

#[test]
fn missed_reminders_collapse_into_the_latest() {
    let mut s = sent_invoice(1000);
    // Due 2026-12-01 in Berlin: 09:00 local on 28 Nov, 1 Dec and 4 Dec have passed by the 5th.
    let later: DateTime<Utc> = "2026-12-05T12:00:00Z".parse().unwrap();
    let due = s.take_due_reminder(later).unwrap();
    assert_eq!((due.latest.offset_days, due.collapsed), (3, vec![-3, 0]));
    assert!(s.take_due_reminder(later).is_none(), "each slot is taken once");
    assert!(s.mark_overdue_if_due(later));
    assert_eq!(s.status(), InvoiceStatus::Overdue);
    assert!(!s.mark_overdue_if_due(later));
}

#[test]
fn a_checkout_session_is_reused_while_it_is_for_the_amount_due() {
    let mut s = sent_invoice(1000);
    s.validate_checkout().unwrap();
    let CheckoutPlan::Open(input) = s.plan_checkout(t0()) else { panic!("a new session") };
    let session = crate::invoice::messages::CheckoutSession {
        id: "cs_1".into(),
        url: "https://pay".into(),
        amount: input.amount,
        currency: input.currency,
        expires_at: t0() + Duration::hours(1),
        provider: invoice_domain::PaymentProvider::Local,
    };
    s.checkout_opened(&session, Actor::Client, t0());
    assert_eq!(s.plan_checkout(t0()), CheckoutPlan::Reuse(session));
    // After a payment the amount due changed: a new session, with a new key.
    s.apply_payment(payment("p1", 100), t0());
    let CheckoutPlan::Open(next) = s.plan_checkout(t0()) else { panic!("a new session") };
    assert_ne!(next.idempotency_key, input.idempotency_key);
}

/// Every session that could still take money for an amount no longer due is expired: after a
/// payment (the one a failed payment left open included, where the payer may be on another
/// tab), and after a void. Sessions that expired on their own are left alone.
#[test]
fn sessions_no_longer_due_are_expired_at_the_provider() {
    let mut s = sent_invoice(1000);
    let session = |id: &str, amount: i64, hours: i64| crate::invoice::messages::CheckoutSession {
        id: id.into(),
        url: "https://pay".into(),
        amount,
        currency: usd(),
        expires_at: t0() + Duration::hours(hours),
        provider: invoice_domain::PaymentProvider::Stripe,
    };
    let ids = |sessions: Vec<crate::invoice::messages::CheckoutSession>| {
        sessions.into_iter().map(|c| c.id).collect::<Vec<_>>()
    };
    s.checkout_opened(&session("cs_old", 1000, 1), Actor::Client, t0());
    s.checkout_opened(&session("cs_1", 1000, 24), Actor::Client, t0());
    s.apply_payment_failure(
        PaymentFailure {
            event_id: "f1".into(),
            amount: 1000,
            reference: None,
            reason: None,
            actor: Actor::Stripe,
        },
        t0(),
    );
    // A failed payment leaves the amount due as it was: nothing is expired.
    assert!(s.take_checkouts_to_expire(t0()).is_empty());
    s.checkout_opened(&session("cs_2", 1000, 24), Actor::Client, t0());
    s.apply_payment(payment("p1", 400), t0());
    // cs_old expired on its own two hours ago.
    let later = t0() + Duration::hours(2);
    assert_eq!(ids(s.take_checkouts_to_expire(later)), ["cs_1", "cs_2"]);
    assert!(s.take_checkouts_to_expire(later).is_empty(), "each is taken once");

    s.checkout_opened(&session("cs_3", 600, 24), Actor::Client, later);
    s.request_void(void_request());
    assert!(s.void_if_requested(later));
    assert_eq!(ids(s.take_checkouts_to_expire(later)), ["cs_3"]);
}

#[test]
fn views_count_once_per_visit_and_device() {
    let mut s = sent_invoice(1000);
    let d = invoice_domain::Device::Mobile;
    assert!(s.record_view(d, t0()));
    assert!(!s.record_view(d, t0() + Duration::minutes(10)));
    assert!(s.record_view(invoice_domain::Device::Desktop, t0()));
    assert!(s.record_view(d, t0() + Duration::minutes(31)));
}

// ---- properties ---------------------------------------------------------------------------

/// Something that can happen to a sent invoice.
#[derive(Debug, Clone)]
enum Op {
    Pay {
        amount: i64,
        provider_confirmed: bool,
        repeat: bool,
    },
    Refund {
        payment: usize,
        more: i64,
    },
    FailPayment,
    Void,
    /// The main loop gets to a requested void.
    ApplyVoid,
    FailStep,
    Retry,
    /// The main loop runs the retried step, which now succeeds.
    RunRetried,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-50i64..2_000, any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(amount, provider_confirmed, repeat)| Op::Pay { amount, provider_confirmed, repeat }),
        2 => (0usize..4, 1i64..1_500).prop_map(|(payment, more)| Op::Refund { payment, more }),
        1 => Just(Op::FailPayment),
        1 => Just(Op::Void),
        1 => Just(Op::ApplyVoid),
        1 => Just(Op::FailStep),
        1 => Just(Op::Retry),
        1 => Just(Op::RunRetried),
    ]
}

/// What the sequence has done, by the model's own bookkeeping.
#[derive(Default)]
struct Model {
    events: u32,
    /// (reference, amount) of accepted payments.
    payments: Vec<(String, i64)>,
    refunded: std::collections::BTreeMap<String, i64>,
    paid: i64,
    overpaid_by_provider: bool,
    voided: bool,
    /// Event ids accepted so far (payments, refunds, failures).
    seen: std::collections::BTreeSet<String>,
}

fn check(s: &InvoiceState, m: &Model, total: i64) -> Result<(), TestCaseError> {
    let paid = s.amount_paid();
    prop_assert_eq!(paid, m.paid, "the amount paid is the sum of what was accepted");
    prop_assert!(paid >= 0, "amounts never go negative");
    prop_assert!(paid <= total || m.overpaid_by_provider, "paid never exceeds the total");
    let view = s.view();
    prop_assert_eq!(view.amount_due, total - paid);
    match s.status() {
        InvoiceStatus::Paid => prop_assert!(paid >= total),
        InvoiceStatus::PartiallyPaid => prop_assert!(paid > 0 && paid < total),
        InvoiceStatus::Sent | InvoiceStatus::Overdue | InvoiceStatus::Open => {
            prop_assert_eq!(paid, 0)
        }
        InvoiceStatus::Void => {
            prop_assert_eq!(paid, 0);
            prop_assert!(m.voided);
        }
        InvoiceStatus::Refunded => prop_assert_eq!(paid, 0),
        InvoiceStatus::NeedsAttention => prop_assert!(paid < total),
        InvoiceStatus::Draft => prop_assert!(false, "a sent invoice is never a draft again"),
    }
    if s.status().is_final() {
        prop_assert!(s.next_action().is_none(), "nothing is scheduled after settling");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_histories_keep_the_money_and_the_status_coherent(
        total in 1i64..5_000,
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut s = sent_invoice(total);
        let mut m = Model::default();
        for op in ops {
            m.events += 1;
            let at = t0() + Duration::minutes(i64::from(m.events));
            let event_id = format!("e{}", m.events);
            match op {
                Op::Pay { amount, provider_confirmed, repeat } => {
                    let id = if repeat && m.events > 1 { format!("e{}", m.events - 1) } else { event_id };
                    let mut p = payment(&id, amount);
                    let id = p.event_id.clone();
                    p.provider_confirmed = provider_confirmed;
                    let due = total - m.paid;
                    let verdict = s.validate_payment(&p);
                    if amount <= 0 || m.voided || m.seen.contains(&id)
                        || (amount > due && !provider_confirmed)
                        || matches!(s.status(), InvoiceStatus::Void | InvoiceStatus::Refunded)
                        || s.is_voiding()
                    {
                        prop_assert!(verdict.is_err(), "{:?} must be refused", p);
                    }
                    if verdict.is_ok() {
                        let reference = p.reference.clone().unwrap();
                        s.apply_payment(p, at);
                        m.seen.insert(id);
                        m.paid += amount;
                        m.overpaid_by_provider |= m.paid > total;
                        m.payments.push((reference, amount));
                    }
                }
                Op::Refund { payment, more } => {
                    let Some((reference, _)) = m.payments.get(payment).cloned() else { continue };
                    let already = m.refunded.get(&reference).copied().unwrap_or(0);
                    let r = refund(&event_id, &reference, already + more);
                    let verdict = s.validate_refund(&r);
                    if more > m.paid {
                        prop_assert!(verdict.is_err(), "a refund beyond what was paid");
                    }
                    if verdict.is_ok() {
                        s.apply_refund(r, at, true);
                        m.seen.insert(event_id);
                        m.paid -= more;
                        m.refunded.insert(reference, already + more);
                    }
                }
                Op::FailPayment => {
                    let f = PaymentFailure {
                        event_id: event_id.clone(),
                        amount: 1,
                        reference: None,
                        reason: None,
                        actor: Actor::Stripe,
                    };
                    if s.validate_payment_failure(&f).is_ok() {
                        s.apply_payment_failure(f, at);
                        m.seen.insert(event_id);
                    }
                }
                Op::Void => {
                    let verdict = s.validate_void();
                    if m.paid > 0 {
                        prop_assert!(verdict.is_err(), "an invoice holding money is never voided");
                    }
                    if verdict.is_ok() {
                        s.request_void(void_request());
                    }
                }
                Op::ApplyVoid => {
                    if s.void_if_requested(at) {
                        m.voided = true;
                    }
                }
                Op::FailStep => {
                    // Only the finalization steps fail for good; they run before payment settles.
                    if !s.status().is_final() && s.status() != InvoiceStatus::NeedsAttention
                        && !s.is_voiding()
                    {
                        s.step_failed(Step::Send, "bounced".into(), at);
                    }
                }
                Op::Retry => {
                    if s.validate_retry().is_ok() {
                        s.request_retry(Actor::System, at);
                    }
                }
                Op::RunRetried => {
                    if s.request() == &Request::Retry {
                        s.retry_started();
                        s.invoice_sent(sent(), at);
                    }
                }
            }
            check(&s, &m, total)?;
        }
        // Everything the sequence did reaches Postgres, once.
        let projection = s.projection("run", t0() + Duration::days(1));
        prop_assert_eq!(projection.amount_paid, m.paid);
        let stored: i64 = projection.payments.iter().map(|p| p.amount).sum();
        prop_assert_eq!(stored, m.paid, "payments and refunds add up to the amount paid");
        let seqs: Vec<u64> = projection.events.iter().map(|e| e.seq).collect();
        prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "timeline positions grow");
    }
}

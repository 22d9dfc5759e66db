//! Money on the invoice: payments, refunds, failed payments and the checkout that asks for
//! the amount due. The same `InvoiceState`, its money-changing half.

use chrono::{DateTime, Utc};
use invoice_domain::{Actor, InvoiceStatus, PaymentProvider, TimelineEvent};

use super::{CheckoutPlan, InvoiceState};
use crate::invoice::activities::CheckoutInput;
use crate::invoice::keys;
use crate::invoice::messages::{
    CheckoutSession, PaymentFailure, PaymentOutcome, PaymentRequest, RefundRequest,
};

/// A checkout session is reused while it has at least this long left.
const CHECKOUT_REUSE_MARGIN_MINUTES: i64 = 10;

impl InvoiceState {
    pub(in crate::invoice) fn apply_payment(
        &mut self,
        p: PaymentRequest,
        at: DateTime<Utc>,
    ) -> PaymentOutcome {
        self.seen_events.insert(p.event_id.clone());
        // A session opened before this payment is for another amount (or already used).
        self.retire_checkouts();
        let overpaid = (p.amount - self.due()).max(0);
        self.amount_paid += p.amount;
        let event = TimelineEvent::PaymentRecorded {
            event_id: p.event_id.clone(),
            amount: p.amount,
            method: p.method,
            reference: p.reference.clone(),
            overpaid: (overpaid > 0).then_some(overpaid),
        };
        self.push(p.actor.clone(), event, at);
        if self.amount_paid >= self.total() {
            self.status = InvoiceStatus::Paid;
            self.paid_at = Some(p.paid_at);
            // Paying is final: nothing pending may follow it.
            self.commands.clear();
            // Paid: the bounced address no longer holds anything up.
            self.clear_bounce();
        } else if self.status != InvoiceStatus::NeedsAttention {
            self.status = InvoiceStatus::PartiallyPaid;
        }
        self.pending_payments.push(p);
        self.wakeups += 1;
        self.payment_outcome()
    }

    /// Whether a refund leaves a paid invoice paid in full (it returns money paid beyond the
    /// total, such as a provider-confirmed overpayment).
    pub(in crate::invoice) fn refund_leaves_paid(&self, r: &RefundRequest) -> bool {
        let already = self.refunded_by_reference.get(&r.payment_reference).copied().unwrap_or(0);
        self.status == InvoiceStatus::Paid
            && self.amount_paid - (r.total_refunded - already) >= self.total()
    }

    /// `keep_paid`: a refund that leaves the invoice paid in full keeps it paid (runs started
    /// before the `refund-keeps-paid` patch reopened it as partially paid).
    pub(in crate::invoice) fn apply_refund(
        &mut self,
        r: RefundRequest,
        at: DateTime<Utc>,
        keep_paid: bool,
    ) -> PaymentOutcome {
        let still_paid = keep_paid && self.refund_leaves_paid(&r);
        let already = self.refunded_by_reference.get(&r.payment_reference).copied().unwrap_or(0);
        let amount = r.total_refunded - already;
        self.seen_events.insert(r.event_id.clone());
        self.retire_checkouts();
        self.refunded_by_reference.insert(r.payment_reference.clone(), r.total_refunded);
        self.amount_paid -= amount;
        if still_paid {
            // Money paid beyond the total went back; the invoice is still paid in full.
        } else if self.status == InvoiceStatus::Paid && self.amount_paid <= 0 {
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
        let event = TimelineEvent::RefundRecorded {
            event_id: r.event_id.clone(),
            amount,
            total_refunded: r.total_refunded,
            reference: r.payment_reference.clone(),
            method: r.method,
        };
        self.push(r.actor.clone(), event, at);
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
        self.payment_outcome()
    }

    pub(in crate::invoice) fn apply_payment_failure(
        &mut self,
        f: PaymentFailure,
        at: DateTime<Utc>,
    ) {
        self.seen_events.insert(f.event_id.clone());
        // The next Pay opens a new session. This one stays open at the provider, where the
        // payer may be trying another card; it is expired with the others once the amount due
        // changes.
        self.checkout = None;
        let event = TimelineEvent::PaymentFailed {
            event_id: f.event_id,
            amount: f.amount,
            reference: f.reference,
            reason: f.reason,
        };
        self.push(f.actor, event, at);
    }

    /// The session to send the payer to: the open one while it is for the amount due and has
    /// time left, otherwise a new one, whose key is the same for the same state so that a
    /// double click opens one session.
    pub(in crate::invoice) fn plan_checkout(&mut self, at: DateTime<Utc>) -> CheckoutPlan {
        let due = self.due();
        let margin = chrono::Duration::minutes(CHECKOUT_REUSE_MARGIN_MINUTES);
        if let Some(session) =
            self.checkout.as_ref().filter(|c| c.amount == due && c.expires_at > at + margin)
        {
            return CheckoutPlan::Reuse(session.clone());
        }
        if self.checkout.as_ref().is_some_and(|c| c.amount == due) {
            self.checkout_renewals += 1;
        }
        CheckoutPlan::Open(CheckoutInput {
            org_id: self.input.org_id,
            invoice_id: self.input.invoice_id,
            amount: due,
            currency: self.input.content.currency,
            idempotency_key: keys::checkout(
                self.input.invoice_id,
                due,
                self.seen_events.len(),
                self.checkout_renewals,
            ),
        })
    }

    pub(in crate::invoice) fn checkout_opened(
        &mut self,
        session: &CheckoutSession,
        actor: Actor,
        at: DateTime<Utc>,
    ) {
        if self.checkout.as_ref().is_none_or(|c| c.id != session.id) {
            self.checkout = Some(session.clone());
            if self.open_checkouts.iter().all(|c| c.id != session.id) {
                self.open_checkouts.push(session.clone());
            }
            let event = TimelineEvent::CheckoutStarted {
                session_id: session.id.clone(),
                amount: session.amount,
                provider: session.provider,
            };
            self.push(actor, event, at);
        }
    }

    pub(in crate::invoice) fn checkout_failed(
        &mut self,
        reason: String,
        actor: Actor,
        at: DateTime<Utc>,
    ) {
        self.push(actor, TimelineEvent::CheckoutFailed { reason }, at);
    }

    /// The amount due changed, or nothing more is due: no session opened so far may take money.
    pub(in crate::invoice) fn retire_checkouts(&mut self) {
        self.checkout = None;
        self.checkouts_to_expire.append(&mut self.open_checkouts);
    }

    /// The sessions to expire at the provider now: those retired, less those that have expired
    /// on their own by `at`, and those of the built-in test checkout (which charges what is due
    /// when it is used, whatever its session was opened for).
    pub(in crate::invoice) fn take_checkouts_to_expire(
        &mut self,
        at: DateTime<Utc>,
    ) -> Vec<CheckoutSession> {
        let mut sessions = std::mem::take(&mut self.checkouts_to_expire);
        sessions.retain(|s| s.expires_at > at && s.provider != PaymentProvider::Local);
        sessions
    }
}

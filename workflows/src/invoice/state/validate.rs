//! Whether an update may change the invoice now. Each validator refuses with a [`Refusal`]: a
//! stable code for programs and a sentence for people. A refused update changes nothing and is
//! not recorded in the run's history.

use invoice_domain::InvoiceStatus;

use super::{InvoiceState, Request};
use crate::invoice::messages::{InvoiceRecord, PaymentFailure, PaymentRequest, RefundRequest};
use crate::invoice::refusal::{Refusal, RefusalCode};

type Validation = Result<(), Refusal>;

fn refuse(code: RefusalCode, message: impl Into<String>) -> Validation {
    Err(Refusal::new(code, message))
}

impl InvoiceState {
    /// The stored invoice, and an event id not seen before: what every money update needs.
    fn stored_record_and_new(&self, event_id: &str) -> Result<&InvoiceRecord, Refusal> {
        let Some(record) = &self.record else {
            return Err(Refusal::new(
                RefusalCode::NotStoredYet,
                "the invoice is still being stored; try again in a moment",
            ));
        };
        if self.seen_events.contains(event_id) {
            return Err(Refusal::new(
                RefusalCode::DuplicateEvent,
                format!("duplicate payment event {event_id}"),
            ));
        }
        Ok(record)
    }

    /// Finalize, edit and delete need a draft that nothing else is happening to.
    pub(crate) fn validate_draft_change(&self, what: &str) -> Validation {
        if self.status == InvoiceStatus::Draft && self.request == Request::None {
            return Ok(());
        }
        if self.status == InvoiceStatus::Draft && self.request == Request::Edit {
            return refuse(
                RefusalCode::BeingEdited,
                format!("only a draft can be {what}; this invoice is being edited"),
            );
        }
        refuse(
            RefusalCode::NotADraft,
            format!("only a draft can be {what}; this invoice is {}", self.status),
        )
    }

    /// New event id, positive, same currency, payable, not being voided, not more than due
    /// (unless a payment provider confirms the money has moved).
    pub(crate) fn validate_payment(&self, p: &PaymentRequest) -> Validation {
        let record = self.stored_record_and_new(&p.event_id)?;
        if p.amount <= 0 {
            return refuse(RefusalCode::InvalidAmount, "a payment amount must be positive");
        }
        if record.currency != p.currency {
            return refuse(
                RefusalCode::CurrencyMismatch,
                format!("payment currency {} does not match the invoice", p.currency),
            );
        }
        if matches!(
            self.status,
            InvoiceStatus::Draft | InvoiceStatus::Void | InvoiceStatus::Refunded
        ) {
            return refuse(
                RefusalCode::NotPayable,
                format!("cannot pay an invoice that is {}", self.status),
            );
        }
        // An accepted void is final even before the main loop applies it: a payment let in
        // now would end either as a void invoice holding money or as a paid invoice whose void
        // was confirmed to its caller.
        if matches!(self.request, Request::Void(_) | Request::Discard(_)) {
            return refuse(RefusalCode::BeingVoided, "cannot pay an invoice that is being voided");
        }
        let due = self.due();
        if p.amount > due && !p.provider_confirmed {
            return refuse(
                RefusalCode::Overpayment,
                format!("overpayment: {} is more than the {due} due", p.amount),
            );
        }
        Ok(())
    }

    /// New event id, same currency, something new refunded, not more than was paid.
    pub(crate) fn validate_refund(&self, r: &RefundRequest) -> Validation {
        let record = self.stored_record_and_new(&r.event_id)?;
        if record.currency != r.currency {
            return refuse(
                RefusalCode::CurrencyMismatch,
                format!("refund currency {} does not match the invoice", r.currency),
            );
        }
        let already = self.refunded_by_reference.get(&r.payment_reference).copied().unwrap_or(0);
        if r.total_refunded <= already {
            return refuse(
                RefusalCode::RefundAlreadyRecorded,
                format!(
                    "refund already recorded: {already} of payment {} is refunded",
                    r.payment_reference
                ),
            );
        }
        if r.total_refunded - already > self.amount_paid {
            return refuse(
                RefusalCode::RefundExceedsPaid,
                format!(
                    "a refund of {} is more than the {} paid",
                    r.total_refunded - already,
                    self.amount_paid
                ),
            );
        }
        Ok(())
    }

    pub(crate) fn validate_payment_failure(&self, f: &PaymentFailure) -> Validation {
        if self.seen_events.contains(&f.event_id) {
            return refuse(
                RefusalCode::DuplicateEvent,
                format!("duplicate payment event {}", f.event_id),
            );
        }
        Ok(())
    }

    /// Something is due on a finalized invoice that is not being voided.
    pub(crate) fn validate_checkout(&self) -> Validation {
        if self.number.is_none() || self.status.is_final() || self.is_voiding() || self.due() <= 0 {
            return refuse(
                RefusalCode::NothingDue,
                format!("nothing to pay: the invoice is {}", self.status),
            );
        }
        Ok(())
    }

    /// Not settled, not being voided or edited, and no money on it.
    pub(crate) fn validate_void(&self) -> Validation {
        if self.request == Request::Edit {
            return refuse(RefusalCode::BeingEdited, "cannot void a draft while it is edited");
        }
        if self.status.is_final() || matches!(self.request, Request::Void(_) | Request::Discard(_))
        {
            return refuse(
                RefusalCode::NotVoidable,
                format!("cannot void an invoice that is {}", self.status),
            );
        }
        if self.amount_paid > 0 {
            return refuse(
                RefusalCode::HasPayments,
                "cannot void an invoice with payments; refund them first",
            );
        }
        Ok(())
    }

    /// Resend and remind need an invoice that went out and is not settled.
    pub(crate) fn validate_sendable(&self, what: &str) -> Validation {
        if self.sent_at.is_none() || self.status.is_final() || self.is_voiding() {
            return refuse(
                RefusalCode::NotSendable,
                format!(
                    "cannot {what}: the invoice is {} and not yet sent or already settled",
                    self.status
                ),
            );
        }
        Ok(())
    }

    pub(crate) fn validate_retry(&self) -> Validation {
        if self.is_voiding() {
            return refuse(RefusalCode::BeingVoided, "the invoice is being voided");
        }
        let parked =
            self.status == InvoiceStatus::NeedsAttention || self.projection_refused.is_some();
        if !parked || self.request == Request::Retry {
            return refuse(
                RefusalCode::NotRetryable,
                format!(
                    "only an invoice that needs attention can be retried; this one is {}",
                    self.view().status
                ),
            );
        }
        Ok(())
    }
}

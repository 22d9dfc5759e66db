//! Why the workflow refuses an update: a stable code and a sentence for people.
//!
//! A validator's refusal reaches the caller as a Temporal failure. The code travels as the
//! failure type of its cause (`ApplicationFailure` type), which the API reads back with
//! [`RefusalCode::of_failure`]; nobody compares message strings.

use std::fmt;

use invoice_domain::kinds::UnknownName;
use temporalio_workflow::common::error::ApplicationFailure;
use temporalio_workflow::common::protos::temporal::api::failure::v1::{
    Failure, failure::FailureInfo,
};

macro_rules! refusal_codes {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal ),+ $(,)?) => {
        /// Every reason the invoice workflow refuses an update.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RefusalCode {
            $( $(#[$doc])* $variant, )+
        }

        impl RefusalCode {
            pub const ALL: &'static [RefusalCode] = &[$(RefusalCode::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $( RefusalCode::$variant => $text, )+
                }
            }
        }
    };
}

refusal_codes! {
    /// The run has not stored its invoice yet: try again in a moment (the API answers 503).
    NotStoredYet => "not_stored_yet",
    /// Only an untouched draft can be finalized, edited or deleted.
    NotADraft => "not_a_draft",
    /// A draft edit is being stored.
    BeingEdited => "being_edited",
    /// This payment, refund or failure event was recorded before.
    DuplicateEvent => "duplicate_event",
    /// Amounts must be positive.
    InvalidAmount => "invalid_amount",
    /// The money is in another currency than the invoice.
    CurrencyMismatch => "currency_mismatch",
    /// A draft, void or refunded invoice takes no payments.
    NotPayable => "not_payable",
    /// A void (or deletion) was accepted and is under way.
    BeingVoided => "being_voided",
    /// More than is due, and not confirmed by a payment provider.
    Overpayment => "overpayment",
    /// That much of the payment was already refunded.
    RefundAlreadyRecorded => "refund_already_recorded",
    /// A refund larger than what was paid.
    RefundExceedsPaid => "refund_exceeds_paid",
    /// Nothing is due, so there is nothing to check out.
    NothingDue => "nothing_due",
    /// Paid, void and refunded invoices cannot be voided.
    NotVoidable => "not_voidable",
    /// Payments must be refunded before a void.
    HasPayments => "has_payments",
    /// Not sent yet, or already settled: nothing to resend or remind of.
    NotSendable => "not_sendable",
    /// Only an invoice that needs attention can be retried.
    NotRetryable => "not_retryable",
}

impl RefusalCode {
    pub fn parse(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName { what: "refusal code", value: s.to_owned() })
    }

    /// The code of a refusal as a caller receives it (the failure of a rejected update), if
    /// the failure is one of ours.
    pub fn of_failure(failure: &Failure) -> Option<Self> {
        std::iter::successors(Some(failure), |f| f.cause.as_deref()).find_map(|f| {
            match &f.failure_info {
                Some(FailureInfo::ApplicationFailureInfo(info)) => Self::parse(&info.r#type).ok(),
                _ => None,
            }
        })
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused update: what validators return.
#[derive(Debug)]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
    /// The code as a typed application failure: the SDK encodes the validator's error with its
    /// source as the failure's cause, which keeps this type where the caller can read it.
    typed: Box<ApplicationFailure>,
}

impl Refusal {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        let message = message.into();
        let typed = ApplicationFailure::builder(message.clone())
            .type_name(code.as_str().to_owned())
            .non_retryable(true)
            .build();
        Self { code, message, typed: Box::new(typed) }
    }
}

impl PartialEq for Refusal {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.message == other.message
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.typed.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_workflow::common::protos::temporal::api::failure::v1::ApplicationFailureInfo;

    #[test]
    fn codes_are_distinct_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for code in RefusalCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(RefusalCode::parse(code.as_str()), Ok(*code));
        }
    }

    #[test]
    fn a_failure_names_its_code_through_its_cause() {
        let typed = |t: &str| Failure {
            failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
                r#type: t.to_owned(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let outer = Failure {
            message: "refused".into(),
            cause: Some(Box::new(typed("overpayment"))),
            ..typed("")
        };
        assert_eq!(RefusalCode::of_failure(&outer), Some(RefusalCode::Overpayment));
        assert_eq!(RefusalCode::of_failure(&typed("SomethingElse")), None);
    }
}

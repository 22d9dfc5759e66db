//! The invoice timeline: every event that can happen to an invoice, as one tagged enum. The
//! workflow and its activities emit it, Postgres stores it (`invoice_events.kind` and `data`),
//! and analytics and the web app read it by the same names.
//!
//! On the wire an event is `{"kind": "<snake_case name>", "data": {camelCase fields}}`, the shape
//! the timeline has always had, so stored events and recorded histories still read.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::invoice::InvoiceStatus;
use crate::kinds::{Device, EmailKind, PaymentMethod, PaymentProvider, named_enum};

named_enum!(
    /// The steps of finalization that can fail for good and be retried by ops.
    Step, "step" {
        Finalize => "finalize",
        Render => "render",
        Send => "send",
    }
);

/// Something that happened to an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The invoice was stored (as a draft, or to be finalized at once).
    Created {
        status: InvoiceStatus,
        total: i64,
    },
    /// A draft's content was replaced.
    DraftUpdated {
        total: i64,
        lines: usize,
    },
    /// A draft edit could not be stored.
    EditFailed {
        reason: String,
    },
    FinalizeRequested {},
    /// Numbered and frozen.
    #[serde(rename_all = "camelCase")]
    Finalized {
        number: String,
        issue_date: NaiveDate,
    },
    #[serde(rename_all = "camelCase")]
    PdfRendered {
        key: String,
        size: u64,
    },
    /// The invoice email (or, sent by hand, a reminder) was accepted by the provider.
    #[serde(rename_all = "camelCase")]
    EmailSent {
        kind: EmailKind,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        manual: bool,
        message_id: String,
        to: String,
    },
    /// An email sent by hand could not be sent.
    EmailFailed {
        kind: EmailKind,
        reason: String,
    },
    /// A reminder went out: on schedule (with its offset, and the slots an outage collapsed
    /// into it) or by hand.
    #[serde(rename_all = "camelCase")]
    ReminderSent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset_days: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        collapsed: Option<Vec<i32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<EmailKind>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        manual: bool,
        message_id: String,
        to: String,
    },
    #[serde(rename_all = "camelCase")]
    ReminderFailed {
        offset_days: i32,
        reason: String,
    },
    #[serde(rename_all = "camelCase")]
    ReceiptSent {
        message_id: String,
        to: String,
    },
    ReceiptFailed {
        reason: String,
    },
    /// A step failed for good: the invoice needs attention.
    Failed {
        step: Step,
        reason: String,
    },
    RetryRequested {},
    StatusChanged {
        status: InvoiceStatus,
    },
    Voided {
        reason: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    PaymentRecorded {
        event_id: String,
        amount: i64,
        method: PaymentMethod,
        reference: Option<String>,
        /// Provider-confirmed money beyond what was due (for the seller to refund).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overpaid: Option<i64>,
    },
    #[serde(rename_all = "camelCase")]
    RefundRecorded {
        event_id: String,
        amount: i64,
        total_refunded: i64,
        reference: String,
        method: PaymentMethod,
    },
    #[serde(rename_all = "camelCase")]
    PaymentFailed {
        event_id: String,
        amount: i64,
        reference: Option<String>,
        reason: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    CheckoutStarted {
        session_id: String,
        amount: i64,
        provider: PaymentProvider,
    },
    CheckoutFailed {
        reason: String,
    },
    /// The client opened the hosted page (once per visit and device class).
    Viewed {
        device: Device,
    },
    /// The client's mail server refused an email we sent (SES's bounce event). A permanent
    /// bounce suppresses further sends to the address.
    #[serde(rename_all = "camelCase")]
    EmailBounced {
        kind: EmailKind,
        to: String,
        message_id: String,
        /// SES's bounce type and subtype, e.g. `Permanent/General`.
        bounce_type: String,
        permanent: bool,
        /// The receiving server's answer, e.g. `smtp; 550 5.1.1 user unknown`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The client marked an email we sent as spam (SES's complaint event): no more email goes
    /// to the address.
    #[serde(rename_all = "camelCase")]
    EmailComplained {
        kind: EmailKind,
        to: String,
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feedback_type: Option<String>,
    },
}

named_enum!(
    /// The names of [`TimelineEvent`]s, as stored in `invoice_events.kind`.
    TimelineKind, "timeline event" {
        Created => "created",
        DraftUpdated => "draft_updated",
        EditFailed => "edit_failed",
        FinalizeRequested => "finalize_requested",
        Finalized => "finalized",
        PdfRendered => "pdf_rendered",
        EmailSent => "email_sent",
        EmailFailed => "email_failed",
        ReminderSent => "reminder_sent",
        ReminderFailed => "reminder_failed",
        ReceiptSent => "receipt_sent",
        ReceiptFailed => "receipt_failed",
        Failed => "failed",
        RetryRequested => "retry_requested",
        StatusChanged => "status_changed",
        Voided => "voided",
        PaymentRecorded => "payment_recorded",
        RefundRecorded => "refund_recorded",
        PaymentFailed => "payment_failed",
        CheckoutStarted => "checkout_started",
        CheckoutFailed => "checkout_failed",
        Viewed => "viewed",
        EmailBounced => "email_bounced",
        EmailComplained => "email_complained",
    }
);

/// An event that is not stored in the shape its kind has.
#[derive(Debug, thiserror::Error)]
#[error("timeline event {kind:?} does not read: {source}")]
pub struct UnreadableEvent {
    pub kind: String,
    #[source]
    pub source: serde_json::Error,
}

impl TimelineEvent {
    pub fn kind(&self) -> TimelineKind {
        match self {
            Self::Created { .. } => TimelineKind::Created,
            Self::DraftUpdated { .. } => TimelineKind::DraftUpdated,
            Self::EditFailed { .. } => TimelineKind::EditFailed,
            Self::FinalizeRequested {} => TimelineKind::FinalizeRequested,
            Self::Finalized { .. } => TimelineKind::Finalized,
            Self::PdfRendered { .. } => TimelineKind::PdfRendered,
            Self::EmailSent { .. } => TimelineKind::EmailSent,
            Self::EmailFailed { .. } => TimelineKind::EmailFailed,
            Self::ReminderSent { .. } => TimelineKind::ReminderSent,
            Self::ReminderFailed { .. } => TimelineKind::ReminderFailed,
            Self::ReceiptSent { .. } => TimelineKind::ReceiptSent,
            Self::ReceiptFailed { .. } => TimelineKind::ReceiptFailed,
            Self::Failed { .. } => TimelineKind::Failed,
            Self::RetryRequested {} => TimelineKind::RetryRequested,
            Self::StatusChanged { .. } => TimelineKind::StatusChanged,
            Self::Voided { .. } => TimelineKind::Voided,
            Self::PaymentRecorded { .. } => TimelineKind::PaymentRecorded,
            Self::RefundRecorded { .. } => TimelineKind::RefundRecorded,
            Self::PaymentFailed { .. } => TimelineKind::PaymentFailed,
            Self::CheckoutStarted { .. } => TimelineKind::CheckoutStarted,
            Self::CheckoutFailed { .. } => TimelineKind::CheckoutFailed,
            Self::Viewed { .. } => TimelineKind::Viewed,
            Self::EmailBounced { .. } => TimelineKind::EmailBounced,
            Self::EmailComplained { .. } => TimelineKind::EmailComplained,
        }
    }

    /// The event's fields, as stored in `invoice_events.data`.
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("data").unwrap_or_else(|| serde_json::json!({}))
            }
            _ => serde_json::json!({}),
        }
    }

    /// Reads a stored event back from its kind and data.
    pub fn from_parts(kind: &str, data: serde_json::Value) -> Result<Self, UnreadableEvent> {
        serde_json::from_value(serde_json::json!({ "kind": kind, "data": data }))
            .map_err(|source| UnreadableEvent { kind: kind.to_owned(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One event of every kind.
    fn samples() -> Vec<TimelineEvent> {
        use TimelineEvent::*;
        vec![
            Created { status: InvoiceStatus::Open, total: 100 },
            DraftUpdated { total: 100, lines: 2 },
            EditFailed { reason: "r".into() },
            FinalizeRequested {},
            Finalized { number: "INV-2026-00001".into(), issue_date: NaiveDate::MIN },
            PdfRendered { key: "k".into(), size: 1 },
            EmailSent {
                kind: EmailKind::Invoice,
                manual: false,
                message_id: "m".into(),
                to: "t".into(),
            },
            EmailFailed { kind: EmailKind::Reminder, reason: "r".into() },
            ReminderSent {
                offset_days: Some(3),
                collapsed: Some(vec![]),
                kind: None,
                manual: false,
                message_id: "m".into(),
                to: "t".into(),
            },
            ReminderFailed { offset_days: -3, reason: "r".into() },
            ReceiptSent { message_id: "m".into(), to: "t".into() },
            ReceiptFailed { reason: "r".into() },
            Failed { step: Step::Send, reason: "r".into() },
            RetryRequested {},
            StatusChanged { status: InvoiceStatus::Overdue },
            Voided { reason: None },
            PaymentRecorded {
                event_id: "e".into(),
                amount: 1,
                method: PaymentMethod::Card,
                reference: None,
                overpaid: None,
            },
            RefundRecorded {
                event_id: "e".into(),
                amount: 1,
                total_refunded: 1,
                reference: "pi".into(),
                method: PaymentMethod::Card,
            },
            PaymentFailed { event_id: "e".into(), amount: 1, reference: None, reason: None },
            CheckoutStarted { session_id: "s".into(), amount: 1, provider: PaymentProvider::Local },
            CheckoutFailed { reason: "r".into() },
            Viewed { device: Device::Mobile },
            EmailBounced {
                kind: EmailKind::Invoice,
                to: "t".into(),
                message_id: "m".into(),
                bounce_type: "Permanent/General".into(),
                permanent: true,
                detail: None,
            },
            EmailComplained {
                kind: EmailKind::Reminder,
                to: "t".into(),
                message_id: "m".into(),
                feedback_type: Some("abuse".into()),
            },
        ]
    }

    #[test]
    fn every_kind_has_its_name_and_reads_back() {
        let samples = samples();
        assert_eq!(samples.len(), TimelineKind::ALL.len(), "a sample per kind");
        for event in samples {
            let kind = event.kind();
            assert_eq!(serde_json::to_value(&event).unwrap()["kind"], json!(kind.as_str()));
            assert_eq!(TimelineEvent::from_parts(kind.as_str(), event.data()).unwrap(), event);
        }
    }

    #[test]
    fn stored_shapes_of_before_the_enum_still_read() {
        // Bodies exactly as the workflow wrote them with json! literals.
        let cases = [
            ("finalize_requested", json!({})),
            ("finalized", json!({ "number": "INV-2026-00001", "issueDate": "2026-11-30" })),
            (
                "email_sent",
                json!({ "kind": "invoice", "manual": true, "messageId": "m", "to": "a@b.c" }),
            ),
            ("email_sent", json!({ "kind": "invoice", "messageId": "m", "to": "a@b.c" })),
            (
                "reminder_sent",
                json!({ "offsetDays": 3, "collapsed": [-3, 0], "messageId": "m", "to": "a@b.c" }),
            ),
            (
                "reminder_sent",
                json!({ "kind": "reminder", "manual": true, "messageId": "m", "to": "a@b.c" }),
            ),
            ("failed", json!({ "step": "send", "reason": "bounced" })),
            ("voided", json!({ "reason": null })),
            (
                "payment_recorded",
                json!({ "eventId": "e", "amount": 5, "method": "card", "reference": null, "overpaid": 2 }),
            ),
            ("viewed", json!({ "device": "tablet" })),
        ];
        for (kind, data) in cases {
            let event = TimelineEvent::from_parts(kind, data.clone())
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(event.data(), data, "{kind} writes what it read");
        }
    }
}

//! The invoice's emails as the state sees them: the commands that send one (resend, remind
//! now), the reminders whose time has come, receipts, and the bounces and complaints that come
//! back, which hold the invoice up until the address is corrected.

use chrono::{DateTime, Utc};
use invoice_domain::{Actor, EmailKind, InvoiceStatus, TimelineEvent};

use super::super::activities::SentEmail;
use super::super::keys;
use super::super::messages::{EmailFeedback, FeedbackOutcome};
use super::{Command, DueReminder, InvoiceState, ReminderSlot};

impl InvoiceState {
    /// A bounce or complaint for one of the invoice's emails (the worker reads SES's events).
    /// It goes on the timeline; an address that bounced for good or complained about an
    /// invoice or reminder puts an unpaid invoice in `needs_attention` until someone corrects
    /// the address and resends it (or ops retry, which resends). True when it was new.
    pub(in crate::invoice) fn email_feedback(
        &mut self,
        feedback: EmailFeedback,
        at: DateTime<Utc>,
    ) -> bool {
        if !self.feedback_seen.insert(feedback.feedback_id.clone()) {
            return false;
        }
        let suppresses = feedback.suppresses();
        let (to, email) = (feedback.to, feedback.email);
        let (actor, event, why) = match feedback.outcome {
            FeedbackOutcome::Bounce { permanent, bounce_type, detail } => {
                let why = match &detail {
                    Some(detail) => format!("the client's address {to} bounced ({detail})"),
                    None => format!("the client's address {to} bounced"),
                };
                let event = TimelineEvent::EmailBounced {
                    kind: email,
                    to: to.clone(),
                    message_id: feedback.message_id,
                    bounce_type,
                    permanent,
                    detail,
                };
                // The client's mail server answered.
                (Actor::System, event, why)
            }
            FeedbackOutcome::Complaint { feedback_type } => {
                let why = format!("the client marked our email to {to} as spam");
                let event = TimelineEvent::EmailComplained {
                    kind: email,
                    to: to.clone(),
                    message_id: feedback.message_id,
                    feedback_type,
                };
                (Actor::Client, event, why)
            }
        };
        self.push(actor, event, at);
        let collecting = matches!(
            self.status,
            InvoiceStatus::Sent | InvoiceStatus::Overdue | InvoiceStatus::PartiallyPaid
        );
        if suppresses && email != EmailKind::Receipt && collecting && !self.is_voiding() {
            self.status = InvoiceStatus::NeedsAttention;
            self.attention_reason = Some(format!(
                "{why}: no more email goes to it; correct the customer's email, then resend"
            ));
            self.bounced = true;
            self.wakeups += 1;
        }
        true
    }

    /// An invoice or reminder email went through: an earlier bounce no longer holds the
    /// invoice up.
    pub(super) fn clear_bounce(&mut self) {
        if self.bounced {
            self.bounced = false;
            self.attention_reason = None;
            self.status = self.collecting_status();
        }
    }

    /// The email a command sends, with its key (each command its own).
    pub(in crate::invoice) fn command_email(&mut self, command: &Command) -> (EmailKind, String) {
        let invoice = self.input.invoice_id;
        match command {
            Command::Resend(_) => {
                self.resends += 1;
                (EmailKind::Invoice, keys::resend(invoice, self.resends + 1))
            }
            Command::RemindNow(_) => {
                self.manual_reminders += 1;
                (EmailKind::Reminder, keys::manual_reminder(invoice, self.manual_reminders))
            }
        }
    }

    pub(in crate::invoice) fn command_sent(
        &mut self,
        command: Command,
        sent: SentEmail,
        at: DateTime<Utc>,
    ) {
        self.clear_bounce();
        let (actor, event) = match command {
            Command::Resend(actor) => (
                actor,
                TimelineEvent::EmailSent {
                    kind: EmailKind::Invoice,
                    manual: true,
                    message_id: sent.provider_message_id,
                    to: sent.recipient,
                },
            ),
            Command::RemindNow(actor) => (
                actor,
                TimelineEvent::ReminderSent {
                    offset_days: None,
                    collapsed: None,
                    kind: Some(EmailKind::Reminder),
                    manual: true,
                    message_id: sent.provider_message_id,
                    to: sent.recipient,
                },
            ),
        };
        self.push(actor, event, at);
    }

    pub(in crate::invoice) fn command_failed(
        &mut self,
        command: Command,
        reason: String,
        at: DateTime<Utc>,
    ) {
        let (actor, kind) = match command {
            Command::Resend(actor) => (actor, EmailKind::Invoice),
            Command::RemindNow(actor) => (actor, EmailKind::Reminder),
        };
        self.push(actor, TimelineEvent::EmailFailed { kind, reason }, at);
    }

    /// Reminders whose time has come. After an outage several slots may have passed: they
    /// collapse into one reminder, so the client never gets a burst.
    pub(in crate::invoice) fn take_due_reminder(
        &mut self,
        now: DateTime<Utc>,
    ) -> Option<DueReminder> {
        // Not to an address that bounced: the reminders wait (and collapse into one) until the
        // address is corrected and the invoice resent.
        if self.bounced {
            return None;
        }
        let start = self.reminders_done.min(self.reminders.len());
        let due: Vec<ReminderSlot> =
            self.reminders[start..].iter().take_while(|slot| slot.at <= now).copied().collect();
        self.reminders_done += due.len();
        let (latest, earlier) = due.split_last()?;
        Some(DueReminder {
            latest: *latest,
            collapsed: earlier.iter().map(|s| s.offset_days).collect(),
        })
    }

    pub(in crate::invoice) fn reminder_key(&self, reminder: &DueReminder) -> String {
        keys::reminder(self.input.invoice_id, reminder.latest.offset_days)
    }

    pub(in crate::invoice) fn reminder_sent(
        &mut self,
        reminder: DueReminder,
        sent: SentEmail,
        at: DateTime<Utc>,
    ) {
        let event = TimelineEvent::ReminderSent {
            offset_days: Some(reminder.latest.offset_days),
            collapsed: Some(reminder.collapsed),
            kind: None,
            manual: false,
            message_id: sent.provider_message_id,
            to: sent.recipient,
        };
        self.push_system(event, at);
    }

    pub(in crate::invoice) fn reminder_failed(
        &mut self,
        reminder: &DueReminder,
        reason: String,
        at: DateTime<Utc>,
    ) {
        let event =
            TimelineEvent::ReminderFailed { offset_days: reminder.latest.offset_days, reason };
        self.push_system(event, at);
    }

    pub(in crate::invoice) fn receipt_sent(&mut self, sent: SentEmail, at: DateTime<Utc>) {
        let event =
            TimelineEvent::ReceiptSent { message_id: sent.provider_message_id, to: sent.recipient };
        self.push_system(event, at);
    }

    pub(in crate::invoice) fn receipt_failed(&mut self, reason: String, at: DateTime<Utc>) {
        self.push_system(TimelineEvent::ReceiptFailed { reason }, at);
    }
}

//! Every idempotency key the invoice workflow derives, in one place. A key names one side
//! effect for good: the email activity sends each key at most once and the payment provider
//! opens one checkout session per key, so a key must change exactly when a new effect is meant.

use invoice_domain::InvoiceId;

/// The invoice email. An ops retry after a failed send gets a new key: the failed attempt may
/// stand for an email whose delivery is unknown, which is never sent again under its old key.
pub fn invoice_email(invoice: InvoiceId, ops_retries: u32) -> String {
    match ops_retries {
        0 => format!("{invoice}:invoice_email:1"),
        n => format!("{invoice}:invoice_email:1:retry-{n}"),
    }
}

/// The invoice email sent again by hand; `n` counts from 2 (the first send is 1).
pub fn resend(invoice: InvoiceId, n: u32) -> String {
    format!("{invoice}:invoice_email:{n}")
}

/// A scheduled reminder, by its offset from the due date: each slot is sent once.
pub fn reminder(invoice: InvoiceId, offset_days: i32) -> String {
    format!("{invoice}:reminder:{offset_days}")
}

/// The `n`-th reminder sent by hand.
pub fn manual_reminder(invoice: InvoiceId, n: u32) -> String {
    format!("{invoice}:reminder:manual-{n}")
}

/// The receipt of the `n`-th time the invoice became paid (a refund can make it due again).
pub fn receipt(invoice: InvoiceId, n: u32) -> String {
    format!("{invoice}:receipt:{n}")
}

/// A checkout session for what is due after `payment_events` payment events; `renewals`
/// counts sessions opened again for the same state because the previous one expired.
pub fn checkout(invoice: InvoiceId, due: i64, payment_events: usize, renewals: u32) -> String {
    match renewals {
        0 => format!("{invoice}:checkout:{due}:{payment_events}"),
        n => format!("{invoice}:checkout:{due}:{payment_events}:renewed-{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_shapes_recorded_in_running_histories() {
        let id: InvoiceId = "0190f3f5-1111-7222-8333-444455556666".parse().unwrap();
        assert_eq!(invoice_email(id, 0), format!("{id}:invoice_email:1"));
        assert_eq!(invoice_email(id, 2), format!("{id}:invoice_email:1:retry-2"));
        assert_eq!(resend(id, 2), format!("{id}:invoice_email:2"));
        assert_eq!(reminder(id, -3), format!("{id}:reminder:-3"));
        assert_eq!(manual_reminder(id, 1), format!("{id}:reminder:manual-1"));
        assert_eq!(receipt(id, 1), format!("{id}:receipt:1"));
        assert_eq!(checkout(id, 500, 1, 0), format!("{id}:checkout:500:1"));
        assert_eq!(checkout(id, 500, 1, 2), format!("{id}:checkout:500:1:renewed-2"));
    }
}

//! Activity implementations: every side effect of the invoice workflows lives here, in structs
//! that hold the clients they need (database pool, object storage, mail, payments) so the worker
//! can inject real providers and tests can inject fakes.
//!
//! Each activity implements a contract from [`invoice_workflows::invoice::activities`]; the
//! `definition = ...` attribute makes a drift between contract and implementation a compile
//! error rather than a stuck workflow.

pub mod accounts;
pub mod email;
pub mod invoices;
pub mod metrics;
pub mod panics;
pub mod payments;
pub mod pdf;
#[cfg(feature = "dev-tools")]
mod platform;
pub mod postgres;
pub use invoice_storage as storage;

pub use invoices::InvoiceActivities;
#[cfg(feature = "dev-tools")]
pub use platform::PlatformActivities;

/// The trace the running activity belongs to (the OpenTelemetry context Temporal's tracing
/// plugin sets around it), for the activity span's `trace_id` field: its log lines carry it.
/// Empty when traces are off.
pub(crate) fn trace_id() -> String {
    use opentelemetry::trace::TraceContextExt as _;
    let context = opentelemetry::Context::current();
    let span = context.span();
    let id = span.span_context();
    if id.is_valid() { id.trace_id().to_string() } else { String::new() }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use invoice_workflows::invoice::options::{CHECKOUT_TIMEOUT, STEP_TIMEOUT};

    /// A provider call that outlives its activity's attempt keeps running while Temporal retries
    /// the attempt: an email sent twice, a payer waiting on two requests. Each provider timeout
    /// stays below its activity's start-to-close timeout, with room for the rest of the
    /// activity (database, PDF download).
    #[test]
    fn provider_timeouts_end_before_their_activities() {
        let bounds: [(&str, Duration, Duration); 4] = [
            ("SMTP send", crate::email::SmtpConfig::DEFAULT_TIMEOUT, STEP_TIMEOUT),
            ("SES send", crate::email::SES_OPERATION_TIMEOUT, STEP_TIMEOUT),
            ("Stripe checkout", crate::payments::STRIPE_TIMEOUT, CHECKOUT_TIMEOUT),
            ("S3 store and read", invoice_storage::S3_OPERATION_TIMEOUT, STEP_TIMEOUT),
        ];
        for (provider, timeout, activity) in bounds {
            assert!(
                timeout < activity,
                "{provider}: the provider timeout {timeout:?} must be shorter than the activity's \
                 start-to-close timeout {activity:?}"
            );
        }
    }
}

//! How the invoice workflow's steps are retried and bounded: one retry policy for every side
//! effect, whether it runs as an activity or a local activity, and the two exceptions with
//! their reasons.
//!
//! The start-to-close timeouts are public because the activities' own provider timeouts (SMTP,
//! SES, Stripe) must stay below them: a provider call that outlives its attempt leaves the
//! attempt running while Temporal already retries it (a second email, a second session).

use std::time::Duration;

use temporalio_workflow::{ActivityOptions, LocalActivityOptions, RetryPolicy};

/// Every step is one database transaction, one render or one provider call. The start-to-close
/// timeout is also how long a run waits before retrying an attempt whose worker died
/// (activities do not heartbeat), so it is kept short.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// The start-to-close timeout of a projection write (see `projection`).
pub const PROJECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The start-to-close timeout of opening a checkout session (see `checkout`).
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(15);

/// Transient failures retry with backoff for about half an hour; then the invoice needs
/// attention (ops can retry it). Permanent failures (non-retryable) need attention at once.
fn step_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(300))
        .maximum_attempts(14)
        .build()
}

/// A side effect run as an activity. The summary is what support reads for the step in the
/// Temporal UI.
pub(super) fn step(summary: impl Into<String>) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(STEP_TIMEOUT)
        .summary(summary.into())
        .retry_policy(step_retry())
        .build()
}

/// A side effect run as a local activity: the same attempts and backoff. Long backoffs wait on
/// a workflow timer, so a step failing for half an hour holds no worker.
pub(super) fn local_step() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(STEP_TIMEOUT)
        .retry_policy(step_retry())
        .build()
}

/// Projection writes are short database transactions retried for as long as it takes: a
/// projection must never be skipped, or Postgres would stop following the invoice.
pub(super) fn projection() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(PROJECTION_TIMEOUT)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .build(),
        )
        .build()
}

/// Expiring a checkout session that is no longer due: a few attempts over about a minute, so
/// that a provider outage does not hold up the run's reminders and receipts; a session left
/// open still ends on its own at its expiry (24 hours at Stripe).
pub(super) fn expire_checkout(summary: String) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(CHECKOUT_TIMEOUT)
        .summary(summary)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(5)
                .build(),
        )
        .build()
}

/// Checkout sessions are opened while the payer waits: a few quick attempts, then the payer is
/// told (and can press Pay again).
pub(super) fn checkout() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(CHECKOUT_TIMEOUT)
        .summary("Open a checkout session".to_owned())
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_attempts(3)
                .build(),
        )
        .build()
}

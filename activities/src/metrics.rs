//! The worker's own Prometheus metrics, served by the worker binary on `METRICS_ADDR`: emails
//! by provider, kind and outcome, bounce and complaint events, PDF render times, invoices by
//! status transition, activity runs by outcome, and the task queue's backlog
//! (worker/src/backlog.rs). Every name starts with `invoice_worker_`; alert rules and
//! dashboards query these names, so keep them.

use std::time::Duration;

use invoice_domain::EmailKind;
use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The content type of [`WorkerMetrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// What became of one send, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailOutcome {
    /// Handed to the provider now.
    Sent,
    /// Its key had been sent before: nothing went out again.
    AlreadySent,
    /// Failed; the activity retries.
    Failed,
    /// Refused for good (the provider refused the message, a quota): the invoice needs
    /// attention.
    Refused,
}

impl EmailOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::AlreadySent => "already_sent",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }
}

/// How one activity attempt ended, as counted by [`WorkerMetrics::activity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityOutcome {
    /// Returned a result.
    Completed,
    /// Failed; Temporal retries it with backoff.
    Retryable,
    /// Failed for good: the workflow sees the failure (an invoice needing attention).
    NonRetryable,
    /// Stopped because it was cancelled (the workflow no longer wants it, or shutdown).
    Cancelled,
}

impl ActivityOutcome {
    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Retryable => "retryable",
            Self::NonRetryable => "non_retryable",
            Self::Cancelled => "cancelled",
        }
    }
}

const FEEDBACK_TYPES: [&str; 2] = ["bounce", "complaint"];
const FEEDBACK_OUTCOMES: [&str; 2] = ["recorded", "unmatched"];

/// The metrics of one worker process.
pub struct WorkerMetrics {
    registry: Registry,
    emails: IntCounterVec,
    render: Histogram,
    transitions: IntCounterVec,
    activities: IntCounterVec,
    backlog: IntGaugeVec,
    backlog_age: GaugeVec,
    feedback: IntCounterVec,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerMetrics").finish_non_exhaustive()
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("invoice_worker".into()), None)
            .expect("a valid metrics prefix");
        let emails = IntCounterVec::new(
            Opts::new("emails_total", "Email sends, by provider (ses, smtp), kind and outcome"),
            &["provider", "kind", "outcome"],
        )
        .expect("valid metric");
        let buckets = vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let render = Histogram::with_opts(
            HistogramOpts::new("pdf_render_seconds", "Time to render one invoice PDF")
                .buckets(buckets),
        )
        .expect("valid metric");
        let backlog = IntGaugeVec::new(
            Opts::new(
                "task_queue_backlog",
                "Tasks waiting in the task queue (approximate), by type",
            ),
            &["type"],
        )
        .expect("valid metric");
        let backlog_age = GaugeVec::new(
            Opts::new(
                "task_queue_backlog_age_seconds",
                "Age of the oldest task waiting in the task queue (approximate), by type",
            ),
            &["type"],
        )
        .expect("valid metric");
        let transitions = IntCounterVec::new(
            Opts::new(
                "invoice_transitions_total",
                "Invoices moving from one status to another, as projected to Postgres",
            ),
            &["from", "to"],
        )
        .expect("valid metric");
        let activities = IntCounterVec::new(
            Opts::new(
                "activities_total",
                "Activity attempts run by this worker, by activity type and outcome (completed, \
                 retryable, non_retryable, cancelled)",
            ),
            &["activity", "outcome"],
        )
        .expect("valid metric");
        let feedback = IntCounterVec::new(
            Opts::new(
                "email_feedback_total",
                "SES bounce and complaint events read, by type (bounce, complaint) and outcome \
                 (recorded on an invoice, or unmatched: no email of ours)",
            ),
            &["type", "outcome"],
        )
        .expect("valid metric");
        // Every series from the start, so that rates and alerts see a zero before the first.
        for kind in FEEDBACK_TYPES {
            for outcome in FEEDBACK_OUTCOMES {
                feedback.with_label_values(&[kind, outcome]);
            }
        }
        Self {
            feedback: register(&registry, feedback),
            emails: register(&registry, emails),
            render: register(&registry, render),
            transitions: register(&registry, transitions),
            activities: register(&registry, activities),
            backlog: register(&registry, backlog),
            backlog_age: register(&registry, backlog_age),
            registry,
        }
    }

    pub(crate) fn email(&self, provider: &str, kind: EmailKind, outcome: EmailOutcome) {
        self.emails.with_label_values(&[provider, kind.as_str(), outcome.as_str()]).inc();
    }

    /// An invoice's status changed from `from` to `to`.
    pub(crate) fn transition(&self, from: &str, to: &str) {
        self.transitions.with_label_values(&[from, to]).inc();
    }

    /// One attempt of the activity `activity_type` ended with `outcome`.
    pub fn activity(&self, activity_type: &str, outcome: ActivityOutcome) {
        self.activities.with_label_values(&[activity_type, outcome.as_str()]).inc();
    }

    pub(crate) fn rendered(&self, took: Duration) {
        self.render.observe(took.as_secs_f64());
    }

    /// The task queue's backlog of `kind` (`workflow` or `activity`), as last described.
    pub fn set_backlog(&self, kind: &str, count: i64, age: Duration) {
        self.backlog.with_label_values(&[kind]).set(count);
        self.backlog_age.with_label_values(&[kind]).set(age.as_secs_f64());
    }

    /// One bounce or complaint event (`kind`: `bounce` or `complaint`), recorded on an
    /// invoice's email or not matched to any.
    pub fn email_feedback(&self, kind: &str, recorded: bool) {
        let outcome = if recorded { "recorded" } else { "unmatched" };
        self.feedback.with_label_values(&[kind, outcome]).inc();
    }

    /// Everything, in Prometheus's text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::warn!(%error, "metrics: encoding failed");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// Registers `metric` (a handle to the same series) and answers it.
fn register<M: Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry.register(Box::new(metric.clone())).expect("each metric is registered once");
    metric
}

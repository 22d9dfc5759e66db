//! Counts every activity attempt this worker runs by activity type and outcome
//! (`invoice_worker_activities_total`), so that a failure rate can be read per activity and
//! alerted on (ActivityFailureRate in monitoring/prometheus/alerts.yml).

use std::sync::Arc;

use invoice_activities::metrics::{ActivityOutcome, WorkerMetrics};
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
};

/// The interceptor: registered on every worker that [`crate::build_worker`] builds.
pub(crate) struct CountActivities(pub(crate) Arc<WorkerMetrics>);

impl ActivityInboundInterceptor for CountActivities {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let activity_type = input.activity_info().activity_type.clone();
        let run = next.run(input);
        Box::pin(async move {
            let result = run.await;
            let outcome = match &result {
                Ok(_) => ActivityOutcome::Completed,
                Err(error) => outcome_of(error),
            };
            self.0.activity(&activity_type, outcome);
            result
        })
    }
}

/// How Temporal treats `error`.
fn outcome_of(error: &ActivityError) -> ActivityOutcome {
    match error {
        ActivityError::Application(failure) if failure.is_non_retryable() => {
            ActivityOutcome::NonRetryable
        }
        ActivityError::Application(_) => ActivityOutcome::Retryable,
        ActivityError::Cancelled { .. } => ActivityOutcome::Cancelled,
        // Completed later by someone else: nothing failed here.
        ActivityError::WillCompleteAsync => ActivityOutcome::Completed,
        // A kind this SDK version does not name yet: Temporal retries what is not marked
        // otherwise.
        _ => ActivityOutcome::Retryable,
    }
}

#[cfg(test)]
mod tests {
    use temporalio_sdk::ApplicationFailure;

    use super::*;

    #[test]
    fn failures_are_told_apart_as_temporal_treats_them() {
        let retryable = ActivityError::application(ApplicationFailure::builder("busy").build());
        let permanent = ActivityError::application(
            ApplicationFailure::builder("refused").non_retryable(true).build(),
        );
        assert_eq!(outcome_of(&retryable), ActivityOutcome::Retryable);
        assert_eq!(outcome_of(&permanent), ActivityOutcome::NonRetryable);
        assert_eq!(outcome_of(&ActivityError::cancelled()), ActivityOutcome::Cancelled);
    }
}

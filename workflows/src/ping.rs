//! `PingWorkflow`: the smallest useful workflow, one no-op activity. It proves end to end that a
//! worker polls the task queue and runs both workflow and activity tasks, which is what health
//! checks and benchmarks need to measure.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{ActivityOptions, RetryPolicy, WorkflowContext, WorkflowResult};

use crate::contracts::{Ping, PingInput, PingOutput};

/// Workflow type name of [`PingWorkflow`], for callers that start it by name.
pub const PING_WORKFLOW_TYPE: &str = "PingWorkflow";

/// A ping should answer in milliseconds; a generous bound still fails a stuck attempt quickly.
const PING_START_TO_CLOSE: Duration = Duration::from_secs(10);
/// Bounded retries: a health check must report a broken worker, not wait on it forever.
const PING_MAX_ATTEMPTS: u32 = 3;

/// Runs the `ping` activity once and returns its reply.
#[workflow]
#[derive(Default)]
pub struct PingWorkflow;

#[workflow_methods]
impl PingWorkflow {
    /// Workflow entry point.
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: PingInput,
    ) -> WorkflowResult<PingOutput> {
        let options = ActivityOptions::with_start_to_close_timeout(PING_START_TO_CLOSE)
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_millis(200))
                    .backoff_coefficient(2.0)
                    .maximum_interval(Duration::from_secs(2))
                    .maximum_attempts(PING_MAX_ATTEMPTS)
                    .build(),
            )
            .build();
        Ok(ctx.execute_activity(Ping, input, options).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_workflow::common::WorkflowDefinition;

    #[test]
    fn workflow_type_name_matches_the_constant() {
        assert_eq!(PingWorkflow::run.name(), PING_WORKFLOW_TYPE);
    }
}

//! `PingWorkflow`: the smallest useful workflow, one no-op activity. It proves end to end that a
//! worker polls the task queue and runs both workflow and activity tasks, which is what the
//! worker's start-up test and the benchmark's ceiling (`make bench`) measure. A development
//! tool (the `dev-tools` feature): the production worker registers only production workflows.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::common::ActivityDefinition;
use temporalio_workflow::{ActivityOptions, RetryPolicy, WorkflowContext, WorkflowResult};

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

/// `ping`: a no-op round trip through an activity worker, used by health checks and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ping;

/// Input of [`Ping`] (and of [`PingWorkflow`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingInput {
    /// Echoed back in the reply so a caller can match replies to requests.
    pub message: String,
}

/// Output of [`Ping`] (and of [`PingWorkflow`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingOutput {
    /// `pong: <message>`.
    pub reply: String,
}

impl PingOutput {
    /// The reply the `ping` activity gives to `input`; part of the contract so that callers
    /// can assert on it without knowing the format.
    pub fn for_input(input: &PingInput) -> Self {
        Self { reply: format!("pong: {}", input.message) }
    }
}

impl ActivityDefinition for Ping {
    type Input = PingInput;
    type Output = PingOutput;

    fn name(&self) -> &str {
        "ping"
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

    #[test]
    fn ping_activity_name_is_stable() {
        assert_eq!(Ping.name(), "ping");
    }

    #[test]
    fn reply_echoes_the_message() {
        let input = PingInput { message: "hello".into() };
        assert_eq!(PingOutput::for_input(&input).reply, "pong: hello");
    }

    #[test]
    fn ping_input_wire_shape_is_plain_json() {
        // The API starts workflows with JSON it builds itself; pin the wire shape.
        let json = serde_json::to_value(PingInput { message: "m".into() }).unwrap();
        assert_eq!(json, serde_json::json!({ "message": "m" }));
    }
}

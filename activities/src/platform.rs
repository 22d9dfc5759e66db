//! `PlatformActivities`: the `ping` activity of the development tools (`PingWorkflow`, the
//! worker's start-up test and the benchmark's ceiling). Production builds leave it out.

use std::sync::Arc;

use invoice_workflows::ping::{PingInput, PingOutput};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tracing::instrument;

/// The platform's activities, registered on the worker as one implementer.
#[derive(Debug, Default)]
pub struct PlatformActivities {}

impl PlatformActivities {
    /// The ping needs no clients.
    pub fn new() -> Self {
        Self::default()
    }
}

#[activities]
impl PlatformActivities {
    /// Answers a ping without touching anything, so its latency is the platform's own overhead.
    #[activity(definition = invoice_workflows::ping::Ping)]
    #[instrument(name = "ping", skip_all, fields(attempt = ctx.info().attempt))]
    pub async fn ping(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PingInput,
    ) -> Result<PingOutput, ActivityError> {
        Ok(PingOutput::for_input(&input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invoice_workflows::ping::Ping;
    use temporalio_common::ActivityDefinition;

    #[test]
    fn ping_is_registered_under_the_contract_name() {
        assert_eq!(PlatformActivities::ping.name(), Ping.name());
    }
}

//! Activity contracts: the name, input and output of every activity the workflows call.
//!
//! The workflows schedule activities through these marker types and the activities crate
//! implements them with `#[activity(definition = ...)]`, which fails to compile if its input or
//! output drifts from the contract. Names are spelled out rather than derived from Rust paths so
//! that renaming a Rust type never renames the activity type recorded in running histories.

use serde::{Deserialize, Serialize};
use temporalio_workflow::common::ActivityDefinition;

/// `ping`: a no-op round trip through an activity worker, used by health checks and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ping;

/// Input of [`Ping`] (and of [`crate::PingWorkflow`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingInput {
    /// Echoed back in the reply so a caller can match replies to requests.
    pub message: String,
}

/// Output of [`Ping`] (and of [`crate::PingWorkflow`]).
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

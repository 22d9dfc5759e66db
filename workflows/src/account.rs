//! `AccountEmailWorkflow`: one run per account email (verify an address, reset a password). The
//! API writes the link's row in `account_tokens` and starts the run with only the row's id; the
//! activity makes the link's secret, stores its hash on the row and mails the link. The secret
//! never enters the run's history, so support staff reading it in the Temporal UI cannot use it.
//!
//! A run outlives a mail outage: the send retries with backoff for as long as the link could
//! still be used, and then gives up (the user asks for a new link).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::common::ActivityDefinition;
use temporalio_workflow::{
    ActivityCloseTimeouts, ActivityOptions, RetryPolicy, WorkflowContext, WorkflowResult,
};
use uuid::Uuid;

/// Workflow type name of [`AccountEmailWorkflow`].
pub const ACCOUNT_EMAIL_WORKFLOW_TYPE: &str = "AccountEmailWorkflow";

const ACCOUNT_EMAIL_PREFIX: &str = "account-email:";

/// One send: below the SMTP and SES clients' own timeouts plus a margin, like the invoice email.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the send keeps trying: a reset link works for an hour, so a later mail is useless.
const SEND_DEADLINE: Duration = Duration::from_secs(60 * 60);

/// The workflow id of an account email: `account-email:<token id>` (one run per link).
pub fn account_email_workflow_id(token_id: Uuid) -> String {
    format!("{ACCOUNT_EMAIL_PREFIX}{token_id}")
}

/// Which link's email to send: the `account_tokens` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountEmailInput {
    pub token_id: Uuid,
}

/// What became of the email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountEmailOutcome {
    /// Mailed now.
    Sent,
    /// An earlier attempt mailed it.
    AlreadySent,
    /// Nothing to send: the link was used, expired or replaced before it could go.
    NotNeeded,
}

/// Sends the email of one account link.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendAccountEmail;

impl ActivityDefinition for SendAccountEmail {
    type Input = AccountEmailInput;
    type Output = AccountEmailOutcome;

    fn name(&self) -> &str {
        "send_account_email"
    }
}

/// Mails one account link.
#[workflow]
#[derive(Default)]
pub struct AccountEmailWorkflow;

#[workflow_methods]
impl AccountEmailWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: AccountEmailInput,
    ) -> WorkflowResult<AccountEmailOutcome> {
        let timeouts = ActivityCloseTimeouts::ScheduleAndStartToClose {
            schedule_to_close: SEND_DEADLINE,
            start_to_close: SEND_TIMEOUT,
        };
        let options = ActivityOptions::with_close_timeouts(timeouts)
            .summary("Send the account email".to_owned())
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_secs(1))
                    .backoff_coefficient(2.0)
                    .maximum_interval(Duration::from_secs(120))
                    .build(),
            )
            .build();
        Ok(ctx.execute_activity(SendAccountEmail, input, options).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_link_has_its_own_run() {
        let id: Uuid = "0190f3f5-1111-7222-8333-444455556666".parse().unwrap();
        assert_eq!(
            account_email_workflow_id(id),
            "account-email:0190f3f5-1111-7222-8333-444455556666"
        );
        // Not an invoice's run: ops tooling that maps runs to invoices leaves it alone.
        assert!(crate::parse_invoice_workflow_id(&account_email_workflow_id(id)).is_none());
    }
}

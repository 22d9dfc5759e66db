//! `RunError`: what can go wrong talking to an invoice's workflow, and its one mapping to the
//! HTTP error shape.

use invoice_workflows::invoice::RefusalCode;
use serde_json::json;
use temporalio_client::errors::{
    WorkflowStartError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::tonic::{self, Code};

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The workflow refused the update (its validator, with a code), or the update failed.
    #[error("refused: {message}")]
    Refused { code: Option<RefusalCode>, message: String },
    /// The run has ended: nothing can change the invoice through it any more.
    #[error("the invoice's workflow has finished")]
    Finished,
    /// A closed run already has this id (ids are business keys, reused never).
    #[error("a workflow with this id existed before")]
    AlreadyExists,
    /// Another update to the invoice held its turn for too long.
    #[error("the invoice is busy")]
    Busy,
    /// The run did not answer in time; what was asked may still happen.
    #[error("the workflow did not answer in time")]
    Timeout,
    /// Temporal did not answer.
    #[error("Temporal is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RunError {
    pub(super) fn unavailable(error: impl std::fmt::Display) -> Self {
        Self::Unavailable(error.to_string())
    }

    pub(super) fn from_update(error: WorkflowUpdateError) -> Self {
        match error {
            WorkflowUpdateError::Failed(failure) => Self::Refused {
                code: RefusalCode::of_failure(&failure),
                message: failure.message.clone(),
            },
            WorkflowUpdateError::NotFound(_) => Self::Finished,
            WorkflowUpdateError::PayloadConversion(e) => Self::Internal(anyhow::Error::new(e)),
            other => Self::unavailable(other),
        }
    }

    pub(super) fn from_update_with_start(error: WorkflowUpdateWithStartError) -> Self {
        match error {
            WorkflowUpdateWithStartError::Start(WorkflowStartError::AlreadyStarted { .. }) => {
                Self::AlreadyExists
            }
            WorkflowUpdateWithStartError::Update(error) => Self::from_update(error),
            WorkflowUpdateWithStartError::PayloadConversion(e) => {
                Self::Internal(anyhow::Error::new(e))
            }
            other => Self::unavailable(other),
        }
    }

    /// A reset Temporal turned down (the run is gone, or cannot be reset from where it is) is
    /// a refusal; anything else is Temporal not answering.
    pub(super) fn from_reset(status: tonic::Status) -> Self {
        match status.code() {
            Code::NotFound | Code::InvalidArgument | Code::FailedPrecondition => {
                Self::Refused { code: None, message: status.message().to_owned() }
            }
            _ => Self::unavailable(status.message()),
        }
    }

    /// Temporal admits only a few in-flight updates per run, and an update sent while its run
    /// moves on is aborted: neither was accepted, so asking again is safe.
    pub(super) fn is_busy(error: &WorkflowUpdateError) -> bool {
        matches!(error, WorkflowUpdateError::Rpc(status)
            if status.code() == Code::ResourceExhausted
                || (status.code() == Code::Unavailable
                    && status.message().contains("update was aborted")))
    }
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::Refused { code: Some(RefusalCode::NotStoredYet), .. } => {
                ApiError::Unavailable {
                    code: "invoice_not_ready",
                    message: "The invoice is still being stored; try again in a moment.".into(),
                    details: None,
                }
            }
            RunError::Refused { code, message } => ApiError::Conflict {
                code: "action_refused",
                message,
                details: Some(json!({ "refusal": code.map(|c| c.as_str()) })),
            },
            RunError::Finished => ApiError::conflict(
                "workflow_finished",
                "This invoice's workflow has finished; nothing can change it any more.",
            ),
            RunError::AlreadyExists => ApiError::conflict(
                "workflow_exists",
                "An invoice with this id existed before and cannot be created again.",
            ),
            RunError::Timeout => ApiError::Unavailable {
                code: "workflow_slow",
                message: "The invoice's workflow did not answer in time; read the invoice again \
                          shortly."
                    .into(),
                details: None,
            },
            RunError::Busy => ApiError::Unavailable {
                code: "invoice_busy",
                message: "Another change to this invoice is still under way; try again.".into(),
                details: None,
            },
            RunError::Unavailable(reason) => {
                tracing::warn!(%reason, "Temporal call failed");
                ApiError::Unavailable {
                    code: "workflow_service_unavailable",
                    message: "The workflow service is not reachable; try again shortly.".into(),
                    details: None,
                }
            }
            RunError::Internal(error) => ApiError::Internal(error),
        }
    }
}

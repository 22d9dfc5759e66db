//! Deterministic workflow code for the invoice platform: workflow types, the contracts of the
//! activities they call, task-queue names and workflow-id helpers.
//!
//! Nothing here may do I/O, read the clock or draw randomness: workflow code is replayed from
//! history, so the worker (which registers these types) and the API (which starts them by name)
//! both depend on this crate without pulling in any runtime.

pub mod account;
pub mod ids;
pub mod invoice;
#[cfg(feature = "dev-tools")]
pub mod ping;

pub use account::AccountEmailWorkflow;
pub use ids::{invoice_workflow_id, org_workflow_prefix, parse_invoice_workflow_id};
pub use invoice::InvoiceWorkflow;

/// The task queue every invoice workflow and activity runs on.
pub const TASK_QUEUE: &str = "invoices";

//! The invoice workflow and what it needs: its inputs and messages, the reminder schedule and
//! the search attributes support finds it by.

pub mod messages;
pub mod schedule;
pub mod search_attributes;
mod workflow;

pub use workflow::InvoiceWorkflow;

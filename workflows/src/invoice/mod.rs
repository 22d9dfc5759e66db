//! The invoice workflow and what it needs: its inputs and messages, the contracts of the
//! activities it calls, its pure state machine and validators, its steps, the idempotency keys
//! it derives, the reminder schedule and the search attributes support finds it by.

pub mod activities;
pub mod keys;
pub mod messages;
pub mod options;
pub mod refusal;
pub mod schedule;
pub mod search_attributes;
mod state;
mod steps;
mod workflow;

pub use refusal::{Refusal, RefusalCode};
pub use workflow::InvoiceWorkflow;

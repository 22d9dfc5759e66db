//! The worker's integration tests, in one binary (every test binary links the whole tree):
//! `InvoiceWorkflow` on Temporal's time-skipping test server, the recorded histories' replay,
//! and the real worker binary polling a real server.

mod invoice_workflow;
mod polls_task_queue;
mod support;

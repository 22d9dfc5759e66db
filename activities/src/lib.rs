//! Activity implementations: every side effect of the invoice workflows lives here, in structs
//! that hold the clients they need (database pool, object storage, mail, payments) so the worker
//! can inject real providers and tests can inject fakes.
//!
//! Each activity implements a contract from [`invoice_workflows::invoice::activities`]; the
//! `definition = ...` attribute makes a drift between contract and implementation a compile
//! error rather than a stuck workflow.

pub mod email;
pub mod invoices;
pub mod payments;
pub mod pdf;
#[cfg(feature = "dev-tools")]
mod platform;
pub use invoice_storage as storage;

pub use invoices::InvoiceActivities;
#[cfg(feature = "dev-tools")]
pub use platform::PlatformActivities;

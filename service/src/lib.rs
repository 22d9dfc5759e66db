//! What the API and the worker set up the same way, so that both read the same variables and
//! behave alike: the Temporal connection (the SDK's environment configuration: address,
//! namespace, TLS and API key from the standard `TEMPORAL_*` variables or a profile file),
//! logging, the database pool and the shutdown signals.

pub mod codec;
pub mod database;
pub mod environment;
pub mod shutdown;
pub mod telemetry;
pub mod temporal;
pub mod traces;

pub use environment::{AppEnv, EnvironmentArgs, PaymentProviderSetting, Refusal};
pub use telemetry::LogFormat;
pub use temporal::{ConnectError, TemporalArgs, TemporalSettings};

//! The workspace's integration tests, in one binary (every test binary links the whole tree):
//! the real router on a loopback port over a fresh database per test (`#[sqlx::test]`), the
//! real worker binary, Temporal, moto (S3, SES) and the mail catcher that `make test` starts.

#![expect(clippy::inconsistent_digit_grouping, reason = "amounts are written as units.cents")]

mod common;

mod accounts;
mod analytics;
mod architecture;
mod auth;
mod bounces;
mod compression;
mod customers;
mod errors;
mod invoice_validation;
mod invoices;
mod limits;
mod live;
mod metrics;
mod payments;
mod production;
mod support;
mod tenancy;
mod traces;
mod turns;

//! `make bench` and `make chaos`, in one binary (every binary links the whole tree); the first
//! argument picks the run:
//! - `e2e`: invoices through the API until sent, against the Temporal server's ceiling;
//! - `search`: invoice search over a million invoices, against its bare SQL;
//! - `chaos`: invoices while the worker, the API and Temporal die, then what was lost.
//!
//! `cargo test --bench runs -- e2e` (the scripts set each run's environment).

mod chaos;
mod e2e;
mod search;
mod support;

#[tokio::main]
async fn main() {
    let run = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    match run.as_deref() {
        Some("e2e") => e2e::run().await,
        Some("search") => search::run().await,
        Some("chaos") => chaos::run().await,
        other => {
            eprintln!("which run? `cargo test --bench runs -- e2e|search|chaos` (got {other:?})");
            std::process::exit(2);
        }
    }
}

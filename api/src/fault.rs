//! Fault injection for `make chaos` (scripts/chaos.sh): the API process dies at a named point
//! of creating an invoice, the way a crash or an OOM kill would take it, so the chaos run can
//! check that no invoice is left without its workflow and no workflow without its row.
//!
//! Off unless `FAULT_CRASH_EVERY=<n>` is set: then every n-th invoice creation aborts the
//! process at `FAULT_CRASH_AT` (`before_workflow_start`, the default: the request is accepted
//! and validated, its customer stored, its workflow not started; or `after_workflow_start`: the
//! workflow runs but the client never hears of it). A development tool: builds without the
//! `dev-tools` feature (production's) contain none of it.

#[cfg(feature = "dev-tools")]
use std::sync::OnceLock;
#[cfg(feature = "dev-tools")]
use std::sync::atomic::{AtomicU64, Ordering};

/// Where in `POST /api/invoices` the process may die.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    BeforeWorkflowStart,
    AfterWorkflowStart,
}

#[cfg(feature = "dev-tools")]
struct Plan {
    every: u64,
    at: CrashPoint,
}

#[cfg(feature = "dev-tools")]
fn plan() -> Option<&'static Plan> {
    static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let every =
            std::env::var("FAULT_CRASH_EVERY").ok()?.parse::<u64>().ok().filter(|&n| n > 0)?;
        let at = match std::env::var("FAULT_CRASH_AT").as_deref() {
            Ok("after_workflow_start") => CrashPoint::AfterWorkflowStart,
            _ => CrashPoint::BeforeWorkflowStart,
        };
        tracing::warn!(every, ?at, "fault injection is on: this process will abort on purpose");
        Some(Plan { every, at })
    })
    .as_ref()
}

/// Does nothing: production builds have no fault injection.
#[cfg(not(feature = "dev-tools"))]
pub fn maybe_crash(_point: CrashPoint) {}

/// Aborts the process here if the fault plan says this is the n-th pass.
#[cfg(feature = "dev-tools")]
pub fn maybe_crash(point: CrashPoint) {
    static PASSES: AtomicU64 = AtomicU64::new(0);
    let Some(plan) = plan().filter(|p| p.at == point) else { return };
    if (PASSES.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(plan.every) {
        eprintln!("fault injection: aborting at {point:?}");
        std::process::abort();
    }
}

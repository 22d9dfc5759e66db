//! Panics that belong to one activity. The worker's panic hook ends the process on a panic
//! anywhere (a dead Temporal core thread would leave it polling nothing), but a panic inside
//! code we run for one invoice, such as the typst render, is a fault of that invoice: it must
//! fail that activity and leave the worker serving the others.
//!
//! [`contain`] runs a closure with a flag set on the current thread and catches its unwind; the
//! hook asks [`is_contained`] on the panicking thread and lets a contained panic unwind.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// True while the current thread runs a closure under [`contain`]. A panic hook calls it: the
/// hook runs on the thread that panicked.
pub fn is_contained() -> bool {
    CONTAINED.with(Cell::get)
}

/// Runs `f`; a panic in it (on this thread) becomes `Err` with the panic's message instead of
/// unwinding further, and the worker's hook lets it pass instead of ending the process.
///
/// Only for code whose state dies with the call: `f` is treated as unwind-safe because nothing
/// it touched is used after a panic (the renderer keeps only caches, which typst's own
/// memoization tolerates being abandoned mid-way).
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let outer = CONTAINED.replace(true);
    let result = catch_unwind(AssertUnwindSafe(f));
    CONTAINED.set(outer);
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panicked with a non-text payload".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_the_flag_is_restored() {
        assert!(!is_contained());
        assert_eq!(contain(|| 7), Ok(7));
        assert_eq!(contain::<()>(|| panic!("boom {}", 1)), Err("boom 1".to_owned()));
        assert_eq!(
            contain::<()>(|| std::panic::panic_any(5_u8)).unwrap_err(),
            "panicked with a non-text payload"
        );
        assert!(!is_contained());
        // Nested: the inner call leaves the outer one contained.
        let inner = contain(|| {
            let _ = contain::<()>(|| panic!("inner"));
            is_contained()
        });
        assert_eq!(inner, Ok(true));
        assert!(!is_contained());
    }
}

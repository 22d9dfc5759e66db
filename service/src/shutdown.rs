//! The signals that stop a binary: SIGTERM (orchestrators) and SIGINT (Ctrl-C in `make dev`).

use tokio::signal::unix::{Signal, SignalKind, signal};

pub struct ShutdownSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl std::fmt::Debug for ShutdownSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownSignals").finish_non_exhaustive()
    }
}

impl ShutdownSignals {
    /// Installs the handlers. Installed early, a stop request while the binary still starts up
    /// is a clean exit rather than the default signal disposition killing the process.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next shutdown signal and names it.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

//! The API's Temporal client: connected on first use and shared by every request.
//!
//! The API must start and answer `/health` while Temporal is still booting or down, so nothing
//! connects at start-up and every call is bounded by a timeout. Once connected, the underlying
//! gRPC channel reconnects by itself, so the cached client stays usable across a Temporal
//! restart. A failed connection is not cached: the next call tries again.

use std::sync::Arc;
use std::time::Duration;

use invoice_service::TemporalSettings;
use invoice_service::temporal::{ConnectError, check_namespace, connect};
use temporalio_client::Client;
use tokio::sync::OnceCell;

/// Bound on establishing a connection (TCP connect, `GetSystemInfo`, the namespace check).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on the readiness check, connection included: `/ready` must answer promptly.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub(super) struct Connection {
    settings: Arc<TemporalSettings>,
    client: Arc<OnceCell<Client>>,
}

impl Connection {
    pub(super) fn new(settings: TemporalSettings) -> Self {
        Self { settings: Arc::new(settings), client: Arc::new(OnceCell::new()) }
    }

    pub(super) fn settings(&self) -> &TemporalSettings {
        &self.settings
    }

    /// The shared client; concurrent first callers share one connection attempt.
    pub(super) async fn client(&self) -> Result<Client, ConnectError> {
        self.client.get_or_try_init(|| connect(&self.settings, CONNECT_TIMEOUT)).await.cloned()
    }

    /// Readiness: Temporal answers for our namespace within [`CHECK_TIMEOUT`].
    pub(super) async fn check(&self) -> Result<(), ConnectError> {
        let check = async {
            let client = self.client().await?;
            check_namespace(&client, &self.settings.namespace, CHECK_TIMEOUT).await
        };
        tokio::time::timeout(CHECK_TIMEOUT, check).await.map_err(|_| ConnectError::Timeout {
            address: self.settings.address.clone(),
            timeout: CHECK_TIMEOUT,
        })?
    }

    #[cfg(test)]
    pub(super) fn is_connected(&self) -> bool {
        self.client.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_down_server_fails_fast_and_is_tried_again_on_next_use() {
        // Nothing listens on loopback port 1: refused at once, no server needed.
        let connection =
            Connection::new(TemporalSettings::plain("127.0.0.1:1", "default", "q").unwrap());
        for _ in 0..2 {
            let error = connection.check().await.unwrap_err();
            assert!(matches!(error, ConnectError::Connect { .. }), "{error:?}");
        }
        assert!(!connection.is_connected());
    }
}

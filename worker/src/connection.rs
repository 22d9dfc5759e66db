//! Connecting to Temporal: one bounded attempt, and a retry loop for process start-up, when the
//! server may still be booting (`make dev` starts the worker and the dev server together).

use std::time::{Duration, Instant};

use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, Url,
    errors::{ClientConnectError, ClientNewError},
    grpc::WorkflowService,
    tonic::{self, Code},
};
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
use tracing::{info, warn};

/// Bound on one connection attempt (TCP connect, then the namespace check), so an address that
/// drops packets fails an attempt instead of hanging it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where the Temporal frontend is and which namespace to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporalConfig {
    /// `host:port` or a URL such as `http://127.0.0.1:7233`.
    pub address: String,
    /// Namespace the client is bound to.
    pub namespace: String,
}

/// Errors connecting to Temporal.
///
/// Messages are self-contained one-liners (the SDK's own connect error prints a `Debug` dump),
/// so a retry log line or the final error reads well in both JSON and terminal logs.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address is neither `host:port` nor a URL with a host.
    #[error("invalid Temporal address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// The transport could not connect, or the server did not answer `GetSystemInfo`.
    #[error("cannot connect to Temporal at {address}: {reason}")]
    Connect { address: String, reason: String, cause: ClientConnectError },
    /// The client options were rejected.
    #[error("cannot create a Temporal client: {0}")]
    Client(ClientNewError),
    /// The server answered, but not for this namespace.
    #[error(
        "Temporal namespace {namespace:?} is not available: {:?}: {}",
        status.code(),
        status.message()
    )]
    Namespace { namespace: String, status: tonic::Status },
    /// One attempt took longer than its bound.
    #[error("Temporal at {address} did not answer within {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    /// Retries ran out; the source is the last attempt's error.
    #[error(
        "Temporal at {address} (namespace {namespace:?}) was not ready after {attempts} \
         attempts over {waited:?}; is the server running?"
    )]
    GaveUp {
        address: String,
        namespace: String,
        attempts: u32,
        waited: Duration,
        #[source]
        last: Box<ConnectError>,
    },
}

impl ConnectError {
    fn connect(address: &str, cause: ClientConnectError) -> Self {
        let reason = match &cause {
            ClientConnectError::SystemInfoCallError(status) => {
                format!("GetSystemInfo failed: {:?}: {}", status.code(), status.message())
            }
            // The innermost error says what actually happened ("Connection refused").
            other => {
                let mut root: &dyn std::error::Error = other;
                while let Some(source) = root.source() {
                    root = source;
                }
                root.to_string()
            }
        };
        Self::Connect { address: address.to_owned(), reason, cause }
    }

    /// Whether trying again later can succeed: configuration mistakes cannot.
    fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidAddress { .. } | Self::Client(_) | Self::GaveUp { .. } => false,
            Self::Connect { cause, .. } => matches!(
                cause,
                ClientConnectError::TonicTransportError(_)
                    | ClientConnectError::SystemInfoCallError(_)
                    | ClientConnectError::DnsResolutionError { .. }
            ),
            Self::Namespace { status, .. } => !matches!(
                status.code(),
                Code::PermissionDenied | Code::Unauthenticated | Code::InvalidArgument
            ),
            Self::Timeout { .. } => true,
        }
    }
}

/// Parses a Temporal address. Temporal's own tools take `host:port` (the CLI's
/// `TEMPORAL_ADDRESS`); the Rust client wants a URL, so a bare `host:port` gets `http://`.
pub fn parse_address(address: &str) -> Result<Url, ConnectError> {
    let with_scheme =
        if address.contains("://") { address.to_owned() } else { format!("http://{address}") };
    let invalid =
        |reason: String| ConnectError::InvalidAddress { address: address.to_owned(), reason };
    let url = Url::parse(&with_scheme).map_err(|error| invalid(error.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_owned()));
    }
    Ok(url)
}

/// One bounded attempt: connect, then check that the namespace exists.
///
/// The namespace check matters at start-up: the dev server accepts connections slightly before
/// it has registered its namespaces, and a worker polling a missing namespace fails for good.
pub async fn connect(config: &TemporalConfig) -> Result<Client, ConnectError> {
    let url = parse_address(&config.address)?;
    let attempt = async {
        let options = ConnectionOptions::new(url).connect_timeout(ATTEMPT_TIMEOUT).build();
        let connection = Connection::connect(options)
            .await
            .map_err(|cause| ConnectError::connect(&config.address, cause))?;
        let client = Client::new(connection, ClientOptions::new(&config.namespace).build())
            .map_err(ConnectError::Client)?;
        let mut request = tonic::Request::new(DescribeNamespaceRequest {
            namespace: config.namespace.clone(),
            ..Default::default()
        });
        request.set_timeout(ATTEMPT_TIMEOUT);
        let mut service = client.clone();
        WorkflowService::describe_namespace(&mut service, request).await.map_err(|status| {
            ConnectError::Namespace { namespace: config.namespace.clone(), status }
        })?;
        Ok(client)
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await.map_err(|_| ConnectError::Timeout {
        address: config.address.clone(),
        timeout: ATTEMPT_TIMEOUT,
    })?
}

/// Connects, retrying with exponential backoff for up to `budget` while the server is not up.
///
/// Every failed attempt is logged with the reason and the delay before the next one, so a worker
/// waiting for a booting server says so instead of looking hung.
pub async fn connect_with_retry(
    config: &TemporalConfig,
    budget: Duration,
) -> Result<Client, ConnectError> {
    let started = Instant::now();
    let mut backoff = INITIAL_BACKOFF;
    let mut attempt: u32 = 1;
    loop {
        let error = match connect(config).await {
            Ok(client) => {
                info!(
                    address = %config.address,
                    namespace = %config.namespace,
                    attempt,
                    "connected to Temporal"
                );
                return Ok(client);
            }
            Err(error) if !error.is_retryable() => return Err(error),
            Err(error) => error,
        };
        let waited = started.elapsed();
        if waited + backoff > budget {
            return Err(ConnectError::GaveUp {
                address: config.address.clone(),
                namespace: config.namespace.clone(),
                attempts: attempt,
                waited,
                last: Box::new(error),
            });
        }
        warn!(
            address = %config.address,
            namespace = %config.namespace,
            attempt,
            retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
            error = %error,
            "Temporal is not ready yet; retrying"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_host_port_gets_http() {
        let url = parse_address("127.0.0.1:7233").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:7233/");
    }

    #[test]
    fn urls_are_kept() {
        let url = parse_address("https://ns.tmprl.cloud:7233").unwrap();
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.host_str(), Some("ns.tmprl.cloud"));
        assert_eq!(url.port(), Some(7233));
    }

    #[test]
    fn garbage_is_rejected() {
        for address in ["", "http://", "not a host:port"] {
            assert!(
                matches!(parse_address(address), Err(ConnectError::InvalidAddress { .. })),
                "{address:?}"
            );
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_retryable_and_gives_up_within_budget() {
        // Port 1 on loopback: connection refused immediately, no server needed.
        let config = TemporalConfig { address: "127.0.0.1:1".into(), namespace: "default".into() };
        let error = connect(&config).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");

        let error = connect_with_retry(&config, Duration::ZERO).await.unwrap_err();
        assert!(matches!(error, ConnectError::GaveUp { attempts: 1, .. }), "{error:?}");
        assert!(error.to_string().contains("127.0.0.1:1"));
    }
}

//! Temporal access for the API: a lazily connected, cached client, the readiness check behind
//! `/ready`, and the few workflow operations handlers need (start by type name, describe).
//!
//! The API must start and answer `/health` while Temporal is still booting or down, so nothing
//! here connects at start-up and every call is bounded by a timeout. Once connected, the
//! underlying gRPC channel reconnects by itself, so the cached client stays usable across a
//! Temporal restart.

use std::{sync::Arc, time::Duration};

use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, UntypedWorkflow,
    WorkflowExecutionDescription, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowStartOptions,
    errors::{
        ClientConnectError, WorkflowInteractionError, WorkflowStartError, WorkflowUpdateError,
    },
    grpc::WorkflowService,
    tonic::{self, Code},
};
use temporalio_common::{
    data_converters::{
        GenericPayloadConverter, PayloadConversionError, RawValue, SerializationContext,
        SerializationContextData, WorkflowSerializationContext,
    },
    protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest,
};
use tokio::sync::OnceCell;

/// Bound on establishing a connection (TCP connect plus the client's `GetSystemInfo` call).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on the readiness check, connection included: `/ready` must answer promptly.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound on one workflow operation, including the client's own retries.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors talking to Temporal. Handlers map `AlreadyStarted` to 409, `NotFound` to 404 and the
/// rest to 503.
#[derive(Debug, thiserror::Error)]
pub enum TemporalError {
    /// `TEMPORAL_ADDRESS` is neither `host:port` nor a URL with a host.
    #[error("invalid Temporal address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// Nothing answered at the address, or it did not speak Temporal.
    #[error("Temporal at {address} is unavailable: {reason}")]
    Unavailable { address: String, reason: String },
    /// Temporal did not answer within the bound.
    #[error("Temporal did not answer within {0:?}")]
    Timeout(Duration),
    /// The server answered but not for the namespace.
    #[error("Temporal namespace {namespace:?} is not available: {message}")]
    Namespace { namespace: String, message: String },
    /// A workflow with this id exists (running or closed): ids are business keys, started with
    /// reject-duplicate.
    #[error("workflow {workflow_id} already exists")]
    AlreadyStarted { workflow_id: String },
    /// No workflow with this id.
    #[error("workflow {workflow_id} not found")]
    NotFound { workflow_id: String },
    /// The workflow input could not be encoded.
    #[error("cannot encode the workflow input")]
    Payload(#[source] PayloadConversionError),
    /// Any other failed call.
    #[error("Temporal request failed: {0:?}: {1}")]
    Rpc(Code, String),
}

impl TemporalError {
    fn rpc(status: &tonic::Status) -> Self {
        Self::Rpc(status.code(), status.message().to_owned())
    }
}

/// Where a started workflow run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedWorkflow {
    pub workflow_id: String,
    /// Set by the server on start; `None` only if the server did not report it.
    pub run_id: Option<String>,
}

/// Connects once, bounded by [`CONNECT_TIMEOUT`]. Accepts `host:port` (as Temporal's own tools
/// do) or a URL.
pub async fn connect(address: &str, namespace: &str) -> Result<Client, TemporalError> {
    let url = parse_address(address)?;
    let options = ConnectionOptions::new(url).connect_timeout(CONNECT_TIMEOUT).build();
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(options))
        .await
        .map_err(|_| TemporalError::Timeout(CONNECT_TIMEOUT))?
        .map_err(|error| TemporalError::Unavailable {
            address: address.to_owned(),
            reason: connect_failure_reason(&error),
        })?;
    Client::new(connection, ClientOptions::new(namespace).build()).map_err(|error| {
        TemporalError::Unavailable { address: address.to_owned(), reason: error.to_string() }
    })
}

/// A Temporal client that connects on first use and is shared by every request.
///
/// Cheap to clone; put it in `AppState`. A failed connection is not cached, so the next call
/// tries again: the API recovers by itself once Temporal comes up.
#[derive(Debug, Clone)]
pub struct TemporalHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    address: String,
    namespace: String,
    client: OnceCell<Client>,
}

impl TemporalHandle {
    /// A handle that has not connected yet; nothing happens until the first call.
    pub fn new(address: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(HandleInner {
                address: address.into(),
                namespace: namespace.into(),
                client: OnceCell::new(),
            }),
        }
    }

    /// The namespace every call is bound to.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The shared client, connecting first if no connection has succeeded yet. Concurrent
    /// callers share one connection attempt.
    pub async fn client(&self) -> Result<Client, TemporalError> {
        self.inner
            .client
            .get_or_try_init(|| connect(&self.inner.address, &self.inner.namespace))
            .await
            .cloned()
    }

    /// Readiness: Temporal answers for our namespace within [`CHECK_TIMEOUT`].
    pub async fn check(&self) -> Result<(), TemporalError> {
        let check = async {
            let mut client = self.client().await?;
            let mut request = tonic::Request::new(DescribeNamespaceRequest {
                namespace: self.inner.namespace.clone(),
                ..Default::default()
            });
            request.set_timeout(CHECK_TIMEOUT);
            WorkflowService::describe_namespace(&mut client, request).await.map(drop).map_err(
                |status| match status.code() {
                    Code::NotFound => TemporalError::Namespace {
                        namespace: self.inner.namespace.clone(),
                        message: status.message().to_owned(),
                    },
                    _ => TemporalError::rpc(&status),
                },
            )
        };
        tokio::time::timeout(CHECK_TIMEOUT, check)
            .await
            .map_err(|_| TemporalError::Timeout(CHECK_TIMEOUT))?
    }
}

/// Starts a workflow by type name with a JSON input, rejecting a duplicate id even if the
/// earlier run has closed.
///
/// If this times out the start may still have happened; retrying is safe because a second
/// start of the same id fails with [`TemporalError::AlreadyStarted`].
pub async fn start_workflow(
    client: &Client,
    workflow_type: &str,
    workflow_id: &str,
    task_queue: &str,
    input: &serde_json::Value,
) -> Result<StartedWorkflow, TemporalError> {
    let converter = client.options().data_converter.payload_converter();
    let context_data = SerializationContextData::Workflow(WorkflowSerializationContext::new());
    let payload = converter
        .to_payload(&SerializationContext::new(&context_data, converter), input)
        .map_err(TemporalError::Payload)?;
    let options = WorkflowStartOptions::new(task_queue, workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        .build();
    let start = client.start_workflow(
        UntypedWorkflow::new(workflow_type),
        RawValue::new(vec![payload]),
        options,
    );
    let handle = tokio::time::timeout(REQUEST_TIMEOUT, start)
        .await
        .map_err(|_| TemporalError::Timeout(REQUEST_TIMEOUT))?
        .map_err(|error| match error {
            WorkflowStartError::AlreadyStarted { .. } => {
                TemporalError::AlreadyStarted { workflow_id: workflow_id.to_owned() }
            }
            WorkflowStartError::PayloadConversion(error) => TemporalError::Payload(error),
            WorkflowStartError::Rpc(status) => TemporalError::rpc(&status),
            other => TemporalError::Rpc(Code::Unknown, other.to_string()),
        })?;
    Ok(StartedWorkflow {
        workflow_id: workflow_id.to_owned(),
        run_id: handle.run_id().map(str::to_owned),
    })
}

/// Describes the latest run of a workflow: status, type, times, search attributes.
pub async fn describe_workflow(
    client: &Client,
    workflow_id: &str,
) -> Result<WorkflowExecutionDescription, TemporalError> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
    tokio::time::timeout(REQUEST_TIMEOUT, handle.describe(Default::default()))
        .await
        .map_err(|_| TemporalError::Timeout(REQUEST_TIMEOUT))?
        .map_err(|error| match error {
            WorkflowInteractionError::NotFound(_) => {
                TemporalError::NotFound { workflow_id: workflow_id.to_owned() }
            }
            WorkflowInteractionError::Rpc(status) => TemporalError::rpc(&status),
            WorkflowInteractionError::PayloadConversion(error) => TemporalError::Payload(error),
            other => TemporalError::Rpc(Code::Unknown, other.to_string()),
        })
}

/// Temporal's tools take `host:port`; the Rust client wants a URL.
fn parse_address(address: &str) -> Result<temporalio_client::Url, TemporalError> {
    let with_scheme =
        if address.contains("://") { address.to_owned() } else { format!("http://{address}") };
    let invalid =
        |reason: String| TemporalError::InvalidAddress { address: address.to_owned(), reason };
    let url = temporalio_client::Url::parse(&with_scheme).map_err(|e| invalid(e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_owned()));
    }
    Ok(url)
}

/// The SDK's connect error prints a `Debug` dump; the innermost cause says what happened.
fn connect_failure_reason(error: &ClientConnectError) -> String {
    if let ClientConnectError::SystemInfoCallError(status) = error {
        return format!("{:?}: {}", status.code(), status.message());
    }
    let mut root: &dyn std::error::Error = error;
    while let Some(source) = root.source() {
        root = source;
    }
    root.to_string()
}

/// How long an update waits for its turn when its workflow is busy.
pub const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Runs an update call again while Temporal says it cannot take it now, so that a burst on one
/// invoice (fifty payments and voids at once) waits its turn instead of turning into 503s:
/// - RESOURCE_EXHAUSTED: the server admits only a few in-flight updates per workflow;
/// - UNAVAILABLE "workflow update was aborted": the run moved on (a void completed it) before
///   the update was accepted; asked again, the caller gets the run's real answer.
///
/// Neither was accepted, so calling again is safe (and with an update id it is deduplicated
/// anyway); after [`BUSY_WAIT`] the last answer is returned.
pub async fn retry_while_busy<T, F, Fut>(mut call: F) -> Result<T, WorkflowUpdateError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, WorkflowUpdateError>>,
{
    let deadline = tokio::time::Instant::now() + BUSY_WAIT;
    let mut delay = Duration::from_millis(20);
    loop {
        match call().await {
            Err(WorkflowUpdateError::Rpc(status))
                if (status.code() == Code::ResourceExhausted
                    || (status.code() == Code::Unavailable
                        && status.message().contains("update was aborted")))
                    && tokio::time::Instant::now() < deadline =>
            {
                // Jittered so that a burst does not come back as one burst.
                let jitter = rand::random_range(0..=delay.as_millis() as u64);
                tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
                delay = (delay * 2).min(Duration::from_millis(400));
            }
            other => return other,
        }
    }
}

/// Holds a per-workflow turn: this process sends one update at a time to a workflow.
///
/// Temporal takes concurrent updates, but a burst of them on one run while it runs a local
/// activity has made the Rust SDK core (0.10.1) panic ("Trying to send a new WFT for a run
/// which already has one!") and leave the run's accounting incoherent: payments recorded whose
/// callers were told they were refused. Updates are milliseconds each, so queueing them per
/// invoice costs a burst little; replicas of the API still each send their own.
pub async fn update_turn(workflow_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex, Weak};
    type Turns = Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>;
    static TURNS: LazyLock<Turns> = LazyLock::new(Default::default);
    let turn = {
        let mut turns = TURNS.lock().unwrap_or_else(|e| e.into_inner());
        turns.retain(|_, turn| turn.strong_count() > 0);
        match turns.get(workflow_id).and_then(Weak::upgrade) {
            Some(turn) => turn,
            None => {
                let turn = Arc::new(tokio::sync::Mutex::new(()));
                turns.insert(workflow_id.to_owned(), Arc::downgrade(&turn));
                turn
            }
        }
    };
    turn.lock_owned().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_accept_host_port_and_urls() {
        assert_eq!(parse_address("127.0.0.1:7233").unwrap().as_str(), "http://127.0.0.1:7233/");
        assert_eq!(parse_address("https://example.tmprl.cloud:7233").unwrap().scheme(), "https");
        assert!(matches!(parse_address("http://"), Err(TemporalError::InvalidAddress { .. })));
    }

    #[tokio::test]
    async fn down_server_fails_fast_and_is_retried_on_next_use() {
        // Nothing listens on loopback port 1: refused at once, no server needed.
        let handle = TemporalHandle::new("127.0.0.1:1", "default");
        for _ in 0..2 {
            let error = handle.check().await.unwrap_err();
            assert!(matches!(error, TemporalError::Unavailable { .. }), "{error:?}");
        }
        assert!(handle.inner.client.get().is_none());
    }

    #[tokio::test]
    async fn silent_server_times_out_instead_of_hanging() {
        // The kernel completes the TCP handshake on a bound listener, but nothing ever speaks
        // gRPC: the shape of a wedged or half-started server.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let handle = TemporalHandle::new(listener.local_addr().unwrap().to_string(), "default");
        let error = handle.check().await.unwrap_err();
        assert!(matches!(error, TemporalError::Timeout(_)), "{error:?}");
    }
}

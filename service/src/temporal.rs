//! Connecting to Temporal, the same way from the API and the worker.
//!
//! Settings come through the SDK's environment configuration, so the standard variables and
//! profile file work: `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY` (Temporal
//! Cloud), `TEMPORAL_TLS`, `TEMPORAL_TLS_CLIENT_CERT_PATH`/`_DATA`, `TEMPORAL_TLS_CLIENT_KEY_PATH`
//! /`_DATA`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH`/`_DATA`, `TEMPORAL_TLS_SERVER_NAME`,
//! `TEMPORAL_GRPC_META_*`, and a profile (`TEMPORAL_PROFILE`) of the TOML file at
//! `TEMPORAL_CONFIG_FILE` (or the default path). The address and namespace can also be given as
//! flags, which win.

use std::time::{Duration, Instant};

use secrecy::ExposeSecret as _;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions,
    errors::{ClientConnectError, ClientNewError},
    grpc::WorkflowService,
    tonic::{self, Code},
};
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadConverter,
};
use temporalio_common::envconfig::{
    ConfigError, LoadClientConfigProfileOptions, load_client_config_profile,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
use tracing::{info, warn};

use crate::codec::{EncryptionCodec, PayloadKeys};

/// Where `make dev` runs the Temporal dev server, when nothing else is configured.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7233";
pub const DEFAULT_NAMESPACE: &str = "default";

/// Key ids `make dev` gives the keys it makes; production refuses to encrypt with one.
pub const DEV_KEY_PREFIX: &str = "dev-only";

const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The flags; every other setting is read by the SDK's environment configuration (above).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TemporalArgs {
    /// Temporal frontend, `host:port` or a URL (default: the profile's, else 127.0.0.1:7233).
    #[arg(long = "temporal-address", env = "TEMPORAL_ADDRESS")]
    pub address: Option<String>,
    /// Temporal namespace (default: the profile's, else `default`).
    #[arg(long = "temporal-namespace", env = "TEMPORAL_NAMESPACE")]
    pub namespace: Option<String>,
    /// Task queue the invoice workflows and activities run on.
    #[arg(
        long = "temporal-task-queue",
        env = "TEMPORAL_TASK_QUEUE",
        default_value = invoice_workflows::TASK_QUEUE
    )]
    pub task_queue: String,
    /// Keys sealing every workflow and activity payload, `<id>:<base64 32 bytes>` separated by
    /// commas; the first encrypts, all decrypt (see `invoice_service::codec`). Required in
    /// production; unset or empty elsewhere: payloads travel as plain JSON. The API and the
    /// workers must share them.
    #[arg(
        long = "payload-encryption-keys",
        env = "PAYLOAD_ENCRYPTION_KEYS",
        hide_env_values = true
    )]
    pub payload_encryption_keys: Option<secrecy::SecretString>,
}

/// Resolved connection settings.
#[derive(Debug, Clone)]
pub struct TemporalSettings {
    /// As configured, for logs and messages.
    pub address: String,
    pub namespace: String,
    pub task_queue: String,
    /// True when TLS (or an API key, which implies TLS) is configured.
    pub tls: bool,
    /// Seal payloads with these (`PAYLOAD_ENCRYPTION_KEYS`); `None`: plain payloads.
    pub payload_keys: Option<PayloadKeys>,
    connection: ConnectionOptions,
}

/// The Temporal settings do not make a connection.
#[derive(Debug, thiserror::Error)]
#[error("Temporal settings: {0}")]
pub struct SettingsError(String);

impl From<ConfigError> for SettingsError {
    fn from(error: ConfigError) -> Self {
        Self(error.to_string())
    }
}

impl TemporalSettings {
    /// Reads the profile file and the `TEMPORAL_*` variables, then applies the flags. An
    /// `http://` address with TLS configured is an error: the SDK would keep the scheme and send
    /// everything, API key included, in plain text.
    pub fn load(args: &TemporalArgs) -> Result<Self, SettingsError> {
        let settings = Self::read(args)?;
        match settings.plaintext_despite_tls() {
            Some(problem) => Err(SettingsError(format!("TEMPORAL_ADDRESS {problem}"))),
            None => Ok(settings),
        }
    }

    /// What is wrong when TLS is configured but the address names plain `http://`.
    fn plaintext_despite_tls(&self) -> Option<String> {
        (self.tls && self.connection.target.scheme() == "http").then(|| {
            format!(
                "is {} (plain http://) while TLS is configured: use https:// or host:port, or \
                 the connection and its credentials would go unencrypted",
                self.address
            )
        })
    }

    fn read(args: &TemporalArgs) -> Result<Self, SettingsError> {
        let mut profile =
            load_client_config_profile(LoadClientConfigProfileOptions::default(), None)?;
        if let Some(address) = &args.address {
            profile.address = Some(address.clone());
        }
        if let Some(namespace) = &args.namespace {
            profile.namespace = Some(namespace.clone());
        }
        let address = profile.address.get_or_insert_with(|| DEFAULT_ADDRESS.to_owned()).clone();
        let namespace = profile.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        let connection = ConnectionOptions::try_from(profile)?;
        let payload_keys = match args.payload_encryption_keys.as_ref().map(|k| k.expose_secret()) {
            Some(spec) if !spec.trim().is_empty() => {
                Some(PayloadKeys::parse(spec).map_err(|e| SettingsError(e.to_string()))?)
            }
            _ => None,
        };
        Ok(Self {
            address,
            namespace,
            task_queue: args.task_queue.clone(),
            tls: connection.tls_options.is_some(),
            payload_keys,
            connection,
        })
    }

    /// Settings for a plain connection to `address` (tests, local tools).
    pub fn plain(address: &str, namespace: &str, task_queue: &str) -> Result<Self, SettingsError> {
        let profile = temporalio_client::envconfig::ClientConfigProfile::builder()
            .address(address)
            .namespace(namespace)
            .build();
        let connection = ConnectionOptions::try_from(profile)?;
        Ok(Self {
            address: address.to_owned(),
            namespace: namespace.to_owned(),
            task_queue: task_queue.to_owned(),
            tls: false,
            payload_keys: None,
            connection,
        })
    }

    /// These settings, sealing payloads with `keys`.
    pub fn with_payload_keys(mut self, keys: Option<PayloadKeys>) -> Self {
        self.payload_keys = keys;
        self
    }

    /// The client options: the namespace, and the codec when payloads are sealed.
    fn client_options(&self) -> ClientOptions {
        let interceptors = crate::traces::client_interceptors();
        match &self.payload_keys {
            Some(keys) => ClientOptions::new(&self.namespace)
                .data_converter(DataConverter::new(
                    PayloadConverter::default(),
                    DefaultFailureConverter::default(),
                    EncryptionCodec(keys.clone()),
                ))
                .client_interceptors(interceptors)
                .build(),
            None => ClientOptions::new(&self.namespace).client_interceptors(interceptors).build(),
        }
    }
}

/// In production the connection to Temporal must be encrypted: `TEMPORAL_TLS=true`, an API key
/// (`TEMPORAL_API_KEY`, which implies TLS) or a client certificate, from the variables or the
/// profile. Settings that do not load are left to the connection, which reports them.
pub fn production_check(args: &TemporalArgs) -> Result<(), crate::environment::Refusal> {
    use crate::environment::Refusal;
    let spec = args.payload_encryption_keys.as_ref().map(|k| k.expose_secret().trim().to_owned());
    let keys = match spec.filter(|s| !s.is_empty()) {
        None => {
            return Err(Refusal::new(
                "PAYLOAD_ENCRYPTION_KEYS",
                "is not set: production seals every workflow payload (clients' names, \
                 addresses, invoice lines) before it reaches Temporal; set <key id>:<base64 of \
                 32 random bytes> (openssl rand -base64 32), the same for the API and the workers",
            ));
        }
        Some(spec) => PayloadKeys::parse(&spec).map_err(|e| {
            let message = e.to_string();
            let reason = message.strip_prefix("PAYLOAD_ENCRYPTION_KEYS: ").unwrap_or(&message);
            Refusal::new("PAYLOAD_ENCRYPTION_KEYS", format!("is not usable: {reason}"))
        })?,
    };
    if keys.active_id().starts_with(DEV_KEY_PREFIX) {
        return Err(Refusal::new(
            "PAYLOAD_ENCRYPTION_KEYS",
            format!(
                "encrypts with {:?}, a key `make dev` made for a developer's machine",
                keys.active_id()
            ),
        ));
    }
    let Ok(settings) = TemporalSettings::read(args) else { return Ok(()) };
    if !settings.tls {
        return Err(Refusal::new(
            "TEMPORAL_TLS",
            format!(
                "is off for {}: production reaches Temporal over TLS (TEMPORAL_TLS=true, \
                 TEMPORAL_API_KEY or TEMPORAL_TLS_CLIENT_CERT_PATH)",
                settings.address
            ),
        ));
    }
    match settings.plaintext_despite_tls() {
        Some(problem) => Err(Refusal::new("TEMPORAL_ADDRESS", problem)),
        None => Ok(()),
    }
}

/// Errors connecting to Temporal. Messages are self-contained one-liners (the SDK's own
/// connect error prints a `Debug` dump), so a retry log line or the final error reads well.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The transport could not connect, or the server did not answer `GetSystemInfo`.
    #[error("cannot connect to Temporal at {address}: {reason}")]
    Connect { address: String, reason: String, cause: ClientConnectError },
    /// The client options were rejected.
    #[error("cannot create a Temporal client: {0}")]
    Client(ClientNewError),
    /// The server answered, but not for this namespace (or refused the credentials).
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
            // A failed first call names the transport's reason when it has one (a TLS alert
            // from a server that refused the client certificate).
            ClientConnectError::SystemInfoCallError(status) => {
                let mut reason =
                    format!("GetSystemInfo failed: {:?}: {}", status.code(), status.message());
                if std::error::Error::source(status).is_some() {
                    reason = format!("{reason} ({})", root_cause(status));
                }
                reason
            }
            other => root_cause(other),
        };
        Self::Connect { address: address.to_owned(), reason, cause }
    }

    /// Whether trying again later can succeed: configuration mistakes cannot.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Client(_) | Self::GaveUp { .. } => false,
            Self::Connect { cause, .. } => match cause {
                // The first call is where a proxy or Temporal Cloud refuses the credentials.
                ClientConnectError::SystemInfoCallError(status) => !refuses_credentials(status),
                ClientConnectError::TonicTransportError(_)
                | ClientConnectError::DnsResolutionError { .. } => true,
                _ => false,
            },
            Self::Namespace { status, .. } => {
                !refuses_credentials(status) && status.code() != Code::InvalidArgument
            }
            Self::Timeout { .. } => true,
        }
    }
}

/// The server (or a proxy before it) refused who we are: trying again cannot help.
fn refuses_credentials(status: &tonic::Status) -> bool {
    matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated)
}

/// The innermost error of a chain: what actually happened ("Connection refused", a TLS alert).
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut root = error;
    while let Some(source) = root.source() {
        root = source;
    }
    root.to_string()
}

/// One attempt bounded by `timeout`: connect, then check that the namespace exists.
///
/// The namespace check matters at start-up: the dev server accepts connections slightly before
/// it has registered its namespaces, and a worker polling a missing namespace fails for good.
pub async fn connect(
    settings: &TemporalSettings,
    timeout: Duration,
) -> Result<Client, ConnectError> {
    let attempt = async {
        let mut options = settings.connection.clone();
        options.connect_timeout = Some(timeout);
        let connection = Connection::connect(options)
            .await
            .map_err(|cause| ConnectError::connect(&settings.address, cause))?;
        let client =
            Client::new(connection, settings.client_options()).map_err(ConnectError::Client)?;
        check_namespace(&client, &settings.namespace, timeout).await?;
        Ok(client)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ConnectError::Timeout { address: settings.address.clone(), timeout })?
}

/// The namespace answers within `timeout` (readiness checks call this on a connected client).
pub async fn check_namespace(
    client: &Client,
    namespace: &str,
    timeout: Duration,
) -> Result<(), ConnectError> {
    let mut request = tonic::Request::new(DescribeNamespaceRequest {
        namespace: namespace.to_owned(),
        ..Default::default()
    });
    request.set_timeout(timeout);
    let mut service = client.clone();
    WorkflowService::describe_namespace(&mut service, request)
        .await
        .map(drop)
        .map_err(|status| ConnectError::Namespace { namespace: namespace.to_owned(), status })
}

/// Connects, retrying with exponential backoff for up to `budget` while the server is not up.
///
/// Every failed attempt is logged with the reason and the delay before the next one, so a binary
/// waiting for a booting server says so instead of looking hung.
pub async fn connect_with_retry(
    settings: &TemporalSettings,
    attempt_timeout: Duration,
    budget: Duration,
) -> Result<Client, ConnectError> {
    let started = Instant::now();
    let mut backoff = INITIAL_BACKOFF;
    let mut attempt: u32 = 1;
    loop {
        let error = match connect(settings, attempt_timeout).await {
            Ok(client) => {
                info!(address = %settings.address, namespace = %settings.namespace, attempt, "connected to Temporal");
                return Ok(client);
            }
            Err(error) if !error.is_retryable() => return Err(error),
            Err(error) => error,
        };
        let waited = started.elapsed();
        if waited + backoff > budget {
            return Err(ConnectError::GaveUp {
                address: settings.address.clone(),
                namespace: settings.namespace.clone(),
                attempts: attempt,
                waited,
                last: Box::new(error),
            });
        }
        warn!(
            address = %settings.address,
            namespace = %settings.namespace,
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
    fn bare_host_port_and_urls_are_accepted() {
        for (address, scheme) in
            [("127.0.0.1:7233", "http"), ("https://ns.tmprl.cloud:7233", "https")]
        {
            let settings = TemporalSettings::plain(address, "default", "q").unwrap();
            assert_eq!(settings.connection.target.scheme(), scheme, "{address}");
        }
    }

    #[test]
    fn refused_credentials_are_not_retried() {
        let refused = |status: tonic::Status| ConnectError::Connect {
            address: "a:1".into(),
            reason: String::new(),
            cause: ClientConnectError::SystemInfoCallError(status),
        };
        assert!(!refused(tonic::Status::unauthenticated("bad key")).is_retryable());
        assert!(!refused(tonic::Status::permission_denied("no")).is_retryable());
        assert!(refused(tonic::Status::unavailable("starting")).is_retryable());
    }

    #[test]
    fn an_http_address_with_tls_is_refused_not_sent_in_plain_text() {
        let with_tls = |address: &str| {
            let mut settings = TemporalSettings::plain(address, "default", "q").unwrap();
            settings.tls = true;
            settings.plaintext_despite_tls()
        };
        assert!(with_tls("http://temporal.internal:7233").is_some());
        assert!(with_tls("https://temporal.internal:7233").is_none());
        let plain = TemporalSettings::plain("http://127.0.0.1:7233", "default", "q").unwrap();
        assert!(plain.plaintext_despite_tls().is_none(), "no TLS asked for: plain is fine");
    }

    #[tokio::test]
    async fn nothing_listening_is_retryable_and_gives_up_within_budget() {
        // Port 1 on loopback: connection refused immediately, no server needed.
        let settings = TemporalSettings::plain("127.0.0.1:1", "default", "q").unwrap();
        let error = connect(&settings, Duration::from_secs(2)).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        let error = connect_with_retry(&settings, Duration::from_secs(2), Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectError::GaveUp { attempts: 1, .. }), "{error:?}");
        assert!(error.to_string().contains("127.0.0.1:1"));
    }

    #[tokio::test]
    async fn a_silent_server_times_out_instead_of_hanging() {
        // The kernel completes the TCP handshake on a bound listener, but nothing ever speaks
        // gRPC: the shape of a wedged or half-started server.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let settings = TemporalSettings::plain(&address, "default", "q").unwrap();
        let error = connect(&settings, Duration::from_millis(500)).await.unwrap_err();
        assert!(matches!(error, ConnectError::Timeout { .. }), "{error:?}");
    }
}

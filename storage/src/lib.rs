//! Object storage for rendered documents (invoice PDFs): a local directory for `make dev`, S3 in
//! production. Objects are content-addressed, so storing is idempotent under activity retries and
//! only the short key travels through Temporal.

mod args;
mod key;
mod local;
mod s3;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use args::{StorageArgs, StorageBackend};
pub use key::ObjectKey;
pub use local::LocalStore;
pub use s3::{S3_OPERATION_TIMEOUT, S3Config, S3Store, load_sdk_config};

/// Which backend to use (`STORAGE_BACKEND`) and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// `STORAGE_BACKEND=local`: files under `STORAGE_DIR`.
    Local { dir: PathBuf },
    /// `STORAGE_BACKEND=s3`.
    S3(S3Config),
}

/// Where stored objects go. An enum rather than a trait: there are exactly two backends and the
/// way each hands an object to a browser differs (see [`Download`]).
#[derive(Debug, Clone)]
pub enum ObjectStore {
    Local(LocalStore),
    S3(S3Store),
}

/// How the API hands a stored object to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// Redirect the client here: S3 serves the bytes until the URL expires.
    Presigned(PresignedUrl),
    /// Stream this file (local backend).
    File(PathBuf),
}

/// A time-limited URL that needs no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    pub url: String,
    pub expires_at: SystemTime,
}

/// Failures of object storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("object {0} does not exist")]
    NotFound(ObjectKey),
    #[error("local object store, {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("S3 {operation} of s3://{bucket}/{key} failed: {detail}")]
    S3 { operation: &'static str, bucket: String, key: String, detail: String },
    #[error("cannot presign a URL valid for {ttl:?}: {detail}")]
    Presign { ttl: Duration, detail: String },
    #[error("object storage configuration: {0}")]
    Config(String),
}

impl ObjectStore {
    /// The backend `config` selects; for S3 this builds the client but contacts nothing, so
    /// only settings that cannot work are refused here.
    pub async fn from_config(config: &StorageConfig) -> Result<Self, StorageError> {
        Ok(match config {
            StorageConfig::Local { dir } => Self::Local(LocalStore::open(dir).await?),
            StorageConfig::S3(s3) => {
                if s3.bucket.is_empty() || s3.region.is_empty() {
                    return Err(StorageError::Config(
                        "the S3 backend needs S3_BUCKET and AWS_REGION".into(),
                    ));
                }
                Self::S3(S3Store::connect(s3).await)
            }
        })
    }

    /// `s3` or `local`, for traces.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::S3(_) => "s3",
        }
    }

    /// Stores `bytes` under `<prefix>/<sha256>.<ext>` unless that object exists already, and
    /// returns the key. Storing the same bytes again returns the same key and writes nothing.
    #[tracing::instrument(name = "storage.put", skip_all, fields(backend = self.backend_name()))]
    pub async fn put_content_addressed(
        &self,
        bytes: &[u8],
        content_type: &str,
        prefix: &str,
    ) -> Result<ObjectKey, StorageError> {
        let key = ObjectKey::content_addressed(prefix, bytes, content_type)?;
        match self {
            Self::Local(store) => store.put_if_absent(&key, bytes).await?,
            Self::S3(store) => store.put_if_absent(&key, bytes, content_type).await?,
        }
        Ok(key)
    }

    /// The object's bytes, or [`StorageError::NotFound`].
    #[tracing::instrument(name = "storage.get", skip_all, fields(backend = self.backend_name()))]
    pub async fn get(&self, key: &ObjectKey) -> Result<Vec<u8>, StorageError> {
        match self {
            Self::Local(store) => store.get(key).await,
            Self::S3(store) => store.get(key).await,
        }
    }

    /// Whether an object is stored under `key`.
    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        match self {
            Self::Local(store) => store.exists(key).await,
            Self::S3(store) => store.exists(key).await,
        }
    }

    /// How a client can fetch `key`: a presigned URL valid for `ttl` on S3, the file's path on
    /// the local backend (`ttl` does not apply). Neither checks that the object exists.
    pub async fn download(&self, key: &ObjectKey, ttl: Duration) -> Result<Download, StorageError> {
        match self {
            Self::Local(store) => Ok(Download::File(store.path_of(key))),
            Self::S3(store) => store.presigned_get(key, ttl).await.map(Download::Presigned),
        }
    }
}

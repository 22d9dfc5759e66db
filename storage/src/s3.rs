//! The S3 backend (aws-sdk-s3): production storage, and moto in tests through an endpoint
//! override. Also home of the AWS SDK set-up shared with the SES mailer.

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{ObjectKey, PresignedUrl, StorageError};

/// Where the S3 backend stores objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `AWS_REGION`.
    pub region: String,
    /// `S3_ENDPOINT_URL`: an S3-compatible endpoint instead of AWS (moto, MinIO). Setting it
    /// also switches to path-style addressing, which such endpoints need. Empty means unset.
    pub endpoint_url: Option<String>,
}

/// How long one S3 call may take, the SDK's own retries included: well below the start-to-close
/// timeout of the activities that store and read PDFs, so an attempt never outlives the activity
/// Temporal already retries, and an API request reading a PDF fails instead of hanging.
pub const S3_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// One HTTP attempt within [`S3_OPERATION_TIMEOUT`], leaving room for the SDK to retry once.
const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Establishing the connection, within one attempt.
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// Builds a client from `config`; credentials come from the standard AWS chain
    /// (environment, profile, container or instance role). Nothing is contacted yet.
    pub async fn connect(config: &S3Config) -> Self {
        let sdk = load_sdk_config(&config.region).await;
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(S3_OPERATION_TIMEOUT)
            .operation_attempt_timeout(S3_ATTEMPT_TIMEOUT)
            .connect_timeout(S3_CONNECT_TIMEOUT)
            .build();
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk).timeout_config(timeouts);
        if let Some(url) = config.endpoint_url.as_deref().filter(|url| !url.is_empty()) {
            builder = builder.endpoint_url(url).force_path_style(true);
        }
        Self::from_client(aws_sdk_s3::Client::from_conf(builder.build()), &config.bucket)
    }

    /// Wraps a client built elsewhere.
    pub fn from_client(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// The underlying client (tests use it to create buckets).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The bucket objects go to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A URL that fetches `key` without credentials until `ttl` has passed (at most 7 days).
    /// Presigning is local computation: it neither contacts S3 nor checks that `key` exists.
    pub async fn presigned_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        let presigning = PresigningConfig::expires_in(ttl)
            .map_err(|e| StorageError::Presign { ttl, detail: e.to_string() })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(presigning)
            .await
            .map_err(|e| self.error("presign GetObject", key, e))?;
        Ok(PresignedUrl { url: request.uri().to_owned(), expires_at: SystemTime::now() + ttl })
    }

    pub(super) async fn put_if_absent(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), StorageError> {
        // Skipping the upload when the object is there keeps a versioned bucket at one version
        // and saves the transfer on retries.
        if self.exists(key).await? {
            return Ok(());
        }
        let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            // S3 verifies the bytes it stored against the hash the key was derived from.
            .checksum_sha256(checksum)
            // Closes the race between the check above and this write with a concurrent writer.
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            // 412: someone else stored it first, and the same key means the same bytes. (A 409,
            // a concurrent conditional write still in flight, may yet fail: that one retries.)
            Err(e) if http_status(&e) == Some(412) => Ok(()),
            Err(e) => Err(self.error("PutObject", key, e)),
        }
    }

    pub(super) async fn get(&self, key: &ObjectKey) -> Result<Vec<u8>, StorageError> {
        let request = self.client.get_object().bucket(&self.bucket).key(key.as_str());
        let output = request.send().await.map_err(|e| match e.as_service_error() {
            Some(service) if service.is_no_such_key() => StorageError::NotFound(key.clone()),
            _ => self.error("GetObject", key, e),
        })?;
        let body = output.body.collect().await.map_err(|e| StorageError::S3 {
            operation: "GetObject (reading the body)",
            bucket: self.bucket.clone(),
            key: key.to_string(),
            detail: DisplayErrorContext(e).to_string(),
        })?;
        Ok(body.into_bytes().to_vec())
    }

    pub(super) async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        let head = self.client.head_object().bucket(&self.bucket).key(key.as_str()).send().await;
        match head {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(self.error("HeadObject", key, e)),
        }
    }

    fn error<E, R>(
        &self,
        operation: &'static str,
        key: &ObjectKey,
        e: SdkError<E, R>,
    ) -> StorageError
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        StorageError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            detail: DisplayErrorContext(e).to_string(),
        }
    }
}

fn http_status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|response| response.status().as_u16())
}

/// The AWS SDK configuration for `region`, with credentials from the default chain and an
/// HTTPS client on rustls with ring: the crypto the rest of the workspace already builds, instead
/// of the SDK's default aws-lc, which would add a C library build.
pub async fn load_sdk_config(region: &str) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .http_client(http_client)
        .load()
        .await
}

//! The storage settings as flags and environment variables, shared by the worker (which writes
//! PDFs) and the API (which hands them out), so both always read the same variables.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::{S3Config, StorageConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Where PDFs are stored.
    #[arg(long, env = "STORAGE_BACKEND", value_enum, default_value = "local")]
    pub storage_backend: StorageBackend,
    /// Directory of the local object store.
    #[arg(long, env = "STORAGE_DIR", default_value = ".data/objects")]
    pub storage_dir: PathBuf,
    /// S3 bucket (with `STORAGE_BACKEND=s3`).
    #[arg(long, env = "S3_BUCKET", default_value = "")]
    pub s3_bucket: String,
    /// An S3-compatible endpoint instead of AWS.
    #[arg(long, env = "S3_ENDPOINT_URL")]
    pub s3_endpoint_url: Option<String>,
    /// AWS region of S3 (and SES).
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub aws_region: String,
}

impl StorageArgs {
    pub fn config(&self) -> StorageConfig {
        match self.storage_backend {
            StorageBackend::Local => StorageConfig::Local { dir: self.storage_dir.clone() },
            StorageBackend::S3 => StorageConfig::S3(S3Config {
                bucket: self.s3_bucket.clone(),
                region: self.aws_region.clone(),
                endpoint_url: self.s3_endpoint_url.clone(),
            }),
        }
    }

    /// A local store under `dir` (tests, examples).
    pub fn local(dir: impl Into<PathBuf>) -> Self {
        Self {
            storage_backend: StorageBackend::Local,
            storage_dir: dir.into(),
            s3_bucket: String::new(),
            s3_endpoint_url: None,
            aws_region: "us-east-1".into(),
        }
    }
}

//! The local-directory backend: objects are files under one root, for `make dev` and for tests
//! that need no S3. Writes go to a temporary file first and are renamed into place, so a reader
//! never sees half an object and a crash never leaves one under its final name.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

use super::{ObjectKey, StorageError};

/// Objects stored as files under `root`, at the path spelled by their key.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Uses `root`, creating it if needed.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        tokio::fs::create_dir_all(&root).await.map_err(|source| io(&root, source))?;
        Ok(Self { root })
    }

    /// The directory objects live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `key` lives (whether or not it exists), for the API to stream the file. Built one
    /// validated segment at a time, so it cannot point outside `root`.
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(key.segments());
        path
    }

    pub(super) async fn put_if_absent(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let path = self.path_of(key);
        if self.exists(key).await? {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root);
        tokio::fs::create_dir_all(dir).await.map_err(|source| io(dir, source))?;
        let temp = temp_path_beside(&path);
        let written = write_synced(&temp, bytes).await;
        if let Err(source) = written {
            // Best effort: a leftover dot-file is harmless, keys never start with '.'.
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io(&temp, source));
        }
        // A concurrent writer of the same key wrote the same bytes, so whichever rename lands
        // last changes nothing.
        tokio::fs::rename(&temp, &path).await.map_err(|source| io(&path, source))
    }

    pub(super) async fn get(&self, key: &ObjectKey) -> Result<Vec<u8>, StorageError> {
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(StorageError::NotFound(key.clone())),
            Err(source) => Err(io(&path, source)),
        }
    }

    pub(super) async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        let path = self.path_of(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(source) => Err(io(&path, source)),
        }
    }
}

async fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create_new(path).await?;
    file.write_all(bytes).await?;
    // Durable before it becomes visible under its real name.
    file.sync_all().await
}

/// A name in the same directory (so the rename is atomic) that no other writer uses and no key
/// can name.
fn temp_path_beside(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

fn io(path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Io { path: path.to_path_buf(), source }
}

//! `ObjectKey`: the name of a stored object, validated once at the edge so that no backend ever
//! sees a key that could climb out of its directory or mean different things to S3 and a disk.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StorageError;

/// S3's limit on key length, in bytes; the local backend keeps to it too so keys stay portable.
const MAX_KEY_LEN: usize = 1024;

/// A validated object key: `/`-separated segments of ASCII letters, digits, `-`, `_` and `.`,
/// none empty, none starting with `.`, not absolute.
///
/// The alphabet is deliberately narrow: it rules out `..`, `\`, drive letters, NUL and URL
/// escapes in one rule, and leading dots are reserved for the local backend's temporary files.
/// Keys arrive from workflow payloads, so they are parsed (also on deserialisation), never trusted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`; the error says which rule it broke.
    pub fn parse(key: impl Into<String>) -> Result<Self, StorageError> {
        let key = key.into();
        match violation(&key) {
            Some(reason) => Err(StorageError::InvalidKey { key, reason }),
            None => Ok(Self(key)),
        }
    }

    /// `<prefix>/<sha256 of bytes>.<extension for content_type>`: the same bytes always get the
    /// same key, which is what makes storing them idempotent under retries.
    pub fn content_addressed(
        prefix: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<Self, StorageError> {
        let prefix = Self::parse(prefix.trim_end_matches('/'))?;
        let digest = hex::encode(Sha256::digest(bytes));
        Self::parse(format!("{prefix}/{digest}.{}", extension_for(content_type)))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's `/`-separated segments, each a plain file or directory name.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = StorageError;

    fn try_from(key: String) -> Result<Self, Self::Error> {
        Self::parse(key)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> Self {
        key.0
    }
}

/// The first rule `key` breaks, if any.
fn violation(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("the key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Some("the key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return Some("the key is absolute (starts with '/')");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return Some("the key has an empty segment ('//' or a trailing '/')");
        }
        if segment.starts_with('.') {
            return Some("a segment starts with '.' (this covers '.' and '..')");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            return Some("only ASCII letters, digits, '-', '_', '.' and '/' are allowed");
        }
    }
    None
}

/// A file extension for the content types we store; anything else is opaque `bin`.
fn extension_for(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    const KNOWN: [(&str, &str); 6] = [
        ("application/pdf", "pdf"),
        ("text/html", "html"),
        ("text/plain", "txt"),
        ("application/json", "json"),
        ("image/png", "png"),
        ("image/jpeg", "jpg"),
    ];
    KNOWN
        .iter()
        .find(|(mime, _)| mime.eq_ignore_ascii_case(essence))
        .map_or("bin", |&(_, extension)| extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in ["a", "invoices/2026/0190-ab_cd.pdf", "org-1/x.y.z", "A/B/c-d_e.f"] {
            assert_eq!(ObjectKey::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn refuses_keys_that_could_escape_or_confuse() {
        for key in [
            "",
            "/etc/passwd",
            "../secret",
            "a/../../b",
            "a/./b",
            "..",
            ".",
            ".hidden",
            "a//b",
            "a/",
            "a\\..\\b",
            "C:/windows",
            "a/b\0c",
            "a/%2e%2e/b",
            "a b",
            "ä",
            "a/\n",
        ] {
            assert!(ObjectKey::parse(key).is_err(), "{key:?} should be refused");
        }
        assert!(ObjectKey::parse("a".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn deserialising_validates_too() {
        let parsed: Result<ObjectKey, _> = serde_json::from_str("\"../x\"");
        assert!(parsed.is_err());
        let key: ObjectKey = serde_json::from_str("\"a/b.pdf\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"a/b.pdf\"");
    }

    #[test]
    fn content_addressed_keys_depend_on_bytes_only() {
        let a = ObjectKey::content_addressed("invoices/org", b"%PDF-1.7", "application/pdf");
        let b = ObjectKey::content_addressed("invoices/org/", b"%PDF-1.7", "Application/PDF");
        assert_eq!(a.unwrap(), b.unwrap());
        let key = ObjectKey::content_addressed("p", b"", "application/octet-stream").unwrap();
        // SHA-256 of the empty string.
        assert_eq!(
            key.as_str(),
            "p/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.bin"
        );
        assert!(ObjectKey::content_addressed("../up", b"x", "application/pdf").is_err());
    }
}

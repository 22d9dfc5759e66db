//! Encrypted payloads: every workflow and activity payload the API and the worker hand to
//! Temporal (inputs, results, update and signal arguments, query answers, local activity
//! markers, memos, summaries) is sealed with AES-256-GCM before it leaves the process, so the
//! invoices' clients, amounts and lines are not readable in Temporal's database or its UI.
//! Search attributes stay plain (the SDK does not pass them through the codec) and hold no
//! personal data.
//!
//! Keys come from `PAYLOAD_ENCRYPTION_KEYS`: `<key id>:<32 bytes, base64>` entries separated by
//! commas. The first one encrypts; all of them decrypt, so a key is rotated by putting a new one
//! first and keeping the old ones until no open run's history holds payloads sealed with them.
//! A sealed payload names its key in its metadata (`encryption-key-id`) and is bound to that
//! name (it is the cipher's associated data). Payloads that are not sealed (histories recorded
//! before encryption was turned on) are read as they are.
//!
//! The same [`PayloadKeys`] serve the codec server (`api/src/codec.rs`), through which support
//! staff read runs in the Temporal UI and `temporal workflow show --codec-endpoint`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use prost::Message as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use temporalio_common::data_converters::{
    PayloadCodec, PayloadConversionError, SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// The `encoding` of a sealed payload (what Temporal's other SDKs' encryption samples use).
pub const ENCRYPTED_ENCODING: &str = "binary/encrypted";
/// The metadata entry naming the key a payload is sealed with.
pub const KEY_ID_METADATA: &str = "encryption-key-id";
const ENCODING_METADATA: &str = "encoding";

/// The configured keys: the first encrypts, all decrypt.
#[derive(Clone)]
pub struct PayloadKeys {
    active: String,
    keys: Arc<HashMap<String, LessSafeKey>>,
}

impl std::fmt::Debug for PayloadKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("PayloadKeys").field("active", &self.active).field("ids", &ids).finish()
    }
}

/// Why the keys or a payload cannot be used. Never names key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("PAYLOAD_ENCRYPTION_KEYS: {0}")]
    Config(String),
    #[error("payload sealed with key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("payload could not be decrypted with key {0:?} (altered, or another key of that name)")]
    Corrupt(String),
    #[error("payload could not be sealed: {0}")]
    Seal(String),
}

impl PayloadKeys {
    /// Parses `id:base64key[,id:base64key...]`.
    pub fn parse(spec: &str) -> Result<Self, CodecError> {
        let config = |m: String| CodecError::Config(m);
        let mut keys = HashMap::new();
        let mut active = None;
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, material) = entry
                .split_once(':')
                .ok_or_else(|| config("each entry is <key id>:<base64 key>".into()))?;
            let id = id.trim();
            let valid_id = !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_id {
                return Err(config(format!(
                    "key id {id:?} must be 1-64 letters, digits, '-', '_' or '.'"
                )));
            }
            let bytes = BASE64
                .decode(material.trim())
                .map_err(|_| config(format!("key {id:?} is not base64")))?;
            if bytes.len() != 32 {
                return Err(config(format!(
                    "key {id:?} is {} bytes; AES-256 needs 32 (openssl rand -base64 32)",
                    bytes.len()
                )));
            }
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| config(format!("key {id:?} is not usable")))?;
            if keys.insert(id.to_owned(), LessSafeKey::new(key)).is_some() {
                return Err(config(format!("key id {id:?} appears twice")));
            }
            active.get_or_insert_with(|| id.to_owned());
        }
        let active = active.ok_or_else(|| config("no key given".into()))?;
        Ok(Self { active, keys: Arc::new(keys) })
    }

    /// The id of the key that encrypts.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Seals one payload (the whole payload, metadata included, so nothing of it shows).
    pub fn encode(&self, payload: Payload) -> Result<Payload, CodecError> {
        if is_sealed(&payload) {
            return Ok(payload);
        }
        let key = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CodecError::Seal("no randomness".into()))?;
        let mut sealed = payload.encode_to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(self.active.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| CodecError::Seal("AES-GCM refused the payload".into()))?;
        let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&sealed);
        let metadata = HashMap::from([
            (ENCODING_METADATA.to_owned(), ENCRYPTED_ENCODING.as_bytes().to_vec()),
            (KEY_ID_METADATA.to_owned(), self.active.as_bytes().to_vec()),
        ]);
        Ok(Payload { metadata, data, ..Default::default() })
    }

    /// Opens a sealed payload; any other payload is returned as it is.
    pub fn decode(&self, payload: Payload) -> Result<Payload, CodecError> {
        if !is_sealed(&payload) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID_METADATA)
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .unwrap_or_default();
        let key = self.keys.get(&id).ok_or_else(|| CodecError::UnknownKey(id.clone()))?;
        if payload.data.len() < NONCE_LEN {
            return Err(CodecError::Corrupt(id));
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| CodecError::Corrupt(id.clone()))?;
        let mut buffer = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut buffer)
            .map_err(|_| CodecError::Corrupt(id.clone()))?;
        Payload::decode(&plain[..]).map_err(|_| CodecError::Corrupt(id))
    }

    pub fn encode_all(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        payloads.into_iter().map(|p| self.encode(p)).collect()
    }

    pub fn decode_all(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        payloads.into_iter().map(|p| self.decode(p)).collect()
    }
}

fn is_sealed(payload: &Payload) -> bool {
    payload.metadata.get(ENCODING_METADATA).map(Vec::as_slice)
        == Some(ENCRYPTED_ENCODING.as_bytes())
}

/// The SDK's side: the client (and the worker built on it) seal and open every payload.
#[derive(Debug, Clone)]
pub struct EncryptionCodec(pub PayloadKeys);

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let result = self.0.encode_all(payloads).map_err(into_conversion);
        async move { result }.boxed()
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let result = self.0.decode_all(payloads).map_err(into_conversion);
        async move { result }.boxed()
    }
}

fn into_conversion(error: CodecError) -> PayloadConversionError {
    PayloadConversionError::EncodingError(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        BASE64.encode([byte; 32])
    }

    fn json(text: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn sealed_payloads_hide_everything_and_open_again() {
        let keys = PayloadKeys::parse(&format!("2026-12:{}", key(1))).unwrap();
        let plain = json(r#"{"clientName":"Initech","clientEmail":"ap@initech.test"}"#);
        let sealed = keys.encode(plain.clone()).unwrap();
        let bytes = sealed.encode_to_vec();
        for secret in ["Initech", "initech.test", "json/plain"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret}");
        }
        assert_eq!(sealed.metadata[KEY_ID_METADATA], b"2026-12");
        assert_eq!(keys.decode(sealed.clone()).unwrap(), plain);
        // Sealing twice does not wrap twice; the same payload seals differently each time.
        assert_eq!(keys.encode(sealed.clone()).unwrap(), sealed);
        assert_ne!(keys.encode(plain.clone()).unwrap().data, sealed.data);
        // A plain payload (a history from before) reads as it is.
        assert_eq!(keys.decode(plain.clone()).unwrap(), plain);
    }

    #[test]
    fn old_keys_still_open_after_rotation_and_tampering_is_refused() {
        let old = PayloadKeys::parse(&format!("old:{}", key(1))).unwrap();
        let sealed = old.encode(json("1")).unwrap();
        let rotated = PayloadKeys::parse(&format!("new:{}, old:{}", key(2), key(1))).unwrap();
        assert_eq!(rotated.active_id(), "new");
        assert_eq!(rotated.decode(sealed.clone()).unwrap(), json("1"));
        assert_eq!(rotated.encode(json("1")).unwrap().metadata[KEY_ID_METADATA], b"new");
        let retired = PayloadKeys::parse(&format!("new:{}", key(2))).unwrap();
        assert_eq!(retired.decode(sealed.clone()), Err(CodecError::UnknownKey("old".into())));
        let mut altered = sealed.clone();
        *altered.data.last_mut().unwrap() ^= 1;
        assert_eq!(old.decode(altered), Err(CodecError::Corrupt("old".into())));
        // Another key under the same name does not open it either.
        let impostor = PayloadKeys::parse(&format!("old:{}", key(3))).unwrap();
        assert_eq!(impostor.decode(sealed), Err(CodecError::Corrupt("old".into())));
    }

    #[test]
    fn bad_key_settings_are_refused_without_echoing_the_key() {
        for bad in ["", "nokey", "a:short", "a b:xyz", &format!("a:{},a:{}", key(1), key(2))] {
            let error = PayloadKeys::parse(bad).unwrap_err().to_string();
            assert!(error.starts_with("PAYLOAD_ENCRYPTION_KEYS: "), "{error}");
            assert!(!error.contains(&key(1)), "{error}");
        }
    }
}

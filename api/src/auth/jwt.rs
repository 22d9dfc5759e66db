//! Access tokens: short-lived HS256 JWTs naming the user and the organisation they act in.
//!
//! Only HS256 is accepted, with a required expiry, issuer and audience, so `alg: none`, tokens
//! signed with another algorithm or key, and tampered tokens all fail verification.
//!
//! jsonwebtoken's own crypto backends bring every algorithm (its RustCrypto one pulls in `rsa`,
//! with an advisory that has no fix); the one we need is HMAC-SHA256, given to it here as its
//! crypto provider, so no other algorithm is even compiled in.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, new_error};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const ISSUER: &str = "invoice-api";
const AUDIENCE: &str = "invoice-api";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The organisation the token acts in.
    pub org: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// The user's session epoch when the token was issued: ending every session counts it up,
    /// and the token is refused from then on (tokens from before this claim count as 0).
    #[serde(default)]
    pub epoch: i32,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("could not sign the token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// The secret is too short to make HS256 meaningful.
#[derive(Debug, thiserror::Error)]
#[error("JWT_SECRET must be at least 32 bytes long")]
pub struct WeakSecret;

/// HMAC-SHA256 signing and verification, the one algorithm of our tokens.
struct Hs256(Hmac<sha2::Sha256>);

impl Hs256 {
    fn new(key: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        Hmac::new_from_slice(key).map(Self).map_err(|_| new_error(ErrorKind::InvalidKeyFormat))
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        // Compared in constant time.
        mac.verify_slice(tag).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

/// Anything but HS256 with an HMAC key is refused, never signed or verified.
fn only_hs256(algorithm: &Algorithm, family: AlgorithmFamily) -> jsonwebtoken::errors::Result<()> {
    match (algorithm, family) {
        (Algorithm::HS256, AlgorithmFamily::Hmac) => Ok(()),
        _ => Err(new_error(ErrorKind::InvalidAlgorithm)),
    }
}

static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: |algorithm, key| {
        only_hs256(algorithm, key.family())?;
        Ok(Box::new(Hs256::new(key.as_bytes())?))
    },
    verifier_factory: |algorithm, key| {
        only_hs256(algorithm, key.family())?;
        Ok(Box::new(Hs256::new(key.try_get_as_bytes()?)?))
    },
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes HS256 jsonwebtoken's crypto for this process (once; later calls change nothing).
pub fn install_crypto() {
    let _ = HS256_ONLY.install_default();
}

impl JwtKeys {
    pub fn new(secret: &SecretString, ttl: Duration) -> Result<Self, WeakSecret> {
        install_crypto();
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < 32 {
            return Err(WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `user_id` acting in `org_id`, valid while the user's session epoch is `epoch`.
    pub fn issue(&self, user_id: Uuid, org_id: Uuid, epoch: i32) -> Result<String, JwtError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            org: org_id,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            epoch,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: Uuid::new_v4(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(JwtError::Sign)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid(err),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(&SecretString::from(secret.to_owned()), Duration::from_secs(60)).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let (user, org) = (Uuid::new_v4(), Uuid::new_v4());
        let claims = k.verify(&k.issue(user, org, 0).unwrap()).unwrap();
        assert_eq!((claims.sub, claims.org), (user, org));
    }

    #[test]
    fn other_key_is_refused() {
        let a = keys("0123456789abcdef0123456789abcdef");
        let b = keys("fedcba9876543210fedcba9876543210");
        let token = a.issue(Uuid::new_v4(), Uuid::new_v4(), 0).unwrap();
        assert!(matches!(b.verify(&token), Err(JwtError::Invalid(_))));
    }

    #[test]
    fn other_algorithms_are_neither_signed_nor_verified() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let secret = b"0123456789abcdef0123456789abcdef";
        let claims = k.verify(&k.issue(Uuid::new_v4(), Uuid::new_v4(), 0).unwrap()).unwrap();
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(secret),
        );
        assert!(hs512.is_err(), "HS512 was signed");
        // An HS256 token relabelled HS512 does not verify either.
        let token = k.issue(Uuid::new_v4(), Uuid::new_v4(), 0).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        parts[0] = b64.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        assert!(matches!(k.verify(&parts.join(".")), Err(JwtError::Invalid(_))));
    }

    #[test]
    fn short_secret_is_refused() {
        assert!(
            JwtKeys::new(&SecretString::from("short".to_owned()), Duration::from_secs(1)).is_err()
        );
    }
}

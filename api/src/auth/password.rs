//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), run on the blocking
//! pool so that a login never stalls the async workers.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{ApiError, FieldErrors};

/// Hashes computed at once by this process. Each takes ~19 MiB and a core for tens of
/// milliseconds: unbounded, a burst of logins or registrations would exhaust memory and starve
/// every other request. Beyond it callers wait briefly, then get a 503 to retry.
pub const MAX_CONCURRENT_HASHES: usize = 4;
/// How long a caller waits for a hashing slot before the 503.
const HASH_SLOT_WAIT: Duration = Duration::from_secs(2);

static HASH_SLOTS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// A hashing slot, or `password_hashing_busy` (503) when none frees up in time.
async fn slot() -> Result<SemaphorePermit<'static>, ApiError> {
    match tokio::time::timeout(HASH_SLOT_WAIT, HASH_SLOTS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::Unavailable {
            code: "password_hashing_busy",
            message: "Too many sign-ins at once; try again in a few seconds.".into(),
            details: None,
        }),
    }
}

/// A new password is 8 to 128 characters (field `password`).
pub fn check_length(errors: &mut FieldErrors, password: &str) {
    let len = password.chars().count();
    if len < 8 {
        errors.add("password", "too_short", "Must be at least 8 characters.");
    } else if len > 128 {
        errors.add("password", "too_long", "Must be at most 128 characters.");
    }
}

/// A hash verified when the account does not exist, so that the response time does not reveal
/// whether an email is registered. Made once, on first use.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(b"no-such-account!").expect("16-byte salt encodes");
    Argon2::default()
        .hash_password(random_password().as_bytes(), &salt)
        .expect("argon2 with default parameters hashes")
        .to_string()
});

fn random_password() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub async fn hash(password: String) -> Result<String, ApiError> {
    let _slot = slot().await?;
    let hashed = tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hash password: {e}"))
    })
    .await
    .map_err(anyhow::Error::from)?;
    Ok(hashed?)
}

/// Verifies `password` against `phc`, or against a dummy hash when there is no account.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool, ApiError> {
    let _slot = slot().await?;
    let verified = tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        anyhow::Ok(known && ok)
    })
    .await
    .map_err(anyhow::Error::from)?;
    Ok(verified?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashing_beyond_the_cap_is_refused_not_queued_forever() {
        let held = HASH_SLOTS.acquire_many(MAX_CONCURRENT_HASHES as u32).await.unwrap();
        let refused = hash("a password".into()).await.unwrap_err();
        assert!(matches!(refused, ApiError::Unavailable { code: "password_hashing_busy", .. }));
        drop(held);
        assert!(verify("a password".into(), None).await.is_ok());
    }
}

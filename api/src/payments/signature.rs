//! Stripe's webhook signature scheme: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
//! "<t>.<raw body>" keyed with the endpoint secret>[,v1=...]`. Several `v1` entries appear while
//! a secret is being rolled; one matching is enough. Other schemes (`v0`) are ignored.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far the signature's timestamp may be from now (Stripe's own default), against replays of
/// a captured delivery.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is more than {TOLERANCE_SECS} seconds from now")]
    Stale,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// Checks `header` against the raw `payload` with `secret`, at unix time `now`.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mac = signed(timestamp, payload, secret);
    // `verify_slice` compares in constant time.
    if signatures.iter().any(|sig| mac.clone().verify_slice(sig).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header a sender puts on `payload` at unix time `timestamp` (the local test checkout signs
/// its events with this, so they travel the same path as Stripe's).
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let mac = signed(timestamp, payload, secret).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(mac))
}

fn signed(timestamp: i64, payload: &[u8], secret: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"charge.refunded"}"#;

    #[test]
    fn accepts_what_it_signed() {
        let header = sign(BODY, SECRET, 1_700_000_000);
        assert_eq!(verify(Some(&header), BODY, SECRET, 1_700_000_100), Ok(()));
    }

    #[test]
    fn matches_an_independently_computed_signature() {
        // Python: hmac.new(b"whsec_test_secret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
        let expected = "02307e179dec7c16e9af12b9e961a270c4edcffa3996212c55c8a2952d49612f";
        assert_eq!(sign(BODY, SECRET, 1_700_000_000), format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn accepts_any_matching_v1_during_a_secret_roll() {
        let good = sign(BODY, SECRET, 1_700_000_000);
        let other = sign(BODY, "whsec_old", 1_700_000_000);
        let v1_good = good.split_once(",v1=").unwrap().1;
        let v1_other = other.split_once(",v1=").unwrap().1;
        let header = format!("t=1700000000,v1={v1_other},v1={v1_good},v0=abc");
        assert_eq!(verify(Some(&header), BODY, SECRET, 1_700_000_000), Ok(()));
    }

    #[test]
    fn refuses_tampering_wrong_secrets_staleness_and_garbage() {
        let header = sign(BODY, SECRET, 1_700_000_000);
        let now = 1_700_000_000;
        let tampered = br#"{"id":"evt_1","type":"charge.refunded","x":1}"#;
        assert_eq!(verify(Some(&header), tampered, SECRET, now), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&header), BODY, "whsec_other", now), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&header), BODY, SECRET, now + 301), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&header), BODY, SECRET, now - 301), Err(SignatureError::Stale));
        assert_eq!(verify(None, BODY, SECRET, now), Err(SignatureError::Missing));
        for bad in ["", "t=abc,v1=00", "v1=00", "t=1700000000", "t=1700000000,v1=zz", "garbage"] {
            assert_eq!(
                verify(Some(bad), BODY, SECRET, now),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}

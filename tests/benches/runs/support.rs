//! What the runs share: their settings from the environment, and a Temporal client.

/// A variable the run's script sets.
pub(crate) fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this through `make bench` or `make chaos`")
    })
}

/// A positive number from the environment, or `default`.
pub(crate) fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(default)
}

/// A client of the run's Temporal server (`TEMPORAL_ADDRESS`), connected as the binaries
/// connect: with their payload keys (`PAYLOAD_ENCRYPTION_KEYS`) when the script set them.
pub(crate) async fn temporal_client() -> temporalio_client::Client {
    let keys = std::env::var("PAYLOAD_ENCRYPTION_KEYS")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(|k| invoice_service::codec::PayloadKeys::parse(&k).expect("PAYLOAD_ENCRYPTION_KEYS"));
    let settings =
        invoice_service::TemporalSettings::plain(&required("TEMPORAL_ADDRESS"), "default", "bench")
            .expect("Temporal settings")
            .with_payload_keys(keys);
    invoice_service::temporal::connect(&settings, std::time::Duration::from_secs(10))
        .await
        .expect("Temporal")
}

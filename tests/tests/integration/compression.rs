//! Responses are compressed as the client accepts (gzip or Brotli), and only then: the same
//! bytes once decompressed, and `Vary: Accept-Encoding` for caches.

use std::io::Read as _;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use sqlx::PgPool;

use crate::common::TestApp;

async fn fetch(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    accept: Option<&str>,
) -> (Option<String>, Vec<u8>, String) {
    let mut request = reqwest::Client::new().get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    let header =
        |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (encoding, vary) = (header(CONTENT_ENCODING), header(VARY).unwrap_or_default());
    (encoding, response.bytes().await.unwrap().to_vec(), vary)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut plain).unwrap();
    plain
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn responses_are_compressed_as_the_client_accepts(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("compression@example.com").await;

    // The API description: large JSON.
    let (encoding, plain, _) = fetch(&app, "/api-docs/openapi.json", None, None).await;
    assert_eq!(encoding, None, "nothing asked for, nothing compressed");
    let (encoding, gzipped, vary) = fetch(&app, "/api-docs/openapi.json", None, Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(vary.to_ascii_lowercase().contains("accept-encoding"), "{vary}");
    assert_eq!(gunzip(&gzipped), plain);
    assert!(gzipped.len() * 4 < plain.len(), "{} of {} bytes", gzipped.len(), plain.len());
    let (encoding, brotli, _) = fetch(&app, "/api-docs/openapi.json", None, Some("br, gzip")).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert!(brotli.len() < plain.len());

    // An authenticated JSON read, as the web app makes it.
    let token = Some(user.access_token.as_str());
    let (encoding, gzipped, _) = fetch(&app, "/api/me", token, Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let me: serde_json::Value = serde_json::from_slice(&gunzip(&gzipped)).unwrap();
    assert_eq!(me["user"]["email"], "compression@example.com", "{me:#}");
}

//! The codec server: Temporal's remote codec protocol (`POST /codec/decode` and
//! `/codec/encode`, a JSON `{"payloads": [...]}` in and out, `X-Namespace` naming the
//! namespace), so that the Temporal UI and `temporal workflow show --codec-endpoint` show the
//! sealed payloads of our runs decrypted: to support staff only, and every call recorded.
//!
//! Two ways in, both checked against the support grant on every call:
//! - the Temporal UI in a browser sends the `invoices_codec` cookie (Path `/codec`, HttpOnly),
//!   which `POST /api/support/codec-session` sets for a support person; the UI's own origin
//!   (`TEMPORAL_UI_URL`) is the only one answered cross-origin, with credentials. In the UI,
//!   point "Codec Server" at `<API>/codec` and tick "Include cross-origin credentials";
//! - the CLI sends the person's access token: `--codec-auth "Bearer <token>"`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, CONTENT_TYPE, ORIGIN,
    SET_COOKIE, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use invoice_service::codec::PayloadKeys;
use serde::{Deserialize, Serialize};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use utoipa::ToSchema;

use super::{Access, Support, audit, from_access_token, not_support};
use crate::auth::secret::{random_token, sha256};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The cookie the Temporal UI sends to the codec server.
const COOKIE_NAME: &str = "invoices_codec";
/// How long a codec session lasts: a support shift.
const SESSION_HOURS: i64 = 8;
/// Most payloads one call may carry (the UI sends a page of events at a time).
const MAX_PAYLOADS: usize = 1000;

/// `/codec/decode` and `/codec/encode`, outside `/api` (the protocol's paths), with their CORS
/// preflight.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/codec/decode", post(decode).options(preflight))
        .route("/codec/encode", post(encode).options(preflight))
}

/// Temporal's JSON form of `Payloads`: bytes in base64.
#[derive(Debug, Serialize, Deserialize)]
struct JsonPayloads {
    /// Absent when empty (proto3 JSON leaves out empty lists; the CLI sends `{}`).
    #[serde(default)]
    payloads: Vec<JsonPayload>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JsonPayload {
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    data: String,
}

impl JsonPayload {
    fn into_payload(self) -> Result<Payload, ApiError> {
        let bad = || ApiError::bad_request("invalid_payload", "Payload fields must be base64.");
        let metadata = self
            .metadata
            .into_iter()
            .map(|(k, v)| Ok((k, BASE64.decode(v).map_err(|_| bad())?)))
            .collect::<Result<_, ApiError>>()?;
        let data = BASE64.decode(self.data).map_err(|_| bad())?;
        Ok(Payload { metadata, data, ..Default::default() })
    }

    fn from_payload(p: Payload) -> Self {
        Self {
            metadata: p.metadata.into_iter().map(|(k, v)| (k, BASE64.encode(v))).collect(),
            data: BASE64.encode(p.data),
        }
    }
}

async fn decode(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    with_cors(&state, &headers, convert(&state, &headers, &body, Direction::Decode).await)
}

async fn encode(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    with_cors(&state, &headers, convert(&state, &headers, &body, Direction::Encode).await)
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Decode,
    Encode,
}

async fn convert(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    direction: Direction,
) -> ApiResult<Response> {
    // JSON only: a cross-site page cannot send it without a preflight, which only the Temporal
    // UI's origin passes.
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let who = caller(state, headers).await?;
    let namespace = headers.get("x-namespace").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !namespace.is_empty() && namespace != state.support.namespace {
        return Err(ApiError::bad_request(
            "wrong_namespace",
            format!("This codec server serves the namespace {:?}.", state.support.namespace),
        ));
    }
    let keys: &PayloadKeys = state.support.payload_keys.as_ref().ok_or_else(|| {
        ApiError::unprocessable(
            "no_payload_keys",
            "Payloads are not encrypted here (no PAYLOAD_ENCRYPTION_KEYS).",
        )
    })?;
    let request: JsonPayloads = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("The body must be {{\"payloads\": [...]}}: {e}"),
        )
    })?;
    if request.payloads.len() > MAX_PAYLOADS {
        return Err(ApiError::bad_request(
            "too_many_payloads",
            format!("At most {MAX_PAYLOADS} payloads per call."),
        ));
    }
    let payloads = request
        .payloads
        .into_iter()
        .map(JsonPayload::into_payload)
        .collect::<Result<Vec<_>, _>>()?;
    let count = payloads.len();
    let (action, converted) = match direction {
        Direction::Decode => ("codec.decode", keys.decode_all(payloads)),
        Direction::Encode => ("codec.encode", keys.encode_all(payloads)),
    };
    let converted =
        converted.map_err(|e| ApiError::unprocessable("codec_failed", e.to_string()))?;
    let detail = serde_json::json!({ "namespace": state.support.namespace, "payloads": count });
    audit(&state.db, &who, action, Access { detail, ..Access::default() }).await?;
    let body =
        JsonPayloads { payloads: converted.into_iter().map(JsonPayload::from_payload).collect() };
    Ok(Json(body).into_response())
}

/// The support person calling: by access token (the CLI) or by codec cookie (the UI).
async fn caller(state: &AppState, headers: &HeaderMap) -> ApiResult<Support> {
    if let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return from_access_token(state, token).await;
    }
    let Some(secret) = crate::auth::cookie::read_named(headers, COOKIE_NAME) else {
        return Err(ApiError::unauthorized(
            "missing_token",
            "Open a codec session from the web app's support page, or send `Authorization: Bearer <token>`.",
        ));
    };
    let row = sqlx::query!(
        r#"SELECT u.id, u.email FROM support_codec_sessions c
           JOIN support_staff s ON s.user_id = c.user_id
           JOIN users u ON u.id = c.user_id
           WHERE c.token_hash = $1 AND c.expires_at > now() AND s.revoked_at IS NULL"#,
        sha256(&secret)
    )
    .fetch_optional(&state.db)
    .await?;
    row.map(|r| Support { user_id: r.id, email: r.email }).ok_or_else(not_support)
}

/// The CORS preflight: answered for the Temporal UI's origin only.
async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if allowed_origin(&state, &headers).is_some() {
        let h = response.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, x-namespace, authorization"),
        );
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    with_cors(&state, &headers, Ok(response))
}

fn allowed_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(ORIGIN)?;
    let allowed = state.support.ui_origin()?;
    (origin.to_str().ok()? == allowed).then(|| origin.clone())
}

/// The response, readable by the Temporal UI's page (and no other) with credentials.
fn with_cors(state: &AppState, headers: &HeaderMap, result: ApiResult<Response>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    let h = response.headers_mut();
    h.insert(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin(state, headers) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    response
}

/// A codec session opened.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodecSession {
    pub expires_at: DateTime<Utc>,
    /// Where to point the Temporal UI's codec server setting (with cross-origin credentials).
    pub codec_endpoint: String,
}

/// Opens a codec session for the Temporal UI: sets the `invoices_codec` cookie (HttpOnly, path
/// `/codec`, 8 hours) that the UI sends to the codec server. Support staff only; recorded.
#[utoipa::path(post, path = "/api/support/codec-session", tag = "support", security(("bearer" = [])),
    responses((status = 200, body = CodecSession), (status = 403, body = ErrorBody)))]
pub(crate) async fn start_codec_session(
    State(state): State<AppState>,
    who: Support,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let secret = random_token();
    let expires_at = Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    sqlx::query!(
        "INSERT INTO support_codec_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        sha256(&secret),
        who.user_id,
        expires_at
    )
    .execute(&state.db)
    .await?;
    sqlx::query!("DELETE FROM support_codec_sessions WHERE expires_at < now()")
        .execute(&state.db)
        .await?;
    audit(&state.db, &who, "codec.session", Access::default()).await?;
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    let body = CodecSession { expires_at, codec_endpoint: format!("{scheme}://{host}/codec") };
    let mut response = Json(body).into_response();
    // SameSite=Strict: the Temporal UI must be same-site with the API (its own subdomain of
    // the same site, or loopback in development); no other site's page makes the browser send it.
    let cookie = format!(
        "{COOKIE_NAME}={secret}; HttpOnly; Secure; SameSite=Strict; Path=/codec; Max-Age={}",
        SESSION_HOURS * 3600
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?;
    response.headers_mut().append(SET_COOKIE, cookie);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_and_write_temporal_json() {
        let json =
            r#"{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"IkFjbWUi"}]}"#;
        let parsed: JsonPayloads = serde_json::from_str(json).unwrap();
        let payload = parsed.payloads.into_iter().next().unwrap().into_payload().unwrap();
        assert_eq!(payload.metadata["encoding"], b"json/plain");
        assert_eq!(payload.data, b"\"Acme\"");
        let back = serde_json::to_value(JsonPayloads {
            payloads: vec![JsonPayload::from_payload(payload)],
        })
        .unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(json).unwrap());
    }
}

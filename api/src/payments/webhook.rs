//! `POST /api/webhooks/stripe`: payment events from Stripe (or, in Stripe's format, from the
//! local test checkout). Each is verified, stored once by its event id, and handed to the
//! invoice's workflow as an update; the workflow does the work. A replay answers 200 and
//! changes nothing; an event this platform does not act on is acknowledged and ignored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;

use super::events::{WebhookAck, receive};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// Receives a Stripe webhook delivery.
#[utoipa::path(post, path = "/api/webhooks/stripe", tag = "payments",
    request_body(content = Object, description = "A Stripe event, signed in the `Stripe-Signature` header"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<HMAC-SHA256>")),
    responses((status = 200, body = WebhookAck), (status = 400, body = ErrorBody, description = "Unsigned, stale, tampered with or not an event"),
        (status = 503, body = ErrorBody, description = "The workflow service did not answer; Stripe retries")))]
pub(super) async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookAck>> {
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let result = receive(&state, header, &body).await;
    state.metrics.webhook(&result);
    result.map(Json)
}

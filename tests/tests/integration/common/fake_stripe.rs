//! A local HTTP server in place of Stripe's API, for Checkout Session creation and expiry (no
//! Stripe emulator implements Checkout). It records every request it receives so that tests can
//! check what async-stripe sent, and answers in Stripe's format: a session, or an error when told
//! to. Expiring a session it did not create, or one already expired, is refused as Stripe does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request as received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The form body, decoded into (key, value) pairs in order.
    pub form: Vec<(String, String)>,
}

impl Received {
    pub(crate) fn field(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answer the next session creations with this Stripe error (status, body).
    refuse: Option<(StatusCode, Value)>,
    /// Sessions created, by id, with whether they have been expired.
    sessions: std::collections::BTreeMap<String, (Value, bool)>,
}

#[derive(Clone)]
pub(crate) struct FakeStripe {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeStripe {
    pub(crate) async fn start() -> FakeStripe {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeStripe { addr, inner }
    }

    /// The API base to give async-stripe (it appends `/v1/...`).
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The session creations received, in order.
    pub(crate) fn creations(&self) -> Vec<Received> {
        let received = self.received();
        received.into_iter().filter(|r| r.path == "/v1/checkout/sessions").collect()
    }

    /// The ids of the sessions expired so far, in order.
    pub(crate) fn expired(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter(|r| r.method == Method::POST)
            .filter_map(|r| r.path.strip_prefix("/v1/checkout/sessions/"))
            .filter_map(|rest| rest.strip_suffix("/expire"))
            .map(str::to_owned)
            .collect()
    }

    /// From now on, refuse session creation the way Stripe does for a bad request.
    pub(crate) fn refuse_with(&self, message: &str) {
        self.inner.lock().unwrap().refuse = Some((
            StatusCode::BAD_REQUEST,
            json!({ "error": {
                "code": "amount_too_large",
                "doc_url": "https://docs.stripe.com/error-codes/amount-too-large",
                "message": message,
                "param": "line_items[0][price_data][unit_amount]",
                "request_log_url": "https://dashboard.stripe.com/test/logs/req_Example?t=1700000000",
                "type": "invalid_request_error"
            }}),
        ));
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form_pairs(&body);
    let received = Received { method: method.clone(), path: uri.path().to_owned(), headers, form };
    let mut inner = inner.lock().unwrap();
    inner.received.push(received.clone());
    let expiring = uri
        .path()
        .strip_prefix("/v1/checkout/sessions/")
        .and_then(|rest| rest.strip_suffix("/expire"))
        .filter(|_| method == Method::POST);
    if let Some(id) = expiring {
        return expire(&mut inner, id);
    }
    if method != Method::POST || uri.path() != "/v1/checkout/sessions" {
        let error = json!({ "error": { "message": format!("Unrecognized request URL ({method}: {})", uri.path()), "type": "invalid_request_error" } });
        return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
    }
    if let Some((status, body)) = inner.refuse.clone() {
        return (status, axum::Json(body)).into_response();
    }
    // The same idempotency key answers the same session, as Stripe does.
    let key = received.header("idempotency-key").unwrap_or_default().to_owned();
    let id = format!("cs_test_{:x}", fnv(&key));
    let amount: i64 = received
        .field("line_items[0][price_data][unit_amount]")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let created = session(&id, amount, &received);
    inner.sessions.entry(id).or_insert_with(|| (created.clone(), false));
    (StatusCode::OK, axum::Json(created)).into_response()
}

/// `POST /v1/checkout/sessions/{id}/expire`: the session, now expired; Stripe's 404 for an
/// unknown session and 400 for one no longer open.
fn expire(inner: &mut Inner, id: &str) -> Response {
    let error = |status: StatusCode, code: &str, message: String| {
        let body = json!({ "error": { "code": code, "message": message, "type": "invalid_request_error" } });
        (status, axum::Json(body)).into_response()
    };
    match inner.sessions.get_mut(id) {
        None => error(
            StatusCode::NOT_FOUND,
            "resource_missing",
            format!("No such checkout.session: '{id}'"),
        ),
        Some((_, true)) => error(
            StatusCode::BAD_REQUEST,
            "checkout_session_not_open",
            "Only Checkout Sessions with a status in [\"open\"] can be expired.".to_owned(),
        ),
        Some((session, expired)) => {
            *expired = true;
            let mut answer = session.clone();
            answer["status"] = json!("expired");
            answer["url"] = Value::Null;
            (StatusCode::OK, axum::Json(answer)).into_response()
        }
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(Ok(b)) = hex.map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

/// A Checkout Session as Stripe's API returns it on creation.
fn session(id: &str, amount: i64, req: &Received) -> Value {
    let now = chrono::Utc::now().timestamp();
    let metadata: serde_json::Map<String, Value> = req
        .form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_owned(), json!(v)))
        })
        .collect();
    let mut session = json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": { "enabled": false },
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "cancel_url": req.field("cancel_url"),
        "client_reference_id": req.field("client_reference_id"),
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": now,
        "currency": req.field("line_items[0][price_data][currency]"),
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer": null,
        "customer_creation": "if_required",
        "customer_details": null,
        "customer_email": req.field("customer_email"),
    });
    // Two halves: one `json!` of the whole object is deeper than the macro's recursion limit.
    let rest = json!({
        "discounts": [],
        "expires_at": now + 24 * 3600,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": { "id": "pmc_1QExample", "parent": null },
        "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
        "payment_method_types": ["card", "link"],
        "payment_status": "unpaid",
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_details": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": req.field("success_url"),
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted",
        "url": format!("https://checkout.stripe.com/c/pay/{id}#fidkdWxOYHwnPyd1blpxYHZxWjA0")
    });
    if let (Some(all), Some(rest)) = (session.as_object_mut(), rest.as_object()) {
        all.extend(rest.clone());
    }
    session
}

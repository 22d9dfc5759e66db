//! Payments end to end: the hosted invoice page, the local test checkout, Stripe Checkout (its
//! API played by a local server that checks what it receives) and signed Stripe-format webhook
//! events, on the real router, the real worker binary, the Temporal dev server, Postgres and
//! moto.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::User;
use crate::common::fake_stripe::FakeStripe;
use crate::common::stack::Stack;
use invoice_api::payments::signature;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const LOCAL_SECRET: &str = "whsec_local_test_checkout";
const STRIPE_SECRET: &str = "whsec_test_5Rr9kQx2bN7vLmP3sT8wYz";

/// EUR 1 000.00, due in a month (so `sent`, not overdue, once out).
fn invoice_body(client_email: &str) -> Value {
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    json!({
        "clientName": "Globex GmbH",
        "clientEmail": client_email,
        "currency": "EUR",
        "dueDate": due.to_string(),
        "items": [{ "description": "Design sprint", "quantity": "2", "unitPrice": "500.00" }]
    })
}

/// Creates an invoice and waits until it is sent; answers it with its hosted-page token.
async fn sent_invoice(stack: &Stack, user: &User) -> (Value, String) {
    let created = stack.create_invoice(user, invoice_body("ap@globex.example")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let invoice = stack.wait_for_status(user, &id, "sent").await;
    let path = invoice["hostedPath"].as_str().expect("a sent invoice has a hosted page").to_owned();
    let token = path.strip_prefix("/i/").unwrap().to_owned();
    assert!(token.len() >= 43, "the token carries at least 256 bits: {token}");
    (invoice, token)
}

/// A client for the public pages that does not follow redirects.
fn browser(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/stripe/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A Stripe event from the fixtures, filled in.
fn stripe_event(name: &str, fill: &[(&str, String)]) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp();
    let mut text = fixture(name)
        .replace("__CREATED__", &now.to_string())
        .replace("__EXPIRES__", &(now + 86_400).to_string());
    for (key, value) in fill {
        text = text.replace(&format!("__{key}__"), value);
    }
    assert!(!text.contains("__"), "unfilled placeholder in {name}: {text}");
    let parsed: Value = serde_json::from_str(&text).expect("fixture is JSON");
    serde_json::to_vec(&parsed).unwrap()
}

/// `checkout.session.completed` (or `..async_payment_*`) for an invoice.
fn session_event(
    kind: &str,
    event_id: &str,
    invoice: &Value,
    org_id: &str,
    amount: i64,
    intent: &str,
    status: &str,
) -> Vec<u8> {
    stripe_event(
        "checkout.session.completed",
        &[
            ("TYPE", kind.to_owned()),
            ("EVENT_ID", event_id.to_owned()),
            ("SESSION_ID", format!("cs_test_{}", Uuid::new_v4().simple())),
            ("INVOICE_ID", invoice["id"].as_str().unwrap().to_owned()),
            ("ORG_ID", org_id.to_owned()),
            ("AMOUNT", amount.to_string()),
            ("CURRENCY", "eur".to_owned()),
            ("PAYMENT_INTENT", intent.to_owned()),
            ("PAYMENT_STATUS", status.to_owned()),
            ("METHOD_TYPES", "\"card\"".to_owned()),
        ],
    )
}

fn refund_event(
    event_id: &str,
    metadata: Value,
    amount: i64,
    refunded: i64,
    intent: &str,
) -> Vec<u8> {
    stripe_event(
        "charge.refunded",
        &[
            ("EVENT_ID", event_id.to_owned()),
            ("CHARGE_ID", format!("ch_{}", Uuid::new_v4().simple())),
            ("AMOUNT", amount.to_string()),
            ("AMOUNT_REFUNDED", refunded.to_string()),
            ("FULLY_REFUNDED", (amount == refunded).to_string()),
            ("CURRENCY", "eur".to_owned()),
            ("METADATA", metadata.to_string()),
            ("PAYMENT_INTENT", intent.to_owned()),
        ],
    )
}

/// Posts a webhook delivery with the given signature header (none: no header).
async fn deliver(stack: &Stack, body: &[u8], signature: Option<String>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(stack.app.url("/api/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header("stripe-signature", sig);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn deliver_signed(stack: &Stack, body: &[u8], secret: &str) -> Value {
    let sig = signature::sign(body, secret, chrono::Utc::now().timestamp());
    let (status, ack) = deliver(stack, body, Some(sig)).await;
    assert_eq!(status, StatusCode::OK, "{ack:#}");
    ack
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

async fn wait_for_event(stack: &Stack, user: &User, id: &str, kind: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events = stack.timeline(user, id).await;
        if count(&events, kind) > 0 {
            return events;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {kind} event: {events:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn signed_stripe_events_pay_partly_fully_and_refund(db: PgPool) {
    let stack = Stack::start(db.clone()).await;
    let user = stack.app.register("owner@seller.test").await;
    let (invoice, _) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap();
    assert_eq!(invoice["total"], 100_000);

    // A partial payment by card.
    let first = session_event(
        "checkout.session.completed",
        "evt_pay_1",
        &invoice,
        &user.org_id,
        40_000,
        "pi_first",
        "paid",
    );
    let ack = deliver_signed(&stack, &first, LOCAL_SECRET).await;
    assert_eq!(ack["outcome"], "applied", "{ack:#}");
    let v = stack.wait_for_status(&user, id, "partially_paid").await;
    assert_eq!((v["amountPaid"].as_i64(), v["amountDue"].as_i64()), (Some(40_000), Some(60_000)));

    // The same delivery again: acknowledged, nothing changes.
    let ack = deliver_signed(&stack, &first, LOCAL_SECRET).await;
    assert_eq!(ack["duplicate"], true, "{ack:#}");

    // A bank debit that completes later: the completed session is not money yet...
    let pending = session_event(
        "checkout.session.completed",
        "evt_pay_2_pending",
        &invoice,
        &user.org_id,
        60_000,
        "pi_second",
        "unpaid",
    );
    let ack = deliver_signed(&stack, &pending, LOCAL_SECRET).await;
    assert!(ack["outcome"].as_str().unwrap().starts_with("ignored"), "{ack:#}");
    // ...its async_payment_succeeded is.
    let settled = session_event(
        "checkout.session.async_payment_succeeded",
        "evt_pay_2",
        &invoice,
        &user.org_id,
        60_000,
        "pi_second",
        "paid",
    );
    assert_eq!(deliver_signed(&stack, &settled, LOCAL_SECRET).await["outcome"], "applied");
    let v = stack.wait_for_status(&user, id, "paid").await;
    assert_eq!(v["amountDue"], 0);
    let payments = v["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 2, "{payments:#?}");
    assert!(payments.iter().all(|p| p["method"] == "card"), "{payments:#?}");
    wait_for_event(&stack, &user, id, "receipt_sent").await;

    // A partial refund of the second payment: money is due again.
    let metadata = json!({ "invoice_id": id, "org_id": user.org_id });
    let refund = refund_event("evt_refund_1", metadata.clone(), 60_000, 20_000, "pi_second");
    assert_eq!(deliver_signed(&stack, &refund, LOCAL_SECRET).await["outcome"], "applied");
    let v = stack.wait_for_status(&user, id, "partially_paid").await;
    assert_eq!((v["amountPaid"].as_i64(), v["amountDue"].as_i64()), (Some(80_000), Some(20_000)));
    // Stripe reports running totals: a later event for the same charge refunds only the rest,
    // and an event that reports nothing new is refused by the workflow, not applied twice.
    let stale = refund_event("evt_refund_stale", metadata.clone(), 60_000, 20_000, "pi_second");
    let ack = deliver_signed(&stack, &stale, LOCAL_SECRET).await;
    assert!(
        ack["outcome"].as_str().unwrap().starts_with("refused: refund already recorded"),
        "{ack:#}"
    );
    let events = wait_for_event(&stack, &user, id, "refund_recorded").await;
    assert_eq!(count(&events, "refund_recorded"), 1);
    assert_eq!(count(&events, "payment_recorded"), 2);
    let refund_row: (i64, String) =
        sqlx::query_as("SELECT amount, method FROM payments WHERE invoice_id = $1 AND amount < 0")
            .bind(Uuid::parse_str(id).unwrap())
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(refund_row, (-20_000, "card".to_owned()));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_full_refund_of_a_paid_invoice_makes_it_refunded(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let (invoice, token) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap();
    let paid = session_event(
        "checkout.session.completed",
        "evt_full",
        &invoice,
        &user.org_id,
        100_000,
        "pi_full",
        "paid",
    );
    deliver_signed(&stack, &paid, LOCAL_SECRET).await;
    stack.wait_for_status(&user, id, "paid").await;
    // The charge carries no metadata here: the refund finds its invoice by the payment intent.
    let refund = refund_event("evt_full_refund", json!({}), 100_000, 100_000, "pi_full");
    assert_eq!(deliver_signed(&stack, &refund, LOCAL_SECRET).await["outcome"], "applied");
    let v = stack.wait_for_status(&user, id, "refunded").await;
    assert_eq!(v["amountPaid"], 0);
    let events = stack.timeline(&user, id).await;
    assert_eq!(count(&events, "refund_recorded"), 1, "{events:#?}");
    // The page says so, and offers nothing to pay.
    let page = browser(DESKTOP).get(stack.app.url(&format!("/i/{token}"))).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("refunded in full") && !html.contains("action=\"/i/"), "{html}");
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn webhooks_refuse_what_is_not_signed_right_and_ignore_what_is_not_theirs(db: PgPool) {
    let stack = Stack::start(db.clone()).await;
    let user = stack.app.register("owner@seller.test").await;
    let other = stack.app.register("owner@other.test").await;
    let (invoice, _) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap();
    let body = session_event(
        "checkout.session.completed",
        "evt_sig",
        &invoice,
        &user.org_id,
        100_000,
        "pi_sig",
        "paid",
    );
    let now = chrono::Utc::now().timestamp();

    let mut tampered = body.clone();
    let pos = tampered.windows(6).position(|w| w == b"100000").unwrap();
    tampered[pos] = b'9';
    let cases = [
        (
            "tampered",
            tampered.clone(),
            Some(signature::sign(&body, LOCAL_SECRET, now)),
            "signature_invalid",
        ),
        (
            "wrong secret",
            body.clone(),
            Some(signature::sign(&body, "whsec_wrong", now)),
            "signature_invalid",
        ),
        (
            "stale",
            body.clone(),
            Some(signature::sign(&body, LOCAL_SECRET, now - 600)),
            "signature_expired",
        ),
        ("missing header", body.clone(), None, "signature_missing"),
        ("garbage header", body.clone(), Some("v1=deadbeef".into()), "signature_invalid"),
    ];
    for (what, payload, sig, code) in cases {
        let (status, reply) = deliver(&stack, &payload, sig).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {reply:#}");
        assert_eq!(reply["error"]["code"], code, "{what}: {reply:#}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_provider_events")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "refused deliveries are not stored");

    // Signed, but not an event.
    let sig = signature::sign(b"[1,2]", LOCAL_SECRET, now);
    let (status, reply) = deliver(&stack, b"[1,2]", Some(sig)).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_event"))
    );

    // An event type this platform does not act on.
    let unknown = stripe_event("customer.created", &[("EVENT_ID", "evt_customer".into())]);
    let ack = deliver_signed(&stack, &unknown, LOCAL_SECRET).await;
    assert_eq!(ack["outcome"], "ignored: event type not handled");

    // Naming another organisation with this invoice: nothing happens to it.
    let foreign = session_event(
        "checkout.session.completed",
        "evt_foreign",
        &invoice,
        &other.org_id,
        100_000,
        "pi_foreign",
        "paid",
    );
    let ack = deliver_signed(&stack, &foreign, LOCAL_SECRET).await;
    assert_eq!(ack["outcome"], "ignored: no such invoice in that organisation", "{ack:#}");
    // A refund of a payment that is not ours.
    let refund = refund_event("evt_refund_unknown", json!({}), 5_000, 5_000, "pi_unknown");
    let ack = deliver_signed(&stack, &refund, LOCAL_SECRET).await;
    assert!(ack["outcome"].as_str().unwrap().starts_with("ignored"), "{ack:#}");

    // The genuine delivery, then its replay: one payment.
    assert_eq!(deliver_signed(&stack, &body, LOCAL_SECRET).await["outcome"], "applied");
    let replay = deliver_signed(&stack, &body, LOCAL_SECRET).await;
    assert_eq!(
        (replay["duplicate"].as_bool(), replay["outcome"].as_str()),
        (Some(true), Some("applied"))
    );
    let v = stack.wait_for_status(&user, id, "paid").await;
    assert_eq!(v["payments"].as_array().unwrap().len(), 1);
    assert_eq!(v["amountPaid"], 100_000);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn hosted_page_shows_the_invoice_to_its_token_only_and_records_views(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let (invoice, token) = sent_invoice(&stack, &user).await;
    let (other, other_token) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap();
    let number = invoice["number"].as_str().unwrap();
    let phone = browser(IPHONE);

    let page = phone.get(stack.app.url(&format!("/i/{token}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    for expected in [
        number,
        "Globex GmbH",
        "Design sprint",
        "€1,000.00",
        "Amount due",
        "Pay €1,000.00",
        "width=device-width",
    ] {
        assert!(html.contains(expected), "{expected:?} missing from the page: {html}");
    }
    assert!(!html.contains(other["number"].as_str().unwrap()), "another invoice shows");
    assert!(!html.contains(&other_token));

    // The view is on the timeline, with the device class and nothing else about the client.
    let events = wait_for_event(&stack, &user, id, "viewed").await;
    let viewed = events.iter().find(|e| e["kind"] == "viewed").unwrap();
    assert_eq!(viewed["data"], json!({ "device": "mobile" }), "{viewed:#}");
    assert_eq!(viewed["actor"], "client");
    // A crawler (a link preview) is not a view.
    let bot = browser("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
    assert_eq!(
        bot.get(stack.app.url(&format!("/i/{other_token}"))).send().await.unwrap().status(),
        StatusCode::OK
    );

    // The PDF is the invoice's own.
    let pdf = phone.get(stack.app.url(&format!("/i/{token}/pdf"))).send().await.unwrap();
    let pdf = match pdf.status() {
        StatusCode::TEMPORARY_REDIRECT => {
            let to = pdf.headers()["location"].to_str().unwrap().to_owned();
            reqwest::get(to).await.unwrap().bytes().await.unwrap()
        }
        status => {
            assert_eq!(status, StatusCode::OK);
            pdf.bytes().await.unwrap()
        }
    };
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    assert!(text.contains(number), "{text}");

    // Random, malformed and other-shaped tokens are all the same 404.
    let random = base64_token();
    for bad in [random.as_str(), "abc", "%2e%2e", &format!("{token}x")] {
        let r = phone.get(stack.app.url(&format!("/i/{bad}"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        let r = phone.get(stack.app.url(&format!("/i/{bad}/pdf"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}/pdf");
    }
    let r = stack
        .app
        .call(reqwest::Method::POST, &format!("/api/public/invoices/{random}/checkout"), None, None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));

    // Voiding revokes the link.
    let r = stack
        .app
        .post(
            &format!("/api/invoices/{}/void", other["id"].as_str().unwrap()),
            &user.access_token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    let other_id = other["id"].as_str().unwrap().to_owned();
    let voided = stack.wait_for_status(&user, &other_id, "void").await;
    assert_eq!(voided["hostedPath"], Value::Null);
    let r = phone.get(stack.app.url(&format!("/i/{other_token}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let events = stack.timeline(&user, &other_id).await;
    assert_eq!(count(&events, "viewed"), 0, "the crawler's visit counted: {events:#?}");
}

fn base64_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes().repeat(2))
        [..43]
        .to_owned()
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_local_test_checkout_pays_through_the_signed_webhook_path(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let (invoice, token) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap();
    let client = browser(DESKTOP);

    // The email links to the page.
    let texts = stack.sent_email_texts().await;
    assert!(
        texts.iter().any(|t| t.contains(&format!("/i/{token}"))),
        "no link to the page: {texts:#?}"
    );

    // Pay: on to the test checkout, twice (a double click) to the same session.
    let pay = client.post(stack.app.url(&format!("/i/{token}/pay"))).send().await.unwrap();
    assert_eq!(pay.status(), StatusCode::SEE_OTHER);
    let checkout = pay.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        checkout.contains(&format!("/i/{token}/test-checkout?session=cs_test_local_")),
        "{checkout}"
    );
    let again = client.post(stack.app.url(&format!("/i/{token}/pay"))).send().await.unwrap();
    assert_eq!(again.headers()["location"].to_str().unwrap(), checkout);
    let session = checkout.split("session=").nth(1).unwrap().to_owned();
    assert!(checkout.starts_with(&stack.app.url("/i/")), "{checkout}");
    let page = client.get(&checkout).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("TEST MODE") && page.contains("€1,000.00"), "{page}");

    // Fail first: a failed payment on the timeline, nothing paid.
    let r = client
        .post(stack.app.url(&format!("/i/{token}/test-checkout")))
        .form(&[("session", session.as_str()), ("outcome", "fail")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().ends_with("?checkout=failed"));
    wait_for_event(&stack, &user, id, "payment_failed").await;

    // Then pay (twice, as a double click would).
    for _ in 0..2 {
        let r = client
            .post(stack.app.url(&format!("/i/{token}/test-checkout")))
            .form(&[("session", session.as_str()), ("outcome", "pay")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let v = stack.wait_for_status(&user, id, "paid").await;
    let payments = v["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1, "{payments:#?}");
    assert_eq!(
        (payments[0]["amount"].as_i64(), payments[0]["method"].as_str()),
        (Some(100_000), Some("card"))
    );
    let events = wait_for_event(&stack, &user, id, "receipt_sent").await;
    assert_eq!(count(&events, "checkout_started"), 1, "{events:#?}");
    let page =
        client.get(stack.app.url(&format!("/i/{token}?checkout=success"))).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("this invoice is paid") && html.contains("A receipt was sent"), "{html}");

    // Nothing is due any more.
    let r = stack
        .app
        .call(reqwest::Method::POST, &format!("/api/public/invoices/{token}/checkout"), None, None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "nothing_due"));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn stripe_checkout_sessions_are_requested_once_per_state_and_refusals_reach_the_payer(
    db: PgPool,
) {
    let stripe = FakeStripe::start().await;
    let public = ("PUBLIC_BASE_URL", "https://pay.seller.test".to_owned());
    let stack = stripe_stack(db, &stripe, Some(public)).await;
    let user = stack.app.register("owner@seller.test").await;
    let (invoice, token) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap();
    let client = browser(DESKTOP);

    // The PDF and the email link to the public address.
    let texts = stack.sent_email_texts().await;
    let link = format!("https://pay.seller.test/i/{token}");
    assert!(texts.iter().any(|t| t.contains(&link)), "no hosted link in the email: {texts:#?}");
    let pdf = reqwest::Client::new()
        .get(stack.app.url(&format!("/api/invoices/{id}/pdf")))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text: String =
        pdf_extract::extract_text_from_mem(&pdf).unwrap().split_whitespace().collect();
    assert!(text.contains(&link), "no hosted link in the PDF: {text}");

    let r = stack
        .app
        .call(reqwest::Method::POST, &format!("/api/public/invoices/{token}/checkout"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(
        (r.body["provider"].as_str(), r.body["amount"].as_i64()),
        (Some("stripe"), Some(100_000))
    );
    let session_url = r.body["url"].as_str().unwrap().to_owned();
    assert!(session_url.starts_with("https://checkout.stripe.com/c/pay/cs_test_"), "{session_url}");
    // A double click on the page: the same session, and Stripe is not asked again.
    let pay = client.post(stack.app.url(&format!("/i/{token}/pay"))).send().await.unwrap();
    assert_eq!(pay.status(), StatusCode::SEE_OTHER);
    assert_eq!(pay.headers()["location"].to_str().unwrap(), session_url);

    let received = stripe.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let req = &received[0];
    let first_session = session_url.rsplit('/').next().unwrap().split('#').next().unwrap();
    let first_session = first_session.to_owned();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/checkout/sessions"));
    assert_eq!(req.header("authorization"), Some("Bearer sk_test_51ExampleKey"));
    assert_eq!(req.header("idempotency-key"), Some(format!("{id}:checkout:100000:0").as_str()));
    assert_eq!(req.field("mode"), Some("payment"));
    assert_eq!(req.field("line_items[0][price_data][unit_amount]"), Some("100000"));
    assert_eq!(req.field("line_items[0][price_data][currency]"), Some("eur"));
    assert_eq!(req.field("line_items[0][quantity]"), Some("1"));
    assert_eq!(req.field("metadata[invoice_id]"), Some(id));
    assert_eq!(req.field("metadata[org_id]"), Some(user.org_id.as_str()));
    assert_eq!(req.field("payment_intent_data[metadata][invoice_id]"), Some(id));
    assert_eq!(req.field("customer_email"), Some("ap@globex.example"));
    assert_eq!(
        req.field("success_url"),
        Some(format!("https://pay.seller.test/i/{token}?checkout=success").as_str())
    );
    assert_eq!(
        req.field("cancel_url"),
        Some(format!("https://pay.seller.test/i/{token}?checkout=cancelled").as_str())
    );

    // The test checkout does not exist with Stripe configured, and local signatures are refused.
    let r = client
        .get(stack.app.url(&format!(
            "/i/{token}/test-checkout?session=cs_test_local_0123456789abcdef01234567"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let paid = session_event(
        "checkout.session.completed",
        "evt_stripe_paid_part",
        &invoice,
        &user.org_id,
        30_000,
        "pi_stripe",
        "paid",
    );
    let sig = signature::sign(&paid, LOCAL_SECRET, chrono::Utc::now().timestamp());
    assert_eq!(deliver(&stack, &paid, Some(sig)).await.0, StatusCode::BAD_REQUEST);
    // Stripe's signature is accepted: a new amount due, a new session (and key).
    deliver_signed(&stack, &paid, STRIPE_SECRET).await;
    stack.wait_for_status(&user, id, "partially_paid").await;
    // The session for the old amount is expired at Stripe.
    wait_for_expiry(&stripe, &first_session).await;

    // Stripe refuses the next session: the payer reads why, and gets no 500.
    stripe.refuse_with("Amount must be no more than $999,999.99");
    let r = stack
        .app
        .call(reqwest::Method::POST, &format!("/api/public/invoices/{token}/checkout"), None, None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "payment_provider_refused"),
        "{:#}",
        r.body
    );
    assert!(
        r.body["error"]["message"].as_str().unwrap().contains("Amount must be no more than"),
        "{:#}",
        r.body
    );
    let page = client.post(stack.app.url(&format!("/i/{token}/pay"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = page.text().await.unwrap();
    assert!(html.contains("Amount must be no more than") && html.contains("Pay €700.00"), "{html}");
    let keys: Vec<_> = stripe
        .creations()
        .iter()
        .skip(1)
        .map(|r| r.header("idempotency-key").unwrap_or_default().to_owned())
        .collect();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k == &format!("{id}:checkout:70000:1")),
        "{keys:?}"
    );
    let events = wait_for_event(&stack, &user, id, "checkout_failed").await;
    assert_eq!(count(&events, "checkout_started"), 1, "{events:#?}");
}

/// A stack whose worker opens checkout sessions at `stripe` and whose API takes Stripe's
/// signed events; `extra` is one more worker setting.
async fn stripe_stack(db: PgPool, stripe: &FakeStripe, extra: Option<(&str, String)>) -> Stack {
    let worker_env: Vec<(&str, String)> = [
        ("STRIPE_SECRET_KEY", "sk_test_51ExampleKey".to_owned()),
        ("STRIPE_API_BASE", stripe.url()),
    ]
    .into_iter()
    .chain(extra)
    .collect();
    Stack::start_with(
        db,
        |c| c.payments.stripe_webhook_secret = Some(STRIPE_SECRET.to_owned().into()),
        &worker_env,
    )
    .await
}

/// Waits until the workflow has expired `session` at the fake Stripe.
async fn wait_for_expiry(stripe: &FakeStripe, session: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !stripe.expired().iter().any(|id| id == session) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{session} was never expired: {:?}",
            stripe.expired()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A session left open at Stripe could still take money that is no longer owed: a payer on an
/// old tab pays an invoice settled by bank transfer, or a voided one. The run expires every
/// session it opened once the amount due changes (the one a failed payment left open included),
/// once nothing is due, and when the invoice is voided, asking Stripe once per session.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn stripe_sessions_no_longer_due_are_expired(db: PgPool) {
    let stripe = FakeStripe::start().await;
    let stack = stripe_stack(db, &stripe, None).await;
    let user = stack.app.register("expiry@seller.test").await;
    let (invoice, token) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap();
    let checkout = |token: String| {
        let stack = &stack;
        async move {
            let url = format!("/api/public/invoices/{token}/checkout");
            let r = stack.app.call(reqwest::Method::POST, &url, None, None).await;
            assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
            r.body["sessionId"].as_str().unwrap().to_owned()
        }
    };
    let pay = |amount: &'static str, reference: &'static str| {
        let (stack, user) = (&stack, &user);
        async move {
            let r = stack
                .app
                .post(
                    &format!("/api/invoices/{id}/payments"),
                    &user.access_token,
                    json!({ "amount": amount, "method": "bank_transfer", "reference": reference }),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
    };
    let first = checkout(token.clone()).await;
    // The card fails: the payer may retry on that page, so it stays open; the next Pay opens
    // a second session.
    let failed = session_event(
        "checkout.session.async_payment_failed",
        "evt_expiry_failed",
        &invoice,
        &user.org_id,
        100_000,
        "pi_expiry_failed",
        "unpaid",
    );
    deliver_signed(&stack, &failed, STRIPE_SECRET).await;
    wait_for_event(&stack, &user, id, "payment_failed").await;
    let second = checkout(token.clone()).await;
    assert_ne!(first, second);
    assert!(stripe.expired().is_empty(), "{:?}", stripe.expired());

    // Paid in part by bank transfer: both sessions ask for the old amount.
    pay("400.00", "BT-1").await;
    wait_for_expiry(&stripe, &first).await;
    wait_for_expiry(&stripe, &second).await;
    // A session for what is due now; the rest arrives by bank transfer, and nothing is due.
    let third = checkout(token.clone()).await;
    pay("600.00", "BT-2").await;
    wait_for_expiry(&stripe, &third).await;
    stack.wait_for_status(&user, id, "paid").await;

    // Another invoice, voided with its session open.
    let (other, other_token) = sent_invoice(&stack, &user).await;
    let other_id = other["id"].as_str().unwrap();
    let fourth = checkout(other_token).await;
    let r = stack
        .app
        .post(
            &format!("/api/invoices/{other_id}/void"),
            &user.access_token,
            json!({ "reason": "duplicate" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    wait_for_expiry(&stripe, &fourth).await;

    let mut expired = stripe.expired();
    expired.sort();
    let mut all = vec![first, second, third, fourth];
    all.sort();
    assert_eq!(expired, all, "each session is expired once");
    for expiry in stripe.received().iter().filter(|r| r.path.ends_with("/expire")) {
        assert_eq!(expiry.header("authorization"), Some("Bearer sk_test_51ExampleKey"));
    }
}

/// Posts until the answer is not a 503 or a transport error, as a client with an idempotency
/// key should (the same request each time); answers the status and body.
async fn post_until_answered(
    url: String,
    token: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> (u16, Value) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let mut req = http.post(&url).header("content-type", "application/json").body(body.clone());
        if let Some(token) = &token {
            req = req.bearer_auth(token);
        }
        for (name, value) in &headers {
            req = req.header(*name, value);
        }
        if let Ok(res) = req.send().await
            && res.status() != StatusCode::SERVICE_UNAVAILABLE
        {
            let status = res.status().as_u16();
            return (status, res.json().await.unwrap_or(Value::Null));
        }
        assert!(tokio::time::Instant::now() < deadline, "{url}: no answer for 4 minutes");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// 50 requests at once on one sent invoice of EUR 1 000: 25 manual payments of 100 (five of
/// them repeating an earlier key), 10 signed card-payment events of 100 and 15 voids, each
/// retried by its client until answered, sent through two API processes (replicas of the real
/// binary) in turn. Whatever order the workflow takes them in, the end is one story: either the
/// invoice is void and holds no money, or it is paid or partly paid with every accepted payment
/// recorded once and no refused one recorded, and the rows, the answers and the timeline agree.
///
/// Updates to one invoice take turns across replicas: without that, such a burst made the
/// Temporal SDK core panic on the worker (then it would exit, and the test restarts it as a
/// process manager would) and let payments through that their callers were told were refused.
/// The test asserts that no worker died.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn fifty_simultaneous_payments_and_voids_leave_one_coherent_outcome(db: PgPool) {
    race_payments_and_voids(db, false).await;
}

/// The same race with the voids sent first, so that the void usually wins.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn fifty_simultaneous_voids_and_payments_leave_one_coherent_outcome(db: PgPool) {
    race_payments_and_voids(db, true).await;
}

#[expect(
    clippy::too_many_lines,
    reason = "one scenario, read top to bottom: the burst, what clients were told, what was kept"
)]
async fn race_payments_and_voids(db: PgPool, voids_first: bool) {
    let mut stack = Stack::start(db.clone()).await;
    let user = stack.app.register("owner@seller.test").await;
    let (invoice, _) = sent_invoice(&stack, &user).await;
    let replicas = [stack.start_api_process().await, stack.start_api_process().await];
    let mut replica = (0..).map(|n| replicas[n % 2].url.clone());
    let id = invoice["id"].as_str().unwrap().to_owned();
    let total = invoice["total"].as_i64().unwrap();
    assert_eq!(total, 100_000);

    enum Kind {
        Manual(String),
        Card(String),
        Void,
    }
    type Request =
        std::pin::Pin<Box<dyn std::future::Future<Output = (Kind, (u16, Value))> + Send>>;
    let (mut payments, mut voiding): (Vec<Request>, Vec<Request>) = (Vec::new(), Vec::new());
    let keys = (0..20).map(|i| format!("race-{i}")).chain((0..5).map(|i| format!("race-{i}")));
    for key in keys {
        let url = format!("{}/api/invoices/{id}/payments", replica.next().unwrap());
        let body = json!({ "amount": "100.00", "method": "bank_transfer", "idempotencyKey": key });
        let token = Some(user.access_token.clone());
        payments.push(Box::pin(async move {
            (
                Kind::Manual(format!("manual:{key}")),
                post_until_answered(url, token, vec![], serde_json::to_vec(&body).unwrap()).await,
            )
        }));
    }
    for i in 0..10 {
        let event_id = format!("evt_race_{i}");
        let body = session_event(
            "checkout.session.completed",
            &event_id,
            &invoice,
            &user.org_id,
            10_000,
            &format!("pi_race_{i}"),
            "paid",
        );
        let url = format!("{}/api/webhooks/stripe", replica.next().unwrap());
        let sig = signature::sign(&body, LOCAL_SECRET, chrono::Utc::now().timestamp());
        payments.push(Box::pin(async move {
            (
                Kind::Card(event_id),
                post_until_answered(url, None, vec![("stripe-signature", sig)], body).await,
            )
        }));
    }
    for _ in 0..15 {
        let url = format!("{}/api/invoices/{id}/void", replica.next().unwrap());
        let token = Some(user.access_token.clone());
        voiding.push(Box::pin(async move {
            (Kind::Void, post_until_answered(url, token, vec![], b"{}".to_vec()).await)
        }));
    }
    let order = if voids_first { [voiding, payments] } else { [payments, voiding] };
    let requests: Vec<_> = order.into_iter().flatten().map(tokio::spawn).collect();
    assert_eq!(requests.len(), 50);
    while !requests.iter().all(|r| r.is_finished()) {
        stack.revive_worker();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // What the clients were told. A "duplicate payment event" refusal means an earlier attempt
    // of the same request was applied.
    let (mut accepted, mut refused) = (BTreeSet::new(), BTreeSet::new());
    let mut voids = 0;
    for request in requests {
        let (kind, (status, body)) = request.await.unwrap();
        let text = body.to_string();
        match kind {
            Kind::Manual(event) => match status {
                200 => {
                    accepted.insert(event);
                }
                409 if text.contains("duplicate payment event") => {
                    accepted.insert(event);
                }
                409 => {
                    refused.insert(event);
                }
                other => panic!("payment {event}: {other} {body:#}"),
            },
            Kind::Card(event) => {
                assert_eq!(status, 200, "{body:#}");
                let outcome = body["outcome"].as_str().unwrap_or_default();
                if outcome == "applied" || outcome.contains("duplicate payment event") {
                    accepted.insert(event);
                } else {
                    refused.insert(event);
                }
            }
            Kind::Void => match status {
                200 => voids += 1,
                409 => {}
                other => panic!("void: {other} {body:#}"),
            },
        }
    }
    // A key refused once and accepted by a repeat is accepted.
    let refused: BTreeSet<String> = refused.difference(&accepted).cloned().collect();
    eprintln!("accepted {}, refused {}, voids {voids}", accepted.len(), refused.len());
    assert!(voids <= 1, "{voids} voids accepted");

    // What was recorded, once everything has settled.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (rows, status, amount_paid) = loop {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT event_id, amount FROM payments WHERE invoice_id = $1")
                .bind(Uuid::parse_str(&id).unwrap())
                .fetch_all(&db)
                .await
                .unwrap();
        let (status, amount_paid): (String, i64) =
            sqlx::query_as("SELECT status, amount_paid FROM invoices WHERE id = $1")
                .bind(Uuid::parse_str(&id).unwrap())
                .fetch_one(&db)
                .await
                .unwrap();
        let recorded: BTreeSet<String> = rows.iter().map(|r| r.0.clone()).collect();
        let settled = recorded == accepted && (voids == 0 || status == "void");
        if settled || tokio::time::Instant::now() > deadline {
            break (rows, status, amount_paid);
        }
        stack.revive_worker();
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let recorded: BTreeSet<String> = rows.iter().map(|r| r.0.clone()).collect();
    assert_eq!(recorded.len(), rows.len(), "a payment recorded twice: {rows:?}");
    assert_eq!(recorded, accepted, "recorded payments differ from the accepted ones");
    assert!(recorded.is_disjoint(&refused), "a refused payment was recorded");
    let paid: i64 = rows.iter().map(|r| r.1).sum();
    assert_eq!(amount_paid, paid);
    match status.as_str() {
        "void" => assert_eq!(paid, 0, "a void invoice holds {paid}"),
        "paid" => assert!(paid >= total && voids == 0),
        "partially_paid" => assert!(paid > 0 && paid < total && voids == 0),
        other => panic!("the invoice ended {other} with {paid} paid and {voids} voids"),
    }
    let events = stack.timeline(&user, &id).await;
    assert_eq!(count(&events, "payment_recorded"), rows.len(), "{events:#?}");
    assert_eq!(count(&events, "voided"), usize::from(status == "void"), "{events:#?}");
    assert_eq!(
        stack.worker_starts(),
        1,
        "the worker died during the burst:\n{}",
        stack.worker_log()
    );
}

/// How many events the invoice's current run holds.
async fn history_length(workflow_id: &str) -> i64 {
    use temporalio_client::grpc::WorkflowService;
    use temporalio_client::tonic;
    use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionRequest;
    let mut client = crate::common::temporal_client().await;
    let described = WorkflowService::describe_workflow_execution(
        &mut client,
        tonic::Request::new(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.to_owned(),
                run_id: String::new(),
            }),
        }),
    )
    .await
    .unwrap()
    .into_inner();
    described.workflow_execution_info.unwrap().history_length
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_flood_of_anonymous_calls_on_one_link_barely_grows_the_history(db: PgPool) {
    use futures::StreamExt;
    let stack = Stack::start(db).await;
    let user = stack.app.register("flood@seller.test").await;
    let (invoice, token) = sent_invoice(&stack, &user).await;
    let workflow_id = invoice["workflowId"].as_str().unwrap().to_owned();

    // The first Pay opens the session (an update); the first view is signalled.
    let desktop = browser(DESKTOP);
    let r = desktop.post(stack.app.url(&format!("/i/{token}/pay"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let first = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        desktop.get(stack.app.url(&format!("/i/{token}"))).send().await.unwrap().status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = history_length(&workflow_id).await;

    // 1 000 anonymous calls: page views on three devices, Pay clicks and the public checkout.
    let phone = browser(IPHONE);
    let calls = (0..1_000).map(|i| {
        let (desktop, phone, stack, token, first) = (&desktop, &phone, &stack, &token, &first);
        async move {
            let status = match i % 4 {
                0 => desktop
                    .get(stack.app.url(&format!("/i/{token}")))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                1 => {
                    phone.get(stack.app.url(&format!("/i/{token}"))).send().await.unwrap().status()
                }
                2 => {
                    let r = desktop
                        .post(stack.app.url(&format!("/i/{token}/pay")))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(
                        r.headers().get("location").and_then(|l| l.to_str().ok()),
                        Some(first.as_str())
                    );
                    r.status()
                }
                _ => desktop
                    .post(stack.app.url(&format!("/api/public/invoices/{token}/checkout")))
                    .send()
                    .await
                    .unwrap()
                    .status(),
            };
            assert!(status.is_success() || status.is_redirection(), "call {i}: {status}");
        }
    });
    futures::stream::iter(calls).buffer_unordered(16).collect::<Vec<()>>().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let added = history_length(&workflow_id).await - before;
    // Only the phone's first view reaches the workflow (a signal and its workflow task): every
    // Pay and checkout is served from the projected open session, every other view debounced.
    println!("events added to the run's history by 1 000 anonymous calls: {added}");
    assert!(added <= 10, "{added} events added by 1 000 anonymous calls");
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn confirmed_money_no_invoice_took_is_listed_for_ops(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("unapplied@seller.test").await;
    let (invoice, _) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap().to_owned();
    let r = stack
        .app
        .post(
            &format!("/api/invoices/{id}/void"),
            &user.access_token,
            json!({ "reason": "sent in error" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    stack.wait_for_status(&user, &id, "void").await;

    // The client paid through a session opened before the void: the provider confirms it, the
    // voided invoice's workflow cannot take it.
    let body = session_event(
        "checkout.session.completed",
        "evt_after_void",
        &invoice,
        &user.org_id,
        100_000,
        "pi_after_void",
        "paid",
    );
    let ack = deliver_signed(&stack, &body, LOCAL_SECRET).await;
    assert_ne!(ack["outcome"], "applied", "{ack:#}");
    let listed = stack.app.get("/api/ops/unapplied-payments", &user.access_token).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let items = listed.body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{:#}", listed.body);
    assert_eq!(items[0]["eventId"], "evt_after_void");
    assert_eq!(items[0]["invoiceId"], id.as_str());
    assert_eq!(
        (items[0]["amount"].as_i64(), items[0]["currency"].as_str()),
        (Some(100_000), Some("EUR"))
    );
    assert_eq!(items[0]["reference"], "pi_after_void");
    // A redelivery lists it once; another organisation sees nothing of it.
    deliver_signed(&stack, &body, LOCAL_SECRET).await;
    assert_eq!(
        stack
            .app
            .get("/api/ops/unapplied-payments", &user.access_token)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let other = stack.app.register("other@unapplied.test").await;
    assert_eq!(
        stack.app.get("/api/ops/unapplied-payments", &other.access_token).await.body,
        json!([])
    );
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_manual_payment_reference_cannot_capture_a_refund(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("manual@seller.test").await;
    let (invoice, _) = sent_invoice(&stack, &user).await;
    let id = invoice["id"].as_str().unwrap().to_owned();
    // A manual payment whose typed reference happens to be a provider payment id.
    let r = stack
        .app
        .post(&format!("/api/invoices/{id}/payments"), &user.access_token, json!({ "amount": "400.00", "method": "bank_transfer", "reference": "pi_someone_elses" }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    stack.wait_for_status(&user, &id, "partially_paid").await;

    // A refund of that provider payment (no metadata: matched by the payment id) is not this
    // invoice's: it is ignored, and the invoice keeps its money.
    let body = refund_event("evt_refund_capture", json!({}), 40_000, 40_000, "pi_someone_elses");
    let ack = deliver_signed(&stack, &body, LOCAL_SECRET).await;
    assert!(ack["outcome"].as_str().unwrap().starts_with("ignored"), "{ack:#}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = stack.app.get(&format!("/api/invoices/{id}"), &user.access_token).await;
    assert_eq!(now.body["amountPaid"].as_i64(), Some(40_000), "{:#}", now.body);
}

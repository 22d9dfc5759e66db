//! The public endpoints hold up to a stranger hammering them: per-IP and per-link limits that
//! hold across API replicas (two routers on one database here), 429 with `Retry-After` in the
//! JSON error shape, and the client IP taken from the right-most untrusted hop.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::TestApp;

async fn post(
    app: &TestApp,
    path: &str,
    xff: &str,
    body: serde_json::Value,
) -> (StatusCode, Option<String>, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-forwarded-for", xff)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry, body)
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn pay_calls_on_one_link_are_limited_across_replicas(db: PgPool) {
    let low = |c: &mut invoice_api::config::Config| c.limits.pay_per_token_per_minute = 4;
    let a = TestApp::spawn_with(db.clone(), low).await;
    let b = TestApp::spawn_with(db, low).await;
    let path = "/api/public/invoices/some-link-token-000000000000000000000/checkout";
    // From four addresses, alternating replicas: the link's count is shared.
    for i in 0..4 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (status, _, body) = post(app, path, &format!("198.51.100.{i}"), json!({})).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "call {i}: {body}");
    }
    let (status, retry, body) = post(&b, path, "198.51.100.200", json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    assert_eq!(body["error"]["details"]["retryAfterSeconds"], secs);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn registrations_are_limited_per_client_ip_which_the_client_cannot_forge(db: PgPool) {
    let app = TestApp::spawn_with(db, |c| c.limits.register_per_ip_per_hour = 2).await;
    let register = |n: u32, xff: String| {
        let app = &app;
        async move {
            let body =
                json!({ "email": format!("u{n}@limits.test"), "password": "long-enough-password" });
            post(app, "/api/auth/register", &xff, body).await
        }
    };
    // The client writes a new left-most address each time; the proxy appends the real one.
    for n in 0..2 {
        let (status, _, body) = register(n, format!("10.9.9.{n}, 203.0.113.7")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, retry, _) = register(2, "10.9.9.99, 203.0.113.7".into()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    // Another client is not held back by the first.
    let (status, _, body) = register(3, "203.0.113.8".into()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn parallel_password_guesses_cannot_pass_the_limit(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("guessed@limits.test").await;
    // 30 guesses at once against an account allowed 5 failures: at most 5 are checked.
    let guesses = (0..30).map(|i| {
        let app = &app;
        let email = user.email.clone();
        async move {
            post(
                app,
                "/api/auth/login",
                &format!("192.0.2.{i}"),
                json!({ "email": email, "password": format!("guess-{i}") }),
            )
            .await
            .0
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 25), "{statuses:?}");
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn resends_and_reminders_on_demand_are_limited_per_invoice(db: PgPool) {
    use crate::common::stack::Stack;
    let stack =
        Stack::start_with(db, |c| c.limits.emails_on_demand_per_invoice_per_day = 2, &[]).await;
    let user = stack.app.register("mailer@limits.test").await;
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let created = stack
        .create_invoice(&user, json!({
            "clientName": "Initech", "clientEmail": "ap@initech.example", "currency": "USD",
            "dueDate": due.to_string(), "items": [{ "description": "Support", "quantity": 1, "unitPrice": "90.00" }]
        }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    stack.wait_for_status(&user, &id, "sent").await;
    let t = user.access_token.as_str();
    let r = stack.app.post(&format!("/api/invoices/{id}/resend"), t, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = stack.app.post(&format!("/api/invoices/{id}/remind"), t, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = stack.app.post(&format!("/api/invoices/{id}/resend"), t, json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        "{:?}",
        r.body
    );
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_send_beyond_the_daily_quota_parks_the_invoice_with_the_reason(db: PgPool) {
    use crate::common::stack::Stack;
    let stack =
        Stack::start_with(db, |_| {}, &[("EMAIL_DAILY_QUOTA_PER_ORG", "1".to_owned())]).await;
    let user = stack.app.register("quota@limits.test").await;
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let body = json!({
        "clientName": "Umbrella", "clientEmail": "ap@umbrella.example", "currency": "USD",
        "dueDate": due.to_string(), "items": [{ "description": "Audit", "quantity": 1, "unitPrice": "50.00" }]
    });
    let first = stack.create_invoice(&user, body.clone()).await["id"].as_str().unwrap().to_owned();
    stack.wait_for_status(&user, &first, "sent").await;
    let second = stack.create_invoice(&user, body).await["id"].as_str().unwrap().to_owned();
    let parked = stack.wait_for_status(&user, &second, "needs_attention").await;
    let reason = parked["attentionReason"].as_str().unwrap_or_default();
    assert!(reason.contains("daily sending quota"), "{parked:#}");
    // Nothing went out for it.
    let texts = stack.sent_email_texts().await;
    assert_eq!(texts.len(), 1, "{texts:#?}");
}

//! Account emails end to end: the link that verifies a new account's address (and, until it
//! is followed, no invoice of the organisation reaches a client), and the link that resets a
//! forgotten password. The real router, the real worker binary mailing through SES on moto,
//! and Temporal.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::stack::Stack;
use crate::common::{Reply, TestApp};

/// Waits for the `n`th account email to `to` and returns the token of its link to `page`.
async fn link_token(stack: &Stack, to: &str, page: &str, n: usize) -> String {
    let marker = format!("/{page}#token=");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let tokens: Vec<String> = stack
            .account_emails()
            .await
            .into_iter()
            .filter(|text| text.contains(&format!("To: {to}")))
            .filter_map(|text| {
                let rest = &text[text.find(&marker)? + marker.len()..];
                Some(
                    rest.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
                        .collect(),
                )
            })
            .collect();
        if tokens.len() >= n {
            return tokens[n - 1].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {page} email #{n} to {to}; worker log:\n{}",
            stack.worker_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn post(app: &TestApp, path: &str, body: Value) -> Reply {
    app.call(Method::POST, path, None, Some(body)).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    post(app, "/api/auth/login", json!({ "email": email, "password": password })).await
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn invoices_reach_clients_only_once_the_owner_has_verified_their_address(db: PgPool) {
    let stack = Stack::start(db).await;
    let app = &stack.app;
    let user = app.register_unverified("new-owner@seller.test").await;
    let me = app.get("/api/me", &user.access_token).await;
    assert_eq!(me.body["user"]["emailVerified"], false, "{:#}", me.body);

    // An unverified organisation's invoice is not mailed: it waits, with the reason.
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let created = stack
        .create_invoice(
            &user,
            json!({
                "clientName": "Stranger Ltd",
                "clientEmail": "victim@elsewhere.test",
                "currency": "EUR",
                "dueDate": due.to_string(),
                "items": [{ "description": "Anything", "quantity": 1, "unitPrice": "10.00" }]
            }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let parked = stack.wait_for_status(&user, &id, "needs_attention").await;
    let reason = parked["attentionReason"].as_str().unwrap_or_default();
    assert!(reason.contains("not verified"), "{parked:#}");
    assert!(stack.sent_emails().await.is_empty(), "an invoice went out unverified");

    // The registration mailed a link; asking again replaces it (only the latest one works).
    let first = link_token(&stack, &user.email, "verify-email", 1).await;
    let r = app
        .call(Method::POST, "/api/auth/verify-email/resend", Some(&user.access_token), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:#}", r.body);
    assert_eq!(r.body["sentTo"], user.email);
    let latest = link_token(&stack, &user.email, "verify-email", 2).await;
    assert_ne!(first, latest);
    let r = post(app, "/api/auth/verify-email", json!({ "token": first })).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_token"), "{:#}", r.body);

    // The secret is in no workflow history: the run carries only the link's id.
    let link_id: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM account_tokens WHERE sent_at IS NOT NULL ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let history =
        workflow_history(&invoice_workflows::account::account_email_workflow_id(link_id)).await;
    let payloads = payload_texts(&history);
    assert!(payloads.iter().any(|p| p.contains(&link_id.to_string())), "{payloads:?}");
    assert!(!history.contains(&latest), "the link's secret is in the run's history");
    assert!(!payloads.iter().any(|p| p.contains(&latest)), "the secret is in a payload");

    // Following the link verifies the address, once.
    let r = post(app, "/api/auth/verify-email", json!({ "token": latest })).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["email"], user.email);
    let r = post(app, "/api/auth/verify-email", json!({ "token": latest })).await;
    assert_eq!(r.code(), "invalid_token", "{:#}", r.body);
    let me = app.get("/api/me", &user.access_token).await;
    assert_eq!(me.body["user"]["emailVerified"], true, "{:#}", me.body);
    let r = app
        .call(Method::POST, "/api/auth/verify-email/resend", Some(&user.access_token), None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "already_verified"), "{:#}", r.body);

    // Retried now, the invoice goes out.
    let r = app.post("/api/ops/retry", &user.access_token, json!({ "invoiceId": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    stack.wait_for_status(&user, &id, "sent").await;
    let texts = stack.sent_email_texts().await;
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(texts[0].contains("To: victim@elsewhere.test"), "{}", texts[0]);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn verification_links_are_limited_per_user(db: PgPool) {
    // No worker needed: the limit is the API's. The links' runs wait on a queue no one polls.
    let app = TestApp::spawn(db).await;
    let user = app.register_unverified("eager@seller.test").await;
    let resend =
        || app.call(Method::POST, "/api/auth/verify-email/resend", Some(&user.access_token), None);
    for _ in 0..5 {
        assert_eq!(resend().await.status, StatusCode::ACCEPTED);
    }
    let r = resend().await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        "{:#}",
        r.body
    );
    // Only the latest link could work: every other one has expired.
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM account_tokens WHERE purpose = 'verify_email' AND expires_at > now()",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(open, 1);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_forgotten_password_is_reset_through_the_emailed_link_and_every_session_ends(db: PgPool) {
    let stack = Stack::start(db).await;
    let app = &stack.app;
    let user = app.register("forgetful@seller.test").await;

    // The answer is the same for an address with no account, and that address gets nothing.
    for email in [user.email.as_str(), "nobody@seller.test"] {
        let r = post(app, "/api/auth/password-reset/request", json!({ "email": email })).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:#}", r.body);
        assert_eq!(r.body, json!({}));
    }
    let token = link_token(&stack, &user.email, "reset-password", 1).await;
    let texts = stack.account_emails().await;
    assert!(!texts.iter().any(|t| t.contains("To: nobody@seller.test")), "{texts:#?}");

    // A bad token and a short password are refused, and the link still works after them.
    let r = post(
        app,
        "/api/auth/password-reset",
        json!({ "token": "not-a-token", "password": "NewPassword456!" }),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_token"), "{:#}", r.body);
    let r =
        post(app, "/api/auth/password-reset", json!({ "token": token, "password": "short" })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:#}", r.body);
    assert_eq!(r.fields(), ["password"]);

    let r = post(
        app,
        "/api/auth/password-reset",
        json!({ "token": token, "password": "NewPassword456!" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:#}", r.body);
    // Once only.
    let r = post(
        app,
        "/api/auth/password-reset",
        json!({ "token": token, "password": "Another789!!" }),
    )
    .await;
    assert_eq!(r.code(), "invalid_token", "{:#}", r.body);

    // Every session ended: the old access and refresh tokens no longer work.
    assert_eq!(app.get("/api/me", &user.access_token).await.status, StatusCode::UNAUTHORIZED);
    let r = post(app, "/api/auth/refresh", json!({ "refreshToken": user.refresh_token })).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:#}", r.body);
    // The old password is refused, the new one works at once.
    assert_eq!(login(app, &user.email, &user.password).await.status, StatusCode::UNAUTHORIZED);
    let r = login(app, &user.email, "NewPassword456!").await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(
        app.get("/api/me", r.body["accessToken"].as_str().unwrap()).await.status,
        StatusCode::OK
    );

    // Asking for links to one address is limited (whether or not it has an account).
    let mut last = StatusCode::ACCEPTED;
    for _ in 0..3 {
        last =
            post(app, "/api/auth/password-reset/request", json!({ "email": "nobody@seller.test" }))
                .await
                .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

/// A workflow's history, as its Debug text.
async fn workflow_history(workflow_id: &str) -> String {
    // Opened with the tests' payload keys, as the worker reads it.
    let mut history = crate::common::stored_history(workflow_id).await;
    let codec = invoice_service::codec::EncryptionCodec(crate::common::payload_keys());
    let context = temporalio_common::data_converters::SerializationContextData::Workflow(
        temporalio_common::data_converters::WorkflowSerializationContext::new(),
    );
    temporalio_common::payload_visitor::decode_payloads(&mut history, &codec, &context)
        .await
        .expect("the payloads open");
    format!("{history:?}")
}

/// The payloads of a history's Debug text (printed as base64 between `[[` and `]]`), decoded.
fn payload_texts(history: &str) -> Vec<String> {
    use base64::Engine as _;
    history
        .split("[[")
        .skip(1)
        .filter_map(|rest| rest.split("]]").next())
        .flat_map(|list| list.split(", "))
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
}

//! Bad input of every kind gets a JSON error in the one documented shape, with a 4xx status:
//! never axum's plain text, never a 500. Also /health, /ready and the API docs.

use crate::common::{BODY_LIMIT, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

fn assert_error_shape(r: &crate::common::Reply) {
    let e = &r.body["error"];
    assert!(e["code"].as_str().is_some_and(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_lowercase() || c == '_')), "{:?}", r.body);
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{:?}", r.body);
    assert!(r.status.is_client_error(), "{} for {:?}", r.status, r.body);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn malformed_requests_get_json_errors(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("errors@example.com").await;
    let token = Some(user.access_token.as_str());
    let json_ct = Some("application/json");
    let cases: Vec<(&str, crate::common::Reply, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            app.call_raw(Method::POST, "/api/customers", token, json_ct, b"{\"name\": ".to_vec())
                .await,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "wrong type",
            app.call(Method::POST, "/api/customers", token, Some(json!({ "name": 42 }))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "missing field",
            app.call(Method::POST, "/api/customers", token, Some(json!({}))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "unknown field",
            app.call(
                Method::POST,
                "/api/customers",
                token,
                Some(json!({ "name": "A", "nmae": "typo" })),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "array body",
            app.call(Method::POST, "/api/auth/login", None, Some(json!([1, 2]))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "no content type",
            app.call_raw(Method::POST, "/api/customers", token, None, b"{}".to_vec()).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "oversized body",
            app.call_raw(
                Method::POST,
                "/api/customers",
                token,
                json_ct,
                format!("{{\"name\":\"{}\"}}", "x".repeat(BODY_LIMIT)).into_bytes(),
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "unknown route",
            app.call(Method::GET, "/api/nope", token, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "unknown root route",
            app.call(Method::GET, "/definitely/not/here", None, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "wrong method",
            app.call(Method::PUT, "/api/customers", token, Some(json!({}))).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "malformed id",
            app.call(Method::GET, "/api/customers/not-a-uuid", token, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "bad query",
            app.call(Method::GET, "/api/customers?limit=lots", token, None).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "limit out of range",
            app.call(Method::GET, "/api/customers?limit=100000", token, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "bad cursor",
            app.call(Method::GET, "/api/customers?cursor=%%%", token, None).await,
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "bad role",
            app.call(
                Method::POST,
                "/api/org/members",
                token,
                Some(json!({ "email": "x@example.com", "role": "god" })),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (name, r, status, code) in cases {
        assert_error_shape(&r);
        assert_eq!((r.status, r.code()), (status, code), "{name}: {:?}", r.body);
    }
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn health_ready_and_docs(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let r = app.call(Method::GET, "/health", None, None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("ok")));

    // Real Postgres and the real Temporal dev server answer.
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["checks"], json!({ "database": "ok", "temporal": "ok", "payments": "ok" }));

    let doc = app.call(Method::GET, "/api-docs/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc.body["openapi"]);
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/me",
        "/api/customers",
        "/api/customers/{id}",
        "/api/org/members",
        "/api/org/api-keys",
        "/health",
        "/ready",
    ] {
        assert!(doc.body["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    assert!(doc.body["components"]["schemas"].get("ErrorBody").is_some());

    let ui = reqwest::get(app.url("/api-docs/")).await.unwrap();
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(ui.text().await.unwrap().to_lowercase().contains("swagger"));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn ready_reports_an_unreachable_temporal(db: PgPool) {
    // Port 9 (discard) on loopback: nothing answers there.
    let app =
        TestApp::spawn_with(db, |c| c.temporal.address = Some("http://127.0.0.1:9".into())).await;
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["error"]["details"]["checks"]["database"], "ok");
    // What failed, never the cause's text (addresses, driver messages) to the public.
    assert_eq!(r.body["error"]["details"]["checks"]["temporal"], "unavailable", "{:?}", r.body);
    assert!(!r.body.to_string().contains("127.0.0.1"), "{:?}", r.body);
    // Liveness does not depend on Temporal.
    assert_eq!(app.call(Method::GET, "/health", None, None).await.status, StatusCode::OK);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn housekeeping_forgets_what_served_its_purpose(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let user = app.register("prune@example.com").await;
    let exec = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query(sql).execute(&db).await.unwrap() }
    };
    // Old: a refresh family expired a month ago, a throttle window and an event long done.
    exec("INSERT INTO refresh_tokens (id, org_id, user_id, family_id, token_hash, expires_at)
          SELECT gen_random_uuid(), org_id, user_id, gen_random_uuid(), '\\x01', now() - interval '30 days'
          FROM memberships LIMIT 1").await;
    exec("INSERT INTO login_throttle (key, window_start, failures) VALUES ('ip:old', now() - interval '3 days', 3)").await;
    exec("INSERT INTO payment_provider_events (id, provider, type, received_at, processed_at)
          VALUES ('evt_old', 'stripe', 'x', now() - interval '100 days', now() - interval '100 days'),
                 ('evt_new', 'stripe', 'x', now(), now())").await;
    // An account link that expired two days ago (registering wrote a fresh one, which stays).
    exec("INSERT INTO account_tokens (id, user_id, purpose, email, expires_at)
          SELECT gen_random_uuid(), id, 'reset_password', email, now() - interval '2 days' FROM users")
    .await;
    let pruned = invoice_api::housekeeping::prune_once(&db).await.unwrap();
    assert_eq!(
        (
            pruned.refresh_tokens,
            pruned.login_throttle,
            pruned.payment_provider_events,
            pruned.account_tokens
        ),
        (1, 1, 1, 1),
        "{pruned:?}"
    );
    // What is still of use stays: the live session, the recent event.
    let r = app
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refreshToken": user.refresh_token })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_provider_events")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 1);
    let links: i64 =
        sqlx::query_scalar("SELECT count(*) FROM account_tokens").fetch_one(&db).await.unwrap();
    assert_eq!(links, 1);
}

//! Customers CRUD: defaults, field-level validation, partial updates, search and keyset
//! pagination.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn create_read_update_delete(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let t = app.register("crud@example.com").await.access_token;

    let created = app
        .post(
            "/api/customers",
            &t,
            json!({
                "name": "  Müller & Söhne GmbH ",
                "email": "rechnung@mueller.de",
                "address": { "line1": "Hauptstraße 5", "city": "München", "postalCode": "80331", "country": "DE" },
                "taxId": "DE123456789",
                "currency": "EUR",
                "timeZone": "Europe/Berlin",
                "locale": "de-DE"
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["name"], "Müller & Söhne GmbH", "names are trimmed");
    assert_eq!(created.body["address"]["city"], "München");
    let path = format!("/api/customers/{}", created.body["id"].as_str().unwrap());

    let got = app.get(&path, &t).await;
    assert_eq!(got.body, created.body);

    // Defaults: the organisation's currency, UTC, en-US.
    let minimal = app.post("/api/customers", &t, json!({ "name": "Acme Corp" })).await;
    assert_eq!(minimal.status, StatusCode::CREATED);
    assert_eq!(
        (
            minimal.body["currency"].as_str(),
            minimal.body["timeZone"].as_str(),
            minimal.body["locale"].as_str()
        ),
        (Some("USD"), Some("UTC"), Some("en-US"))
    );
    assert!(minimal.body["email"].is_null());

    // PATCH: absent fields stay, null clears.
    let patched = app
        .call(
            Method::PATCH,
            &path,
            Some(&t),
            Some(json!({ "timeZone": "America/New_York", "taxId": null })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["timeZone"], "America/New_York");
    assert!(patched.body["taxId"].is_null());
    assert_eq!(patched.body["email"], "rechnung@mueller.de");
    assert_eq!(patched.body["address"]["country"], "DE");

    let bad = app.call(Method::PATCH, &path, Some(&t), Some(json!({ "currency": "EURO" }))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&path, &t).await.body["currency"],
        "EUR",
        "a refused update changes nothing"
    );

    assert_eq!(
        app.call(Method::DELETE, &path, Some(&t), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&path, &t).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::DELETE, &path, Some(&t), None).await.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn every_field_is_validated_at_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let t = app.register("validate@example.com").await.access_token;
    let r = app
        .post(
            "/api/customers",
            &t,
            json!({
                "name": "   ",
                "email": "not an email",
                "address": { "line1": "", "city": "Paris", "postalCode": "75001", "country": "France" },
                "taxId": "x".repeat(65),
                "currency": "XXX",
                "timeZone": "Europe/Atlantis",
                "locale": "english"
            }),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "address.country",
            "address.line1",
            "currency",
            "email",
            "locale",
            "name",
            "taxId",
            "timeZone"
        ]
    );
    let codes: Vec<&str> = r.body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for code in [
        "required",
        "invalid_email",
        "invalid_country",
        "too_long",
        "unknown_currency",
        "unknown_time_zone",
        "invalid_locale",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 0, "nothing half-written");

    let r = app.post("/api/customers", &t, json!({ "name": "x".repeat(201) })).await;
    assert_eq!(r.fields(), ["name"]);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn search_and_keyset_pagination(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let t = app.register("pages@example.com").await.access_token;
    for i in 0..7 {
        let r = app
            .post(
                "/api/customers",
                &t,
                json!({ "name": format!("Client {i}"), "email": format!("c{i}@example.com") }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    app.post("/api/customers", &t, json!({ "name": "100% Discount_Shop" })).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/customers?q=client&limit=3&cursor={c}"),
            None => "/api/customers?q=client&limit=3".to_owned(),
        };
        let page = app.get(&path, &t).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|c| c["name"].as_str().unwrap().to_owned()));
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Client {i}")).collect();
    assert_eq!(seen, expected, "newest first, each exactly once");

    // LIKE wildcards in the search are taken literally.
    let r = app.get("/api/customers?q=%25", &t).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app.get("/api/customers?q=c5%40example", &t).await;
    assert_eq!(r.body["items"][0]["name"], "Client 5");
}

//! `POST /api/invoices` refuses bad input with field-level 422 errors, never a 500, and writes
//! nothing: no invoice, no customer, no workflow. (Validation runs before anything is started,
//! so these tests need no worker.)

use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

fn valid() -> Value {
    json!({
        "clientName": "Acme Corp",
        "clientEmail": "billing@acme.com",
        "currency": "USD",
        "issueDate": "2026-11-01",
        "dueDate": "2026-12-01",
        "items": [ { "description": "Consulting", "quantity": 10, "unitPrice": "100.00" } ]
    })
}

/// `valid()` with `change` applied.
fn with(change: impl FnOnce(&mut Value)) -> Value {
    let mut body = valid();
    change(&mut body);
    body
}

/// Posts `body` and expects a 422 naming `field` with `code` (when given).
async fn refused(app: &TestApp, token: &str, body: Value, field: &str, code: Option<&str>) {
    let r = app.post("/api/invoices", token, body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body:#} -> {:#}", r.body);
    assert_eq!(r.code(), "validation_failed", "{:#}", r.body);
    let fields = r.body["error"]["details"]["fields"].as_array().cloned().unwrap_or_default();
    let hit = fields.iter().find(|f| f["field"] == field);
    let Some(hit) = hit else { panic!("expected an error on {field}: {:#}", r.body) };
    if let Some(code) = code {
        assert_eq!(hit["code"], code, "{:#}", r.body);
    }
    assert!(hit["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn every_rule_has_its_field_error_and_nothing_is_written(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let user = app.register("owner@seller.test").await;
    let t = user.access_token.as_str();

    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        ("no lines", with(|b| b["items"] = json!([])), "items", Some("required")),
        (
            "too many lines",
            with(|b| {
                b["items"] = json!(
                    (0..501)
                        .map(|_| json!({"description": "x", "quantity": 1, "unitPrice": "1"}))
                        .collect::<Vec<_>>()
                )
            }),
            "items",
            Some("too_many"),
        ),
        (
            "zero quantity",
            with(|b| b["items"][0]["quantity"] = json!(0)),
            "items[0].quantity",
            Some("not_positive"),
        ),
        (
            "negative quantity",
            with(|b| b["items"][0]["quantity"] = json!("-2")),
            "items[0].quantity",
            None,
        ),
        (
            "quantity with 5 decimals",
            with(|b| b["items"][0]["quantity"] = json!("1.00001")),
            "items[0].quantity",
            None,
        ),
        (
            "negative unit price",
            with(|b| b["items"][0]["unitPrice"] = json!("-1.00")),
            "items[0].unitPrice",
            None,
        ),
        (
            "more decimals than the currency has",
            with(|b| b["items"][0]["unitPrice"] = json!("1.005")),
            "items[0].unitPrice",
            None,
        ),
        (
            "JPY has no minor unit",
            with(|b| {
                b["currency"] = json!("JPY");
                b["items"][0]["unitPrice"] = json!("100.5");
            }),
            "items[0].unitPrice",
            None,
        ),
        (
            "unit price that is not a number",
            with(|b| b["items"][0]["unitPrice"] = json!("ten")),
            "items[0].unitPrice",
            None,
        ),
        (
            "absurd unit price",
            with(|b| b["items"][0]["unitPrice"] = json!("9999999999999999999999")),
            "items[0].unitPrice",
            None,
        ),
        (
            "total beyond bounds",
            with(|b| {
                b["items"][0]["unitPrice"] = json!("90000000000.00");
                b["items"][0]["quantity"] = json!(1000);
            }),
            "items",
            Some("out_of_range"),
        ),
        (
            "unknown currency",
            with(|b| b["currency"] = json!("XYZ")),
            "currency",
            Some("unknown_currency"),
        ),
        ("lower-case junk currency", with(|b| b["currency"] = json!("dollars")), "currency", None),
        (
            "bad due date",
            with(|b| b["dueDate"] = json!("2026-13-45")),
            "dueDate",
            Some("invalid_date"),
        ),
        (
            "bad issue date",
            with(|b| b["issueDate"] = json!("yesterday")),
            "issueDate",
            Some("invalid_date"),
        ),
        (
            "due before issue",
            with(|b| b["dueDate"] = json!("2026-10-01")),
            "dueDate",
            Some("before_issue_date"),
        ),
        (
            "amount not the total",
            with(|b| b["amount"] = json!(999.99)),
            "amount",
            Some("amount_mismatch"),
        ),
        ("tax over 100 %", with(|b| b["taxRate"] = json!("101")), "taxRate", Some("out_of_range")),
        ("negative discount", with(|b| b["discount"] = json!("-5")), "discount", None),
        (
            "empty description",
            with(|b| b["items"][0]["description"] = json!("  ")),
            "items[0].description",
            None,
        ),
        (
            "description too long",
            with(|b| b["items"][0]["description"] = json!("x".repeat(2001))),
            "items[0].description",
            None,
        ),
        (
            "notes too long",
            with(|b| b["notes"] = json!("n".repeat(5001))),
            "notes",
            Some("too_long"),
        ),
        (
            "reference too long",
            with(|b| b["reference"] = json!("r".repeat(101))),
            "reference",
            Some("too_long"),
        ),
        (
            "no client and no customer",
            with(|b| {
                b.as_object_mut().unwrap().remove("clientName");
            }),
            "clientName",
            None,
        ),
        (
            "client name too long",
            with(|b| b["clientName"] = json!("c".repeat(201))),
            "clientName",
            None,
        ),
        (
            "invalid client email",
            with(|b| b["clientEmail"] = json!("not-an-email")),
            "clientEmail",
            Some("invalid_email"),
        ),
        (
            "unknown customer",
            with(|b| b["customerId"] = json!(uuid::Uuid::new_v4())),
            "customerId",
            Some("unknown_customer"),
        ),
    ];
    for (name, body, field, code) in cases {
        eprintln!("case: {name}");
        refused(&app, t, body, field, code).await;
    }

    // Several mistakes are reported together.
    let r = app
        .post(
            "/api/invoices",
            t,
            with(|b| {
                b["currency"] = json!("XYZ");
                b["dueDate"] = json!("soon");
                b["items"][0]["quantity"] = json!(0);
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = r.fields();
    for f in ["currency", "dueDate", "items[0].quantity"] {
        assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
    }

    // Wrong JSON types and unknown or missing fields are 422 too, in the same error shape.
    for body in [
        with(|b| b["items"] = json!("one")),
        with(|b| b["currency"] = json!(840)),
        with(|b| b["surprise"] = json!(true)),
        with(|b| {
            b.as_object_mut().unwrap().remove("dueDate");
        }),
    ] {
        let r = app.post("/api/invoices", t, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body:#} -> {:#}", r.body);
        assert!(r.body["error"]["code"].is_string(), "{:#}", r.body);
    }

    // Nothing was written by any of it.
    let invoices: i64 =
        sqlx::query_scalar("SELECT count(*) FROM invoices").fetch_one(&db).await.unwrap();
    let customers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&db).await.unwrap();
    assert_eq!((invoices, customers), (0, 0));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn another_organisations_customer_is_unknown_and_viewers_cannot_create(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner@seller.test").await;
    let other = app.register("owner@rival.test").await;
    let r = app
        .post(
            "/api/customers",
            &other.access_token,
            json!({ "name": "Rival's client", "email": "c@rival.test" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.body);
    let theirs = r.body["id"].clone();
    let body = with(|b| {
        b.as_object_mut().unwrap().remove("clientName");
        b["customerId"] = theirs;
    });
    refused(&app, &owner.access_token, body, "customerId", Some("unknown_customer")).await;

    let viewer = app.register("viewer@seller.test").await;
    let token = app.join(&owner, &viewer, "viewer").await;
    let r = app.post("/api/invoices", &token, valid()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:#}", r.body);
    let r = app.post("/api/ops/retry", &token, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:#}", r.body);
}

/// Sends `body` with `method` to `path` and returns the (field, code) pairs of its 422.
async fn refusals(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Vec<(String, String)> {
    let r = app.call(method, path, Some(token), Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body:#} -> {:#}", r.body);
    assert_eq!(r.code(), "validation_failed", "{:#}", r.body);
    r.body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_owned(), f["code"].as_str().unwrap().to_owned()))
        .collect()
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn one_set_of_text_rules_guards_every_body(db: PgPool) {
    use reqwest::Method;
    let app = TestApp::spawn(db.clone()).await;
    let user = app.register("text@seller.test").await;
    let t = user.access_token.as_str();
    let pair = |f: &str, c: &str| (f.to_owned(), c.to_owned());

    // An invoice: a header injection in the client's name (it reaches the email Subject), a NUL
    // in a line, an escape sequence in the notes; line breaks in a description are fine.
    let body = with(|b| {
        b["clientName"] = json!("Acme\r\nBcc: everyone@example.com");
        b["items"] = json!([
            { "description": "two\nlines", "quantity": 1, "unitPrice": "1" },
            { "description": "nul\u{0}", "quantity": 1, "unitPrice": "1" },
        ]);
        b["notes"] = json!("\u{1b}[2J");
    });
    let mut got = refusals(&app, t, Method::POST, "/api/invoices", body).await;
    got.sort();
    assert_eq!(
        got,
        [
            pair("clientName", "line_break"),
            pair("items[1].description", "invalid_character"),
            pair("notes", "invalid_character")
        ]
    );

    // Actions: today a NUL in a void reason or a payment reference was accepted (200), then the
    // Postgres write failed and retried forever. Refused before any invoice is looked up.
    let id = uuid::Uuid::new_v4();
    let got = refusals(
        &app,
        t,
        Method::POST,
        &format!("/api/invoices/{id}/void"),
        json!({ "reason": "x\u{0}" }),
    )
    .await;
    assert_eq!(got, [pair("reason", "invalid_character")]);
    let payment = json!({ "amount": "1.00", "method": "bank_transfer", "reference": "ref\u{0}" });
    let got =
        refusals(&app, t, Method::POST, &format!("/api/invoices/{id}/payments"), payment).await;
    assert_eq!(got, [pair("reference", "invalid_character")]);
    let long = json!({ "reason": "r".repeat(1_001) });
    let got = refusals(&app, t, Method::POST, &format!("/api/invoices/{id}/void"), long).await;
    assert_eq!(got, [pair("reason", "too_long")]);

    // Customers, the organisation's settings and its members' names pass the same rules.
    let got =
        refusals(&app, t, Method::POST, "/api/customers", json!({ "name": "Bob\u{7f}" })).await;
    assert_eq!(got, [pair("name", "invalid_character")]);
    let got =
        refusals(&app, t, Method::PATCH, "/api/org", json!({ "name": "Org\nX-Header: 1" })).await;
    assert_eq!(got, [pair("name", "line_break")]);
    let got = refusals(&app, t, Method::POST, "/api/auth/register", json!({
        "email": "new@seller.test", "password": "long-enough-password", "organizationName": "Eve\r\n"
    })).await;
    assert_eq!(got, [pair("organizationName", "line_break")]);

    // Nothing was written.
    let invoices: i64 =
        sqlx::query_scalar("SELECT count(*) FROM invoices").fetch_one(&db).await.unwrap();
    let customers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&db).await.unwrap();
    assert_eq!((invoices, customers), (0, 0));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn an_invoice_with_nothing_to_collect_is_refused(db: PgPool) {
    // Zero-total invoices are refused (not settled at finalization): every finalized invoice
    // has money due, so reminders and the Pay button always mean something.
    let app = TestApp::spawn(db.clone()).await;
    let user = app.register("zero@seller.test").await;
    let t = user.access_token.as_str();
    let free = with(|b| {
        b["items"] = json!([{ "description": "Gift", "quantity": 1, "unitPrice": "0.00" }])
    });
    refused(&app, t, free, "items", Some("zero_total")).await;
    let discounted = with(|b| b["discount"] = json!("100"));
    refused(&app, t, discounted, "items", Some("zero_total")).await;
    let invoices: i64 =
        sqlx::query_scalar("SELECT count(*) FROM invoices").fetch_one(&db).await.unwrap();
    assert_eq!(invoices, 0);
}

//! `/api/analytics/dashboard` against known rows: every figure, every filter, the validation
//! of the query, the organisation boundary; and the demo-data command that fills a demo
//! organisation deterministically.

// Amounts are written `units_cents` (100_00 is 100.00), as they read on an invoice.

use crate::common::TestApp;
use chrono::{Duration, NaiveDate, Utc};
use invoice_api::demo::{DemoArgs, fill};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// Writes what the worker would have written for one invoice: the row, its payments and
/// its page views. Days are relative to `base`.
struct Seed<'a> {
    db: &'a PgPool,
    org: Uuid,
    customer: Uuid,
}

impl Seed<'_> {
    async fn new<'a>(db: &'a PgPool, org: &str) -> Seed<'a> {
        let org = Uuid::parse_str(org).unwrap();
        let customer = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO customers (id, org_id, name, currency, time_zone, locale)
             VALUES ($1, $2, 'Client', 'EUR', 'UTC', 'en')",
        )
        .bind(customer)
        .bind(org)
        .execute(db)
        .await
        .unwrap();
        Seed { db, org, customer }
    }

    #[expect(clippy::too_many_arguments, reason = "a seeded invoice is all of these facts")]
    async fn invoice(
        &self,
        status: &str,
        currency: &str,
        issued: NaiveDate,
        total: i64,
        payments: &[(i64, &str, NaiveDate)],
        views: &[(&str, NaiveDate)],
        checkout: bool,
    ) -> Uuid {
        let id = Uuid::now_v7();
        let paid: i64 = payments.iter().map(|p| p.0).sum();
        let paid_at = (status == "paid").then(|| payments.last().unwrap().2);
        sqlx::query(
            "INSERT INTO invoices (id, org_id, customer_id, workflow_id, status, currency, issue_date,
                 due_date, subtotal, discount_total, tax_total, total, amount_paid, client_name,
                 created_by, created_at, sent_at, paid_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7 + 30, $8, 0, 0, $8, $9, 'Client', 'test',
                     $7::timestamp AT TIME ZONE 'UTC', $7::timestamp AT TIME ZONE 'UTC',
                     $10::timestamp AT TIME ZONE 'UTC')",
        )
        .bind(id)
        .bind(self.org)
        .bind(self.customer)
        .bind(format!("invoice:{}:{id}", self.org))
        .bind(status)
        .bind(currency)
        .bind(issued)
        .bind(total)
        .bind(paid)
        .bind(paid_at)
        .execute(self.db)
        .await
        .unwrap();
        for (n, (amount, method, day)) in payments.iter().enumerate() {
            sqlx::query(
                "INSERT INTO payments (id, org_id, invoice_id, event_id, amount, currency, method, paid_at, recorded_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamp AT TIME ZONE 'UTC' + interval '12 hours', 'test')",
            )
            .bind(Uuid::now_v7())
            .bind(self.org)
            .bind(id)
            .bind(format!("evt_{n}"))
            .bind(amount)
            .bind(currency)
            .bind(method)
            .bind(day)
            .execute(self.db)
            .await
            .unwrap();
        }
        let mut events: Vec<(&str, Value, NaiveDate)> = views
            .iter()
            .map(|(device, day)| ("viewed", json!({ "device": device }), *day))
            .collect();
        if checkout {
            events.push(("checkout_started", json!({}), issued));
        }
        for (n, (kind, data, day)) in events.into_iter().enumerate() {
            sqlx::query(
                "INSERT INTO invoice_events (org_id, invoice_id, kind, actor, data, occurred_at, dedup_key)
                 VALUES ($1, $2, $3, 'client', $4, $5::timestamp AT TIME ZONE 'UTC', $6)",
            )
            .bind(self.org)
            .bind(id)
            .bind(kind)
            .bind(data)
            .bind(day)
            .bind(format!("e{n}"))
            .execute(self.db)
            .await
            .unwrap();
        }
        id
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn dashboard(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/analytics/dashboard?{query}"), token).await;
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    r.body
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_dashboard_adds_up_known_invoices(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let user = app.register("analytics@example.com").await;
    let seed = Seed::new(&db, &user.org_id).await;
    // Paid by card in 8 days, viewed on a phone and a desktop, through the checkout.
    seed.invoice(
        "paid",
        "EUR",
        day("2026-03-02"),
        100_00,
        &[(100_00, "card", day("2026-03-10"))],
        &[("mobile", day("2026-03-03")), ("desktop", day("2026-03-04"))],
        true,
    )
    .await;
    // Half paid by bank transfer, viewed on a tablet.
    seed.invoice(
        "partially_paid",
        "EUR",
        day("2026-03-04"),
        200_00,
        &[(100_00, "bank_transfer", day("2026-03-20"))],
        &[("tablet", day("2026-03-05"))],
        false,
    )
    .await;
    // Sent, nothing paid.
    seed.invoice("sent", "EUR", day("2026-03-16"), 50_00, &[], &[], false).await;
    // Paid and fully refunded by card: collects nothing net.
    seed.invoice(
        "refunded",
        "EUR",
        day("2026-03-03"),
        30_00,
        &[(30_00, "card", day("2026-03-05")), (-30_00, "card", day("2026-03-07"))],
        &[],
        true,
    )
    .await;
    // Void, a draft, and another currency: none of them count in EUR.
    seed.invoice("void", "EUR", day("2026-03-05"), 999_00, &[], &[], false).await;
    seed.invoice("draft", "EUR", day("2026-03-05"), 777_00, &[], &[], false).await;
    seed.invoice(
        "paid",
        "USD",
        day("2026-03-02"),
        5_000_00,
        &[(5_000_00, "card", day("2026-03-03"))],
        &[],
        false,
    )
    .await;

    let d = dashboard(&app, &user.access_token, "from=2026-03-01&to=2026-03-31&currency=EUR").await;
    assert_eq!(d["currency"], "EUR");
    assert_eq!(d["currencies"], json!(["EUR", "USD"]));
    assert_eq!(
        d["kpis"],
        json!({
            "collected": 200_00, "outstanding": 150_00, "collectionRate": 0.5263,
            "averageDaysToPay": 8.0, "invoiceCount": 4, "paidCount": 1
        }),
        "collected 100 + 100 + 30 - 30; due 100 + 50; 200 of 380 invoiced"
    );
    let daily = d["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 31);
    assert_eq!(daily[0], json!({ "date": "2026-03-01", "collected": 0 }));
    let on = |date: &str| daily.iter().find(|x| x["date"] == date).unwrap()["collected"].clone();
    assert_eq!(on("2026-03-05"), json!(30_00));
    assert_eq!(on("2026-03-07"), json!(-30_00));
    assert_eq!(on("2026-03-10"), json!(100_00));
    assert_eq!(on("2026-03-20"), json!(100_00));
    assert_eq!(
        d["channels"],
        json!([
            { "channel": "bank_transfer", "amount": 100_00, "count": 1 },
            { "channel": "card", "amount": 100_00, "count": 2 }
        ])
    );
    assert_eq!(
        d["devices"],
        json!([
            { "device": "desktop", "views": 1 },
            { "device": "mobile", "views": 1 },
            { "device": "tablet", "views": 1 }
        ])
    );
    assert_eq!(
        d["funnel"],
        json!([
            { "stage": "created", "count": 6 },
            { "stage": "sent", "count": 6 },
            { "stage": "viewed", "count": 2 },
            { "stage": "checkout_started", "count": 2 },
            { "stage": "paid", "count": 1 }
        ])
    );
    let cohorts = d["cohorts"].as_array().unwrap();
    assert_eq!(cohorts.len(), 12);
    assert_eq!(cohorts[11]["week"], "2026-03-30", "the last cohort is the week holding `to`");
    let march2 = cohorts.iter().find(|c| c["week"] == "2026-03-02").unwrap();
    assert_eq!(march2["invoiced"], 330_00);
    assert_eq!(march2["invoiceCount"], 3);
    // Week 0 (to Mar 8): 30 - 30 = 0; week 1 (to Mar 15): +100; week 2 (to Mar 22): +100.
    assert_eq!(
        march2["collectedShare"],
        json!([0.0, 0.303, 0.6061, 0.6061, 0.6061, 0.6061, 0.6061, 0.6061])
    );
    let empty = cohorts.iter().find(|c| c["week"] == "2026-03-23").unwrap();
    assert_eq!(empty["collectedShare"], json!([null, null, null, null, null, null, null, null]));

    // Channel: only invoices paid through it, and only its payments.
    let card = dashboard(
        &app,
        &user.access_token,
        "from=2026-03-01&to=2026-03-31&currency=EUR&channel=card",
    )
    .await;
    assert_eq!(card["kpis"]["collected"], 100_00);
    assert_eq!(card["kpis"]["outstanding"], 0);
    assert_eq!(card["channels"], json!([{ "channel": "card", "amount": 100_00, "count": 2 }]));
    assert_eq!(card["funnel"][0]["count"], 2);
    // Device: only invoices viewed on it, and only those views.
    let tablet = dashboard(
        &app,
        &user.access_token,
        "from=2026-03-01&to=2026-03-31&currency=EUR&device=tablet",
    )
    .await;
    assert_eq!(tablet["kpis"]["collected"], 100_00);
    assert_eq!(tablet["kpis"]["outstanding"], 100_00);
    assert_eq!(tablet["devices"], json!([{ "device": "tablet", "views": 1 }]));
    assert_eq!(tablet["funnel"][2], json!({ "stage": "viewed", "count": 1 }));
    // The range: April saw nothing.
    let april =
        dashboard(&app, &user.access_token, "from=2026-04-01&to=2026-04-30&currency=EUR").await;
    assert_eq!(april["kpis"]["collected"], 0);
    assert_eq!(april["kpis"]["collectionRate"], Value::Null);
    assert_eq!(april["kpis"]["outstanding"], 150_00, "outstanding is as of today");
    // Without a currency, the busiest one.
    let default = dashboard(&app, &user.access_token, "from=2026-03-01&to=2026-03-31").await;
    assert_eq!(default["currency"], "EUR");

    // Another organisation sees none of it, and any role may read its own.
    let other = app.register("analytics-other@example.com").await;
    let theirs =
        dashboard(&app, &other.access_token, "from=2026-03-01&to=2026-03-31&currency=EUR").await;
    assert_eq!(theirs["kpis"]["collected"], 0);
    assert_eq!(theirs["currencies"], json!([]));
    let viewer_token = app.join(&user, &other, "viewer").await;
    let as_viewer =
        dashboard(&app, &viewer_token, "from=2026-03-01&to=2026-03-31&currency=EUR").await;
    assert_eq!(as_viewer["kpis"], d["kpis"]);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn bad_dashboard_queries_get_field_errors(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("analytics-bad@example.com").await;
    for (query, field, code) in [
        ("from=2026-03-10&to=2026-03-01", "from", "invalid_range"),
        ("from=2020-01-01&to=2026-03-01", "from", "range_too_long"),
        ("currency=euro", "currency", "invalid_currency"),
        ("channel=bitcoin", "channel", "unknown_channel"),
        ("device=fridge", "device", "unknown_device"),
    ] {
        let r = app.get(&format!("/api/analytics/dashboard?{query}"), &user.access_token).await;
        assert_eq!(r.status, 422, "{query}: {:?}", r.body);
        assert_eq!(r.body["error"]["details"]["fields"][0]["field"], field, "{query}");
        assert_eq!(r.body["error"]["details"]["fields"][0]["code"], code, "{query}");
    }
    let r = app.get("/api/analytics/dashboard?from=yesterday", &user.access_token).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = app.call(reqwest::Method::GET, "/api/analytics/dashboard", None, None).await;
    assert_eq!(r.status, 401);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn demo_data_fills_a_dashboard_the_same_way_every_time(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let state = app_state(db.clone()).await;
    let args = DemoArgs {
        email: "demo@example.com".into(),
        password: "demo-password".into(),
        seed: 7,
        weeks: 16,
        open: 0,
    };
    let first = fill(&state, &args).await.unwrap();
    assert!(first.history > 40, "{first:?}");
    assert_eq!(first.written as usize, first.history);
    let again = fill(&state, &args).await.unwrap();
    assert_eq!((again.org_id, again.history, again.written), (first.org_id, first.history, 0));

    let login = app
        .call(
            reqwest::Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "email": "demo@example.com", "password": "demo-password" })),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let token = login.body["accessToken"].as_str().unwrap();
    let today = Utc::now().date_naive();
    let from = today - Duration::days(7 * 16);
    let d = dashboard(&app, token, &format!("from={from}&to={today}&currency=EUR")).await;
    assert!(d["kpis"]["collected"].as_i64().unwrap() > 0, "{:#}", d["kpis"]);
    assert!(d["kpis"]["averageDaysToPay"].as_f64().unwrap() > 0.0);
    let channels: Vec<&str> =
        d["channels"].as_array().unwrap().iter().map(|c| c["channel"].as_str().unwrap()).collect();
    assert!(channels.contains(&"card") && channels.contains(&"bank_transfer"), "{channels:?}");
    assert_eq!(d["devices"].as_array().unwrap().len(), 3, "{:#}", d["devices"]);
    let funnel: Vec<i64> =
        d["funnel"].as_array().unwrap().iter().map(|s| s["count"].as_i64().unwrap()).collect();
    assert!(funnel.iter().all(|&n| n > 0), "{funnel:?}");
    let filled = d["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["invoiced"].as_i64().unwrap() > 0)
        .count();
    assert!(filled >= 10, "{:#}", d["cohorts"]);
    // The figures come from the seed alone: a second demo owner with the same seed gets the
    // same invoices (new ids), amounts, dates and payments.
    let twin = fill(&state, &DemoArgs { email: "twin@example.com".into(), ..args }).await.unwrap();
    assert_ne!(twin.org_id, first.org_id);
    let fingerprint = |org: Uuid| {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(concat_ws(':', i.number, i.status, i.issue_date, i.total,
                        (SELECT string_agg(p.amount || p.method || p.paid_at, ',' ORDER BY p.paid_at)
                         FROM payments p WHERE p.invoice_id = i.id)), ';' ORDER BY i.number)
             FROM invoices i WHERE i.org_id = $1",
        )
        .bind(org)
        .fetch_one(&db)
    };
    let (a, b) =
        (fingerprint(first.org_id).await.unwrap(), fingerprint(twin.org_id).await.unwrap());
    assert!(a.starts_with("DEMO-"), "{a}");
    assert_eq!(a, b);
}

async fn app_state(db: PgPool) -> invoice_api::AppState {
    let config = invoice_api::config::Config {
        database_url: "postgres://unused@127.0.0.1/unused".into(),
        ..crate::common::test_config()
    };
    let mut state = invoice_api::build_state(&config).await.unwrap();
    state.db = db;
    state
}

//! Prometheus metrics, scraped from the real binaries. The API's on their own listener
//! (`API_METRICS_ADDR`), never on the public port, with requests by route template (not by
//! path), rate-limit refusals, webhook outcomes, the pool and the Postgres gauges ops alert on;
//! the worker's (`METRICS_ADDR`) with emails and render times.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::stack::Stack;

/// The value of the sample of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        let wanted = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        (metric == name && wanted).then(|| value.parse().ok()).flatten()
    })
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_api_reports_its_metrics_on_their_own_listener(db: PgPool) {
    let stack = Stack::start(db.clone()).await;
    let user = stack.app.register("metrics@example.com").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let api = stack
        .start_api_process_with(&[
            ("API_METRICS_ADDR", format!("127.0.0.1:{port}")),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1".to_owned()),
        ])
        .await;
    let http = reqwest::Client::new();

    // Two invoices' pages by id: one route template, whatever the ids.
    for id in [uuid::Uuid::now_v7(), uuid::Uuid::now_v7()] {
        let r = http
            .get(api.url(&format!("/api/invoices/{id}")))
            .bearer_auth(&user.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    // A wrong password, then the login limit (one failure per account here).
    let wrong = json!({ "email": user.email, "password": "not-the-password" });
    for expected in [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS] {
        let r = http.post(api.url("/api/auth/login")).json(&wrong).send().await.unwrap();
        assert_eq!(r.status(), expected);
    }
    // A forged webhook delivery, and a scanner's path.
    let r = http
        .post(api.url("/api/webhooks/stripe"))
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    http.get(api.url("/wp-admin/install.php")).send().await.unwrap();
    // Money no invoice took, waiting for a person.
    sqlx::query(
        "INSERT INTO unapplied_payments (event_id, org_id, provider, amount, currency, reason)
         VALUES ('evt_metrics', $1, 'stripe', 1000, 'EUR', 'refused: voided')",
    )
    .bind(uuid::Uuid::parse_str(&user.org_id).unwrap())
    .execute(&db)
    .await
    .unwrap();

    // The stack's worker announces itself shortly after it starts.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let workers: i64 = sqlx::query_scalar("SELECT count(*) FROM worker_presence")
            .fetch_one(&db)
            .await
            .unwrap();
        if workers > 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the worker never announced itself");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let scrape = http.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    let content_type = scrape.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = scrape.text().await.unwrap();
    let invoice = [("method", "GET"), ("route", "/api/invoices/{id}"), ("status", "404")];
    assert_eq!(sample(&text, "invoice_api_http_requests_total", &invoice), Some(2.0), "{text}");
    let latency = [("method", "GET"), ("route", "/api/invoices/{id}")];
    assert_eq!(
        sample(&text, "invoice_api_http_request_duration_seconds_count", &latency),
        Some(2.0),
        "{text}"
    );
    let refused = [("route", "/api/auth/login"), ("status", "429")];
    assert_eq!(sample(&text, "invoice_api_http_requests_total", &refused), Some(1.0), "{text}");
    let limited = [("route", "/api/auth/login")];
    assert_eq!(
        sample(&text, "invoice_api_rate_limited_requests_total", &limited),
        Some(1.0),
        "{text}"
    );
    let forged = [("outcome", "signature_invalid")];
    assert_eq!(
        sample(&text, "invoice_api_payment_webhook_events_total", &forged),
        Some(1.0),
        "{text}"
    );
    assert!(sample(&text, "invoice_api_http_requests_total", &[("route", "unmatched")]).is_some());
    assert!(!text.contains("wp-admin"), "paths never become labels: {text}");
    assert_eq!(sample(&text, "invoice_api_unapplied_payments", &[]), Some(1.0), "{text}");
    assert_eq!(sample(&text, "invoice_api_invoices_needs_attention", &[]), Some(0.0), "{text}");
    assert_eq!(sample(&text, "invoice_api_db_pool_max_connections", &[]), Some(8.0), "{text}");
    assert!(sample(&text, "invoice_api_db_pool_connections", &[("state", "idle")]).is_some());
    assert_eq!(sample(&text, "invoice_api_websocket_connections", &[]), Some(0.0), "{text}");
    assert_eq!(sample(&text, "invoice_api_live_workers", &[]), Some(1.0), "{text}");

    // Every API metric the alert rules query is in the scrape under that name.
    assert_named_in_rules_are_reported(&text, "invoice_api_");

    // The public port does not serve them.
    let public = http.get(api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!public.contains("invoice_api_"), "{public}");
}

/// The worker's metrics, scraped from the real binary while it sends an invoice: the email by
/// provider, kind and outcome, the PDF's render time, the invoice's transitions, the activity
/// attempts, and every worker metric the alert rules name.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_worker_reports_its_metrics(db: PgPool) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = [("METRICS_ADDR", format!("127.0.0.1:{port}"))];
    let stack = Stack::start_with(db, |_| {}, &env).await;
    let user = stack.app.register("worker-metrics@example.com").await;
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let body = json!({
        "clientName": "Initech",
        "clientEmail": "ap@initech.example",
        "currency": "EUR",
        "dueDate": due.to_string(),
        "items": [{ "description": "Audit", "quantity": "1", "unitPrice": "400.00" }]
    });
    let created = stack.create_invoice(&user, body).await;
    stack.wait_for_status(&user, created["id"].as_str().unwrap(), "sent").await;

    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sent = [("provider", "ses"), ("kind", "invoice"), ("outcome", "sent")];
    assert_eq!(sample(&text, "invoice_worker_emails_total", &sent), Some(1.0), "{text}");
    // The invoice's path, one transition at a time, and each activity attempt by outcome.
    let to_sent = [("from", "open"), ("to", "sent")];
    assert_eq!(
        sample(&text, "invoice_worker_invoice_transitions_total", &to_sent),
        Some(1.0),
        "{text}"
    );
    let emailed = [("activity", "send_invoice_email"), ("outcome", "completed")];
    assert_eq!(sample(&text, "invoice_worker_activities_total", &emailed), Some(1.0), "{text}");
    let rendered = [("activity", "render_invoice_pdf"), ("outcome", "completed")];
    assert_eq!(sample(&text, "invoice_worker_activities_total", &rendered), Some(1.0), "{text}");
    assert_eq!(sample(&text, "invoice_worker_pdf_render_seconds_count", &[]), Some(1.0), "{text}");
    // The queue's backlog, read from Temporal when the worker started.
    let workflow = [("type", "workflow")];
    assert!(sample(&text, "invoice_worker_task_queue_backlog", &workflow).is_some(), "{text}");
    // The Temporal SDK's own, on the same endpoint: its pollers and the tasks it ran.
    for name in [
        "temporal_num_pollers",
        "temporal_workflow_task_schedule_to_start_latency_seconds_count",
        "temporal_activity_execution_latency_seconds_count",
    ] {
        let reported = text
            .lines()
            .any(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])));
        assert!(reported, "the SDK's {name} is not in the worker's scrape:\n{text}");
    }
    assert_named_in_rules_are_reported(&text, "temporal_");
    assert_named_in_rules_are_reported(&text, "invoice_worker_");
}

/// Every metric with `prefix` that the alert rules or the Grafana dashboard query is in `text`
/// under that name.
fn assert_named_in_rules_are_reported(text: &str, prefix: &str) {
    for file in ["prometheus/alerts.yml", "grafana/invoice-platform.json"] {
        let path = format!("{}/../monitoring/{file}", env!("CARGO_MANIFEST_DIR"));
        let queries = std::fs::read_to_string(&path).unwrap();
        let named: std::collections::BTreeSet<&str> = queries
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with(prefix))
            .collect();
        assert!(!named.is_empty(), "{file} names no {prefix} metric");
        for name in named {
            let scraped = text.lines().any(|line| {
                line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' ']))
            });
            assert!(scraped, "{file} queries {name}, which is not reported");
        }
    }
}

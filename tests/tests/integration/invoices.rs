//! The invoice lifecycle end to end: the real router, the real worker binary, the harness's
//! Temporal dev server, Postgres, and S3 + SES on moto. What a user does through the API, and
//! what must hold when the worker is killed in the middle of it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::stack::Stack;
use crate::common::{TestApp, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

/// The seed's sample request, verbatim.
fn seed_sample() -> Value {
    json!({
        "clientName": "Acme Corp",
        "clientEmail": "billing@acme.com",
        "amount": 1000.00,
        "currency": "USD",
        "dueDate": "2024-12-31",
        "items": [
            { "description": "Consulting Services", "quantity": 10, "unitPrice": 100.00 }
        ]
    })
}

/// An invoice due in a month, so it is `sent` (not overdue) once out.
fn upcoming(client_email: &str) -> Value {
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    json!({
        "clientName": "Globex GmbH",
        "clientEmail": client_email,
        "currency": "EUR",
        "dueDate": due.to_string(),
        "taxRate": "19",
        "items": [
            { "description": "Design sprint", "quantity": "2", "unitPrice": "1500.00" },
            { "description": "Hosting (Grüße, €)", "quantity": 1, "unitPrice": "49.90" }
        ]
    })
}

async fn create(stack: &Stack, user: &User, body: Value) -> Value {
    stack.create_invoice(user, body).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn timeline(app: &TestApp, user: &User, id: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/invoices/{id}/timeline"), &user.access_token).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    r.body.as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

/// Replaces a draft's lines with one of `quantity` design sprints; answers the new total.
async fn edit_lines(stack: &Stack, user: &User, id: &str, quantity: &str) -> i64 {
    let items =
        json!([{ "description": "Design sprint", "quantity": quantity, "unitPrice": "1500.00" }]);
    let r = stack
        .app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/invoices/{id}"),
            Some(&user.access_token),
            Some(json!({ "items": items })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    r.body["total"].as_i64().unwrap()
}

/// Asks ops to retry one invoice until its failed run is visible as such and is reset.
async fn retry_when_listed(stack: &Stack, user: &User, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r =
            stack.app.post("/api/ops/retry", &user.access_token, json!({ "invoiceId": id })).await;
        if r.status == StatusCode::OK {
            assert_eq!(r.body["retried"], 1, "{:#}", r.body);
            return;
        }
        // Until the terminated run is visible as such, there is nothing to retry.
        assert_eq!(r.body["error"]["code"], "not_retryable", "{:#}", r.body);
        assert!(tokio::time::Instant::now() < deadline, "never retryable: {:#}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Terminates a workflow run, as an operator's mistake or a bad deploy would end it.
async fn terminate(workflow_id: &str) {
    crate::common::temporal_client()
        .await
        .get_workflow_handle::<temporalio_client::UntypedWorkflow>(workflow_id)
        .terminate(temporalio_client::WorkflowTerminateOptions::builder().reason("test").build())
        .await
        .unwrap();
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn seed_sample_is_numbered_rendered_stored_and_emailed_once(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;

    let created = create(&stack, &user, seed_sample()).await;
    assert_eq!(created["total"], 100_000);
    assert_eq!(created["clientName"], "Acme Corp");
    let id = id(&created);
    // The due date has passed: the invoice is overdue as soon as it is sent.
    let invoice = stack.wait_for_status(&user, &id, "overdue").await;
    let number = invoice["number"].as_str().expect("numbered").to_owned();
    assert!(number.starts_with("INV-") && number.ends_with("-00001"), "{number}");
    assert!(invoice["sentAt"].is_string(), "{invoice:#}");
    assert_eq!(invoice["amountDue"], 100_000);
    assert_eq!(invoice["hasPdf"], true);

    // The PDF is in the bucket, content-addressed, and carries the number and the total.
    let objects = stack.objects().await;
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(objects[0].starts_with(&format!("invoices/{}/", user.org_id)), "{objects:?}");
    let key = invoice_storage::ObjectKey::parse(objects[0].clone()).unwrap();
    let pdf = stack.store.get(&key).await.unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("text from the PDF");
    assert!(text.contains(&number), "number missing from the PDF text:\n{text}");
    assert!(text.contains("1,000.00"), "total missing from the PDF text:\n{text}");
    assert!(text.contains("Acme Corp") && text.contains("Consulting Services"), "{text}");

    // Exactly one email, to the client, with the PDF attached.
    let emails = stack.sent_emails().await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    let raw = emails[0]["raw_data"].as_str().unwrap();
    assert!(raw.contains("billing@acme.com"), "{raw}");
    assert!(raw.contains(&format!("filename=\"{number}.pdf\"")), "{raw}");

    // The timeline tells the story, each step once, the email with its provider message id.
    let events = timeline(&stack.app, &user, &id).await;
    for kind in ["created", "finalized", "pdf_rendered", "email_sent"] {
        assert_eq!(count(&events, kind), 1, "{kind} in {:?}", kinds(&events));
    }
    let sent = events.iter().find(|e| e["kind"] == "email_sent").unwrap();
    assert_eq!(sent["data"]["messageId"], emails[0]["id"], "{sent:#}");
    assert!(events.iter().all(|e| e["at"].is_string() && e["actor"].is_string()));

    // The PDF link redirects to a presigned URL that serves the same bytes.
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirects
        .get(stack.app.url(invoice["pdfUrl"].as_str().unwrap()))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let fetched = reqwest::get(&location).await.unwrap().bytes().await.unwrap();
    assert_eq!(fetched.as_ref(), pdf.as_slice());
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn payments_partial_then_full_make_it_paid_with_a_receipt(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let created = create(&stack, &user, upcoming("ap@globex.test")).await;
    let id = id(&created);
    let invoice = stack.wait_for_status(&user, &id, "sent").await;
    let total = invoice["total"].as_i64().unwrap();
    assert_eq!(total, 362_938, "2 x 1500 + 49.90, plus 19 % tax");
    assert_eq!(invoice["nextAction"]["kind"], "reminder", "{invoice:#}");

    let pay = |amount: &str, key: &str| json!({ "amount": amount, "method": "bank_transfer", "reference": "SEPA 1", "idempotencyKey": key });
    let path = format!("/api/invoices/{id}/payments");
    let r = stack.app.post(&path, &user.access_token, pay("1000.00", "p1")).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["status"], "partially_paid");
    assert_eq!(r.body["amountDue"], total - 100_000);

    // The same idempotency key again: answered, not counted twice.
    let again = stack.app.post(&path, &user.access_token, pay("1000.00", "p1")).await;
    assert_eq!(again.status, StatusCode::OK, "{:#}", again.body);
    assert_eq!(again.body["amountPaid"], 100_000);

    // More than is due: refused with the reason, nothing recorded.
    let over = stack.app.post(&path, &user.access_token, pay("9999.00", "p2")).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{:#}", over.body);
    assert_eq!(over.code(), "action_refused");
    assert!(over.body["error"]["message"].as_str().unwrap().contains("overpayment"));

    let rest = format!("{}.{:02}", (total - 100_000) / 100, (total - 100_000) % 100);
    let r = stack.app.post(&path, &user.access_token, pay(&rest, "p3")).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["status"], "paid");
    assert_eq!(r.body["amountDue"], 0);

    let invoice = stack
        .wait_for(&user, &id, Duration::from_secs(60), "receipt", |v| {
            v["status"] == "paid" && v["payments"].as_array().is_some_and(|p| p.len() == 2)
        })
        .await;
    assert_eq!(invoice["amountPaid"], total);
    assert!(invoice["nextAction"].is_null(), "nothing is scheduled once paid: {invoice:#}");
    let events = timeline(&stack.app, &user, &id).await;
    assert_eq!(count(&events, "payment_recorded"), 2, "{:?}", kinds(&events));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count(&timeline(&stack.app, &user, &id).await, "receipt_sent") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no receipt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Invoice email + receipt, nothing else.
    assert_eq!(stack.sent_emails().await.len(), 2);

    // A paid invoice takes no more payments or voids.
    let late = stack.app.post(&path, &user.access_token, pay("1.00", "p4")).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{:#}", late.body);
    let void =
        stack.app.post(&format!("/api/invoices/{id}/void"), &user.access_token, json!({})).await;
    assert_eq!(void.status, StatusCode::CONFLICT, "{:#}", void.body);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn draft_waits_for_finalize_and_void_stops_everything(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let mut body = upcoming("ap@globex.test");
    body["draft"] = json!(true);
    let draft = create(&stack, &user, body.clone()).await;
    let draft_id = id(&draft);
    assert_eq!(draft["status"], "draft");
    assert!(draft["number"].is_null());

    // A draft has no PDF and cannot be paid, resent or reminded.
    let pdf = stack.app.get(&format!("/api/invoices/{draft_id}/pdf"), &user.access_token).await;
    assert_eq!(pdf.status, StatusCode::CONFLICT);
    assert_eq!(pdf.code(), "pdf_not_ready");
    for action in ["resend", "remind", "retry"] {
        let r = stack
            .app
            .post(&format!("/api/invoices/{draft_id}/{action}"), &user.access_token, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{action}: {:#}", r.body);
    }

    let r = stack
        .app
        .post(&format!("/api/invoices/{draft_id}/finalize"), &user.access_token, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    let sent = stack.wait_for_status(&user, &draft_id, "sent").await;
    assert!(sent["number"].as_str().unwrap().ends_with("-00001"));
    let again = stack
        .app
        .post(&format!("/api/invoices/{draft_id}/finalize"), &user.access_token, json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Void with a reason: final, on the timeline, and nothing more is sent.
    let r = stack
        .app
        .post(
            &format!("/api/invoices/{draft_id}/void"),
            &user.access_token,
            json!({ "reason": "duplicate" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    let voided = stack.wait_for_status(&user, &draft_id, "void").await;
    assert!(voided["voidedAt"].is_string());
    let events = timeline(&stack.app, &user, &draft_id).await;
    let void = events.iter().find(|e| e["kind"] == "voided").expect("voided event");
    assert_eq!(void["data"]["reason"], "duplicate");
    assert!(void["actor"].as_str().unwrap().starts_with("user:"));
    let pay = stack
        .app
        .post(
            &format!("/api/invoices/{draft_id}/payments"),
            &user.access_token,
            json!({ "amount": "1.00", "method": "cash" }),
        )
        .await;
    assert_eq!(pay.status, StatusCode::CONFLICT, "{:#}", pay.body);

    // Resend and remind on a sent invoice each send one more email.
    let other = create(&stack, &user, upcoming("ap@globex.test")).await;
    let other_id = id(&other);
    stack.wait_for_status(&user, &other_id, "sent").await;
    for action in ["resend", "remind"] {
        let r = stack
            .app
            .post(&format!("/api/invoices/{other_id}/{action}"), &user.access_token, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:#}", r.body);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events = timeline(&stack.app, &user, &other_id).await;
        if count(&events, "email_sent") == 2 && count(&events, "reminder_sent") == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{:?}", kinds(&events));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Draft's invoice email + the second invoice's email, resend and reminder.
    assert_eq!(stack.sent_emails().await.len(), 4);
    // The draft was numbered first; the numbers have no gap.
    assert!(
        stack.wait_for_status(&user, &other_id, "sent").await["number"]
            .as_str()
            .unwrap()
            .ends_with("-00002")
    );
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn undeliverable_invoices_need_attention_until_ops_retry_them(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    // No client email: the invoice cannot be sent; that is permanent, not worth retrying.
    let mut ids = Vec::new();
    for name in ["Walk-in One", "Walk-in Two"] {
        let mut body = upcoming("unused@example.test");
        body.as_object_mut().unwrap().remove("clientEmail");
        body["clientName"] = json!(name);
        ids.push(id(&create(&stack, &user, body).await));
    }
    let mut customers = Vec::new();
    for id in &ids {
        let stuck = stack.wait_for_status(&user, id, "needs_attention").await;
        assert!(
            stuck["attentionReason"].as_str().is_some_and(|r| r.contains("email")),
            "{stuck:#}"
        );
        assert!(stuck["number"].is_string(), "numbered and rendered before the email failed");
        assert!(stuck["nextAction"].is_null());
        customers.push(stuck["customerId"].as_str().unwrap().to_owned());
    }

    // Ops see both, with the reason.
    let r = stack.app.get("/api/ops/workflows", &user.access_token).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["runsChecked"], true, "{:#}", r.body);
    let listed = r.body["items"].as_array().unwrap();
    for id in &ids {
        let item = listed.iter().find(|i| i["invoiceId"] == id.as_str()).expect("listed");
        assert_eq!(item["problem"], "needs_attention");
        assert!(item["workflowId"].as_str().unwrap().starts_with("invoice:"));
    }
    // A healthy invoice is not retryable.
    let fine = id(&create(&stack, &user, upcoming("ap@globex.test")).await);
    stack.wait_for_status(&user, &fine, "sent").await;
    let r =
        stack.app.post("/api/ops/retry", &user.access_token, json!({ "invoiceId": fine })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:#}", r.body);
    assert_eq!(r.code(), "not_retryable");

    // Fix the first customer and retry that invoice alone: it goes out.
    let fix = |customer: String, email: &'static str| {
        let app = &stack.app;
        let token = user.access_token.clone();
        async move {
            let r = app
                .call(
                    reqwest::Method::PATCH,
                    &format!("/api/customers/{customer}"),
                    Some(&token),
                    Some(json!({ "email": email })),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
        }
    };
    fix(customers[0].clone(), "one@example.test").await;
    let r =
        stack.app.post("/api/ops/retry", &user.access_token, json!({ "invoiceId": ids[0] })).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["retried"], 1, "{:#}", r.body);
    let sent = stack.wait_for_status(&user, &ids[0], "sent").await;
    assert!(sent["attentionReason"].is_null());
    let events = timeline(&stack.app, &user, &ids[0]).await;
    assert_eq!(count(&events, "failed"), 1, "{:?}", kinds(&events));
    assert_eq!(count(&events, "retry_requested"), 1);
    assert_eq!(count(&events, "email_sent"), 1);

    // Fix the second and retry everything that needs attention in bulk.
    fix(customers[1].clone(), "two@example.test").await;
    let r = stack
        .app
        .post(
            "/api/ops/retry",
            &user.access_token,
            json!({ "filter": { "state": "needs_attention" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["retried"], 1, "{:#}", r.body);
    stack.wait_for_status(&user, &ids[1], "sent").await;
    let r = stack.app.get("/api/ops/workflows?state=needs_attention", &user.access_token).await;
    assert_eq!(r.body["items"], json!([]), "{:#}", r.body);
    // Three invoice emails in all: each once.
    assert_eq!(stack.sent_emails().await.len(), 3);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn killing_the_worker_mid_lifecycle_loses_nothing_and_sends_nothing_twice(db: PgPool) {
    let mut stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let mut ids = Vec::new();
    for round in 0..3u64 {
        for _ in 0..3 {
            ids.push(id(&create(&stack, &user, upcoming("ap@globex.test")).await));
        }
        // Kill at different points of the invoices' lives: rendering, sending, projecting.
        tokio::time::sleep(Duration::from_millis(150 * round)).await;
        stack.kill_worker();
        stack.start_worker();
    }
    // Every invoice ends sent, or, if the worker died while the mail provider was being called,
    // parked with "delivery unknown" (it is never sent a second time behind anyone's back).
    let mut numbers = Vec::new();
    let mut unknown = Vec::new();
    for id in &ids {
        let invoice = stack
            .wait_for(&user, id, Duration::from_secs(90), "sent or parked", |v| {
                v["status"] == "sent" || v["status"] == "needs_attention"
            })
            .await;
        numbers.push(invoice["number"].as_str().unwrap().to_owned());
        let events = timeline(&stack.app, &user, id).await;
        for kind in ["created", "finalized", "pdf_rendered"] {
            assert_eq!(count(&events, kind), 1, "{kind} for {id}: {:?}", kinds(&events));
        }
        if invoice["status"] == "needs_attention" {
            let reason = invoice["attentionReason"].as_str().unwrap();
            assert!(reason.starts_with("delivery unknown"), "{invoice:#}");
            unknown.push(invoice["number"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(count(&events, "email_sent"), 1, "{id}: {:?}", kinds(&events));
        }
    }
    numbers.sort();
    let suffixes: Vec<String> = numbers.iter().map(|n| n[n.len() - 5..].to_owned()).collect();
    let expected: Vec<String> = (1..=ids.len()).map(|n| format!("{n:05}")).collect();
    assert_eq!(suffixes, expected, "numbers must be gapless: {numbers:?}");

    let emails = stack.sent_emails().await;
    let mut per_number: BTreeMap<String, usize> = BTreeMap::new();
    for email in &emails {
        let raw = email["raw_data"].as_str().unwrap();
        let number = numbers.iter().find(|n| raw.contains(n.as_str())).expect("number in email");
        *per_number.entry(number.clone()).or_default() += 1;
    }
    eprintln!("{} invoices, {} emails, delivery unknown: {unknown:?}", ids.len(), emails.len());
    assert!(per_number.values().all(|&n| n == 1), "an invoice emailed twice: {per_number:?}");
    for number in &numbers {
        if !unknown.contains(number) {
            assert_eq!(
                per_number.get(number),
                Some(&1),
                "{number} was not emailed: {per_number:?}"
            );
        }
    }
    // The invoices differ only in their number, so each rendered to its own PDF.
    assert_eq!(stack.objects().await.len(), ids.len());
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM invoices").fetch_one(&stack.app.db).await.unwrap();
    assert_eq!(rows, ids.len() as i64);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn list_filters_and_tenancy(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let a = create(&stack, &user, seed_sample()).await;
    let mut draft = upcoming("ap@globex.test");
    draft["draft"] = json!(true);
    let b = create(&stack, &user, draft).await;
    stack.wait_for_status(&user, &id(&a), "overdue").await;

    let list = |query: &'static str| {
        let app = &stack.app;
        let token = user.access_token.clone();
        async move {
            let r = app.get(&format!("/api/invoices{query}"), &token).await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {:#}", r.body);
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("").await, vec![id(&b), id(&a)], "newest first");
    assert_eq!(list("?status=draft").await, vec![id(&b)]);
    assert_eq!(list("?status=overdue,sent").await, vec![id(&a)]);
    assert_eq!(list("?q=consulting").await, vec![id(&a)], "line descriptions are searched");
    assert_eq!(list("?q=globex").await, vec![id(&b)], "client names are searched");
    assert_eq!(list("?minAmount=200000").await, vec![id(&b)]);
    assert_eq!(list("?maxAmount=100000").await, vec![id(&a)]);
    let page = stack.app.get("/api/invoices?limit=1", &user.access_token).await;
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();
    let next =
        stack.app.get(&format!("/api/invoices?limit=1&cursor={cursor}"), &user.access_token).await;
    assert_eq!(next.body["items"][0]["id"], a["id"]);
    assert!(next.body["nextCursor"].is_null());
    let bad = stack.app.get("/api/invoices?status=lost", &user.access_token).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(list("?sort=total").await, vec![id(&a), id(&b)]);
    assert_eq!(list("?sort=-total").await, vec![id(&b), id(&a)]);
    assert_eq!(list("?sort=-number").await, vec![id(&a), id(&b)], "drafts have no number");
    let page = stack.app.get("/api/invoices?sort=dueDate&limit=1", &user.access_token).await;
    assert_eq!(page.body["items"][0]["id"], a["id"], "2024-12-31 first");
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();
    let next = stack
        .app
        .get(&format!("/api/invoices?sort=dueDate&limit=1&cursor={cursor}"), &user.access_token)
        .await;
    assert_eq!(next.body["items"][0]["id"], b["id"]);
    let mixed = stack
        .app
        .get(&format!("/api/invoices?sort=total&cursor={cursor}"), &user.access_token)
        .await;
    assert_eq!(mixed.status, StatusCode::BAD_REQUEST, "a cursor of another sort");
    let bad = stack.app.get("/api/invoices?sort=password", &user.access_token).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // An Idempotency-Key makes a retried POST answer the first invoice instead of a second one.
    let http = reqwest::Client::new();
    let keyed = || {
        http.post(stack.app.url("/api/invoices"))
            .bearer_auth(&user.access_token)
            .header("Idempotency-Key", "order-4711")
            .json(&upcoming("ap@globex.test"))
            .send()
    };
    let first = keyed().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = keyed().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(list("").await.len(), 3);

    // Another organisation sees none of it, and its actions answer 404.
    let other = stack.app.register("other@elsewhere.test").await;
    let r = stack.app.get("/api/invoices", &other.access_token).await;
    assert_eq!(r.body["items"], json!([]));
    for path in ["", "/timeline", "/pdf"] {
        let r =
            stack.app.get(&format!("/api/invoices/{}{path}", id(&a)), &other.access_token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = stack
        .app
        .post(&format!("/api/invoices/{}/void", id(&a)), &other.access_token, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn drafts_can_be_edited_and_deleted_until_finalized(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    // The organisation's settings reach its invoices: one reminder a day after the due date, and
    // the seller's legal name on the PDF.
    let r = stack
        .app
        .call(
            reqwest::Method::PATCH,
            "/api/org",
            Some(&user.access_token),
            Some(json!({
                "reminderOffsets": [1],
                "sellerDetails": { "legalName": "Seller & Söhne GmbH", "addressLines": ["Hauptstraße 5", "80331 München"] },
                "paymentInstructions": "IBAN DE00 1234"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["reminderOffsets"], json!([1]));
    let bad = stack
        .app
        .call(
            reqwest::Method::PATCH,
            "/api/org",
            Some(&user.access_token),
            Some(json!({ "reminderOffsets": [1, 1] })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let mut body = upcoming("ap@globex.test");
    body["draft"] = json!(true);
    let draft = create(&stack, &user, body).await;
    let id = id(&draft);
    let path = format!("/api/invoices/{id}");
    let patch = |body: Value| {
        stack.app.call(reqwest::Method::PATCH, &path, Some(&user.access_token), Some(body))
    };

    // Only what is given changes; lines are replaced and the totals recomputed.
    let r = patch(json!({
        "items": [{ "description": "Workshop", "quantity": 3, "unitPrice": "200.00" }],
        "taxRate": "0",
        "notes": "Thanks!"
    }))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["total"], 60_000);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["notes"], "Thanks!");
    assert_eq!(r.body["currency"], "EUR");
    assert_eq!(r.body["lines"].as_array().unwrap().len(), 1);
    // The same rules as on create.
    let bad = patch(json!({ "items": [] })).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.fields(), vec!["items".to_owned()]);

    // Finalized with the edited content.
    let r = stack.app.post(&format!("{path}/finalize"), &user.access_token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    let sent = stack.wait_for_status(&user, &id, "sent").await;
    assert_eq!(sent["total"], 60_000);
    // Reminders only after the due date, so the next thing is the overdue mark.
    assert_eq!(sent["nextAction"]["kind"], "mark_overdue", "{sent:#}");
    let objects = stack.objects().await;
    let pdf = stack
        .store
        .get(&invoice_storage::ObjectKey::parse(objects[0].clone()).unwrap())
        .await
        .unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    for expected in ["Seller & Söhne GmbH", "IBAN DE00 1234", "Workshop", "600.00"] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    // Frozen now: no edit, no delete.
    let late = patch(json!({ "notes": "changed" })).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{:#}", late.body);
    let del = stack.app.call(reqwest::Method::DELETE, &path, Some(&user.access_token), None).await;
    assert_eq!(del.status, StatusCode::CONFLICT, "{:#}", del.body);

    // Another draft is deleted: gone from reads, and it never took a number.
    let mut body = upcoming("ap@globex.test");
    body["draft"] = json!(true);
    let other = create(&stack, &user, body).await["id"].as_str().unwrap().to_owned();
    let other_path = format!("/api/invoices/{other}");
    let del =
        stack.app.call(reqwest::Method::DELETE, &other_path, Some(&user.access_token), None).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{:#}", del.body);
    let gone = stack.app.get(&other_path, &user.access_token).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let list = stack.app.get("/api/invoices", &user.access_token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_terminated_run_is_listed_and_reset_by_ops_retry(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    let mut body = upcoming("ap@globex.test");
    body["draft"] = json!(true);
    let draft = create(&stack, &user, body).await;
    let id = id(&draft);
    let workflow_id = draft["workflowId"].as_str().unwrap().to_owned();
    let edited_total = edit_lines(&stack, &user, &id, "3").await;
    assert_ne!(edited_total, draft["total"].as_i64().unwrap());

    // Someone terminates the run (an operator mistake, a bad deploy): the draft is stuck.
    terminate(&workflow_id).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = stack.app.get("/api/ops/workflows?state=failed", &user.access_token).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
        if let Some(item) =
            r.body["items"].as_array().unwrap().iter().find(|i| i["invoiceId"] == id.as_str())
        {
            assert_eq!(item["problem"], "terminated");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "terminated run not listed: {:#}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Retry resets it to its start: the same invoice (no second row), alive again, finalizable.
    let r = stack.app.post("/api/ops/retry", &user.access_token, json!({ "invoiceId": id })).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    assert_eq!(r.body["retried"], 1);
    // A second click finds the new run alive: nothing to retry, and it is not reset again.
    let again =
        stack.app.post("/api/ops/retry", &user.access_token, json!({ "invoiceId": id })).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:#}", again.body);
    assert_eq!(again.body["error"]["code"], "not_retryable");
    // Nor is it listed as failed any more, though the terminated run still is in Temporal.
    let r = stack.app.get("/api/ops/workflows?state=failed", &user.access_token).await;
    assert!(
        !r.body["items"].as_array().unwrap().iter().any(|i| i["invoiceId"] == id.as_str()),
        "{:#}",
        r.body
    );
    let path = format!("/api/invoices/{id}/finalize");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = stack.app.post(&path, &user.access_token, json!({})).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "reset run does not answer: {:#}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.wait_for_status(&user, &id, "sent").await;
    assert_eq!(stack.sent_emails().await.len(), 1);
    let events = timeline(&stack.app, &user, &id).await;
    assert_eq!(count(&events, "created"), 1, "{:?}", kinds(&events));
    // The new run started from its creation input, but went on from the edited row.
    let now = stack.app.get(&format!("/api/invoices/{id}"), &user.access_token).await.body;
    assert_eq!(
        (now["total"].as_i64(), now["amountDue"].as_i64()),
        (Some(edited_total), Some(edited_total))
    );
}

/// Ops reset a run that holds money: the new run goes on from what the row holds. Before, the
/// new run started from zero: its first projection wrote the amount paid back to 0, it took the
/// same payment again, and its timeline events collided with the old run's and were dropped.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_reset_run_keeps_the_money_already_paid(db: PgPool) {
    let stack = Stack::start(db).await;
    let user = stack.app.register("owner@seller.test").await;
    // A draft, edited and then finalized: the run's start input is neither.
    let mut body = upcoming("ap@globex.test");
    body["draft"] = json!(true);
    let invoice = create(&stack, &user, body).await;
    let id = id(&invoice);
    let total = edit_lines(&stack, &user, &id, "4").await;
    let r = stack
        .app
        .post(&format!("/api/invoices/{id}/finalize"), &user.access_token, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    stack.wait_for_status(&user, &id, "sent").await;
    let payments_path = format!("/api/invoices/{id}/payments");
    let pay = |amount: String, key: &str| {
        let body = json!({ "amount": amount, "method": "bank_transfer", "idempotencyKey": key });
        stack.app.post(&payments_path, &user.access_token, body)
    };
    let r = pay("1000.00".into(), "first").await;
    assert_eq!((r.status, r.body["amountPaid"].as_i64()), (StatusCode::OK, Some(100_000)));

    // The run is terminated, then reset by ops.
    terminate(invoice["workflowId"].as_str().unwrap()).await;
    retry_when_listed(&stack, &user, &id).await;

    // The new run goes through its steps again (nothing is sent twice) and stores its own
    // timeline events beside the old run's.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let events = loop {
        let events = timeline(&stack.app, &user, &id).await;
        if count(&events, "email_sent") == 2 {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline, "no new run: {:?}", kinds(&events));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(count(&events, "finalized"), 2, "{:?}", kinds(&events));
    assert_eq!(stack.sent_emails().await.len(), 1, "the reset run sent the invoice again");
    let now = stack.app.get(&format!("/api/invoices/{id}"), &user.access_token).await.body;
    assert_eq!(
        (now["status"].as_str(), now["amountPaid"].as_i64(), now["total"].as_i64()),
        (Some("partially_paid"), Some(100_000), Some(total))
    );

    // The new run knows the first payment: its key is refused, typed, and the rest is taken.
    let again = pay("1000.00".into(), "first").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:#}", again.body);
    assert_eq!(again.body["error"]["code"], "action_refused");
    assert_eq!(again.body["error"]["details"]["refusal"], "duplicate_event");
    let rest = invoice_domain::money::to_decimal_string(total - 100_000, "EUR".parse().unwrap());
    let r = pay(rest, "rest").await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (StatusCode::OK, Some("paid")),
        "{:#}",
        r.body
    );
    let payments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE invoice_id = $1::uuid")
            .bind(&id)
            .fetch_one(&stack.app.db)
            .await
            .unwrap();
    assert_eq!(payments, 2);
}

//! `make chaos` (and a smaller run in `make test`): invoices through the real APIs, workers and
//! Temporal dev server (SQLite-file mode) while things die, then a check that nothing was lost
//! and nothing happened twice.
//!
//! The platform runs scaled out, as in production: several API processes (`CHAOS_API_ADDRS`),
//! which the clients call in turn as a load balancer would (skipping to the next one when a call
//! fails), and `CHAOS_WORKERS` workers polling one task queue, on one Temporal server and one
//! Postgres.
//!
//! During the run:
//! - a worker, picked at random, is SIGKILLed at random moments (every 0.5 to 3 s) and started
//!   again;
//! - the Temporal dev server is stopped and started again (same file) once, half-way through;
//! - the APIs abort themselves between accepting an invoice and starting its workflow, on every
//!   `FAULT_CRASH_EVERY`-th creation (api/src/fault.rs), and are started again;
//! - clients retry every failed call with the same idempotency key, as the API asks them to;
//! - every second invoice is paid in full (a manual payment with an idempotency key) as soon as
//!   it is accepted, through the same chaos;
//! - a third of the way in, one more invoice takes a burst of 50 simultaneous payment requests
//!   (35 keys, 15 of them sent twice) spread over every API.
//!
//! Afterwards: every invoice is in its expected state (`paid`, `sent`, or parked as "delivery
//! unknown" when a worker died while the mail server was being called), each has exactly
//! one invoice email at the mail sink (none or one for a parked one, which ops then retry), no
//! payment is recorded twice, the burst left one payment per key, no row lacks its workflow and
//! no workflow lacks its row.
//!
//! scripts/chaos.sh builds the binaries, starts Postgres and the mail catcher and sets:
//! `CHAOS_API_BIN`, `CHAOS_WORKER_BIN`, `CHAOS_TEMPORAL_BIN`, `CHAOS_TEMPORAL_PORT`,
//! `CHAOS_TEMPORAL_DB`, `CHAOS_SEARCH_ATTRIBUTES`, `CHAOS_DIR`, `CHAOS_MAILDUMP_URL`,
//! `CHAOS_API_ADDRS` (space-separated), `CHAOS_WORKERS`, `DATABASE_URL` and the API's and
//! worker's own variables; `CHAOS_INVOICES` (default 1 000) and `CHAOS_CONCURRENCY` (default
//! 16) size the run.

use crate::support::{env_or, required};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::Rng;
use serde_json::{Value, json};
use temporalio_client::WorkflowListOptions;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Semaphore};

/// Starts a process with this process's environment and `env` on top, its output appended to
/// `<dir>/<name>.log`.
fn spawn(program: &str, args: &[String], env: &[(&str, &str)], name: &str) -> Child {
    let log = PathBuf::from(required("CHAOS_DIR")).join(format!("{name}.log"));
    let out = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
    Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"))
}

fn temporal_args() -> Vec<String> {
    let mut args: Vec<String> = [
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--namespace",
        "default",
        "--log-level",
        "warn",
        "--headless",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(["--port".into(), required("CHAOS_TEMPORAL_PORT")]);
    args.extend(["--db-filename".into(), required("CHAOS_TEMPORAL_DB")]);
    for attribute in required("CHAOS_SEARCH_ATTRIBUTES").split_whitespace() {
        args.extend(["--search-attribute".into(), attribute.to_owned()]);
    }
    args
}

/// Whether a process is gone (never started, or exited).
fn exited(process: &mut Option<Child>) -> bool {
    process.as_mut().is_none_or(|p| p.try_wait().ok().flatten().is_some())
}

/// The processes under test, and what happened to them.
struct Procs {
    temporal: Option<Child>,
    workers: Vec<Option<Child>>,
    /// Each API process with the address it listens on.
    apis: Vec<(String, Option<Child>)>,
    worker_kills: usize,
    api_crashes: usize,
    temporal_restarts: usize,
}

impl Procs {
    fn new(api_addrs: &[String], workers: usize) -> Self {
        Self {
            temporal: None,
            workers: (0..workers).map(|_| None).collect(),
            apis: api_addrs.iter().map(|addr| (addr.clone(), None)).collect(),
            worker_kills: 0,
            api_crashes: 0,
            temporal_restarts: 0,
        }
    }

    fn start_worker(&mut self, i: usize) {
        self.workers[i] =
            Some(spawn(&required("CHAOS_WORKER_BIN"), &[], &[], &format!("worker-{i}")));
    }

    fn start_api(&mut self, i: usize) {
        let (addr, api) = &mut self.apis[i];
        *api = Some(spawn(
            &required("CHAOS_API_BIN"),
            &[],
            &[("API_ADDR", addr)],
            &format!("api-{i}"),
        ));
    }

    fn start_temporal(&mut self) {
        self.temporal =
            Some(spawn(&required("CHAOS_TEMPORAL_BIN"), &temporal_args(), &[], "temporal"));
    }

    /// SIGKILLs one worker, picked at random, and starts it again.
    async fn kill_a_worker(&mut self) {
        let i = rand::rng().random_range(0..self.workers.len());
        if let Some(mut worker) = self.workers[i].take() {
            worker.kill().await.ok();
            self.worker_kills += 1;
        }
        self.start_worker(i);
    }

    /// Starts again every API that died (the fault hook aborts them).
    fn revive_apis(&mut self) {
        for i in 0..self.apis.len() {
            if exited(&mut self.apis[i].1) {
                self.api_crashes += 1;
                self.start_api(i);
            }
        }
    }

    /// Workers that exited by themselves (one gives up when Temporal is away long enough).
    fn revive_workers(&mut self) {
        for i in 0..self.workers.len() {
            if exited(&mut self.workers[i]) {
                self.start_worker(i);
            }
        }
    }

    /// Stops the dev server (SIGTERM, then waits) and starts it again on the same file.
    async fn restart_temporal(&mut self) {
        if let Some(mut temporal) = self.temporal.take() {
            if let Some(pid) = temporal.id() {
                let _ =
                    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            }
            if tokio::time::timeout(Duration::from_secs(20), temporal.wait()).await.is_err() {
                temporal.kill().await.ok();
            }
        }
        self.start_temporal();
        self.temporal_restarts += 1;
    }
}

/// The API processes, called in turn like a round-robin load balancer: each attempt of a call
/// goes to the next one, so a retry after a crashed process lands on another.
struct Apis {
    urls: Vec<String>,
    next: AtomicUsize,
}

impl Apis {
    fn url(&self) -> &str {
        &self.urls[self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len()]
    }
}

/// Calls the API until it answers something other than a connection error or a 5xx (a crashed
/// or restarting API, Temporal away): the same request each time, so keys make retries safe.
async fn call(
    http: &reqwest::Client,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    retries: &AtomicUsize,
) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match request(http).send().await {
            Ok(res) if res.status().as_u16() < 500 => {
                let status = res.status().as_u16();
                return (status, res.json().await.unwrap_or(Value::Null));
            }
            Ok(res) => {
                let status = res.status();
                let body = res.text().await.unwrap_or_default();
                assert!(Instant::now() < deadline, "still {status} after 5 minutes: {body}");
            }
            Err(err) => assert!(Instant::now() < deadline, "still failing after 5 minutes: {err}"),
        }
        retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Distinct payment keys in the burst; as many again minus these are sent a second time.
const BURST_KEYS: usize = 35;
const BURST_REQUESTS: usize = 50;
const BURST_CLIENT: &str = "burst@chaos.test";

/// One invoice of EUR 375 takes `BURST_REQUESTS` simultaneous manual payments of EUR 1, spread
/// over every API: `BURST_KEYS` keys, the first ones sent twice, every request retried by its
/// client until answered. Each must be accepted (or, for a repeated key, answered as the
/// duplicate it is). Answers the invoice's id and the payment event ids that should be recorded.
async fn burst(
    http: reqwest::Client,
    apis: Arc<Apis>,
    token: String,
    due: String,
    retries: Arc<AtomicUsize>,
) -> (uuid::Uuid, BTreeSet<String>) {
    let body = json!({
        "clientName": "Burst client", "clientEmail": BURST_CLIENT, "currency": "EUR", "dueDate": due,
        "items": [{ "description": "Burst", "quantity": "3", "unitPrice": "125.00" }],
    });
    let (status, invoice) = call(
        &http,
        |h| {
            h.post(format!("{}/api/invoices", apis.url()))
                .bearer_auth(&token)
                .header("idempotency-key", "chaos-burst")
                .json(&body)
        },
        &retries,
    )
    .await;
    assert!(status == 201 || status == 200, "create the burst invoice: {status} {invoice:#}");
    let id: uuid::Uuid = invoice["id"].as_str().unwrap().parse().unwrap();
    let keys: Vec<String> =
        (0..BURST_REQUESTS).map(|n| format!("chaos-burst-{}", n % BURST_KEYS)).collect();
    let requests: Vec<_> = keys
        .iter()
        .map(|key| {
            let (http, apis, token, retries) =
                (http.clone(), apis.clone(), token.clone(), retries.clone());
            let key = key.clone();
            tokio::spawn(async move {
                let (status, outcome) = call(
                    &http,
                    |h| {
                        h.post(format!("{}/api/invoices/{id}/payments", apis.url()))
                            .bearer_auth(&token)
                            .json(&json!({ "amount": "1.00", "method": "bank_transfer", "idempotencyKey": key }))
                    },
                    &retries,
                )
                .await;
                let duplicate = status == 409
                    && outcome["message"].as_str().is_some_and(|m| m.contains("duplicate payment"));
                assert!(status == 200 || duplicate, "burst payment {key}: {status} {outcome:#}");
            })
        })
        .collect();
    for request in requests {
        request.await.unwrap();
    }
    (id, keys.into_iter().map(|key| format!("manual:{key}")).collect())
}

/// Invoice emails (not reminders or receipts) at the mail sink, per recipient.
async fn count_invoice_emails(http: &reqwest::Client) -> BTreeMap<String, usize> {
    let mail: Value = http
        .get(format!("{}/messages/", required("CHAOS_MAILDUMP_URL")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    for m in mail["messages"].as_array().unwrap() {
        if m["subject"].as_str().is_some_and(|s| s.starts_with("Invoice ")) {
            for to in m["recipients"]["to"].as_array().unwrap() {
                *per_recipient.entry(to.as_str().unwrap().to_owned()).or_default() += 1;
            }
        }
    }
    per_recipient
}

#[expect(
    clippy::too_many_lines,
    reason = "one run, read top to bottom: the load, the faults, then every check of what is left"
)]
pub(crate) async fn run() {
    let invoices = env_or("CHAOS_INVOICES", 1000);
    let concurrency = env_or("CHAOS_CONCURRENCY", 16);
    let api_addrs: Vec<String> =
        required("CHAOS_API_ADDRS").split_whitespace().map(str::to_owned).collect();
    let apis = Arc::new(Apis {
        urls: api_addrs.iter().map(|addr| format!("http://{addr}")).collect(),
        next: AtomicUsize::new(0),
    });
    let workers = env_or("CHAOS_WORKERS", 2);
    let db = sqlx::PgPool::connect(&required("DATABASE_URL")).await.expect("database");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let started = Instant::now();

    let procs = Arc::new(Mutex::new(Procs::new(&api_addrs, workers)));
    {
        let mut p = procs.lock().await;
        p.start_temporal();
        for i in 0..workers {
            p.start_worker(i);
        }
        for i in 0..api_addrs.len() {
            p.start_api(i);
        }
    }
    let retries = Arc::new(AtomicUsize::new(0));
    let (status, registered) = call(
        &http,
        |h| {
            h.post(format!("{}/api/auth/register", apis.url()))
                .json(&json!({ "email": "owner@chaos.test", "password": "ChaosPassword123!" }))
        },
        &retries,
    )
    .await;
    assert_eq!(status, 201, "{registered:#}");
    let token = registered["accessToken"].as_str().unwrap().to_owned();
    let org = registered["organization"]["id"].as_str().unwrap().to_owned();
    // The run is about invoices: the owner's address counts as verified, as if they had followed
    // the emailed link (the integration tests and the browser test follow it).
    sqlx::query(
        "UPDATE users SET email_verified_at = now() WHERE lower(email) = 'owner@chaos.test'",
    )
    .execute(&db)
    .await
    .expect("verify the owner");

    // The chaos: kill a worker at random moments; bring back a crashed API at once.
    let calm = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let chaos = {
        let (procs, calm, accepted) = (procs.clone(), calm.clone(), accepted.clone());
        tokio::spawn(async move {
            let mut next_kill = Instant::now() + Duration::from_millis(500);
            let mut restarted = false;
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let mut p = procs.lock().await;
                p.revive_apis();
                p.revive_workers();
                if calm.load(Ordering::SeqCst) {
                    return;
                }
                if Instant::now() >= next_kill {
                    p.kill_a_worker().await;
                    next_kill =
                        Instant::now() + Duration::from_millis(rand::rng().random_range(500..3000));
                }
                if !restarted && accepted.load(Ordering::SeqCst) >= invoices / 2 {
                    restarted = true;
                    p.restart_temporal().await;
                }
            }
        })
    };

    // Create every invoice (a new client each) and pay every second one, all with keys.
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string();
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    let mut bursting = None;
    for i in 0..invoices {
        if i == invoices / 3 {
            bursting = Some(tokio::spawn(burst(
                http.clone(),
                apis.clone(),
                token.clone(),
                due.clone(),
                retries.clone(),
            )));
        }
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (http, apis, token, due) = (http.clone(), apis.clone(), token.clone(), due.clone());
        let (accepted, retries) = (accepted.clone(), retries.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let body = json!({
                "clientName": format!("Client {i}"), "clientEmail": format!("client{i}@chaos.test"),
                "currency": "EUR", "dueDate": due,
                "items": [{ "description": format!("Work package {i}"), "quantity": "3", "unitPrice": "125.00" }],
            });
            let (status, invoice) = call(
                &http,
                |h| {
                    h.post(format!("{}/api/invoices", apis.url()))
                        .bearer_auth(&token)
                        .header("idempotency-key", format!("chaos-{i}"))
                        .json(&body)
                },
                &retries,
            )
            .await;
            assert!(status == 201 || status == 200, "create {i}: {status} {invoice:#}");
            accepted.fetch_add(1, Ordering::SeqCst);
            let id = invoice["id"].as_str().unwrap().to_owned();
            let paid = i % 2 == 0;
            if paid {
                let (status, outcome) = call(
                    &http,
                    |h| {
                        h.post(format!("{}/api/invoices/{id}/payments", apis.url()))
                            .bearer_auth(&token)
                            .json(&json!({ "amount": "375.00", "method": "bank_transfer", "idempotencyKey": format!("chaos-pay-{i}") }))
                    },
                    &retries,
                )
                .await;
                // A retry after an answer that got lost meets its own first attempt.
                let duplicate = status == 409
                    && outcome["message"].as_str().is_some_and(|m| m.contains("duplicate payment"));
                assert!(status == 200 || duplicate, "pay {i}: {status} {outcome:#}");
            }
            (i, id, paid)
        }));
    }
    let mut expected: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for task in tasks {
        let (i, id, paid) = task.await.unwrap();
        expected.insert(id, (i, paid));
    }
    let (burst_id, burst_events) = bursting.expect("the burst started").await.unwrap();
    let all_accepted = started.elapsed();
    calm.store(true, Ordering::SeqCst);
    chaos.await.unwrap();
    procs.lock().await.revive_workers();

    // Let every invoice settle: paid ones paid, the rest sent or parked as delivery unknown.
    let org_id: uuid::Uuid = org.parse().unwrap();
    let settle_deadline = Instant::now() + Duration::from_secs(600);
    let rows = loop {
        let rows: Vec<(uuid::Uuid, String, Option<String>, i64, i64, String)> = sqlx::query_as(
            "SELECT id, status, attention_reason, amount_paid, total, workflow_id FROM invoices WHERE org_id = $1",
        )
        .bind(org_id)
        .fetch_all(&db)
        .await
        .unwrap();
        // The burst invoice: every payment recorded, and its email sent (or it is parked).
        let (burst_recorded, burst_delivered): (i64, bool) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM payments WHERE invoice_id = i.id), \
                    sent_at IS NOT NULL OR status = 'needs_attention' \
             FROM invoices i WHERE id = $1",
        )
        .bind(burst_id)
        .fetch_one(&db)
        .await
        .unwrap();
        let settled = rows.iter().filter(|r| r.0 != burst_id).all(
            |(id, status, reason, amount_paid, total, _)| {
                let paid = expected.get(&id.to_string()).is_some_and(|e| e.1);
                let parked = status == "needs_attention"
                    && reason.as_deref().is_some_and(|r| r.starts_with("delivery unknown"));
                let wanted = if paid { "paid" } else { "sent" };
                (status == wanted || parked) && (amount_paid == total) == paid
            },
        );
        let burst_settled = burst_recorded as usize >= burst_events.len() && burst_delivered;
        if (settled && burst_settled && rows.len() == invoices + 1)
            || Instant::now() > settle_deadline
        {
            break rows;
        }
        procs.lock().await.revive_workers();
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let all_settled = started.elapsed();

    let invoice_emails = count_invoice_emails(&http).await;

    // Rows against workflows, both ways.
    let client = crate::support::temporal_client().await;
    let row_ids: BTreeSet<String> = rows.iter().map(|r| r.5.clone()).collect();
    let prefix = invoice_workflows::org_workflow_prefix(org.parse().expect("an organisation id"));
    let mut workflows = BTreeSet::new();
    let mut listed = client
        .list_workflows("WorkflowType = 'InvoiceWorkflow'", WorkflowListOptions::builder().build());
    while let Some(run) = listed.next().await {
        let run = run.expect("listing workflows");
        if run.id().starts_with(&prefix) {
            workflows.insert(run.id().to_owned());
        }
    }
    let rows_without_workflow: Vec<&String> = row_ids.difference(&workflows).collect();
    let workflows_without_row: Vec<&String> = workflows.difference(&row_ids).collect();

    // Payments: one per paid invoice, never two for one event.
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT invoice_id FROM payments WHERE org_id = $1 AND invoice_id <> $2 GROUP BY invoice_id HAVING count(*) > 1) t",
    )
    .bind(org_id)
    .bind(burst_id)
    .fetch_one(&db)
    .await
    .unwrap();
    let payments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE org_id = $1 AND invoice_id <> $2")
            .bind(org_id)
            .bind(burst_id)
            .fetch_one(&db)
            .await
            .unwrap();
    // The burst: one payment per key, nothing else, and the invoice's figures agree.
    let burst_rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_id, amount FROM payments WHERE invoice_id = $1")
            .bind(burst_id)
            .fetch_all(&db)
            .await
            .unwrap();
    let burst_recorded: BTreeSet<String> = burst_rows.iter().map(|r| r.0.clone()).collect();

    let mut problems = Vec::new();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut parked_delivered = 0;
    let mut parked_undelivered = Vec::new();
    for (id, status, reason, amount_paid, total, _) in &rows {
        *by_status.entry(status.clone()).or_default() += 1;
        if *id == burst_id {
            let paid: i64 = burst_rows.iter().map(|r| r.1).sum();
            if burst_recorded.len() != burst_rows.len() {
                problems.push(format!(
                    "the burst invoice has a payment recorded twice: {burst_rows:?}"
                ));
            }
            if burst_recorded != burst_events {
                problems.push(format!(
                    "the burst recorded {} payments for {} keys: {:?}",
                    burst_rows.len(),
                    burst_events.len(),
                    burst_recorded.symmetric_difference(&burst_events).collect::<Vec<_>>()
                ));
            }
            let parked = status == "needs_attention"
                && reason.as_deref().is_some_and(|r| r.starts_with("delivery unknown"));
            if *amount_paid != paid || !(status == "partially_paid" || parked) {
                problems.push(format!(
                    "the burst invoice is {status} with {amount_paid} paid, its payments sum to {paid}"
                ));
            }
            let emails = invoice_emails.get(BURST_CLIENT).copied().unwrap_or(0);
            if emails != 1 && !(parked && emails == 0) {
                problems.push(format!("the burst invoice has {emails} invoice emails"));
            }
            continue;
        }
        let Some(&(i, paid)) = expected.get(&id.to_string()) else {
            problems.push(format!("row {id} was never answered to a client"));
            continue;
        };
        let emails = invoice_emails.get(&format!("client{i}@chaos.test")).copied().unwrap_or(0);
        let parked = status == "needs_attention"
            && reason.as_deref().is_some_and(|r| r.starts_with("delivery unknown"));
        let wanted = if paid { "paid" } else { "sent" };
        if !(status == wanted || parked) || (amount_paid == total) != paid {
            problems.push(format!(
                "invoice {i} ({id}) is {status} ({reason:?}), paid {amount_paid} of {total}"
            ));
        }
        match (parked, emails) {
            (false, 1) => {}
            (true, 0) => parked_undelivered.push((id.to_string(), wanted, i)),
            (true, 1) => parked_delivered += 1,
            _ => problems.push(format!("invoice {i} ({id}, {status}) has {emails} invoice emails")),
        }
    }
    if rows.len() != invoices + 1 {
        problems.push(format!("{} rows for {invoices} invoices and the burst's", rows.len()));
    }
    if twice > 0 {
        problems.push(format!("{twice} invoices have a payment recorded twice"));
    }
    if payments as usize != expected.values().filter(|e| e.1).count() {
        problems.push(format!("{payments} payments for {} paid invoices", invoices.div_ceil(2)));
    }
    for id in &rows_without_workflow {
        problems.push(format!("row without workflow: {id}"));
    }
    for id in &workflows_without_row {
        problems.push(format!("workflow without row: {id}"));
    }

    // What ops do with a parked invoice whose email never left: retry it, once.
    for (id, _, _) in &parked_undelivered {
        let (status, body) = call(
            &http,
            |h| {
                h.post(format!("{}/api/invoices/{id}/retry", apis.url()))
                    .bearer_auth(&token)
                    .json(&json!({}))
            },
            &retries,
        )
        .await;
        if status != 200 {
            problems.push(format!("retrying parked {id}: {status} {body}"));
        }
    }
    let retry_deadline = Instant::now() + Duration::from_secs(120);
    for (id, wanted, _) in &parked_undelivered {
        let id: uuid::Uuid = id.parse().unwrap();
        loop {
            let status: String = sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
            if status == *wanted {
                break;
            }
            if Instant::now() > retry_deadline {
                problems.push(format!("parked {id} is {status} after its retry"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // ... and then its email is there, once.
    let after_retries = count_invoice_emails(&http).await;
    for (id, _, i) in &parked_undelivered {
        let emails = after_retries.get(&format!("client{i}@chaos.test")).copied().unwrap_or(0);
        if emails != 1 {
            problems.push(format!("parked {id} has {emails} invoice emails after its retry"));
        }
    }

    let p = procs.lock().await;
    println!(
        "chaos: {invoices} invoices, {concurrency} concurrent clients, half of them paid, through \
         {} APIs and {workers} workers",
        api_addrs.len()
    );
    println!("  worker SIGKILLs                 {:>6}", p.worker_kills);
    println!("  API crashes (fault hook)        {:>6}", p.api_crashes);
    println!("  Temporal restarts (SQLite file) {:>6}", p.temporal_restarts);
    println!("  client retries                  {:>6}", retries.load(Ordering::Relaxed));
    println!("  all accepted after              {:>6.1} s", all_accepted.as_secs_f64());
    println!("  all settled after               {:>6.1} s", all_settled.as_secs_f64());
    println!("  rows / workflows                {:>6} / {}", rows.len(), workflows.len());
    for (status, n) in &by_status {
        println!("  status {status:<24} {n:>6}");
    }
    println!("  invoice emails at the sink      {:>6}", invoice_emails.values().sum::<usize>());
    println!("  parked, email had gone out      {:>6}", parked_delivered);
    println!("  parked, email had not (retried) {:>6}", parked_undelivered.len());
    println!("  payments recorded               {:>6}", payments);
    println!("  invoices paid twice             {:>6}", twice);
    println!(
        "  burst: requests / keys / kept   {:>6} / {} / {}",
        BURST_REQUESTS,
        BURST_KEYS,
        burst_rows.len()
    );
    println!("  rows without workflow           {:>6}", rows_without_workflow.len());
    println!("  workflows without row           {:>6}", workflows_without_row.len());
    println!("  problems                        {:>6}", problems.len());
    for problem in problems.iter().take(20) {
        println!("    {problem}");
    }
    assert!(problems.is_empty(), "the chaos run found {} problems", problems.len());
}

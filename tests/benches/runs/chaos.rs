//! `make chaos` (and a smaller run in `make test`): invoices through the real API, worker and
//! Temporal dev server (SQLite-file mode) while things die, then a check that nothing was lost
//! and nothing happened twice.
//!
//! During the run:
//! - the worker is SIGKILLed at random moments (every 0.5 to 3 s) and started again;
//! - the Temporal dev server is stopped and started again (same file) once, half-way through;
//! - the API aborts itself between accepting an invoice and starting its workflow, on every
//!   `FAULT_CRASH_EVERY`-th creation (api/src/fault.rs), and is started again;
//! - clients retry every failed call with the same idempotency key, as the API asks them to;
//! - every second invoice is paid in full (a manual payment with an idempotency key) as soon as
//!   it is accepted, through the same chaos.
//!
//! Afterwards: every invoice is in its expected state (`paid`, `sent`, or parked as "delivery
//! unknown" when the worker died while the mail server was being called), each has exactly
//! one invoice email at the mail sink (none or one for a parked one, which ops then retry), no
//! payment is recorded twice, no row lacks its workflow and no workflow lacks its row.
//!
//! scripts/chaos.sh builds the binaries, starts Postgres and the mail catcher and sets:
//! `CHAOS_API_BIN`, `CHAOS_WORKER_BIN`, `CHAOS_TEMPORAL_BIN`, `CHAOS_TEMPORAL_PORT`,
//! `CHAOS_TEMPORAL_DB`, `CHAOS_SEARCH_ATTRIBUTES`, `CHAOS_DIR`, `CHAOS_MAILDUMP_URL`,
//! `DATABASE_URL`, `API_ADDR` and the API's and worker's own variables; `CHAOS_INVOICES`
//! (default 1 000) and `CHAOS_CONCURRENCY` (default 16) size the run.

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

/// Starts a process with this process's environment, its output appended to `<dir>/<name>.log`.
fn spawn(program: &str, args: &[String], name: &str) -> Child {
    let log = PathBuf::from(required("CHAOS_DIR")).join(format!("{name}.log"));
    let out = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
    Command::new(program)
        .args(args)
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

/// The processes under test, and what happened to them.
struct Procs {
    temporal: Option<Child>,
    worker: Option<Child>,
    api: Option<Child>,
    worker_kills: usize,
    api_crashes: usize,
    temporal_restarts: usize,
}

impl Procs {
    fn start_worker(&mut self) {
        self.worker = Some(spawn(&required("CHAOS_WORKER_BIN"), &[], "worker"));
    }

    fn start_api(&mut self) {
        self.api = Some(spawn(&required("CHAOS_API_BIN"), &[], "api"));
    }

    fn start_temporal(&mut self) {
        self.temporal = Some(spawn(&required("CHAOS_TEMPORAL_BIN"), &temporal_args(), "temporal"));
    }

    async fn kill_worker(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            worker.kill().await.ok();
            self.worker_kills += 1;
        }
        self.start_worker();
    }

    /// Starts the API again if it died (the fault hook aborts it).
    fn revive_api(&mut self) {
        let exited = self.api.as_mut().is_none_or(|api| api.try_wait().ok().flatten().is_some());
        if exited {
            self.api_crashes += 1;
            self.start_api();
        }
    }

    /// A worker that exited by itself (it gives up when Temporal is away long enough).
    fn revive_worker(&mut self) {
        if self.worker.as_mut().is_none_or(|w| w.try_wait().ok().flatten().is_some()) {
            self.start_worker();
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
    let api = format!("http://{}", required("API_ADDR"));
    let db = sqlx::PgPool::connect(&required("DATABASE_URL")).await.expect("database");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let started = Instant::now();

    let procs = Arc::new(Mutex::new(Procs {
        temporal: None,
        worker: None,
        api: None,
        worker_kills: 0,
        api_crashes: 0,
        temporal_restarts: 0,
    }));
    {
        let mut p = procs.lock().await;
        p.start_temporal();
        p.start_worker();
        p.start_api();
    }
    let retries = Arc::new(AtomicUsize::new(0));
    let (status, registered) = call(
        &http,
        |h| {
            h.post(format!("{api}/api/auth/register"))
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

    // The chaos: kill the worker at random moments; bring back a crashed API at once.
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
                p.revive_api();
                p.revive_worker();
                if calm.load(Ordering::SeqCst) {
                    return;
                }
                if Instant::now() >= next_kill {
                    p.kill_worker().await;
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
    for i in 0..invoices {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (http, api, token, due) = (http.clone(), api.clone(), token.clone(), due.clone());
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
                    h.post(format!("{api}/api/invoices"))
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
                        h.post(format!("{api}/api/invoices/{id}/payments"))
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
    let all_accepted = started.elapsed();
    calm.store(true, Ordering::SeqCst);
    chaos.await.unwrap();
    procs.lock().await.revive_worker();

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
        let settled = rows.iter().all(|(id, status, reason, amount_paid, total, _)| {
            let paid = expected.get(&id.to_string()).is_some_and(|e| e.1);
            let parked = status == "needs_attention"
                && reason.as_deref().is_some_and(|r| r.starts_with("delivery unknown"));
            let wanted = if paid { "paid" } else { "sent" };
            (status == wanted || parked) && (amount_paid == total) == paid
        });
        if (settled && rows.len() == invoices) || Instant::now() > settle_deadline {
            break rows;
        }
        procs.lock().await.revive_worker();
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
        "SELECT count(*) FROM (SELECT invoice_id FROM payments WHERE org_id = $1 GROUP BY invoice_id HAVING count(*) > 1) t",
    )
    .bind(org_id)
    .fetch_one(&db)
    .await
    .unwrap();
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&db)
        .await
        .unwrap();

    let mut problems = Vec::new();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut parked_delivered = 0;
    let mut parked_undelivered = Vec::new();
    for (id, status, reason, amount_paid, total, _) in &rows {
        *by_status.entry(status.clone()).or_default() += 1;
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
    if rows.len() != invoices {
        problems.push(format!("{} rows for {invoices} invoices", rows.len()));
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
                h.post(format!("{api}/api/invoices/{id}/retry"))
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
    println!("chaos: {invoices} invoices, {concurrency} concurrent clients, half of them paid");
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
    println!("  rows without workflow           {:>6}", rows_without_workflow.len());
    println!("  workflows without row           {:>6}", workflows_without_row.len());
    println!("  problems                        {:>6}", problems.len());
    for problem in problems.iter().take(20) {
        println!("    {problem}");
    }
    assert!(problems.is_empty(), "the chaos run found {} problems", problems.len());
}

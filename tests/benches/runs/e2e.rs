//! End to end: N invoices through `POST /api/invoices` until every one is sent (numbered, PDF
//! rendered and stored, invoice email accepted by the mail server). Prints invoices per second
//! and the POST latency percentiles.
//!
//! In the same run, on the same Temporal server and worker, the server's ceiling: as many
//! `PingWorkflow`s (one no-op activity, the least a workflow can do) started with the same
//! concurrency, until all completed. The ratio of the two is what our workflow costs on top of
//! the least possible one.
//!
//! It also reads the resident memory (VmRSS) of the API and worker processes, idle before the
//! run and at its end.
//!
//! Run by `make bench` (scripts/bench.sh), which starts the stack and sets:
//! `BENCH_API_URL`, `BENCH_DATABASE_URL`, `TEMPORAL_ADDRESS`, `TEMPORAL_TASK_QUEUE`,
//! `BENCH_API_PID`, `BENCH_WORKER_PID` (the first worker's, when it runs more than one),
//! `BENCH_LABEL`, and optionally `BENCH_INVOICES` (default 1 000) and `BENCH_CONCURRENCY`
//! (default 32).

use crate::support::{env_or, required};
use std::sync::Arc;
use std::time::{Duration, Instant};

use invoice_workflows::ping::{PingInput, PingWorkflow};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident memory of a process in MiB (VmRSS from /proc).
fn rss_mib(pid_var: &str) -> f64 {
    let pid = required(pid_var);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The ceiling: `n` PingWorkflows on the bench's task queue, started `concurrency` at a time,
/// until all have completed. Answers workflows per second.
async fn ping_ceiling(n: usize, concurrency: usize) -> f64 {
    let client = crate::support::temporal_client().await;
    let queue = required("TEMPORAL_TASK_QUEUE");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (client, queue, id) = (client.clone(), queue.clone(), format!("bench-ping-{run}-{i}"));
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let options = temporalio_client::WorkflowStartOptions::new(queue, id).build();
            let input = PingInput { message: "bench".to_owned() };
            client
                .start_workflow(PingWorkflow::run, input, options)
                .await
                .expect("start PingWorkflow");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let query = format!(
        "WorkflowType = 'PingWorkflow' AND TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'"
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = client
            .count_workflows(query.clone(), Default::default())
            .await
            .expect("count workflows")
            .count();
        if done as usize >= n {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {n} pings completed after 10 minutes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

pub(crate) async fn run() {
    let api = required("BENCH_API_URL");
    let db = sqlx::PgPool::connect(&required("BENCH_DATABASE_URL")).await.expect("database");
    let invoices = env_or("BENCH_INVOICES", 1000);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let label = std::env::var("BENCH_LABEL").unwrap_or_default();
    let (api_idle, worker_idle) = (rss_mib("BENCH_API_PID"), rss_mib("BENCH_WORKER_PID"));
    let ceiling = ping_ceiling(invoices, concurrency).await;

    let email = format!("bench-{}@bench.test", uuid::Uuid::new_v4().simple());
    let registered: Value = http
        .post(format!("{api}/api/auth/register"))
        .json(&json!({ "email": email, "password": "BenchPassword123!" }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .unwrap();
    let token = registered["accessToken"].as_str().expect("token").to_owned();
    let org: uuid::Uuid = registered["organization"]["id"].as_str().unwrap().parse().unwrap();
    // The run measures invoices: the owner's address counts as verified, as if they had followed
    // the emailed link (the integration tests follow it).
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE lower(email) = lower($1)")
        .bind(&email)
        .execute(&db)
        .await
        .expect("verify the owner");
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string();

    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(invoices);
    for i in 0..invoices {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (http, api, token, due) = (http.clone(), api.clone(), token.clone(), due.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let items: Vec<Value> = (0..20)
                .map(|l| {
                    json!({ "description": format!("Service {l} for order {i}"), "quantity": l + 1, "unitPrice": "12.50" })
                })
                .collect();
            let body = json!({
                "clientName": format!("Client {i}"), "clientEmail": format!("client{i}@example.test"),
                "currency": "EUR", "dueDate": due, "taxRate": "19", "items": items,
            });
            let t = Instant::now();
            let res = http
                .post(format!("{api}/api/invoices"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("POST");
            assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
            t.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(invoices);
    for task in tasks {
        latencies.push(task.await.unwrap());
    }
    let accepted = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM invoices WHERE org_id = $1 AND sent_at IS NOT NULL",
        )
        .bind(org)
        .fetch_one(&db)
        .await
        .unwrap();
        if sent as usize >= invoices {
            break;
        }
        assert!(Instant::now() < deadline, "only {sent} of {invoices} sent after 10 minutes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_sent = started.elapsed();
    latencies.sort();

    let per_second = invoices as f64 / all_sent.as_secs_f64();
    let (api_end, worker_end) = (rss_mib("BENCH_API_PID"), rss_mib("BENCH_WORKER_PID"));

    println!("end to end{label}: {invoices} invoices of 20 lines, {concurrency} concurrent POSTs");
    println!("  all accepted (201)      {:>8.2} s", accepted.as_secs_f64());
    println!("  all sent                {:>8.2} s", all_sent.as_secs_f64());
    println!(
        "  invoices per second     {per_second:>8.1}  (POST to sent: numbered, PDF stored, email accepted)"
    );
    println!("  ceiling, PingWorkflow   {ceiling:>8.1}  workflows per second (one no-op activity)");
    println!("  ratio to the ceiling    {:>8.2}  (target >= 0.8)", per_second / ceiling);
    println!("  POST p50                {:>8.1} ms", ms(percentile(&latencies, 0.50)));
    println!("  POST p99                {:>8.1} ms", ms(percentile(&latencies, 0.99)));
    println!(
        "  RSS idle   API {api_idle:>6.1} MiB   worker {worker_idle:>6.1} MiB  (target < 100 each)"
    );
    println!("  RSS at end API {api_end:>6.1} MiB   worker {worker_end:>6.1} MiB");
}

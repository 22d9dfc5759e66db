//! The real worker binary against a real Temporal server: it polls its task queue, runs
//! `PingWorkflow` and its activity, and exits 0 on SIGTERM.
//!
//! Needs `TEMPORAL_ADDRESS` (the `make test` harness starts a dev server and exports it) and a
//! worker binary with the development tools (`PingWorkflow`): workspace builds have them, since
//! the workspace's tests turn on `dev-tools`.

use std::{process::Stdio, sync::Arc, time::Duration};

use anyhow::{Context as _, bail, ensure};
use invoice_service::TemporalSettings;
use invoice_service::temporal::connect_with_retry;
use invoice_workflows::ping::{PingInput, PingOutput, PingWorkflow};
use temporalio_client::{
    WorkflowGetResultOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowStartOptions, errors::WorkflowStartError,
};
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::{Child, Command},
    sync::Mutex,
    time::timeout,
};
use uuid::Uuid;

/// Covers a cold worker: connecting, registering, first poll, one workflow and one activity task.
const RESULT_DEADLINE: Duration = Duration::from_secs(60);
/// Draining an idle worker should take well under the worker's own graceful-shutdown period.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

fn temporal_address() -> anyhow::Result<String> {
    match std::env::var("TEMPORAL_ADDRESS") {
        Ok(address) if !address.trim().is_empty() => Ok(address),
        _ => bail!(
            "TEMPORAL_ADDRESS is not set: this test needs a running Temporal server. Run it via \
             `make test`, or start one with `temporal server start-dev` and export \
             TEMPORAL_ADDRESS=http://127.0.0.1:7233"
        ),
    }
}

/// The worker's output, kept so a failure can show what the worker said.
type Log = Arc<Mutex<Vec<String>>>;

fn spawn_worker(
    address: &str,
    task_queue: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Child, Log)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_invoice-worker"))
        .env("APP_ENV", "test")
        .env("TEMPORAL_ADDRESS", address)
        .env("TEMPORAL_NAMESPACE", "default")
        .env("TEMPORAL_TASK_QUEUE", task_queue)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A failing assertion must not leave a worker polling the shared dev server.
        .kill_on_drop(true)
        .spawn()
        .context("spawning the worker binary")?;

    let log: Log = Arc::default();
    let stdout = child.stdout.take().context("worker stdout")?;
    let stderr = child.stderr.take().context("worker stderr")?;
    for stream in
        [Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>, Box::new(stderr)]
    {
        let log = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.lock().await.push(line);
            }
        });
    }
    Ok((child, log))
}

async fn dump(log: &Log) -> String {
    log.lock().await.join("\n")
}

#[tokio::test]
async fn worker_runs_ping_workflow_and_exits_cleanly_on_sigterm() -> anyhow::Result<()> {
    let address = temporal_address()?;
    let task_queue = format!("test-{}", Uuid::new_v4());
    let (mut worker, log) = spawn_worker(&address, &task_queue, &[])?;

    let result = exercise_worker(&address, &task_queue, &mut worker).await;
    if result.is_err() {
        eprintln!("worker output:\n{}", dump(&log).await);
    }
    result?;

    let output = dump(&log).await;
    ensure!(
        output
            .lines()
            .any(|line| line.contains("polling task queue") && line.contains(&task_queue)),
        "the worker never logged that it polls {task_queue}:\n{output}"
    );
    Ok(())
}

async fn exercise_worker(
    address: &str,
    task_queue: &str,
    worker: &mut Child,
) -> anyhow::Result<()> {
    let settings = TemporalSettings::plain(address, "default", task_queue)?;
    let client =
        connect_with_retry(&settings, Duration::from_secs(5), Duration::from_secs(30)).await?;

    let workflow_id = format!("ping:{}", Uuid::new_v4());
    let input = PingInput { message: "hello".to_owned() };
    let options = || {
        WorkflowStartOptions::new(task_queue, &workflow_id)
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
            .build()
    };
    let handle = client
        .start_workflow(PingWorkflow::run, input.clone(), options())
        .await
        .context("starting PingWorkflow")?;

    let output = timeout(RESULT_DEADLINE, handle.get_result(WorkflowGetResultOptions::default()))
        .await
        .with_context(|| format!("no PingWorkflow result within {RESULT_DEADLINE:?}"))?
        .context("PingWorkflow failed")?;
    assert_eq!(output, PingOutput::for_input(&input));
    assert_eq!(output.reply, "pong: hello");

    // Reject-duplicate holds even after the first run closed: one business key, one run.
    let duplicate = client.start_workflow(PingWorkflow::run, input, options()).await;
    assert!(
        matches!(duplicate, Err(WorkflowStartError::AlreadyStarted { .. })),
        "a second start with the same id must be rejected, got {:?}",
        duplicate.map(|handle| handle.run_id().map(str::to_owned))
    );

    let pid = worker.id().context("worker already exited")?;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("running kill")?;
    ensure!(kill.success(), "kill -TERM {pid} failed");

    let status = timeout(EXIT_DEADLINE, worker.wait())
        .await
        .with_context(|| format!("worker still running {EXIT_DEADLINE:?} after SIGTERM"))?
        .context("waiting for the worker")?;
    ensure!(status.success(), "worker exited with {status} after SIGTERM");
    Ok(())
}

/// Work waiting on a queue nobody polls shows as its backlog; the real worker reports its queue's
/// backlog, with `CLOUDWATCH_EMF_NAMESPACE` as CloudWatch embedded-metric lines on stdout (what
/// the worker service's autoscaling reads), and then drains the queue.
#[tokio::test]
async fn the_task_queue_backlog_is_described_and_reported() -> anyhow::Result<()> {
    let address = temporal_address()?;
    let task_queue = format!("test-backlog-{}", Uuid::new_v4());
    let settings = TemporalSettings::plain(&address, "default", &task_queue)?;
    let client =
        connect_with_retry(&settings, Duration::from_secs(5), Duration::from_secs(30)).await?;
    let options =
        WorkflowStartOptions::new(&task_queue, format!("ping:{}", Uuid::new_v4())).build();
    let input = PingInput { message: "waiting".to_owned() };
    let handle = client.start_workflow(PingWorkflow::run, input, options).await?;

    // Nobody polls yet: its first workflow task waits (the figures are approximate and lag).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let backlog = loop {
        let backlog = invoice_worker::backlog::describe(&client, "default", &task_queue).await?;
        if backlog.workflow.count >= 1 && !backlog.oldest().is_zero() {
            break backlog;
        }
        ensure!(tokio::time::Instant::now() < deadline, "no backlog reported: {backlog:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(backlog.activity.count, 0, "{backlog:?}");

    let env =
        [("BACKLOG_REPORT_SECONDS", "1"), ("CLOUDWATCH_EMF_NAMESPACE", "InvoicePlatform/Test")];
    let (mut worker, log) = spawn_worker(&address, &task_queue, &env)?;
    let emf = async {
        loop {
            let line = log.lock().await.iter().find_map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).ok()?;
                (record["TaskQueue"] == task_queue.as_str()).then_some(record)
            });
            if let Some(record) = line {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let record = match timeout(Duration::from_secs(30), emf).await {
        Ok(record) => record,
        Err(_) => bail!("no embedded-metric line for {task_queue}:\n{}", dump(&log).await),
    };
    let directive = &record["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "InvoicePlatform/Test", "{record}");
    assert!(record["BacklogAgeSeconds"].is_number(), "{record}");
    // ... and it works the queue off.
    timeout(RESULT_DEADLINE, handle.get_result(WorkflowGetResultOptions::default()))
        .await
        .context("the waiting PingWorkflow did not finish")??;
    worker.kill().await.ok();
    Ok(())
}

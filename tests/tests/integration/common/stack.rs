//! The whole invoice stack for lifecycle tests: the real router (in-process), the real worker
//! binary (a child process that can be SIGKILLed and restarted), S3 and SES on moto, Postgres and
//! the harness's Temporal dev server. Each test gets its own database, task queue, bucket and
//! verified sender, so tests run in parallel on one moto and one Temporal.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use invoice_storage::{ObjectStore, S3Config, StorageArgs, StorageBackend, StorageConfig};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{TestApp, User};
use invoice_api::config::Config;

pub(crate) fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `make test`, which starts moto (S3, SES) and Temporal")
    })
}

/// A workspace binary next to this test binary (`cargo test`/`nextest` build every workspace
/// binary before running tests).
pub(crate) fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: build the workspace (cargo build --workspace)",
        bin.display()
    );
    bin
}

/// A replica of the API: the real binary, as a process of its own, on this stack's database,
/// Temporal task queue and object store. Stopped (SIGKILL) when dropped.
pub(crate) struct ApiProcess {
    pub url: String,
    child: Child,
}

impl ApiProcess {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The URL of the per-test database behind `db`.
pub(crate) fn database_url(db: &PgPool) -> String {
    let name = db.connect_options().get_database().expect("test database name").to_owned();
    let base = required_env("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("DATABASE_URL has a database");
    format!("{server}/{name}")
}

pub(crate) struct Stack {
    pub app: TestApp,
    pub bucket: String,
    pub sender: String,
    pub store: ObjectStore,
    worker_env: Vec<(String, String)>,
    worker: Option<Child>,
    log: PathBuf,
    starts: u32,
}

impl Stack {
    /// Serves the API, creates the bucket and the verified sender in moto, and starts a worker.
    pub(crate) async fn start(db: PgPool) -> Stack {
        Self::start_with(db, |_| {}, &[]).await
    }

    /// `start`, with the API's config adjusted and more variables for the worker.
    pub(crate) async fn start_with(
        db: PgPool,
        adjust: impl FnOnce(&mut Config),
        worker_env: &[(&str, String)],
    ) -> Stack {
        let moto = required_env("MOTO_ENDPOINT");
        let region = required_env("AWS_REGION");
        let bucket = format!("invoices-{}", Uuid::new_v4());
        let sender = format!("billing-{}@seller.test", Uuid::new_v4().simple());
        let storage = StorageArgs {
            storage_backend: StorageBackend::S3,
            storage_dir: PathBuf::new(),
            s3_bucket: bucket.clone(),
            s3_endpoint_url: Some(moto.clone()),
            aws_region: region.clone(),
        };
        let store = ObjectStore::from_config(&StorageConfig::S3(S3Config {
            bucket: bucket.clone(),
            region: region.clone(),
            endpoint_url: Some(moto.clone()),
        }))
        .await
        .expect("S3 store");
        let ObjectStore::S3(s3) = &store else { unreachable!() };
        s3.client().create_bucket().bucket(&bucket).send().await.expect("create bucket in moto");
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&invoice_storage::load_sdk_config(&region).await)
                .endpoint_url(&moto)
                .build(),
        );
        ses.create_email_identity().email_identity(&sender).send().await.expect("SES identity");

        let db_url = database_url(&db);
        let app = TestApp::spawn_with(db, |c| {
            c.storage = storage;
            adjust(c);
        })
        .await;
        let worker_env = [
            ("APP_ENV", "test".to_owned()),
            ("TEMPORAL_ADDRESS", super::temporal_address()),
            ("TEMPORAL_TASK_QUEUE", app.task_queue.clone()),
            ("PAYLOAD_ENCRYPTION_KEYS", super::PAYLOAD_KEYS.to_owned()),
            ("DATABASE_URL", db_url),
            ("WORKER_DATABASE_MAX_CONNECTIONS", "4".into()),
            ("STORAGE_BACKEND", "s3".into()),
            ("S3_BUCKET", bucket.clone()),
            ("S3_ENDPOINT_URL", moto.clone()),
            ("AWS_REGION", region),
            ("EMAIL_BACKEND", "ses".into()),
            ("SES_ENDPOINT_URL", moto),
            ("EMAIL_FROM", format!("Seller Billing <{sender}>")),
            ("LOG_FORMAT", "json".into()),
            // Hosted-page links and checkout URLs lead to this test's API.
            ("PUBLIC_BASE_URL", app.url("")),
        ]
        .into_iter()
        .chain(worker_env.iter().cloned())
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("worker-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let log = logs.join(format!("{}.log", app.task_queue));
        let mut stack =
            Stack { app, bucket, sender, store, worker_env, worker: None, log, starts: 0 };
        stack.start_worker();
        stack
    }

    /// Starts a worker process (appending to this stack's worker log).
    pub(crate) fn start_worker(&mut self) {
        assert!(self.worker.is_none(), "a worker is already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(binary("invoice-worker"))
            .envs(self.worker_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn the worker");
        self.starts += 1;
        self.worker = Some(child);
    }

    /// Starts another replica of the API (the real binary, a process of its own) and waits until
    /// it is ready. The in-process API and every replica share the database, the task queue and
    /// the object store, as replicas behind a load balancer do.
    pub(crate) async fn start_api_process(&self) -> ApiProcess {
        self.start_api_process_with(&[]).await
    }

    /// [`Self::start_api_process`] with more settings (`extra` wins over the stack's).
    pub(crate) async fn start_api_process_with(&self, extra: &[(&str, String)]) -> ApiProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let log = self.log.with_extension(format!("api-{port}.log"));
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(binary("invoice-api"))
            .envs(self.worker_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("API_ADDR", format!("127.0.0.1:{port}"))
            .env("JWT_SECRET", super::JWT_SECRET)
            .env("DATABASE_MAX_CONNECTIONS", "8")
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn the API");
        let api = ApiProcess { url, child };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(api.url("/ready")).await
                && r.status().is_success()
            {
                return api;
            }
            assert!(tokio::time::Instant::now() < deadline, "the API replica never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts a new worker if the running one has exited (it aborts on a panic), as a process
    /// manager would.
    pub(crate) fn revive_worker(&mut self) {
        if self.worker.as_mut().is_some_and(|w| w.try_wait().ok().flatten().is_some()) {
            self.worker = None;
            self.start_worker();
        }
    }

    /// SIGKILLs the worker: no graceful shutdown, in-flight activities are simply lost.
    pub(crate) fn kill_worker(&mut self) {
        if let Some(mut child) = self.worker.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// How many worker processes were started (1 until one died and was replaced).
    pub(crate) fn worker_starts(&self) -> u32 {
        self.starts
    }

    pub(crate) fn worker_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls the invoice until `done` says yes (up to `within`), returning its last state.
    pub(crate) async fn wait_for(
        &self,
        user: &User,
        id: &str,
        within: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self.app.get(&format!("/api/invoices/{id}"), &user.access_token).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            if done(&r.body) {
                return r.body;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {what}; invoice: {:#}\nworker log:\n{}",
                    r.body,
                    self.worker_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn wait_for_status(&self, user: &User, id: &str, status: &str) -> Value {
        // Long enough for an activity attempt lost with a killed worker to time out (20 s) and
        // run again.
        self.wait_for(user, id, Duration::from_secs(90), status, |v| v["status"] == status).await
    }

    /// Creates an invoice through the API (201 expected).
    pub(crate) async fn create_invoice(&self, user: &User, body: Value) -> Value {
        let r = self.app.post("/api/invoices", &user.access_token, body).await;
        assert_eq!(r.status, 201, "{:#}", r.body);
        r.body
    }

    /// The invoice's timeline, oldest first.
    pub(crate) async fn timeline(&self, user: &User, id: &str) -> Vec<Value> {
        let r = self.app.get(&format!("/api/invoices/{id}/timeline"), &user.access_token).await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        r.body.as_array().unwrap().clone()
    }

    /// Raw SES messages moto recorded from this stack's sender: the invoice emails (the
    /// account emails every registration sends are in [`Self::account_emails`]).
    pub(crate) async fn sent_emails(&self) -> Vec<Value> {
        let mut all = self.all_sent_emails().await;
        all.retain(|m| !is_account_email(m));
        all
    }

    /// The account emails sent (address verification, password reset), as the texts of
    /// [`Self::sent_email_texts`].
    pub(crate) async fn account_emails(&self) -> Vec<String> {
        let mut all = self.all_sent_emails().await;
        all.retain(is_account_email);
        all.iter().map(email_text).collect()
    }

    async fn all_sent_emails(&self) -> Vec<Value> {
        let url = format!("{}/moto-api/data.json", required_env("MOTO_ENDPOINT"));
        let data: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["source"].as_str() == Some(self.sender.as_str()))
            .collect()
    }

    /// The readable text of every email sent (MIME parts decoded from quoted-printable or
    /// base64), one string per email.
    pub(crate) async fn sent_email_texts(&self) -> Vec<String> {
        self.sent_emails().await.iter().map(email_text).collect()
    }

    /// Keys of the objects in this stack's bucket.
    pub(crate) async fn objects(&self) -> Vec<String> {
        let ObjectStore::S3(s3) = &self.store else { unreachable!() };
        let listed = s3.client().list_objects_v2().bucket(&self.bucket).send().await.unwrap();
        listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut child) = self.worker.take() {
            // SIGTERM first so the worker leaves the task queue cleanly; then make sure.
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            for _ in 0..50 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Account emails carry the idempotency key `account:<link id>`.
fn is_account_email(message: &Value) -> bool {
    let raw = message["raw_data"].as_str().unwrap_or_default();
    raw.contains(&format!("{}: account:", invoice_activities::email::IDEMPOTENCY_HEADER))
}

/// An email's readable text: the raw message, with its MIME parts decoded from
/// quoted-printable or base64.
fn email_text(email: &Value) -> String {
    use base64::Engine as _;
    let raw = email["raw_data"].as_str().unwrap_or_default().replace("\r\n", "\n");
    let mut text = raw.replace("=\n", "").replace("=3D", "=");
    for block in raw.split("\n\n") {
        let joined: String = block.lines().map(str::trim).collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined.trim()) {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

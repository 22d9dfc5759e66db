//! Test harness: the real router served on a loopback port, over a fresh database per test
//! (`#[sqlx::test]`), talking to the real Temporal server the harness (`make test`) started.

pub(crate) mod fake_stripe;
pub(crate) mod stack;

use std::net::SocketAddr;
use std::time::Duration;

use invoice_api::config::{
    AppEnv, AuthConfig, Config, EnvironmentArgs, LimitsConfig, LogFormat, PaymentsConfig,
    TemporalArgs, WebConfig,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

pub(crate) const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// Where the harness's Temporal dev server listens. Tests fail loudly without one: a test that
/// silently skipped would prove nothing.
pub(crate) fn temporal_address() -> String {
    std::env::var("TEMPORAL_ADDRESS")
        .expect("TEMPORAL_ADDRESS is not set: run the tests with `make test`, which starts a Temporal dev server")
}

/// The payload keys of every test's API and worker: runs in tests are sealed as in
/// production (`PAYLOAD_ENCRYPTION_KEYS`).
pub(crate) const PAYLOAD_KEYS: &str = "test-1:dGVzdC1wYXlsb2FkLWtleS0wMTIzNDU2Nzg5YWJjZGU=";

pub(crate) fn payload_keys() -> invoice_service::codec::PayloadKeys {
    invoice_service::codec::PayloadKeys::parse(PAYLOAD_KEYS).unwrap()
}

/// A client of the harness's Temporal server, as the binaries connect (with their keys).
pub(crate) async fn temporal_client() -> temporalio_client::Client {
    let settings =
        invoice_service::TemporalSettings::plain(&temporal_address(), "default", "unused")
            .unwrap()
            .with_payload_keys(Some(payload_keys()));
    invoice_service::temporal::connect(&settings, Duration::from_secs(10)).await.unwrap()
}

/// A workflow's whole history as the server stores it: sealed payloads stay sealed.
pub(crate) async fn stored_history(
    workflow_id: &str,
) -> temporalio_common::protos::temporal::api::history::v1::History {
    use temporalio_client::grpc::WorkflowService;
    use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_common::protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;
    let mut client = temporal_client().await;
    let request = GetWorkflowExecutionHistoryRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        }),
        maximum_page_size: 1000,
        ..Default::default()
    };
    let history = WorkflowService::get_workflow_execution_history(
        &mut client,
        temporalio_client::tonic::Request::new(request),
    )
    .await
    .expect("history")
    .into_inner();
    history.history.expect("a history")
}

/// The API's configuration in tests: the Temporal server `make test` started, a fresh task
/// queue, local storage, the local payment provider.
pub(crate) fn test_config() -> Config {
    Config {
        environment: EnvironmentArgs { app_env: Some(AppEnv::Test), payment_provider: None },
        addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: None,
        database_url: String::new(),
        database_max_connections: 5,
        database_turn_connections: 4,
        update_turn_wait_secs: 30,
        update_timeout_secs: 60,
        temporal: TemporalArgs {
            address: Some(temporal_address()),
            namespace: Some("default".into()),
            task_queue: format!("test-{}", uuid::Uuid::new_v4()),
            payload_encryption_keys: Some(PAYLOAD_KEYS.into()),
        },
        auth: AuthConfig::for_tests(JWT_SECRET),
        // One proxy in front (tests send X-Forwarded-For), and limits no ordinary test reaches;
        // the rate-limit tests lower them.
        limits: LimitsConfig {
            trusted_proxies: 1,
            public_per_ip_per_minute: 100_000,
            page_per_token_per_minute: 100_000,
            pay_per_token_per_minute: 100_000,
            register_per_ip_per_hour: 100_000,
            webhook_per_ip_per_minute: 100_000,
            emails_on_demand_per_invoice_per_day: 100_000,
        },
        payments: PaymentsConfig::local(),
        web: WebConfig::default(),
        storage: invoice_storage::StorageArgs::local(
            std::env::temp_dir().join("invoice-tests-objects"),
        ),
        body_limit_bytes: BODY_LIMIT,
        log_format: LogFormat::Pretty,
    }
}

#[derive(Clone)]
pub(crate) struct TestApp {
    pub addr: SocketAddr,
    pub db: PgPool,
    /// The task queue this app starts invoice workflows on (unique per test).
    pub task_queue: String,
    http: reqwest::Client,
}

/// What an API call answered.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub(crate) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<no error code>")
    }

    /// Field names of a validation error.
    pub(crate) fn fields(&self) -> Vec<String> {
        self.body["error"]["details"]["fields"]
            .as_array()
            .map(|fs| fs.iter().filter_map(|f| f["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

/// A registered user with a session in their personal organisation.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub email: String,
    pub password: String,
    pub user_id: String,
    pub org_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub(crate) async fn spawn(db: PgPool) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Serves the real router with a configuration the test may adjust.
    pub(crate) async fn spawn_with(db: PgPool, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config();
        adjust(&mut config);
        let state = invoice_api::build_state_on(&config, db.clone()).await.expect("state");
        let app = invoice_api::router(state, config.body_limit_bytes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .unwrap();
        });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        TestApp { addr, db, task_queue: config.temporal.task_queue.clone(), http }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::reply(req.send().await.expect("request sent")).await
    }

    /// Sends raw bytes with the given content type.
    pub(crate) async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path)).body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Self::reply(req.send().await.expect("request sent")).await
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{status}: body is not JSON: {text}"))
        };
        Reply { status, body }
    }

    /// Registers a fresh user (and their organisation) whose address counts as verified, as
    /// if they had followed the emailed link (`accounts` tests follow the real link).
    pub(crate) async fn register(&self, email: &str) -> User {
        let user = self.register_unverified(email).await;
        let id: uuid::Uuid = user.user_id.parse().unwrap();
        sqlx::query("UPDATE users SET email_verified_at = now() WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await
            .expect("mark the address verified");
        user
    }

    /// Registers a fresh user (and their organisation); the address is not verified yet.
    pub(crate) async fn register_unverified(&self, email: &str) -> User {
        let password = "SecurePassword123!".to_owned();
        let r = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "register: {:?}", r.body);
        User {
            email: email.to_owned(),
            password,
            user_id: r.body["user"]["id"].as_str().unwrap().to_owned(),
            org_id: r.body["organization"]["id"].as_str().unwrap().to_owned(),
            access_token: r.body["accessToken"].as_str().unwrap().to_owned(),
            refresh_token: r.body["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// Adds `member` to `owner`'s organisation with `role` and returns a token of `member`
    /// acting in that organisation.
    pub(crate) async fn join(&self, owner: &User, member: &User, role: &str) -> String {
        let r = self
            .post(
                "/api/org/members",
                &owner.access_token,
                json!({ "email": member.email, "role": role }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "add member: {:?}", r.body);
        let r = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({ "email": member.email, "password": member.password, "organizationId": owner.org_id })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login into org: {:?}", r.body);
        assert_eq!(r.body["role"], role);
        r.body["accessToken"].as_str().unwrap().to_owned()
    }
}

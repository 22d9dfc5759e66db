//! Production is safe by default: the real binaries, started with `APP_ENV=production` and one
//! unsafe setting, exit at once with one line naming the variable; the API's `/ready` reports a
//! worker that uses another payment provider.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sqlx::PgPool;

use crate::common::TestApp;
use crate::common::stack::binary;

/// A production configuration with nothing unsafe in it, for both binaries.
const SAFE: &[(&str, &str)] = &[
    ("APP_ENV", "production"),
    ("PAYMENT_PROVIDER", "stripe"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef0123456789abcdef"),
    ("STRIPE_SECRET_KEY", "sk_live_0123456789"),
    ("JWT_SECRET", "0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("DATABASE_URL", "postgres://invoices@db.internal:5432/invoices?sslmode=verify-full"),
    ("PUBLIC_BASE_URL", "https://pay.example.com"),
    ("SMTP_URL", "smtp://smtp.example.com:587?tls=required"),
    // Nothing listens there: a start that got past the checks keeps retrying instead of exiting.
    ("TEMPORAL_ADDRESS", "127.0.0.1:9"),
    ("TEMPORAL_TLS", "true"),
    ("PAYLOAD_ENCRYPTION_KEYS", "2026-12:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
    ("API_ADDR", "127.0.0.1:0"),
    ("LOG_FORMAT", "json"),
];

/// The variables a case changes: `Some` sets, `None` removes.
type Change = (&'static str, Option<&'static str>);

/// Starts `bin` with the safe configuration changed by `change`, and waits up to 10 s for it to
/// exit: its exit code (None: still running, then killed) and its stderr.
fn start(bin: &str, change: &[Change]) -> (Option<i32>, String) {
    let mut cmd = Command::new(binary(bin));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in SAFE {
        cmd.env(k, v);
    }
    for (k, v) in change {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (code, stderr)
}

fn assert_refused(bin: &str, change: &[Change], variable: &str) {
    let (code, stderr) = start(bin, change);
    assert_eq!(code, Some(78), "{bin} with {change:?} did not refuse to start: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{bin} with {change:?}: one line expected: {stderr}");
    assert!(
        lines[0].starts_with(&format!("{bin}: refusing to start: {variable} ")),
        "{bin} with {change:?}: the line must name {variable}: {stderr}"
    );
}

/// Each unsafe setting, for the binaries that read it.
fn refusals() -> Vec<(&'static [&'static str], Vec<Change>, &'static str)> {
    const BOTH: &[&str] = &["invoice-api", "invoice-worker"];
    const API: &[&str] = &["invoice-api"];
    const WORKER: &[&str] = &["invoice-worker"];
    vec![
        (BOTH, vec![("APP_ENV", None)], "APP_ENV"),
        (BOTH, vec![("PAYMENT_PROVIDER", None)], "PAYMENT_PROVIDER"),
        (BOTH, vec![("PAYMENT_PROVIDER", Some("test"))], "PAYMENT_PROVIDER"),
        (API, vec![("STRIPE_WEBHOOK_SECRET", None)], "STRIPE_WEBHOOK_SECRET"),
        (API, vec![("STRIPE_WEBHOOK_SECRET", Some(""))], "STRIPE_WEBHOOK_SECRET"),
        (
            API,
            vec![("STRIPE_WEBHOOK_SECRET", Some("whsec_local_test_checkout"))],
            "STRIPE_WEBHOOK_SECRET",
        ),
        (WORKER, vec![("STRIPE_SECRET_KEY", None)], "STRIPE_SECRET_KEY"),
        (BOTH, vec![("FAULT_CRASH_EVERY", Some("30"))], "FAULT_CRASH_EVERY"),
        (BOTH, vec![("DEMO_DATA", Some("1"))], "DEMO_DATA"),
        (API, vec![("JWT_SECRET", Some("short-secret"))], "JWT_SECRET"),
        (
            API,
            vec![("JWT_SECRET", Some("dev-only-Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy"))],
            "JWT_SECRET",
        ),
        (
            BOTH,
            vec![("DATABASE_URL", Some("postgres://invoices@db:5432/invoices"))],
            "DATABASE_URL",
        ),
        (
            BOTH,
            vec![("DATABASE_URL", Some("postgres://invoices@db/invoices?sslmode=prefer"))],
            "DATABASE_URL",
        ),
        (BOTH, vec![("PAYLOAD_ENCRYPTION_KEYS", None)], "PAYLOAD_ENCRYPTION_KEYS"),
        (BOTH, vec![("PAYLOAD_ENCRYPTION_KEYS", Some(" "))], "PAYLOAD_ENCRYPTION_KEYS"),
        (BOTH, vec![("PAYLOAD_ENCRYPTION_KEYS", Some("k1:c2hvcnQ="))], "PAYLOAD_ENCRYPTION_KEYS"),
        (
            BOTH,
            vec![(
                "PAYLOAD_ENCRYPTION_KEYS",
                Some("dev-only-1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
            )],
            "PAYLOAD_ENCRYPTION_KEYS",
        ),
        (BOTH, vec![("TEMPORAL_TLS", None)], "TEMPORAL_TLS"),
        (BOTH, vec![("TEMPORAL_TLS", Some("false"))], "TEMPORAL_TLS"),
        (
            BOTH,
            vec![("TEMPORAL_ADDRESS", Some("http://temporal.internal:7233"))],
            "TEMPORAL_ADDRESS",
        ),
        (WORKER, vec![("PUBLIC_BASE_URL", Some("http://pay.example.com"))], "PUBLIC_BASE_URL"),
        (WORKER, vec![("SMTP_URL", Some("smtp://smtp.example.com:25"))], "SMTP_URL"),
        (
            WORKER,
            vec![("SMTP_URL", Some("smtp://smtp.example.com:587?tls=opportunistic"))],
            "SMTP_URL",
        ),
    ]
}

#[test]
fn production_refuses_every_unsafe_setting_in_one_line() {
    // In parallel: each start takes a fraction of a second, the whole table a few.
    std::thread::scope(|scope| {
        for (bins, change, variable) in refusals() {
            for &bin in bins {
                let change = change.clone();
                scope.spawn(move || assert_refused(bin, &change, variable));
            }
        }
    });
}

#[test]
fn a_safe_production_configuration_starts() {
    // The control: nothing above is refused for a reason the safe settings share.
    std::thread::scope(|scope| {
        for bin in ["invoice-api", "invoice-worker"] {
            scope.spawn(move || {
                let (code, stderr) = start(bin, &[]);
                assert_eq!(code, None, "{bin} exited with the safe settings: {stderr}");
            });
        }
    });
}

#[test]
fn development_and_test_keep_their_local_defaults() {
    // Outside production the same binary starts on the local settings (and says nothing).
    let (code, stderr) = start(
        "invoice-api",
        &[
            ("APP_ENV", Some("test")),
            ("PAYMENT_PROVIDER", None),
            ("STRIPE_WEBHOOK_SECRET", None),
            ("JWT_SECRET", Some("dev-only-Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy")),
            ("DATABASE_URL", Some("postgres://postgres@127.0.0.1:5432/postgres")),
        ],
    );
    assert_eq!(code, None, "{stderr}");
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn ready_reports_a_worker_with_another_payment_provider(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    sqlx::query("INSERT INTO worker_presence (worker_id, payment_provider) VALUES ('w1', 'test')")
        .execute(&db)
        .await
        .unwrap();
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "a worker alike: {:?}", r.body);

    sqlx::query(
        "INSERT INTO worker_presence (worker_id, payment_provider) VALUES ('w2', 'stripe')",
    )
    .execute(&db)
    .await
    .unwrap();
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        "{:?}",
        r.body
    );
    let details = &r.body["error"]["details"];
    assert_eq!(details["checks"]["payments"], "mismatch");
    assert_eq!(details["paymentProviders"]["api"], "test");

    // A worker gone for longer than three heartbeats no longer counts.
    sqlx::query(
        "UPDATE worker_presence SET seen_at = now() - interval '10 minutes' WHERE worker_id = 'w2'",
    )
    .execute(&db)
    .await
    .unwrap();
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

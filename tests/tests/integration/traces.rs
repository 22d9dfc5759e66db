//! One trace from an HTTP request through the invoice's workflow to each activity and the calls
//! it makes, exported over OTLP by the real API and worker binaries to a receiver here that
//! decodes what it gets (OTLP/HTTP, protobuf) and checks the spans and their parent links.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::stack::Stack;

/// A span as received: which service sent it, its name, ids and parent.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
}

type Spans = Arc<Mutex<Vec<Received>>>;

async fn receive(State(spans): State<Spans>, body: Bytes) -> (StatusCode, Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut received = spans.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.as_ref())
            .map(|v| format!("{:?}", v.value))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                received.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_id: hex::encode(&span.parent_span_id),
                });
            }
        }
    }
    (StatusCode::OK, Vec::new())
}

/// An OTLP/HTTP receiver on a loopback port.
async fn receiver() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let app = axum::Router::new().route("/v1/traces", post(receive)).with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), spans)
}

async fn call(url: &str, token: Option<&str>, traceparent: Option<&str>, body: Value) -> Value {
    let mut req = reqwest::Client::new().post(url).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(traceparent) = traceparent {
        req = req.header("traceparent", traceparent);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_trace_runs_from_the_request_through_the_workflow_to_each_activity(db: PgPool) {
    let (endpoint, spans) = receiver().await;
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
    ];
    let stack = Stack::start_with(db.clone(), |_| {}, &otel).await;
    // The API as a process of its own (the in-process one exports nothing), same worker env.
    let api = stack.start_api_process().await;
    let signup = call(
        &api.url("/api/auth/register"),
        None,
        None,
        json!({ "email": "owner@traced.test", "password": "SecurePassword123!" }),
    )
    .await;
    let token = signup["accessToken"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE users SET email_verified_at = now()").execute(&db).await.unwrap();

    // The caller starts the trace (W3C traceparent); everything after belongs to it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let invoice = call(
        &api.url("/api/invoices"),
        Some(&token),
        Some(&traceparent),
        json!({
            "clientName": "Traced Ltd",
            "clientEmail": "ap@traced.test",
            "currency": "EUR",
            "dueDate": due.to_string(),
            "items": [{ "description": "Tracing", "quantity": 1, "unitPrice": "100.00" }]
        }),
    )
    .await;
    let id = invoice["id"].as_str().unwrap().to_owned();

    // Wait for the email activity's calls to arrive at the receiver.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let trace: Vec<Received> =
            spans.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect();
        let sent = trace.iter().any(|s| s.name == "email.send");
        let pdf = trace.iter().any(|s| s.name == "storage.put");
        if sent && pdf {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trace is incomplete for invoice {id}: {:#?}\nworker log:\n{}",
            trace.iter().map(|s| (&s.service, &s.name)).collect::<Vec<_>>(),
            stack.worker_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The workflow's own span ends with the run: void the invoice to end it.
    call(&api.url(&format!("/api/invoices/{id}/void")), Some(&token), None, json!({})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let trace = loop {
        let trace: Vec<Received> =
            spans.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect();
        if trace.iter().any(|s| s.name == "RunWorkflow:InvoiceWorkflow") {
            break trace;
        }
        assert!(tokio::time::Instant::now() < deadline, "the run's span never came");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The request's span, under the caller's; both binaries export into the same trace.
    let request = trace.iter().find(|s| s.name == "request").expect("the API's request span");
    assert_eq!(request.parent_id, caller_span);
    assert!(request.service.contains("invoice-api"), "{request:?}");
    let services: HashSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    assert!(services.iter().any(|s| s.contains("invoice-worker")), "{services:?}");

    // Every span hangs off a span of the trace (or the caller's): one tree, no orphans.
    let ids: HashSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    for span in &trace {
        assert!(
            span.parent_id == caller_span || ids.contains(span.parent_id.as_str()),
            "{span:?} has a parent outside the trace"
        );
    }
    let by_id: HashMap<&str, &Received> = trace.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let ancestors = |span: &Received| {
        let mut names = Vec::new();
        let mut at = span.parent_id.as_str();
        while let Some(parent) = by_id.get(at) {
            names.push(parent.name.clone());
            at = parent.parent_id.as_str();
        }
        names
    };
    // The email: request -> workflow -> the workflow's schedule -> the activity -> its calls.
    let email = trace.iter().find(|s| s.name == "email.send").unwrap();
    let chain = ancestors(email);
    for expected in [
        "RunActivity:send_invoice_email",
        "StartActivity:send_invoice_email",
        "RunWorkflow:InvoiceWorkflow",
        "request",
    ] {
        assert!(chain.iter().any(|n| n == expected), "{expected} not above email.send: {chain:?}");
    }
    // Postgres under the email activity, S3 under the render.
    let under = |name: &str, activity: &str| {
        trace.iter().any(|s| s.name == name && ancestors(s).iter().any(|n| n == activity))
    };
    assert!(under("postgres", "RunActivity:send_invoice_email"), "{:#?}", trace);
    assert!(under("storage.put", "RunActivity:render_invoice_pdf"), "{:#?}", trace);

    // The worker's log lines of the trace carry its id.
    assert!(
        stack.worker_log().contains(&format!("\"trace_id\":\"{trace_id}\"")),
        "no trace id in the worker log"
    );
}

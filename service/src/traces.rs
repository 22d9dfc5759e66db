//! Traces: OpenTelemetry spans exported over OTLP (HTTP, protobuf) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (`OTEL_SERVICE_NAME` names the service, the binary's
//! name otherwise), and the trace context carried through Temporal, so that one trace runs from
//! the HTTP request through the workflow to each activity and the calls it makes.
//!
//! The context travels in the `_tracer-data` header (a JSON payload with the W3C
//! `traceparent`, the header Temporal's other SDKs' tracing interceptors use): the API's client
//! ([`TraceHeaders`]) puts it on every start, update and signal it sends; the worker's workflow
//! interceptor passes it to each activity the run schedules; the activity interceptor runs the
//! activity in a span whose parent it names. Headers are payloads, sealed by the codec like the
//! rest.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, TracerProviderBuilder};
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowStartError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::{
    ClientInterceptor, Next, SignalWorkflowInput, StartWorkflowInput, StartWorkflowOutput,
    StartWorkflowUpdateInput, StartWorkflowUpdateOutput, UpdateWithStartWorkflowInput,
    UpdateWithStartWorkflowOutput,
};
use temporalio_common::protos::temporal::api::common::v1::{Header, Payload};
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};

/// The Temporal header carrying the trace context.
pub const HEADER: &str = "_tracer-data";

/// The exporter, when traces are on. Shut it down at exit so the last spans leave.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Sends what is still buffered, waiting at most a few seconds (blocking: call it from a
    /// blocking thread, or at exit).
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("traces: the last spans were not exported: {error}");
        }
    }
}

/// The layer that turns `tracing` spans into OpenTelemetry spans.
pub(crate) type TraceLayer<S> = OpenTelemetryLayer<S, SdkTracer>;

/// The OTLP exporter and the layer that turns `tracing` spans into OpenTelemetry spans, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set (traces go to `<endpoint>/v1/traces`, or to
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). `configure` adds to the tracer provider (the worker
/// gives Temporal's replay-safe id generator). Call within the Tokio runtime.
pub(crate) fn exporter<S>(
    service: &str,
    configure: impl FnOnce(TracerProviderBuilder) -> TracerProviderBuilder,
) -> Result<Option<(Exporter, TraceLayer<S>)>, String>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default();
    if endpoint.trim().is_empty() {
        return Ok(None);
    }
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    let client = OtlpHttp {
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?,
        runtime: tokio::runtime::Handle::try_current()
            .map_err(|_| "traces need the Tokio runtime".to_owned())?,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(client)
        .build()
        .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT {endpoint}: {e}"))?;
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| service.to_owned());
    let resource =
        opentelemetry_sdk::Resource::builder().with_service_name(service.clone()).build();
    let provider = configure(
        SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource),
    )
    .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
    Ok(Some((Exporter { provider }, layer)))
}

/// The exporter's HTTP client: reqwest on our Tokio runtime (the batch processor exports from a
/// thread of its own, which has no runtime; it waits for the spawned request).
#[derive(Debug, Clone)]
struct OtlpHttp {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpHttp {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut call = client.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                call = call.header(name, value);
            }
            let response = call.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = sent.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// The `_tracer-data` header for `context`, if it names a span.
pub fn header_for(context: &opentelemetry::Context) -> Option<Payload> {
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut fields = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut fields);
    let data = serde_json::to_vec(&fields).ok()?;
    Some(Payload {
        metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
        data,
        ..Default::default()
    })
}

/// The header for the current `tracing` span (none when traces are off).
pub fn current_header() -> Option<Payload> {
    header_for(&tracing::Span::current().context())
}

/// Starts a request's span: its parent is the caller's W3C trace context when it sent one, and
/// its `trace_id` field (declared empty) is recorded, so that the request's log lines carry it.
pub fn begin(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    if let Some(traceparent) = traceparent {
        let mut fields = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
        if let Some(state) = tracestate {
            fields.insert("tracestate".to_owned(), state.to_owned());
        }
        let parent = TraceContextPropagator::new().extract(&fields);
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
    }
    let context = span.context();
    let id = context.span().span_context().clone();
    if id.is_valid() {
        span.record("trace_id", id.trace_id().to_string());
    }
}

/// The client's side: every start, update and signal carries the caller's trace context.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceHeaders;

fn add(header: &mut Option<Header>, payload: &Payload) {
    header.get_or_insert_with(Header::default).fields.insert(HEADER.to_owned(), payload.clone());
}

type Answer<'a, T, E> = BoxFuture<'a, Result<T, E>>;

impl ClientInterceptor for TraceHeaders {
    fn start_workflow<'a>(
        &'a self,
        mut input: StartWorkflowInput,
        next: Next<'a, StartWorkflowInput, Answer<'a, StartWorkflowOutput, WorkflowStartError>>,
    ) -> Answer<'a, StartWorkflowOutput, WorkflowStartError> {
        if let Some(payload) = current_header() {
            add(&mut input.options.header, &payload);
        }
        next.run(input)
    }

    fn update_with_start_workflow<'a>(
        &'a self,
        mut input: UpdateWithStartWorkflowInput,
        next: Next<
            'a,
            UpdateWithStartWorkflowInput,
            Answer<'a, UpdateWithStartWorkflowOutput, WorkflowUpdateWithStartError>,
        >,
    ) -> Answer<'a, UpdateWithStartWorkflowOutput, WorkflowUpdateWithStartError> {
        if let Some(payload) = current_header() {
            add(&mut input.options.start_header, &payload);
            add(&mut input.options.update_header, &payload);
        }
        next.run(input)
    }

    fn start_workflow_update<'a>(
        &'a self,
        mut input: StartWorkflowUpdateInput,
        next: Next<
            'a,
            StartWorkflowUpdateInput,
            Answer<'a, StartWorkflowUpdateOutput, WorkflowUpdateError>,
        >,
    ) -> Answer<'a, StartWorkflowUpdateOutput, WorkflowUpdateError> {
        if let Some(payload) = current_header() {
            add(&mut input.options.header, &payload);
        }
        next.run(input)
    }

    fn signal_workflow<'a>(
        &'a self,
        mut input: SignalWorkflowInput,
        next: Next<'a, SignalWorkflowInput, Answer<'a, (), WorkflowInteractionError>>,
    ) -> Answer<'a, (), WorkflowInteractionError> {
        if let Some(payload) = current_header() {
            add(&mut input.options.header, &payload);
        }
        next.run(input)
    }
}

/// The interceptor list a client is built with.
pub fn client_interceptors() -> Vec<Arc<dyn ClientInterceptor>> {
    vec![Arc::new(TraceHeaders)]
}

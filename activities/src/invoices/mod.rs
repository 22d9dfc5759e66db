//! `InvoiceActivities`: the side effects of `InvoiceWorkflow`, each idempotent under retry.
//! Permanent failures are reported as non-retryable so the workflow can park the invoice in
//! `needs_attention`; everything else retries with backoff.

pub mod document;
pub mod mail;
pub mod records;

use std::sync::Arc;

use invoice_workflows::account::{AccountEmailInput, AccountEmailOutcome};
use invoice_workflows::invoice::activities::{
    AttentionRecord, CheckoutInput, CreateRecordInput, ExpireCheckoutInput, FinalizeInput,
    Finalized, InvoiceRef, RenderedPdf, SendEmailInput, SentEmail, UpdateDraftInput,
};
use invoice_workflows::invoice::messages::{CheckoutSession, InvoiceRecord, Projection};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tracing::instrument;

use crate::email::Mailer;
use crate::metrics::{EmailOutcome, WorkerMetrics};
use crate::panics;
use crate::payments::Payments;
use crate::pdf::{PdfError, PdfRenderer};
use crate::storage::ObjectStore;
use records::RecordError;

/// The clients the invoice activities use, built once by the worker.
pub struct InvoiceActivities {
    pub db: PgPool,
    pub pdf: Arc<PdfRenderer>,
    pub store: ObjectStore,
    pub mailer: Mailer,
    pub payments: Payments,
    /// Emails an organisation may send per day (`EMAIL_DAILY_QUOTA_PER_ORG`).
    pub daily_email_quota: u32,
    /// What the worker's metrics listener reports.
    pub metrics: Arc<WorkerMetrics>,
}

impl std::fmt::Debug for InvoiceActivities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvoiceActivities").finish_non_exhaustive()
    }
}

fn permanent(message: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::builder(message).non_retryable(true).build())
}

/// Runs a render on the blocking pool. A template error or a panic in typst is a fault of this
/// invoice's data, which the next attempt would render the same way: both fail the activity for
/// good, so the invoice needs attention and the worker goes on with the others.
async fn render_off_thread(
    render: impl FnOnce() -> Result<Vec<u8>, PdfError> + Send + 'static,
) -> Result<Vec<u8>, ActivityError> {
    let rendered = tokio::task::spawn_blocking(move || panics::contain(render))
        .await
        .map_err(|e| ActivityError::from(anyhow::anyhow!("render task: {e}")))?;
    let why = match rendered {
        Ok(Ok(bytes)) => return Ok(bytes),
        Ok(Err(e)) => e.to_string(),
        Err(panic) => format!("the renderer panicked: {panic}"),
    };
    Err(permanent(format!("the invoice could not be rendered: {why}")))
}

/// An activity's error: non-retryable when `permanent`, otherwise retried with backoff.
fn failure<E: std::error::Error + Send + Sync + 'static>(for_good: bool, e: E) -> ActivityError {
    if for_good { permanent(e.to_string()) } else { ActivityError::from(anyhow::Error::new(e)) }
}

fn record_error(e: RecordError) -> ActivityError {
    if e.is_permanent() { permanent(e.to_string()) } else { e.into() }
}

#[activities]
impl InvoiceActivities {
    #[activity(definition = invoice_workflows::invoice::activities::CreateInvoiceRecord)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.input.invoice_id))]
    pub async fn create_invoice_record(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CreateRecordInput,
    ) -> Result<InvoiceRecord, ActivityError> {
        records::create(&self.db, &input).await.map_err(record_error)
    }

    #[activity(definition = invoice_workflows::invoice::activities::UpdateDraft)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id))]
    pub async fn update_draft(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: UpdateDraftInput,
    ) -> Result<InvoiceRecord, ActivityError> {
        records::update_draft(&self.db, &input).await.map_err(record_error)
    }

    #[activity(definition = invoice_workflows::invoice::activities::DeleteDraft)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id))]
    pub async fn delete_draft(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: InvoiceRef,
    ) -> Result<(), ActivityError> {
        records::delete_draft(&self.db, &input).await.map_err(record_error)
    }

    #[activity(definition = invoice_workflows::invoice::activities::FinalizeInvoice)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id))]
    pub async fn finalize_invoice(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: FinalizeInput,
    ) -> Result<Finalized, ActivityError> {
        records::finalize(&self.db, &input).await.map_err(record_error)
    }

    #[activity(definition = invoice_workflows::invoice::activities::RenderInvoicePdf)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id))]
    pub async fn render_invoice_pdf(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: InvoiceRef,
    ) -> Result<RenderedPdf, ActivityError> {
        let (org_id, invoice_id) = (input.org_id.uuid(), input.invoice_id.uuid());
        let doc = document::load(&self.db, org_id, invoice_id, |t| self.payments.hosted_url(t))
            .await
            .map_err(record_error)?;
        let renderer = self.pdf.clone();
        let started = std::time::Instant::now();
        let bytes = render_off_thread(move || renderer.render(&doc)).await?;
        self.metrics.rendered(started.elapsed());
        tracing::info!(
            bytes = bytes.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "invoice PDF rendered"
        );
        // The workflow projects the key to the invoice row: the projection is its one writer.
        let key = self
            .store
            .put_content_addressed(&bytes, "application/pdf", &format!("invoices/{org_id}"))
            .await?;
        Ok(RenderedPdf { key: key.as_str().to_owned(), size: bytes.len() as u64 })
    }

    #[activity(definition = invoice_workflows::invoice::activities::SendInvoiceEmail)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id, key = %input.idempotency_key))]
    pub async fn send_invoice_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SendEmailInput,
    ) -> Result<SentEmail, ActivityError> {
        let hosted_url = |t: &str| self.payments.hosted_url(t);
        let quota = self.daily_email_quota;
        let sent = mail::send(&self.db, &self.mailer, &self.store, &input, hosted_url, quota).await;
        let outcome = match &sent {
            Ok(sent) if sent.newly_sent => EmailOutcome::Sent,
            Ok(_) => EmailOutcome::AlreadySent,
            Err(e) if e.is_permanent() => EmailOutcome::Refused,
            Err(_) => EmailOutcome::Failed,
        };
        self.metrics.email(self.mailer.provider(), input.kind, outcome);
        // In the activity's span: with traces on, the line carries the trace id.
        tracing::info!(kind = input.kind.as_str(), ?outcome, "email step done");
        sent.map_err(|e| failure(e.is_permanent(), e))
    }

    #[activity(definition = invoice_workflows::invoice::activities::CreateCheckoutSession)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id, key = %input.idempotency_key))]
    pub async fn create_checkout_session(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CheckoutInput,
    ) -> Result<CheckoutSession, ActivityError> {
        self.payments
            .create_checkout_session(&self.db, &input)
            .await
            .map_err(|e| failure(e.is_permanent(), e))
    }

    #[activity(definition = invoice_workflows::invoice::activities::ExpireCheckoutSession)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id, session.id = %input.session_id))]
    pub async fn expire_checkout_session(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ExpireCheckoutInput,
    ) -> Result<(), ActivityError> {
        self.payments
            .expire_checkout_session(&input.session_id, input.provider)
            .await
            .map_err(|e| failure(e.is_permanent(), e))
    }

    /// An account email (verify the address, reset the password): see [`crate::accounts`].
    #[activity(definition = invoice_workflows::account::SendAccountEmail)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), token.id = %input.token_id))]
    pub async fn send_account_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: AccountEmailInput,
    ) -> Result<AccountEmailOutcome, ActivityError> {
        let base = self.payments.public_base_url();
        crate::accounts::send(&self.db, &self.mailer, base, input.token_id)
            .await
            .map_err(|e| failure(e.is_permanent(), e))
    }

    #[activity(definition = invoice_workflows::invoice::activities::RecordProjection)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id, version = input.version))]
    pub async fn record_projection(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: Projection,
    ) -> Result<(), ActivityError> {
        // A projection Postgres refuses for good fails for good: the workflow parks the
        // invoice (`record_attention`) instead of retrying a write that cannot pass.
        let from = records::project(&self.db, &input).await.map_err(record_error)?;
        if let Some(from) = from.filter(|from| from != input.status.as_str()) {
            self.metrics.transition(&from, input.status.as_str());
        }
        Ok(())
    }

    #[activity(definition = invoice_workflows::invoice::activities::RecordAttention)]
    #[instrument(skip_all, fields(trace_id = %crate::trace_id(), invoice.id = %input.invoice_id, version = input.version))]
    pub async fn record_attention(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: AttentionRecord,
    ) -> Result<(), ActivityError> {
        records::record_attention(&self.db, &input).await.map_err(record_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn non_retryable_message(error: ActivityError) -> Option<String> {
        match error {
            ActivityError::Application(failure) if failure.is_non_retryable() => {
                Some(failure.to_string())
            }
            _ => None,
        }
    }

    /// A text Postgres refuses (here a NUL byte) is refused on every attempt: the step fails
    /// for good, so the invoice needs attention with Postgres's reason at once.
    #[sqlx::test(migrations = false)]
    async fn a_value_postgres_refuses_fails_the_step_for_good(db: PgPool) {
        let refused = sqlx::query("SELECT $1::text").bind("Acme\0Ltd").execute(&db).await;
        let error = record_error(RecordError::from(refused.unwrap_err()));
        let message = non_retryable_message(error).expect("a non-retryable failure");
        assert!(message.contains("invalid byte sequence"), "{message}");

        // A connection that is gone still retries.
        let error = record_error(RecordError::from(sqlx::Error::PoolClosed));
        assert!(non_retryable_message(error).is_none());
    }

    #[tokio::test]
    async fn a_render_that_panics_fails_the_activity_for_good() {
        let error = render_off_thread(|| panic!("index out of bounds")).await.unwrap_err();
        let message = non_retryable_message(error).expect("a non-retryable failure");
        assert_eq!(
            message,
            "the invoice could not be rendered: the renderer panicked: index out of bounds"
        );
    }

    #[tokio::test]
    async fn a_render_error_fails_the_activity_for_good() {
        let error =
            render_off_thread(|| Err(PdfError::Compile("bad template".into()))).await.unwrap_err();
        let message = non_retryable_message(error).expect("a non-retryable failure");
        assert!(message.starts_with("the invoice could not be rendered: "), "{message}");
        assert_eq!(render_off_thread(|| Ok(vec![1, 2])).await.unwrap(), vec![1, 2]);
    }
}

//! Postgres writes of the invoice workflow: the invoice row and its lines, finalization with a
//! gapless number, and the projection of the workflow's state (versioned, so a stale write
//! loses), with timeline events and payments. The rows' triggers announce every change to the
//! API's live updates (migrations 005 and 007); nothing here sends notifications itself.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use invoice_domain::{
    Actor, Decimal4, InvoiceStatus, LineAmounts, LineInput, TimelineEvent, Totals, compute_totals,
};
use invoice_workflows::invoice::activities::{
    AttentionRecord, CreateRecordInput, FinalizeInput, Finalized, InvoiceRef, UpdateDraftInput,
};
use invoice_workflows::invoice::messages::{
    InvoiceContent, InvoiceRecord, LineContent, Projection, StoredInvoice, StoredPayments,
};
use invoice_workflows::invoice::schedule;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Retrying cannot help (the data is not what the workflow expects).
    #[error("{0}")]
    Permanent(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl RecordError {
    /// True when the same write would fail the same way: our own refusals, and values Postgres
    /// refuses ([`crate::postgres::is_data_exception`]).
    pub fn is_permanent(&self) -> bool {
        match self {
            RecordError::Permanent(_) => true,
            RecordError::Database(e) => crate::postgres::is_data_exception(e),
        }
    }
}

/// Decimals travel as text and are cast to `numeric` in SQL: exact, and no decimal crate needed.
fn numeric(d: Decimal4) -> String {
    d.to_string()
}

/// The customer an invoice is made out to, with its organisation's reminder schedule.
struct BilledCustomer {
    name: String,
    email: Option<String>,
    time_zone: String,
    reminder_offsets: Vec<i32>,
}

impl BilledCustomer {
    /// What the workflow needs of the stored invoice.
    fn record(self, content: &InvoiceContent, totals: &Totals) -> InvoiceRecord {
        InvoiceRecord {
            total: totals.total,
            currency: content.currency,
            due_date: content.due_date,
            time_zone: self.time_zone,
            reminder_offsets: self.reminder_offsets,
            stored: StoredPayments::default(),
            existing: None,
            client_name: self.name,
        }
    }
}

async fn billed_customer(
    conn: &mut PgConnection,
    org_id: Uuid,
    customer_id: Uuid,
) -> Result<BilledCustomer, RecordError> {
    sqlx::query_as!(
        BilledCustomer,
        "SELECT c.name, c.email, c.time_zone, o.reminder_offsets
         FROM customers c JOIN organizations o ON o.id = c.org_id
         WHERE c.org_id = $1 AND c.id = $2",
        org_id,
        customer_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| RecordError::Permanent(format!("customer {customer_id} not found")))
}

/// Line amounts and totals, computed as everywhere else (domain's `compute_totals`).
fn totals_of(content: &InvoiceContent) -> Result<(Vec<LineAmounts>, Totals), RecordError> {
    let lines: Vec<LineInput> = content
        .lines
        .iter()
        .map(|l| LineInput { quantity: l.quantity, unit_price: l.unit_price })
        .collect();
    compute_totals(&lines, content.discount_rate, content.tax_rate)
        .map_err(|e| RecordError::Permanent(format!("totals: {e}")))
}

/// Stores the invoice with its lines and the `created` event. Idempotent: a retry after a crash
/// finds the row and returns it, with the money it already holds (a run that ops started again
/// goes on from there).
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "store_invoice"))]
pub async fn create(db: &PgPool, req: &CreateRecordInput) -> Result<InvoiceRecord, RecordError> {
    let input = &req.input;
    let (org_id, invoice_id, customer_id) =
        (input.org_id.uuid(), input.invoice_id.uuid(), input.customer_id.uuid());
    let mut tx = db.begin().await?;
    let customer = billed_customer(&mut tx, org_id, customer_id).await?;
    let content = &input.content;
    let (amounts, totals) = totals_of(content)?;
    let status = if input.draft { InvoiceStatus::Draft } else { InvoiceStatus::Open };
    let inserted = sqlx::query!(
        "INSERT INTO invoices (id, org_id, customer_id, workflow_id, status, currency, issue_date, due_date,
                               tax_rate, discount_rate, subtotal, discount_total, tax_total, total, notes,
                               reference, client_name, client_email, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::numeric, $10::text::numeric, $11, $12, $13, $14, $15,
                 $16, $17, $18, $19, $20)
         ON CONFLICT (id) DO NOTHING",
        invoice_id,
        org_id,
        customer_id,
        req.workflow_id,
        status.as_str(),
        content.currency.code(),
        content.issue_date,
        content.due_date,
        numeric(content.tax_rate),
        numeric(content.discount_rate),
        totals.subtotal,
        totals.discount,
        totals.tax,
        totals.total,
        content.notes,
        content.reference,
        customer.name,
        customer.email,
        input.actor.to_string(),
        req.at
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let record = if inserted == 1 {
        insert_lines(&mut tx, org_id, invoice_id, content, &amounts).await?;
        let created = TimelineEvent::Created { status, total: totals.total };
        append_event(&mut tx, org_id, invoice_id, &input.actor, &created, req.at, "created")
            .await?;
        customer.record(content, &totals)
    } else {
        // An earlier run stored it (ops reset that run): go on from the row as it is now,
        // edited, finalized and paid as it may be, not from this run's start input.
        let existing = stored_invoice(&mut tx, org_id, invoice_id).await?;
        let customer = billed_customer(&mut tx, org_id, existing.customer_id.uuid()).await?;
        let (_, totals) = totals_of(&existing.content)?;
        let mut record = customer.record(&existing.content, &totals);
        record.stored = stored_payments(&mut tx, invoice_id).await?;
        record.existing = Some(existing);
        record
    };
    tx.commit().await?;
    Ok(record)
}

/// The invoice row as it is: its status, customer and content.
async fn stored_invoice(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
) -> Result<StoredInvoice, RecordError> {
    let row = sqlx::query!(
        r#"SELECT status, customer_id, currency, issue_date, due_date, tax_rate::text AS "tax_rate!",
                  discount_rate::text AS "discount_rate!", notes, reference
           FROM invoices WHERE org_id = $1 AND id = $2"#,
        org_id,
        invoice_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let lines = sqlx::query!(
        r#"SELECT description, quantity::text AS "quantity!", unit_price
           FROM invoice_lines WHERE invoice_id = $1 ORDER BY position"#,
        invoice_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let bad = |what: &str, value: &str| RecordError::Permanent(format!("stored {what} {value:?}"));
    let decimal = |what: &str, value: &str| value.parse::<Decimal4>().map_err(|_| bad(what, value));
    Ok(StoredInvoice {
        status: InvoiceStatus::parse(&row.status).ok_or_else(|| bad("status", &row.status))?,
        customer_id: row.customer_id.into(),
        content: InvoiceContent {
            currency: row.currency.parse().map_err(|_| bad("currency", &row.currency))?,
            issue_date: row.issue_date,
            due_date: row.due_date,
            lines: lines
                .into_iter()
                .map(|l| {
                    Ok(LineContent {
                        quantity: decimal("quantity", &l.quantity)?,
                        description: l.description,
                        unit_price: l.unit_price,
                    })
                })
                .collect::<Result<_, RecordError>>()?,
            tax_rate: decimal("tax rate", &row.tax_rate)?,
            discount_rate: decimal("discount rate", &row.discount_rate)?,
            notes: row.notes,
            reference: row.reference,
        },
    })
}

/// The money an existing invoice row holds: its amount paid, every payment event id seen
/// (payments, refunds and failed payments) and the refunds per payment reference.
async fn stored_payments(
    conn: &mut PgConnection,
    invoice_id: Uuid,
) -> Result<StoredPayments, RecordError> {
    let row = sqlx::query!("SELECT amount_paid, paid_at FROM invoices WHERE id = $1", invoice_id)
        .fetch_one(&mut *conn)
        .await?;
    let event_ids = sqlx::query_scalar!(
        r#"SELECT event_id AS "event_id!" FROM payments WHERE invoice_id = $1
           UNION
           SELECT data->>'eventId' FROM invoice_events
           WHERE invoice_id = $1 AND kind = $2 AND data ? 'eventId'"#,
        invoice_id,
        invoice_domain::TimelineKind::PaymentFailed.as_str()
    )
    .fetch_all(&mut *conn)
    .await?;
    let refunded_by_reference: BTreeMap<String, i64> = sqlx::query!(
        r#"SELECT reference AS "reference!", (-sum(amount))::bigint AS "refunded!" FROM payments
           WHERE invoice_id = $1 AND amount < 0 AND reference IS NOT NULL GROUP BY reference"#,
        invoice_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.reference, r.refunded))
    .collect();
    Ok(StoredPayments {
        amount_paid: row.amount_paid,
        event_ids,
        refunded_by_reference,
        paid_at: row.paid_at,
    })
}

async fn insert_lines(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    content: &InvoiceContent,
    amounts: &[LineAmounts],
) -> Result<(), RecordError> {
    for (position, (line, amount)) in content.lines.iter().zip(amounts).enumerate() {
        sqlx::query!(
            "INSERT INTO invoice_lines (invoice_id, position, org_id, description, quantity, unit_price, amount)
             VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7)",
            invoice_id,
            position as i32,
            org_id,
            line.description,
            numeric(line.quantity),
            line.unit_price,
            amount.amount
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces a draft's content, customer and lines and recomputes its totals. Refused (for good)
/// once the invoice is numbered. Idempotent: a retry writes the same content again.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "update_draft"))]
pub async fn update_draft(
    db: &PgPool,
    req: &UpdateDraftInput,
) -> Result<InvoiceRecord, RecordError> {
    let (org_id, invoice_id, customer_id) =
        (req.org_id.uuid(), req.invoice_id.uuid(), req.customer_id.uuid());
    let content = &req.content;
    let (amounts, totals) = totals_of(content)?;
    let mut tx = db.begin().await?;
    let customer = billed_customer(&mut tx, org_id, customer_id).await?;
    let updated = sqlx::query!(
        "UPDATE invoices SET customer_id = $3, currency = $4, issue_date = $5, due_date = $6,
                tax_rate = $7::text::numeric, discount_rate = $8::text::numeric, subtotal = $9,
                discount_total = $10, tax_total = $11, total = $12, notes = $13, reference = $14,
                client_name = $15, client_email = $16, updated_at = now()
         WHERE org_id = $1 AND id = $2 AND number IS NULL",
        org_id,
        invoice_id,
        customer_id,
        content.currency.code(),
        content.issue_date,
        content.due_date,
        numeric(content.tax_rate),
        numeric(content.discount_rate),
        totals.subtotal,
        totals.discount,
        totals.tax,
        totals.total,
        content.notes,
        content.reference,
        customer.name,
        customer.email
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated != 1 {
        return Err(RecordError::Permanent("only an unnumbered draft can be edited".into()));
    }
    sqlx::query!("DELETE FROM invoice_lines WHERE invoice_id = $1", invoice_id)
        .execute(&mut *tx)
        .await?;
    insert_lines(&mut tx, org_id, invoice_id, content, &amounts).await?;
    let updated = TimelineEvent::DraftUpdated { total: totals.total, lines: content.lines.len() };
    let key = format!("edit:{}:{}", req.version, req.at.timestamp_micros());
    append_event(&mut tx, org_id, invoice_id, &req.actor, &updated, req.at, &key).await?;
    tx.commit().await?;
    Ok(customer.record(content, &totals))
}

/// Deletes an unnumbered draft with its lines and events. Idempotent.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "delete_draft"))]
pub async fn delete_draft(db: &PgPool, invoice: &InvoiceRef) -> Result<(), RecordError> {
    let (org_id, invoice_id) = (invoice.org_id.uuid(), invoice.invoice_id.uuid());
    let mut tx = db.begin().await?;
    let numbered = sqlx::query_scalar!(
        "SELECT number IS NOT NULL AS \"numbered!\" FROM invoices WHERE org_id = $1 AND id = $2 FOR UPDATE",
        org_id,
        invoice_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    match numbered {
        None => return Ok(()),
        Some(true) => {
            return Err(RecordError::Permanent("a numbered invoice cannot be deleted".into()));
        }
        Some(false) => {}
    }
    for statement in [
        "DELETE FROM invoice_events WHERE invoice_id = $1",
        "DELETE FROM invoice_lines WHERE invoice_id = $1",
        "DELETE FROM invoices WHERE id = $1",
    ] {
        sqlx::query(statement).bind(invoice_id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Numbers the invoice (`INV-<year>-<nnnnn>`, gapless per organisation and year: the counter
/// and the invoice change in one transaction) and freezes the client as printed. Idempotent.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "finalize_invoice"))]
pub async fn finalize(db: &PgPool, req: &FinalizeInput) -> Result<Finalized, RecordError> {
    let (org_id, invoice_id) = (req.org_id.uuid(), req.invoice_id.uuid());
    let mut tx = db.begin().await?;
    let row = sqlx::query!(
        r#"SELECT i.number, i.issue_date, c.time_zone, c.name, c.email, c.address, c.tax_id
           FROM invoices i JOIN customers c ON c.id = i.customer_id
           WHERE i.org_id = $1 AND i.id = $2
           FOR UPDATE OF i"#,
        org_id,
        invoice_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| RecordError::Permanent(format!("invoice {invoice_id} not found")))?;
    if let (Some(number), Some(issue_date)) = (row.number, row.issue_date) {
        return Ok(Finalized { number, issue_date });
    }
    let tz = row.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let issue_date: NaiveDate = row.issue_date.unwrap_or_else(|| schedule::local_date(req.at, tz));
    let year = chrono::Datelike::year(&issue_date);
    let seq = sqlx::query_scalar!(
        "INSERT INTO invoice_number_counters (org_id, year, last_value) VALUES ($1, $2, 1)
         ON CONFLICT (org_id, year) DO UPDATE SET last_value = invoice_number_counters.last_value + 1
         RETURNING last_value",
        org_id,
        year
    )
    .fetch_one(&mut *tx)
    .await?;
    let number = format!("INV-{year}-{seq:05}");
    let snapshot = json!({ "name": row.name, "email": row.email, "address": row.address, "taxId": row.tax_id });
    sqlx::query!(
        "UPDATE invoices SET number = $3, issue_date = $4, finalized_at = $5, client_name = $6, client_email = $7,
                client_snapshot = $8, public_token = $9, updated_at = now()
         WHERE org_id = $1 AND id = $2",
        org_id,
        invoice_id,
        number,
        issue_date,
        req.at,
        row.name,
        row.email,
        snapshot,
        page_token()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Finalized { number, issue_date })
}

/// The hosted page's token: 256 random bits, URL-safe. Unguessable is all it has to be; it is
/// never derived from the invoice.
fn page_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Marks the invoice as needing attention because Postgres refused its projection: only the
/// status and the reason, cleaned of what Postgres refuses in text (NUL and other control
/// characters) and capped, so that this write passes where the projection did not.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "record_attention"))]
pub async fn record_attention(db: &PgPool, a: &AttentionRecord) -> Result<(), RecordError> {
    let version =
        i64::try_from(a.version).map_err(|_| RecordError::Permanent("version overflow".into()))?;
    let reason: String = a
        .reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(ATTENTION_REASON_MAX_CHARS)
        .collect();
    sqlx::query!(
        "UPDATE invoices SET status = 'needs_attention', attention_reason = $3, next_action = NULL,
                version = $4, updated_at = now()
         WHERE org_id = $1 AND id = $2 AND version < $4",
        a.org_id.uuid(),
        a.invoice_id.uuid(),
        reason,
        version
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Enough for any reason people read.
const ATTENTION_REASON_MAX_CHARS: usize = 2000;

/// Writes the workflow's view of the invoice. A projection older than what the row already
/// shows does not touch the row; its events and payments are still stored (each at most once).
///
/// Answers the status the row had before, when this projection updated it (for the transition
/// metric), or `None` when the row already showed a newer version.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "record_projection"))]
pub async fn project(db: &PgPool, p: &Projection) -> Result<Option<String>, RecordError> {
    let (org_id, invoice_id) = (p.org_id.uuid(), p.invoice_id.uuid());
    let version =
        i64::try_from(p.version).map_err(|_| RecordError::Permanent("version overflow".into()))?;
    let next_action = p.next_action.as_ref().map(|a| json!(a));
    let mut tx = db.begin().await?;
    // `before` reads the row as the statement starts, taking no lock: the workflow is the one
    // writer of these columns, so nothing else moves the status in between.
    let previous = sqlx::query_scalar!(
        "UPDATE invoices AS i SET status = $3, amount_paid = $4, attention_reason = $5, next_action = $6,
                pdf_key = COALESCE($7, i.pdf_key), sent_at = COALESCE($8, i.sent_at), paid_at = $9, voided_at = $10,
                version = $11, updated_at = now(), checkout = $12,
                -- Voiding revokes the hosted page.
                public_token = CASE WHEN $3 = 'void' THEN NULL ELSE i.public_token END
         FROM (SELECT id, status FROM invoices WHERE org_id = $1 AND id = $2) AS before
         WHERE i.org_id = $1 AND i.id = before.id AND i.version < $11
         RETURNING before.status AS \"status!\"",
        org_id,
        invoice_id,
        p.status.as_str(),
        p.amount_paid,
        p.attention_reason,
        next_action,
        p.pdf_key,
        p.sent_at,
        p.paid_at,
        p.voided_at,
        version,
        p.checkout.as_ref().map(|c| json!(c))
    )
    .fetch_optional(&mut *tx)
    .await?;
    for payment in &p.payments {
        sqlx::query!(
            "INSERT INTO payments (id, org_id, invoice_id, event_id, amount, currency, method, reference, paid_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (invoice_id, event_id) DO NOTHING",
            Uuid::now_v7(),
            org_id,
            invoice_id,
            payment.event_id,
            payment.amount,
            payment.currency.code(),
            payment.method.as_str(),
            payment.reference,
            payment.paid_at,
            payment.actor.to_string()
        )
        .execute(&mut *tx)
        .await?;
    }
    for event in &p.events {
        // The event's place in its run, not the projection's version: a projection re-run after
        // a crash (a new workflow task, a new version) must not store its events again, and a
        // run that ops started again stores its own events beside the old run's.
        let key = event_key(&p.run_id, event.seq);
        append_event(&mut tx, org_id, invoice_id, &event.actor, &event.event, event.at, &key)
            .await?;
    }
    tx.commit().await?;
    Ok(previous)
}

/// The dedup key of a timeline event: its run and its place in that run. (Runs projected before
/// run ids were sent keyed on the place alone.)
fn event_key(run_id: &str, seq: u64) -> String {
    if run_id.is_empty() { format!("e{seq}") } else { format!("{run_id}:e{seq}") }
}

async fn append_event(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    actor: &Actor,
    event: &TimelineEvent,
    at: DateTime<Utc>,
    dedup_key: &str,
) -> Result<(), RecordError> {
    sqlx::query!(
        "INSERT INTO invoice_events (org_id, invoice_id, kind, actor, data, occurred_at, dedup_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (invoice_id, dedup_key) DO NOTHING",
        org_id,
        invoice_id,
        event.kind().as_str(),
        actor.to_string(),
        event.data(),
        at,
        dedup_key
    )
    .execute(conn)
    .await?;
    Ok(())
}

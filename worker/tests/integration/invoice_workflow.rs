//! `InvoiceWorkflow` end to end on Temporal's time-skipping test server: the real workflow with
//! fake activities, one fresh server per test, weeks of invoice life skipped in milliseconds.
//!
//! Needs `TEMPORAL_TEST_SERVER` (the `temporal-test-server` binary; `make test` exports it).
//!
//! `replays_recorded_histories` replays the committed histories in `tests/histories/` (no
//! server needed), so a change to the workflow that would break running invoices fails here.
//! The `before_refunds_*` ones were recorded before paid runs stayed open for refunds: they
//! prove that runs started then still replay (the `refund-window` patch).
//! To record them again after an intended, compatible change, run
//! `RECORD_HISTORIES=1 cargo test -p invoice-worker --test integration` and commit the
//! new JSON files (then run once more without it to replay them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use chrono::{
    DateTime, Days, NaiveDate, NaiveTime, Offset as _, TimeZone as _, Timelike as _, Utc,
};
use chrono_tz::Tz;
use invoice_domain::{
    Actor, CustomerId, Decimal4, EmailKind, InvoiceId, InvoiceStatus, NextActionKind, OrgId,
    PaymentMethod, TimelineKind, UserId,
};
use invoice_service::codec::{EncryptionCodec, PayloadKeys};
use invoice_workflows::InvoiceWorkflow;
use invoice_workflows::invoice::RefusalCode;
use invoice_workflows::invoice::messages::{
    ActorRequest, InvoiceContent, InvoiceRecord, InvoiceWorkflowInput, LineContent, NextAction,
    PaymentOutcome, PaymentRequest, RefundRequest, StatusView,
};
use invoice_workflows::invoice_workflow_id;
use serde_json::json;
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
    WorkflowHandle, WorkflowHistory, WorkflowIdReusePolicy, WorkflowQueryOptions,
    WorkflowStartOptions,
};
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadConverter,
};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

use crate::support::{
    FakeActivities, Fakes, REFUSED_PROJECTION, SCRIPTED_FAILURE, TestEnv, TestWorker,
};

type Invoice = WorkflowHandle<Client, InvoiceWorkflow>;

/// The invoice total of every test, in cents.
const TOTAL: i64 = 10_000;
const CURRENCY: &str = "EUR";
/// The platform's default reminder schedule (days relative to the due date).
const DEFAULT_OFFSETS: [i32; 5] = [-3, 0, 3, 7, 14];
/// Bound on waiting for a workflow to complete once nothing but fast fakes is left to run.
const RESULT_DEADLINE: Duration = Duration::from_secs(30);
/// Bound on waiting for a status through queries.
const STATUS_DEADLINE: Duration = Duration::from_secs(30);
/// A paid invoice's run stays open this long for refunds, then completes.
const REFUND_WINDOW: Duration = Duration::from_secs(181 * 24 * 3600);

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn happy_path_sends_once_then_paid_sends_receipt_and_completes() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let due = env.now().await?.date_naive() + Days::new(30);
    let fakes = Fakes::new(record("Europe/Berlin", due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let input = invoice_input(&fakes);
    let invoice = start_invoice(&env, &input).await?;
    wait_until_sent(&fakes).await?;

    let calls = fakes.calls();
    ensure!(calls.created.len() == 1, "created {} times", calls.created.len());
    assert_eq!(calls.created[0].input, input);
    assert_eq!(calls.created[0].workflow_id, invoice.info().workflow_id);
    ensure!(calls.finalized.len() == 1 && calls.rendered.len() == 1, "{calls:#?}");
    let emails = calls.delivered(EmailKind::Invoice);
    ensure!(emails.len() == 1, "invoice emails: {emails:#?}");
    assert_eq!(emails[0].idempotency_key, format!("{}:invoice_email:1", input.invoice_id));
    assert_eq!(emails[0].offset_days, None);
    assert_eq!(calls.event_kinds(), ["finalized", "pdf_rendered", "email_sent"]);
    let latest = calls.latest().context("no projection")?;
    ensure!(latest.sent_at.is_some() && latest.pdf_key.is_some(), "{latest:#?}");
    let versions: Vec<u64> = calls.projections.iter().map(|p| p.version).collect();
    ensure!(versions.windows(2).all(|w| w[0] < w[1]), "versions must grow: {versions:?}");

    let view = status(&invoice).await?;
    assert_eq!(view.status, InvoiceStatus::Sent);
    assert_eq!(view.number.as_deref(), Some("INV-0001"));
    assert_eq!((view.total, view.amount_paid, view.amount_due), (TOTAL, 0, TOTAL));

    let outcome = pay(&invoice, "evt-full", TOTAL).await?;
    assert_eq!(
        outcome,
        PaymentOutcome { status: InvoiceStatus::Paid, amount_paid: TOTAL, amount_due: 0 }
    );
    let result = settle(&env, &fakes, &invoice, 1).await?;
    assert_eq!(result.status, InvoiceStatus::Paid);
    assert_eq!((result.amount_paid, result.amount_due, result.next_action), (TOTAL, 0, None));

    let calls = fakes.calls();
    let receipts = calls.delivered(EmailKind::Receipt);
    ensure!(receipts.len() == 1, "receipts: {receipts:#?}");
    assert_eq!(receipts[0].idempotency_key, format!("{}:receipt:1", input.invoice_id));
    ensure!(calls.delivered(EmailKind::Invoice).len() == 1, "the invoice email went out again");
    ensure!(calls.delivered(EmailKind::Reminder).is_empty(), "no reminder was due yet");
    let latest = calls.latest().context("no projection")?;
    assert_eq!(latest.status, InvoiceStatus::Paid);
    assert_eq!(latest.amount_paid, TOTAL);
    ensure!(latest.paid_at.is_some(), "paid_at missing: {latest:#?}");
    let payments: Vec<&str> =
        calls.projections.iter().flat_map(|p| &p.payments).map(|p| p.event_id.as_str()).collect();
    assert_eq!(payments, ["evt-full"]);
    assert_eq!(
        calls.event_kinds(),
        ["finalized", "pdf_rendered", "email_sent", "payment_recorded", "receipt_sent"]
    );

    record_history(&invoice, "happy_path_paid").await
}

#[tokio::test]
async fn reminders_go_out_at_nine_local_time_across_a_dst_change() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let tz: Tz = "America/New_York".parse()?;
    // Due on the day of the next DST change far enough out that every slot is still ahead:
    // the -3 reminder falls before the change, the others after it.
    let today = env.now().await?.with_timezone(&tz).date_naive();
    let due = next_dst_change(tz, today + Days::new(5)).context("no DST change ahead")?;
    let fakes = Fakes::new(record(tz.name(), due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_until_sent(&fakes).await?;

    // The schedule lists every reminder at 09:00 local and the overdue mark at local midnight.
    let schedule = invoice.query(InvoiceWorkflow::schedule, (), query_options()).await?;
    let mut expected: Vec<NextAction> = DEFAULT_OFFSETS
        .iter()
        .map(|&offset| NextAction {
            kind: NextActionKind::Reminder,
            at: nine_local(due, offset, tz),
            offset_days: Some(offset),
        })
        .collect();
    expected.push(NextAction {
        kind: NextActionKind::MarkOverdue,
        at: local(due + Days::new(1), NaiveTime::MIN, tz),
        offset_days: None,
    });
    expected.sort_by_key(|a| a.at);
    assert_eq!(schedule.upcoming, expected);
    assert_eq!(schedule.reminders_done, 0);
    assert_eq!(status(&invoice).await?.next_action.as_ref(), expected.first());

    env.skip_to(nine_local(due, 14, tz) + chrono::Duration::hours(1)).await?;
    let sent = fakes
        .wait_for("five reminder_sent events", |calls| {
            let events = calls.events("reminder_sent");
            (events.len() >= DEFAULT_OFFSETS.len())
                .then(|| events.iter().map(|e| (e.data.clone(), e.at)).collect::<Vec<_>>())
        })
        .await?;

    let offsets: Vec<i32> =
        sent.iter().map(|(data, _)| offset_of(data)).collect::<Result<_, _>>()?;
    assert_eq!(offsets, DEFAULT_OFFSETS);
    for ((data, at), offset) in sent.iter().zip(DEFAULT_OFFSETS) {
        assert_eq!(data["collapsed"], json!([]), "reminder {offset} collapsed others: {data}");
        let local_at = at.with_timezone(&tz);
        assert_eq!(local_at.date_naive(), due + chrono::Duration::days(offset.into()));
        ensure!(
            (local_at.hour(), local_at.minute()) == (9, 0),
            "reminder {offset} went out at {local_at} ({at}), not 09:00 in {tz}"
        );
    }
    let utc_hours: Vec<u32> = sent.iter().map(|(_, at)| at.hour()).collect();
    ensure!(
        utc_hours[0] != utc_hours[1] && utc_hours[1..].iter().all(|h| *h == utc_hours[1]),
        "09:00 local must move by an hour in UTC across the DST change: {utc_hours:?}"
    );

    let calls = fakes.calls();
    let keys: Vec<&str> =
        calls.delivered(EmailKind::Reminder).iter().map(|e| e.idempotency_key.as_str()).collect();
    let invoice_id = &calls.created[0].input.invoice_id;
    let want: Vec<String> =
        DEFAULT_OFFSETS.iter().map(|o| format!("{invoice_id}:reminder:{o}")).collect();
    assert_eq!(keys, want);

    let schedule = invoice.query(InvoiceWorkflow::schedule, (), query_options()).await?;
    ensure!(schedule.upcoming.is_empty(), "nothing left to do: {:#?}", schedule.upcoming);
    assert_eq!(schedule.reminders_done, DEFAULT_OFFSETS.len());
    assert_eq!(status(&invoice).await?.status, InvoiceStatus::Overdue);
    Ok(())
}

#[tokio::test]
async fn turns_overdue_when_the_due_date_ends_locally() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let tz: Tz = "Asia/Tokyo".parse()?;
    let due = env.now().await?.with_timezone(&tz).date_naive() + Days::new(3);
    // No reminders: the overdue mark is the only thing the clock drives.
    let fakes = Fakes::new(record(tz.name(), due, &[]));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_until_sent(&fakes).await?;

    let overdue_at = local(due + Days::new(1), NaiveTime::MIN, tz);
    let view = status(&invoice).await?;
    assert_eq!(view.status, InvoiceStatus::Sent);
    assert_eq!(
        view.next_action,
        Some(NextAction { kind: NextActionKind::MarkOverdue, at: overdue_at, offset_days: None })
    );

    env.skip_to(overdue_at - chrono::Duration::minutes(1)).await?;
    assert_eq!(status(&invoice).await?.status, InvoiceStatus::Sent, "overdue a minute early");

    env.skip(Duration::from_secs(120)).await?;
    let view = wait_for_status(&invoice, InvoiceStatus::Overdue).await?;
    assert_eq!((view.amount_due, view.next_action), (TOTAL, None));
    let changed = fakes
        .wait_for("the overdue projection", |calls| {
            let latest = calls.latest()?;
            (latest.status == InvoiceStatus::Overdue)
                .then(|| calls.events("status_changed").iter().map(|e| e.at).collect::<Vec<_>>())
        })
        .await?;
    ensure!(changed.len() == 1, "one status change expected: {changed:?}");
    ensure!(
        changed[0] >= overdue_at && changed[0] < overdue_at + chrono::Duration::minutes(1),
        "marked overdue at {}, expected right after {overdue_at}",
        changed[0]
    );
    Ok(())
}

#[tokio::test]
async fn payment_cancels_pending_reminders() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let tz: Tz = "Europe/Berlin".parse()?;
    let due = env.now().await?.with_timezone(&tz).date_naive() + Days::new(10);
    let fakes = Fakes::new(record(tz.name(), due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_until_sent(&fakes).await?;

    // The first reminder goes out; then the customer pays.
    env.skip_to(nine_local(due, -3, tz) + chrono::Duration::hours(1)).await?;
    fakes
        .wait_for("the first reminder", |c| {
            (!c.delivered(EmailKind::Reminder).is_empty()).then_some(())
        })
        .await?;
    pay(&invoice, "evt-1", TOTAL).await?;
    wait_for_status(&invoice, InvoiceStatus::Paid).await?;

    // Weeks past every remaining slot: nothing more goes out.
    env.skip_to(nine_local(due, 14, tz) + chrono::Duration::days(7)).await?;
    let calls = fakes.calls();
    let reminders: Vec<Option<i32>> =
        calls.delivered(EmailKind::Reminder).iter().map(|e| e.offset_days).collect();
    assert_eq!(reminders, [Some(-3)], "reminders after payment");
    ensure!(calls.delivered(EmailKind::Receipt).len() == 1, "{:#?}", calls.emails);
    let latest = calls.latest().context("no projection")?;
    assert_eq!((latest.status, &latest.next_action), (InvoiceStatus::Paid, &None));
    Ok(())
}

#[tokio::test]
async fn a_repeated_payment_event_is_refused_and_counted_once() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let due = env.now().await?.date_naive() + Days::new(30);
    let fakes = Fakes::new(record("UTC", due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_until_sent(&fakes).await?;

    // The API sends the event id as the update id: a retried request gets the first answer.
    let first = pay_with_update_id(&invoice, "evt-1", 4_000, Some("evt-1")).await?;
    assert_eq!(first.amount_paid, 4_000);
    let retried = pay_with_update_id(&invoice, "evt-1", 4_000, Some("evt-1")).await?;
    assert_eq!(retried, first);
    // The same event in another request (another update id) is refused by the validator.
    let again = refusal(pay(&invoice, "evt-1", 4_000).await)?;
    ensure!(again.contains("duplicate payment event evt-1"), "refused for another reason: {again}");

    let view = status(&invoice).await?;
    assert_eq!(view.status, InvoiceStatus::PartiallyPaid);
    assert_eq!((view.amount_paid, view.amount_due), (4_000, TOTAL - 4_000));
    let payments = fakes
        .wait_for("the payment projection", |calls| {
            let ids: Vec<String> = calls
                .projections
                .iter()
                .flat_map(|p| &p.payments)
                .map(|p| p.event_id.clone())
                .collect();
            (!ids.is_empty()).then_some(ids)
        })
        .await?;
    assert_eq!(payments, ["evt-1"]);
    ensure!(
        fakes.calls().events("payment_recorded").len() == 1,
        "the refused payment was recorded"
    );
    Ok(())
}

#[tokio::test]
async fn partial_then_full_payment_with_a_reminder_in_between() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let tz: Tz = "Europe/Berlin".parse()?;
    let due = env.now().await?.with_timezone(&tz).date_naive() + Days::new(10);
    let fakes = Fakes::new(record(tz.name(), due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_until_sent(&fakes).await?;

    let partial = pay(&invoice, "evt-1", 4_000).await?;
    assert_eq!(
        partial,
        PaymentOutcome {
            status: InvoiceStatus::PartiallyPaid,
            amount_paid: 4_000,
            amount_due: 6_000
        }
    );
    let view = status(&invoice).await?;
    assert_eq!((view.status, view.amount_due), (InvoiceStatus::PartiallyPaid, 6_000));

    // The -3 reminder still goes out for what is left, and the status stays partially paid.
    env.skip_to(nine_local(due, -3, tz) + chrono::Duration::hours(1)).await?;
    fakes
        .wait_for("the first reminder", |c| (!c.events("reminder_sent").is_empty()).then_some(()))
        .await?;
    assert_eq!(status(&invoice).await?.status, InvoiceStatus::PartiallyPaid);

    let (code, over) = refused(pay(&invoice, "evt-2", 6_001).await)?;
    ensure!(over.contains("overpayment"), "refused for another reason: {over}");
    assert_eq!(code, Some(RefusalCode::Overpayment), "the refusal's code reaches the caller");
    assert_eq!(status(&invoice).await?.amount_paid, 4_000, "a refused payment changed the state");

    let full = pay(&invoice, "evt-3", 6_000).await?;
    assert_eq!(
        full,
        PaymentOutcome { status: InvoiceStatus::Paid, amount_paid: TOTAL, amount_due: 0 }
    );
    let result = settle(&env, &fakes, &invoice, 1).await?;
    assert_eq!((result.status, result.amount_paid), (InvoiceStatus::Paid, TOTAL));

    let calls = fakes.calls();
    let payments: Vec<(&str, i64)> = calls
        .projections
        .iter()
        .flat_map(|p| &p.payments)
        .map(|p| (p.event_id.as_str(), p.amount))
        .collect();
    assert_eq!(payments, [("evt-1", 4_000), ("evt-3", 6_000)]);
    let statuses: Vec<InvoiceStatus> = calls.projections.iter().map(|p| p.status).collect();
    ensure!(statuses.contains(&InvoiceStatus::PartiallyPaid), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&InvoiceStatus::Paid));
    ensure!(calls.delivered(EmailKind::Receipt).len() == 1, "{:#?}", calls.emails);

    record_history(&invoice, "partial_payment_reminder_paid").await
}

#[tokio::test]
async fn void_stops_everything_but_not_once_paid_in_part() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let tz: Tz = "Europe/Berlin".parse()?;
    let due = env.now().await?.with_timezone(&tz).date_naive() + Days::new(10);
    let fakes = Fakes::new(record(tz.name(), due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;

    // An invoice with a payment cannot be voided.
    let paid_in_part = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_for_status(&paid_in_part, InvoiceStatus::Sent).await?;
    pay(&paid_in_part, "evt-1", 1_000).await?;
    let refused = refusal(
        paid_in_part
            .execute_update(InvoiceWorkflow::void, ops_request("mistake"), update_options())
            .await,
    )?;
    ensure!(refused.contains("with payments"), "refused for another reason: {refused}");
    assert_eq!(status(&paid_in_part).await?.status, InvoiceStatus::PartiallyPaid);

    let input = invoice_input(&fakes);
    let invoice = start_invoice(&env, &input).await?;
    wait_for_status(&invoice, InvoiceStatus::Sent).await?;
    let request = ops_request("sent by mistake");
    let voided_by = request.actor.clone();
    let voided = invoice.execute_update(InvoiceWorkflow::void, request, update_options()).await?;
    assert_eq!(voided.status, InvoiceStatus::Void);
    let result = result(&invoice).await?;
    assert_eq!((result.status, result.next_action), (InvoiceStatus::Void, None));

    // Past every slot: the voided invoice sends nothing (the other one does, as a control).
    env.skip_to(nine_local(due, 14, tz) + chrono::Duration::days(7)).await?;
    fakes
        .wait_for("the other invoice's reminders", |c| {
            (c.delivered(EmailKind::Reminder).len() >= DEFAULT_OFFSETS.len()).then_some(())
        })
        .await?;
    let calls = fakes.calls();
    let mine = |id: &InvoiceId| *id == input.invoice_id;
    let emails: Vec<EmailKind> =
        calls.emails.iter().filter(|e| mine(&e.input.invoice_id)).map(|e| e.input.kind).collect();
    assert_eq!(emails, [EmailKind::Invoice], "the voided invoice sent more");
    let latest = calls
        .projections
        .iter()
        .filter(|p| mine(&p.invoice_id))
        .max_by_key(|p| p.version)
        .context("no projection")?;
    assert_eq!(latest.status, InvoiceStatus::Void);
    ensure!(latest.voided_at.is_some(), "voided_at missing: {latest:#?}");
    let voided_event = latest
        .events
        .iter()
        .find(|e| e.event.kind() == TimelineKind::Voided)
        .context("no voided event")?;
    assert_eq!(voided_event.actor, voided_by);
    assert_eq!(voided_event.event.data()["reason"], "sent by mistake");
    Ok(())
}

#[tokio::test]
async fn a_permanent_send_failure_needs_attention_until_retried() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let due = env.now().await?.date_naive() + Days::new(30);
    let fakes = Fakes::new(record("UTC", due, &DEFAULT_OFFSETS));
    fakes.fail_sends(EmailKind::Invoice, 1);
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;

    let view = wait_for_status(&invoice, InvoiceStatus::NeedsAttention).await?;
    let reason = view.attention_reason.context("no attention reason")?;
    ensure!(reason.contains(SCRIPTED_FAILURE), "the reason does not say what failed: {reason}");
    ensure!(view.next_action.is_none(), "nothing runs while parked: {:?}", view.next_action);
    let calls = fakes.calls();
    // Non-retryable: Temporal did not retry it.
    ensure!(calls.attempts(EmailKind::Invoice) == 1, "{:#?}", calls.emails);
    let failed = calls.events("failed");
    ensure!(failed.len() == 1, "{failed:#?}");
    assert_eq!(failed[0].data["step"], "send");

    let retried = invoice
        .execute_update(InvoiceWorkflow::retry, ops_request("provider fixed"), update_options())
        .await?;
    assert_eq!(retried.status, InvoiceStatus::NeedsAttention, "the update only requests it");
    let view = wait_for_status(&invoice, InvoiceStatus::Sent).await?;
    assert_eq!(view.attention_reason, None);

    let calls = fakes.calls();
    // The retried send uses a key of its own: the failed one may stand for an email whose
    // delivery is unknown, and the provider would swallow a repeat of it.
    let invoice_id = &calls.created[0].input.invoice_id;
    let attempts: Vec<(&str, bool)> =
        calls.emails.iter().map(|e| (e.input.idempotency_key.as_str(), e.delivered)).collect();
    assert_eq!(
        attempts,
        [
            (format!("{invoice_id}:invoice_email:1").as_str(), false),
            (format!("{invoice_id}:invoice_email:1:retry-1").as_str(), true),
        ]
    );
    assert_eq!(
        calls.event_kinds(),
        ["finalized", "pdf_rendered", "failed", "retry_requested", "email_sent"]
    );

    let again = refusal(
        invoice.execute_update(InvoiceWorkflow::retry, ops_request(""), update_options()).await,
    )?;
    ensure!(again.contains("needs attention"), "refused for another reason: {again}");
    Ok(())
}

#[tokio::test]
async fn a_projection_postgres_refuses_parks_the_invoice_until_retried() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let due = env.now().await?.date_naive() + Days::new(30);
    let fakes = Fakes::new(record("UTC", due, &DEFAULT_OFFSETS));
    // The projection that records the sent email is refused twice: once first, once more after
    // a retry that came before the cause was fixed.
    fakes.refuse_projections_with(TimelineKind::EmailSent, 2);
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;

    let view = wait_for_status(&invoice, InvoiceStatus::NeedsAttention).await?;
    let reason = view.attention_reason.context("no attention reason")?;
    ensure!(reason.contains(REFUSED_PROJECTION), "the reason does not say why: {reason}");
    ensure!(view.next_action.is_none(), "nothing runs while parked: {:?}", view.next_action);
    // Failed for good at once (not retried for ever), and the row says so, with a version no
    // earlier projection can overwrite.
    let calls =
        fakes.wait_for("the row marked", |c| (!c.attentions.is_empty()).then(|| c.clone())).await?;
    ensure!(calls.refused.len() == 1, "{:#?}", calls.refused);
    let marked = &calls.attentions[0];
    ensure!(marked.reason.contains(REFUSED_PROJECTION), "{marked:?}");
    let written = calls.projections.iter().chain(&calls.refused).map(|p| p.version).max();
    ensure!(Some(marked.version) > written, "{marked:?} vs {written:?}");

    // A retry before the fix parks it again; the one after goes on where the run stood.
    for attempt in 1..=2 {
        invoice
            .execute_update(InvoiceWorkflow::retry, ops_request("retry"), update_options())
            .await?;
        if attempt == 1 {
            fakes
                .wait_for("the row marked again", |c| (c.attentions.len() == 2).then_some(()))
                .await?;
            wait_for_status(&invoice, InvoiceStatus::NeedsAttention).await?;
        }
    }
    let view = wait_for_status(&invoice, InvoiceStatus::Sent).await?;
    assert_eq!(view.attention_reason, None);
    let calls = fakes.calls();
    // Nothing was lost or done twice: the email went once, and its event reached the row once,
    // with the retries' events after it.
    ensure!(calls.attempts(EmailKind::Invoice) == 1, "{:#?}", calls.emails);
    assert_eq!(
        calls.event_kinds(),
        ["finalized", "pdf_rendered", "email_sent", "retry_requested", "retry_requested"]
    );
    let latest = calls.latest().context("no projection")?;
    assert_eq!(latest.status, InvoiceStatus::Sent);
    ensure!(latest.version > calls.attentions[1].version, "the row would stay parked");
    Ok(())
}

#[tokio::test]
async fn a_long_lived_run_continues_as_new_and_goes_on_where_it_stood() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let due = env.now().await?.date_naive() + Days::new(30);
    let fakes = Fakes::new(record("UTC", due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let mut input = invoice_input(&fakes);
    // About ten payments' worth of history per run.
    input.history_limit = Some(80);
    let invoice = start_invoice(&env, &input).await?;
    wait_until_sent(&fakes).await?;
    let schedule_before = invoice.query(InvoiceWorkflow::schedule, (), query_options()).await?;

    // Many small payments (each an update, a projection and their workflow tasks): the run's
    // history outgrows its limit several times over.
    const PAYMENTS: i64 = 30;
    for n in 1..=PAYMENTS {
        let outcome = pay(&invoice, &format!("part-{n}"), 1).await?;
        assert_eq!(outcome.amount_paid, n);
        // A payment repeated in a later run is still recognised.
        if n == PAYMENTS {
            refusal(pay(&invoice, "part-1", 1).await)?;
        }
    }
    let view = wait_for_status(&invoice, InvoiceStatus::PartiallyPaid).await?;
    assert_eq!(view.amount_paid, PAYMENTS);
    let runs: std::collections::BTreeSet<String> =
        fakes.calls().projections.iter().map(|p| p.run_id.clone()).collect();
    ensure!(runs.len() >= 3, "the run did not continue as new: {runs:?}");
    // The reminders planned at sending are still the plan.
    let schedule_after = invoice.query(InvoiceWorkflow::schedule, (), query_options()).await?;
    assert_eq!(schedule_after.reminders, schedule_before.reminders);

    // Paid in full in a later run: one receipt, and nothing sent again.
    pay(&invoice, "rest", TOTAL - PAYMENTS).await?;
    fakes
        .wait_for("the receipt", |c| (!c.delivered(EmailKind::Receipt).is_empty()).then_some(()))
        .await?;
    let calls = fakes.calls();
    assert_eq!(calls.delivered(EmailKind::Invoice).len(), 1);
    assert_eq!(calls.delivered(EmailKind::Receipt).len(), 1);
    // Every payment and timeline entry reached Postgres once, in order, whatever run wrote it.
    let paid: Vec<&str> =
        calls.projections.iter().flat_map(|p| &p.payments).map(|p| p.event_id.as_str()).collect();
    assert_eq!(paid.len(), usize::try_from(PAYMENTS + 1)?, "{paid:?}");
    let seqs: Vec<u64> = calls.projections.iter().flat_map(|p| &p.events).map(|e| e.seq).collect();
    ensure!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "timeline entries repeated or reordered: {seqs:?}"
    );
    let versions: Vec<u64> = calls.projections.iter().map(|p| p.version).collect();
    ensure!(versions.windows(2).all(|w| w[0] < w[1]), "a projection went back: {versions:?}");
    Ok(())
}

#[tokio::test]
async fn missed_reminder_slots_collapse_into_one_after_an_outage() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let tz: Tz = "Europe/Berlin".parse()?;
    let due = env.now().await?.with_timezone(&tz).date_naive() + Days::new(10);
    let fakes = Fakes::new(record(tz.name(), due, &DEFAULT_OFFSETS));
    let worker = TestWorker::start_without_cache(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_until_sent(&fakes).await?;
    worker.stop().await?;

    // The outage: the -3 timer fires with no worker polling. Its workflow task then holds the
    // clock (the server waits for it), so the test gives that lock up too to skip on to after
    // the +7 slot, and takes one back before the worker returns and completes the task.
    env.unlock().await?;
    env.wait_for_clock(nine_local(due, -3, tz)).await?;
    let back_at = nine_local(due, 7, tz) + chrono::Duration::hours(2);
    env.skip_to(back_at).await?;
    env.lock().await?;
    ensure!(fakes.calls().emails.len() == 1, "something ran without a worker");

    let _worker = TestWorker::start(&env, &fakes).await?;
    let sent = fakes
        .wait_for("the catch-up reminder", |calls| {
            let events = calls.events("reminder_sent");
            events.first().map(|e| (e.data.clone(), e.at))
        })
        .await?;
    let schedule = invoice.query(InvoiceWorkflow::schedule, (), query_options()).await?;
    assert_eq!(schedule.reminders_done, 4, "-3, 0, 3 and 7 are behind");
    assert_eq!(schedule.upcoming.iter().map(|a| a.offset_days).collect::<Vec<_>>(), [Some(14)]);

    let (data, at) = sent;
    assert_eq!(data["offsetDays"], 7);
    assert_eq!(data["collapsed"], json!([-3, 0, 3]));
    ensure!(at >= back_at, "the catch-up happened at {at}, before the worker was back");
    let calls = fakes.calls();
    let reminders = calls.delivered(EmailKind::Reminder);
    ensure!(reminders.len() == 1, "one reminder for the missed slots, got {reminders:#?}");
    let invoice_id = &calls.created[0].input.invoice_id;
    assert_eq!(reminders[0].idempotency_key, format!("{invoice_id}:reminder:7"));
    assert_eq!(reminders[0].offset_days, Some(7));
    ensure!(calls.events("reminder_sent").len() == 1, "{:#?}", calls.event_kinds());
    assert_eq!(status(&invoice).await?.status, InvoiceStatus::Overdue);
    Ok(())
}

#[tokio::test]
async fn a_partial_refund_reopens_a_paid_invoice_until_paid_again() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let due = env.now().await?.date_naive() + Days::new(30);
    let fakes = Fakes::new(record("Europe/Berlin", due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let input = invoice_input(&fakes);
    let invoice = start_invoice(&env, &input).await?;
    wait_until_sent(&fakes).await?;
    pay(&invoice, "evt-1", TOTAL).await?;
    wait_for_receipts(&fakes, 1).await?;

    let outcome = refund(&invoice, "re-1", "pi_1", 3_000).await?;
    assert_eq!(
        outcome,
        PaymentOutcome {
            status: InvoiceStatus::PartiallyPaid,
            amount_paid: 7_000,
            amount_due: 3_000
        }
    );
    // The same event again, and an event that reports nothing new for that payment.
    let again = refusal(refund(&invoice, "re-1", "pi_1", 3_000).await)?;
    ensure!(again.contains("duplicate"), "{again}");
    let stale = refusal(refund(&invoice, "re-1-late", "pi_1", 3_000).await)?;
    ensure!(stale.contains("already recorded"), "{stale}");
    let too_much = refusal(refund(&invoice, "re-big", "pi_9", 7_001).await)?;
    ensure!(too_much.contains("more than the 7000 paid"), "{too_much}");

    // What is due again is paid again: a second receipt, under its own key.
    pay(&invoice, "evt-2", 3_000).await?;
    let view = settle(&env, &fakes, &invoice, 2).await?;
    assert_eq!((view.status, view.amount_paid), (InvoiceStatus::Paid, TOTAL));
    let calls = fakes.calls();
    let keys: Vec<&str> =
        calls.delivered(EmailKind::Receipt).iter().map(|e| e.idempotency_key.as_str()).collect();
    let id = &input.invoice_id;
    assert_eq!(keys, [format!("{id}:receipt:1"), format!("{id}:receipt:2")]);
    let payments: Vec<(&str, i64)> = calls
        .projections
        .iter()
        .flat_map(|p| &p.payments)
        .map(|p| (p.event_id.as_str(), p.amount))
        .collect();
    assert_eq!(payments, [("evt-1", TOTAL), ("re-1", -3_000), ("evt-2", 3_000)]);
    ensure!(calls.events("refund_recorded").len() == 1, "{:#?}", calls.event_kinds());
    Ok(())
}

#[tokio::test]
async fn a_full_refund_of_a_paid_invoice_makes_it_refunded_and_ends_the_run() -> anyhow::Result<()>
{
    let env = TestEnv::start().await?;
    let due = env.now().await?.date_naive() + Days::new(30);
    let fakes = Fakes::new(record("Europe/Berlin", due, &DEFAULT_OFFSETS));
    let _worker = TestWorker::start(&env, &fakes).await?;
    let invoice = start_invoice(&env, &invoice_input(&fakes)).await?;
    wait_until_sent(&fakes).await?;
    pay(&invoice, "evt-1", TOTAL).await?;
    wait_for_receipts(&fakes, 1).await?;

    let outcome = refund(&invoice, "re-all", "pi_1", TOTAL).await?;
    assert_eq!(outcome.status, InvoiceStatus::Refunded);
    let view = result(&invoice).await?;
    assert_eq!(
        (view.status, view.amount_paid, view.next_action),
        (InvoiceStatus::Refunded, 0, None)
    );
    let calls = fakes.calls();
    let latest = calls.latest().context("no projection")?;
    assert_eq!((latest.status, latest.paid_at), (InvoiceStatus::Refunded, None));
    ensure!(calls.delivered(EmailKind::Reminder).is_empty(), "{:#?}", calls.emails);

    record_history(&invoice, "paid_then_refunded").await
}

/// The fakes stand in for the real activities only if they answer under the same names.
#[test]
fn the_fakes_answer_under_their_contracts_names() {
    use invoice_workflows::invoice::activities::{
        CreateInvoiceRecord, FinalizeInvoice, RecordAttention, RecordProjection, RenderInvoicePdf,
        SendInvoiceEmail,
    };
    use temporalio_common::ActivityDefinition;
    let names = [
        (FakeActivities::create_invoice_record.name(), CreateInvoiceRecord.name()),
        (FakeActivities::finalize_invoice.name(), FinalizeInvoice.name()),
        (FakeActivities::render_invoice_pdf.name(), RenderInvoicePdf.name()),
        (FakeActivities::send_invoice_email.name(), SendInvoiceEmail.name()),
        (FakeActivities::record_projection.name(), RecordProjection.name()),
        (FakeActivities::record_attention.name(), RecordAttention.name()),
    ];
    for (fake, real) in names {
        assert_eq!(fake, real);
    }
}

/// Every history in `tests/histories/` still replays against today's workflow code.
#[tokio::test]
async fn replays_recorded_histories() -> anyhow::Result<()> {
    replay_recorded(DataConverter::default()).await
}

/// The histories were recorded before payloads were sealed: a worker that seals them
/// (`PAYLOAD_ENCRYPTION_KEYS`) still replays them, reading their plain payloads as they are.
#[tokio::test]
async fn recorded_plain_histories_replay_with_payloads_sealed() -> anyhow::Result<()> {
    let keys = PayloadKeys::parse("test-1:dGVzdC1wYXlsb2FkLWtleS0wMTIzNDU2Nzg5YWJjZGU=")?;
    let sealing = DataConverter::new(
        PayloadConverter::default(),
        DefaultFailureConverter::default(),
        EncryptionCodec(keys),
    );
    replay_recorded(sealing).await
}

async fn replay_recorded(converter: DataConverter) -> anyhow::Result<()> {
    let files = recorded_histories()?;
    ensure!(!files.is_empty(), "no histories in {}", histories_dir().display());
    let histories =
        files.iter().map(|file| load_history(file)).collect::<anyhow::Result<Vec<_>>>()?;
    let failures = replay_with(histories, converter).await?;
    let failed: Vec<String> = files
        .iter()
        .zip(failures)
        .filter_map(|(file, failure)| failure.map(|f| format!("{}: {f}", file.display())))
        .collect();
    ensure!(failed.is_empty(), "histories that no longer replay:\n{}", failed.join("\n"));
    Ok(())
}

/// The replay test can fail: a history whose recorded commands differ from what the code
/// does now (an activity renamed) is reported, not silently accepted.
#[tokio::test]
async fn replay_reports_a_history_the_code_no_longer_matches() -> anyhow::Result<()> {
    let file = histories_dir().join("before_refunds_happy_path_paid.json");
    let json =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    ensure!(json.contains("\"finalize_invoice\""), "the history schedules no finalize_invoice");
    let tampered = json.replace("\"finalize_invoice\"", "\"finalize_invoice_v0\"");
    let history = WorkflowHistory::from_json(tampered.as_bytes())?;
    let failures = replay(vec![history]).await?;
    ensure!(
        matches!(failures.as_slice(), [Some(_)]),
        "a renamed activity must break replay: {failures:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// What the fake `CreateInvoiceRecord` answers: total, currency, due date, zone and offsets.
fn record(time_zone: &str, due_date: NaiveDate, offsets: &[i32]) -> InvoiceRecord {
    InvoiceRecord {
        total: TOTAL,
        currency: currency(),
        due_date,
        time_zone: time_zone.to_owned(),
        reminder_offsets: offsets.to_vec(),
        stored: Default::default(),
        existing: None,
        client_name: "Acme".to_owned(),
    }
}

/// A fresh invoice (new ids) matching the fakes' record, finalized at once.
fn invoice_input(fakes: &Fakes) -> InvoiceWorkflowInput {
    let record = fakes.record();
    InvoiceWorkflowInput {
        org_id: OrgId::new(),
        invoice_id: InvoiceId::new(),
        customer_id: CustomerId::new(),
        draft: false,
        content: InvoiceContent {
            currency: record.currency,
            issue_date: None,
            due_date: record.due_date,
            lines: vec![LineContent {
                description: "Consulting".to_owned(),
                quantity: Decimal4::from_int(1),
                unit_price: record.total,
            }],
            tax_rate: Decimal4::ZERO,
            discount_rate: Decimal4::ZERO,
            notes: None,
            reference: None,
        },
        actor: Actor::System,
        history_limit: None,
        continued: None,
    }
}

/// Starts the workflow the way the API does: typed, on the invoice's business-key id.
async fn start_invoice(env: &TestEnv, input: &InvoiceWorkflowInput) -> anyhow::Result<Invoice> {
    let id = invoice_workflow_id(input.org_id, input.invoice_id);
    let options = WorkflowStartOptions::new(&env.task_queue, &id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .build();
    env.client
        .start_workflow(InvoiceWorkflow::run, input.clone(), options)
        .await
        .context("starting InvoiceWorkflow")?;
    Ok(env.client.get_workflow_handle::<InvoiceWorkflow>(id))
}

/// Waits until the invoice email went out and the `sent` state was projected.
async fn wait_until_sent(fakes: &Fakes) -> anyhow::Result<()> {
    fakes
        .wait_for("the invoice to be sent", |calls| {
            calls.latest().filter(|p| p.status == InvoiceStatus::Sent).map(|_| ())
        })
        .await
}

fn query_options() -> WorkflowQueryOptions {
    WorkflowQueryOptions::default()
}

fn update_options() -> WorkflowExecuteUpdateOptions {
    WorkflowExecuteUpdateOptions::default()
}

async fn status(invoice: &Invoice) -> anyhow::Result<StatusView> {
    invoice.query(InvoiceWorkflow::status, (), query_options()).await.context("status query")
}

/// Polls the `status` query until it reports `want`.
async fn wait_for_status(invoice: &Invoice, want: InvoiceStatus) -> anyhow::Result<StatusView> {
    let deadline = tokio::time::Instant::now() + STATUS_DEADLINE;
    loop {
        // The first workflow task may not have run yet: a failed query is retried too.
        let seen = status(invoice).await;
        if let Ok(view) = &seen
            && view.status == want
        {
            return seen;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("status never became {want:?} within {STATUS_DEADLINE:?}; last: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn result(invoice: &Invoice) -> anyhow::Result<StatusView> {
    tokio::time::timeout(RESULT_DEADLINE, invoice.get_result(WorkflowGetResultOptions::default()))
        .await
        .with_context(|| format!("the workflow did not complete within {RESULT_DEADLINE:?}"))?
        .context("the workflow failed")
}

/// Waits for the `n`th receipt, lets the refund window pass, and answers the run's result.
async fn settle(
    env: &TestEnv,
    fakes: &Fakes,
    invoice: &Invoice,
    receipts: usize,
) -> anyhow::Result<StatusView> {
    wait_for_receipts(fakes, receipts).await?;
    env.skip(REFUND_WINDOW).await?;
    result(invoice).await
}

async fn wait_for_receipts(fakes: &Fakes, n: usize) -> anyhow::Result<()> {
    fakes
        .wait_for("the receipt", |c| (c.delivered(EmailKind::Receipt).len() >= n).then_some(()))
        .await
}

/// Reports a refund of `reference` totalling `total_refunded` so far.
async fn refund(
    invoice: &Invoice,
    event_id: &str,
    reference: &str,
    total_refunded: i64,
) -> Result<PaymentOutcome, WorkflowUpdateError> {
    let refund = RefundRequest {
        event_id: event_id.to_owned(),
        payment_reference: reference.to_owned(),
        total_refunded,
        currency: currency(),
        method: PaymentMethod::Card,
        refunded_at: Utc::now(),
        actor: Actor::Stripe,
    };
    invoice.execute_update(InvoiceWorkflow::record_refund, refund, update_options()).await
}

async fn pay(
    invoice: &Invoice,
    event_id: &str,
    amount: i64,
) -> Result<PaymentOutcome, WorkflowUpdateError> {
    pay_with_update_id(invoice, event_id, amount, None).await
}

/// Records a payment; without an update id the client makes one up, as for a new request.
async fn pay_with_update_id(
    invoice: &Invoice,
    event_id: &str,
    amount: i64,
    update_id: Option<&str>,
) -> Result<PaymentOutcome, WorkflowUpdateError> {
    let payment = PaymentRequest {
        event_id: event_id.to_owned(),
        amount,
        currency: currency(),
        method: PaymentMethod::BankTransfer,
        reference: None,
        paid_at: Utc::now(),
        actor: Actor::System,
        provider_confirmed: false,
    };
    let options = WorkflowExecuteUpdateOptions::builder()
        .maybe_update_id(update_id.map(str::to_owned))
        .build();
    invoice.execute_update(InvoiceWorkflow::record_payment, payment, options).await
}

fn currency() -> invoice_domain::Currency {
    CURRENCY.parse().expect("a known currency")
}

/// A request from a person at the seller's, with why.
fn ops_request(reason: &str) -> ActorRequest {
    ActorRequest { actor: Actor::User(UserId::new()), reason: Some(reason.to_owned()) }
}

/// The validator's message of an update that must have been refused.
fn refusal<T: std::fmt::Debug>(result: Result<T, WorkflowUpdateError>) -> anyhow::Result<String> {
    Ok(refused(result)?.1)
}

/// The code and message of an update that must have been refused: the code travels as the
/// failure's type, through the real SDK and server.
fn refused<T: std::fmt::Debug>(
    result: Result<T, WorkflowUpdateError>,
) -> anyhow::Result<(Option<RefusalCode>, String)> {
    match result {
        Err(WorkflowUpdateError::Failed(failure)) => {
            Ok((RefusalCode::of_failure(&failure), failure.message.clone()))
        }
        other => bail!("expected the update to be refused, got {other:?}"),
    }
}

/// The instant of `time` on `date` in `tz` (test dates avoid gaps and repeats).
fn local(date: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_time(time))
        .single()
        .unwrap_or_else(|| panic!("{date} {time} is not a unique instant in {tz}"))
        .with_timezone(&Utc)
}

/// When the reminder `offset` days from `due` is due: 09:00 local.
fn nine_local(due: NaiveDate, offset: i32, tz: Tz) -> DateTime<Utc> {
    let nine = NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a time");
    local(due + chrono::Duration::days(offset.into()), nine, tz)
}

/// The first date on or after `from` whose UTC offset in `tz` differs from the day before.
fn next_dst_change(tz: Tz, from: NaiveDate) -> Option<NaiveDate> {
    let offset = |date: NaiveDate| {
        let noon = date.and_hms_opt(12, 0, 0)?;
        Some(tz.offset_from_utc_datetime(&noon).fix())
    };
    (0..400).map(|n| from + Days::new(n)).find(|&d| offset(d) != offset(d - Days::new(1)))
}

fn offset_of(data: &serde_json::Value) -> anyhow::Result<i32> {
    let offset = data["offsetDays"].as_i64().with_context(|| format!("no offsetDays in {data}"))?;
    Ok(i32::try_from(offset)?)
}

fn histories_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

fn recorded_histories() -> anyhow::Result<Vec<PathBuf>> {
    let dir = histories_dir();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn load_history(file: &Path) -> anyhow::Result<WorkflowHistory> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    WorkflowHistory::from_json(&bytes).with_context(|| format!("parsing {}", file.display()))
}

/// Replays `histories` against `InvoiceWorkflow`; one entry per history, `Some` if it failed.
async fn replay(histories: Vec<WorkflowHistory>) -> anyhow::Result<Vec<Option<String>>> {
    replay_with(histories, DataConverter::default()).await
}

/// [`replay`], reading payloads through `converter`.
async fn replay_with(
    histories: Vec<WorkflowHistory>,
    converter: DataConverter,
) -> anyhow::Result<Vec<Option<String>>> {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<InvoiceWorkflow>()?
        .data_converter(converter)
        .build();
    let replayer = WorkflowReplayer::new(options)?;
    let results = replayer.replay_workflows(histories).await?;
    Ok(results.into_iter().map(|r| r.replay_failure.map(|f| f.to_string())).collect())
}

/// With `RECORD_HISTORIES=1`, stores the finished run's history as `tests/histories/<name>.json`
/// (pretty-printed, so a re-recording reads as a diff).
async fn record_history(invoice: &Invoice, name: &str) -> anyhow::Result<()> {
    if std::env::var("RECORD_HISTORIES").as_deref() != Ok("1") {
        return Ok(());
    }
    let json = invoice.fetch_history(WorkflowFetchHistoryOptions::default()).to_json().await?;
    let value: serde_json::Value = serde_json::from_slice(&json)?;
    let dir = histories_dir();
    std::fs::create_dir_all(&dir)?;
    // Written aside and renamed, so the replay test never reads half a file.
    let partial = dir.join(format!(".{name}.json.partial"));
    std::fs::write(&partial, serde_json::to_vec_pretty(&value)?)?;
    std::fs::rename(&partial, dir.join(format!("{name}.json")))?;
    Ok(())
}

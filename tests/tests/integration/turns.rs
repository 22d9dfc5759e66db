//! Changes to one invoice take turns, also while its workflow cannot answer.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::stack::Stack;

/// A change the run has not answered when its caller stops waiting (the worker is down) still
/// holds the invoice's turn: the next change is told the invoice is busy instead of joining it
/// in Temporal, where changes would pile up and reach the run as one burst once a worker is
/// back. Once the run has answered, the turn is free again.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn an_unanswered_change_keeps_the_next_one_waiting(db: PgPool) {
    let mut stack = Stack::start_with(
        db,
        |c| {
            c.update_timeout_secs = 2;
            c.update_turn_wait_secs = 3;
        },
        &[],
    )
    .await;
    let user = stack.app.register("owner@seller.test").await;
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let draft = stack
        .create_invoice(
            &user,
            json!({
                "clientName": "Globex GmbH",
                "clientEmail": "ap@globex.test",
                "currency": "EUR",
                "dueDate": due.to_string(),
                "draft": true,
                "items": [{ "description": "Design sprint", "quantity": 1, "unitPrice": "900.00" }]
            }),
        )
        .await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let finalize = format!("/api/invoices/{id}/finalize");

    stack.kill_worker();
    let first = stack.app.post(&finalize, &user.access_token, json!({})).await;
    assert_eq!((first.status, first.code()), (StatusCode::SERVICE_UNAVAILABLE, "workflow_slow"));
    let second = stack.app.post(&finalize, &user.access_token, json!({})).await;
    assert_eq!(
        (second.status, second.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "invoice_busy"),
        "{:#}",
        second.body
    );

    // The worker back: the first finalize goes through, once, and the turn is given back.
    stack.start_worker();
    let sent = stack.wait_for_status(&user, &id, "sent").await;
    assert!(sent["number"].as_str().unwrap().ends_with("-00001"), "{sent:#}");
    let void =
        stack.app.post(&format!("/api/invoices/{id}/void"), &user.access_token, json!({})).await;
    assert_eq!(void.status, StatusCode::OK, "{:#}", void.body);
    let events = stack.timeline(&user, &id).await;
    let finalized = events.iter().filter(|e| e["kind"] == "finalized").count();
    assert_eq!(finalized, 1, "{events:#?}");
}

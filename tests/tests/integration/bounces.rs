//! SES's bounce and complaint events, the way they arrive in production: published to an SNS
//! topic that delivers them to an SQS queue (raw message delivery), which the real worker
//! reads. moto serves SNS, SQS and SES. moto's own SES simulator publishes a fixed sample
//! message id, so the test publishes SES's event, in SES's format, with the message id SES
//! (moto) gave the invoice email.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::User;
use crate::common::stack::{Stack, required_env};

/// Calls moto's SNS (the AWS query protocol; moto reads the service from the credential scope
/// and does not check signatures) and answers the response's XML.
async fn sns(params: &[(&str, &str)]) -> String {
    let moto = required_env("MOTO_ENDPOINT");
    let region = required_env("AWS_REGION");
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=test/20261201/{region}/sns/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let mut form = vec![("Version", "2010-03-31")];
    form.extend_from_slice(params);
    let res = reqwest::Client::new()
        .post(format!("{moto}/"))
        .header("authorization", auth)
        .form(&form)
        .send()
        .await
        .expect("moto SNS");
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_success(), "SNS {params:?}: {status} {body}");
    body
}

fn xml_field(xml: &str, name: &str) -> String {
    let start = xml.find(&format!("<{name}>")).expect(name) + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>")).expect(name) + start;
    xml[start..end].to_owned()
}

/// A topic delivering raw messages to a new queue: what terraform/modules/email sets up.
async fn topic_and_queue() -> (String, String) {
    let moto = required_env("MOTO_ENDPOINT");
    let sdk = invoice_storage::load_sdk_config(&required_env("AWS_REGION")).await;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk).endpoint_url(&moto).build(),
    );
    let name = format!("ses-events-{}", Uuid::new_v4().simple());
    let queue_url = sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn =
        attrs.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let topic = xml_field(&sns(&[("Action", "CreateTopic"), ("Name", &name)]).await, "TopicArn");
    sns(&[
        ("Action", "Subscribe"),
        ("TopicArn", &topic),
        ("Protocol", "sqs"),
        ("Endpoint", &queue_arn),
        ("Attributes.entry.1.key", "RawMessageDelivery"),
        ("Attributes.entry.1.value", "true"),
    ])
    .await;
    (topic, queue_url)
}

/// SES's configuration-set event for `message_id` (AWS's documented shape).
fn ses_event(kind: &str, message_id: &str, to: &str, feedback_id: &str) -> Value {
    let mail = json!({
        "timestamp": "2026-12-01T10:00:00.000Z",
        "source": "billing@seller.test",
        "messageId": message_id,
        "destination": [to],
    });
    match kind {
        "Bounce" => json!({
            "eventType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [{
                    "emailAddress": to,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"
                }],
                "timestamp": "2026-12-01T10:00:01.000Z",
                "feedbackId": feedback_id,
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com"
            },
            "mail": mail,
        }),
        _ => json!({
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{ "emailAddress": to }],
                "timestamp": "2026-12-01T10:05:00.000Z",
                "feedbackId": feedback_id,
                "complaintFeedbackType": "abuse"
            },
            "mail": mail,
        }),
    }
}

async fn publish(topic: &str, event: &Value) {
    sns(&[("Action", "Publish"), ("TopicArn", topic), ("Message", &event.to_string())]).await;
}

async fn timeline(stack: &Stack, user: &User, id: &str) -> Vec<Value> {
    stack.timeline(user, id).await
}

fn message_ids(events: &[Value], kind: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["data"]["messageId"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_bounce_reaches_the_timeline_holds_the_invoice_and_suppresses_the_address(db: PgPool) {
    let (topic, queue_url) = topic_and_queue().await;
    let stack = Stack::start_with(
        db.clone(),
        |_| {},
        &[("SES_EVENTS_QUEUE_URL", queue_url), ("SQS_ENDPOINT_URL", required_env("MOTO_ENDPOINT"))],
    )
    .await;
    let user = stack.app.register("owner@seller.test").await;
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let invoice = stack
        .create_invoice(
            &user,
            json!({
                "clientName": "Initech",
                "clientEmail": "Nobody@Initech.test",
                "currency": "USD",
                "dueDate": due.to_string(),
                "items": [{ "description": "Audit", "quantity": 1, "unitPrice": "800.00" }]
            }),
        )
        .await;
    let id = invoice["id"].as_str().unwrap().to_owned();
    stack.wait_for_status(&user, &id, "sent").await;
    let first = message_ids(&timeline(&stack, &user, &id).await, "email_sent");
    assert_eq!(first.len(), 1);

    // SES reports a permanent bounce, and SQS delivers it twice (at least once).
    let bounce = ses_event("Bounce", &first[0], "Nobody@Initech.test", "feedback-1");
    publish(&topic, &bounce).await;
    publish(&topic, &bounce).await;
    let held = stack
        .wait_for(&user, &id, Duration::from_secs(30), "needs_attention after the bounce", |v| {
            v["status"] == "needs_attention"
        })
        .await;
    let reason = held["attentionReason"].as_str().unwrap();
    assert!(
        reason.contains("Nobody@Initech.test bounced (smtp; 550 5.1.1 user unknown)"),
        "{reason}"
    );
    let events = timeline(&stack, &user, &id).await;
    let bounced: Vec<&Value> = events.iter().filter(|e| e["kind"] == "email_bounced").collect();
    assert_eq!(bounced.len(), 1, "recorded once: {events:#?}");
    assert_eq!(bounced[0]["data"]["permanent"], true);
    assert_eq!(bounced[0]["data"]["kind"], "invoice");
    assert_eq!(bounced[0]["data"]["messageId"], first[0].as_str());
    // The address is suppressed for this organisation, lower-cased.
    let suppressed: Vec<(String, String)> =
        sqlx::query_as("SELECT address, reason FROM email_suppressions")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(suppressed, vec![("nobody@initech.test".to_owned(), "bounce".to_owned())]);

    // A reminder to it is refused, and nothing more goes out.
    let sent_before = stack.sent_emails().await.len();
    let r =
        stack.app.post(&format!("/api/invoices/{id}/remind"), &user.access_token, json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let events = timeline(&stack, &user, &id).await;
        if let Some(e) = events.iter().find(|e| e["kind"] == "email_failed") {
            break e.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no email_failed: {events:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(failed["data"]["reason"].as_str().unwrap().contains("bounced"), "{failed:#}");
    assert_eq!(stack.sent_emails().await.len(), sent_before);

    // The seller corrects the address and resends: it goes out, and the invoice is sent again.
    let customer = held["customerId"].as_str().unwrap();
    let r = stack
        .app
        .call(
            Method::PATCH,
            &format!("/api/customers/{customer}"),
            Some(&user.access_token),
            Some(json!({ "email": "ap@initech.test" })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r =
        stack.app.post(&format!("/api/invoices/{id}/resend"), &user.access_token, json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let back = stack
        .wait_for(&user, &id, Duration::from_secs(30), "sent after the resend", |v| {
            v["status"] == "sent"
        })
        .await;
    assert!(back["attentionReason"].is_null(), "{back:#}");
    let sent = message_ids(&timeline(&stack, &user, &id).await, "email_sent");
    assert_eq!(sent.len(), 2, "{sent:?}");

    // The client marks it as spam: shown, suppressed, held again.
    publish(&topic, &ses_event("Complaint", &sent[1], "ap@initech.test", "feedback-2")).await;
    let held = stack
        .wait_for(&user, &id, Duration::from_secs(30), "needs_attention after the complaint", |v| {
            v["status"] == "needs_attention"
        })
        .await;
    assert!(held["attentionReason"].as_str().unwrap().contains("as spam"), "{held:#}");
    let events = timeline(&stack, &user, &id).await;
    let complained = events.iter().find(|e| e["kind"] == "email_complained").expect("complaint");
    assert_eq!(complained["actor"], "client");
    assert_eq!(complained["data"]["feedbackType"], "abuse");

    // An event about an email that is not ours is read and dropped; the queue drains.
    publish(&topic, &ses_event("Bounce", "not-our-message", "x@y.test", "feedback-3")).await;
    let log_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !stack.worker_log().contains("not-our-message") {
        assert!(tokio::time::Instant::now() < log_deadline, "{}", stack.worker_log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

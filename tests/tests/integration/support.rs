//! Payloads only support can read: a run's history on the Temporal server holds none of the
//! client's data in plain text; support staff (granted by the API binary's command, never over
//! HTTP) read any organisation's invoice and decode its run through the codec server, by token
//! or by the codec cookie the Temporal UI sends; an organisation's own admin cannot; every
//! access is in the audit log, and a revocation ends it at once.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost::Message as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::stack::{Stack, binary, database_url};
use crate::common::{JWT_SECRET, User};

const UI: &str = "http://127.0.0.1:8233";

/// Runs `invoice-api support ...` against the test's database, as an operator would.
fn support_command(db: &PgPool, args: &[&str]) -> (bool, String) {
    let out = Command::new(binary("invoice-api"))
        .arg("support")
        .args(args)
        .env("DATABASE_URL", database_url(db))
        .env("JWT_SECRET", JWT_SECRET)
        .env("APP_ENV", "test")
        .env("LOG_FORMAT", "json")
        .output()
        .expect("run invoice-api support");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The run's whole history as the server stores it (no codec on this read).
async fn raw_history(workflow_id: &str) -> Vec<u8> {
    crate::common::stored_history(workflow_id).await.encode_to_vec()
}

/// The first event's input and the run's static summary, as Temporal's JSON payloads (what
/// the UI sends the codec server).
async fn start_input(workflow_id: &str) -> (Value, Value) {
    let bytes = raw_history(workflow_id).await;
    let history =
        temporalio_common::protos::temporal::api::history::v1::History::decode(&bytes[..]).unwrap();
    let first = history.events.first().expect("a first event");
    let Some(temporalio_common::protos::temporal::api::history::v1::history_event::Attributes::WorkflowExecutionStartedEventAttributes(started)) = &first.attributes else {
        panic!("the first event starts the run");
    };
    let input = started.input.as_ref().expect("an input").payloads.clone();
    let summary =
        first.user_metadata.as_ref().and_then(|m| m.summary.clone()).expect("a static summary");
    (payloads_json(&input), payloads_json(&[summary]))
}

fn payloads_json(
    payloads: &[temporalio_common::protos::temporal::api::common::v1::Payload],
) -> Value {
    json!({
        "payloads": payloads.iter().map(|p| json!({
            "metadata": p.metadata.iter().map(|(k, v)| (k.clone(), json!(BASE64.encode(v)))).collect::<serde_json::Map<_, _>>(),
            "data": BASE64.encode(&p.data),
        })).collect::<Vec<_>>()
    })
}

async fn codec(
    stack: &Stack,
    path: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(stack.app.url(path))
        .header("content-type", "application/json")
        .header("x-namespace", "default")
        .header("origin", UI)
        .json(body);
    if let Some(token) = auth {
        req = req.bearer_auth(token);
    }
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let cors =
        res.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap();
    if status.is_success() {
        assert_eq!(cors.as_deref(), Some(UI), "the UI's origin may read the answer");
    }
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn decoded_text(answer: &Value) -> String {
    answer["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| String::from_utf8(BASE64.decode(p["data"].as_str().unwrap()).unwrap()).unwrap())
        .collect()
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn support_reads_any_run_through_the_codec_server_and_nobody_else_can(db: PgPool) {
    let stack =
        Stack::start_with(db.clone(), |c| c.web.temporal_ui_url = Some(format!("{UI}/")), &[])
            .await;
    let seller: User = stack.app.register("owner@umbrella.test").await;
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let invoice = stack
        .create_invoice(
            &seller,
            json!({
                "clientName": "Zyxwv Holdings",
                "clientEmail": "qwertz.payables@zyxwv.test",
                "currency": "EUR",
                "dueDate": due.to_string(),
                "notes": "Quokka retainer",
                "items": [{ "description": "Platypus audit", "quantity": 2, "unitPrice": "450.00" }]
            }),
        )
        .await;
    let id = invoice["id"].as_str().unwrap().to_owned();
    let sent = stack.wait_for_status(&seller, &id, "sent").await;
    let number = sent["number"].as_str().unwrap().to_owned();
    let workflow_id = format!("invoice:{}:{id}", seller.org_id);

    // The server holds the run sealed: no name, address, line or note in plain text.
    let history = raw_history(&workflow_id).await;
    for secret in ["Zyxwv", "qwertz.payables", "Platypus audit", "Quokka retainer"] {
        assert!(
            !history.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is readable in the run's history"
        );
    }
    assert!(history.windows(16).any(|w| w == b"binary/encrypted"), "the payloads are sealed");
    let (input, summary) = start_input(&workflow_id).await;

    // Support is granted by the binary's command only.
    let helper = stack.app.register("helper@platform.test").await;
    let admin_token = seller.access_token.clone();
    assert_eq!(
        stack.app.get(&format!("/api/support/invoices/{id}"), &helper.access_token).await.status,
        403
    );
    let (ok, out) = support_command(&db, &["grant", "nobody@platform.test", "--by", "ops"]);
    assert!(!ok && out.contains("must register first"), "{out}");
    let (ok, out) = support_command(&db, &["grant", "Helper@Platform.test", "--by", "ticket-42"]);
    assert!(ok, "{out}");
    let (ok, out) = support_command(&db, &["list"]);
    assert!(
        ok && out.contains("helper@platform.test\tgranted") && out.contains("ticket-42"),
        "{out}"
    );

    // Support reads the other organisation's invoice, timeline and run, linked to the UI.
    let r = stack
        .app
        .get(&format!("/api/support/invoices?number={number}"), &helper.access_token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body[0]["id"], id.as_str());
    let r = stack.app.get(&format!("/api/support/invoices/{id}"), &helper.access_token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["invoice"]["clientName"], "Zyxwv Holdings");
    assert_eq!(r.body["run"]["workflowId"], workflow_id.as_str());
    let link = r.body["run"]["temporalUiUrl"].as_str().unwrap();
    assert_eq!(
        link,
        format!("{UI}/namespaces/default/workflows/{}", workflow_id.replace(':', "%3A"))
    );
    let r =
        stack.app.get(&format!("/api/support/invoices/{id}/timeline"), &helper.access_token).await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_array().unwrap().iter().any(|e| e["kind"] == "email_sent"));

    // The codec server decodes for support (the CLI's way: the access token)...
    let (status, decoded) =
        codec(&stack, "/codec/decode", Some(&helper.access_token), None, &input).await;
    assert_eq!(status, 200, "{decoded}");
    let text = decoded_text(&decoded);
    assert!(text.contains("Platypus audit") && text.contains("Quokka retainer"), "{text}");
    // The run list's summary holds no client data (the client does not seal it)...
    let (status, decoded) =
        codec(&stack, "/codec/decode", Some(&helper.access_token), None, &summary).await;
    assert_eq!(status, 200);
    assert_eq!(decoded_text(&decoded), format!("\"Invoice due {due}\""));
    // ...the run's current details do, sealed: the CLI reads them through the codec server
    // with a support token, and not with the admin's.
    // (Not blocking the test's runtime: the codec server it calls runs on it.)
    let metadata = async |token: &str| {
        let cli = std::path::Path::new(&std::env::var("TEMPORAL_TEST_SERVER").unwrap())
            .with_file_name("temporal");
        let out = tokio::process::Command::new(cli)
            .args(["workflow", "metadata", "--address"])
            .arg(crate::common::temporal_address().trim_start_matches("http://"))
            .args(["--namespace", "default", "--workflow-id", &workflow_id, "--codec-endpoint"])
            .arg(stack.app.url("/codec"))
            .args(["--codec-auth", &format!("Bearer {token}")])
            .output()
            .await
            .expect("temporal workflow metadata");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let shown = metadata(&helper.access_token).await;
    assert!(shown.contains(&format!("**{number}** · sent · Zyxwv Holdings")), "{shown}");
    assert!(shown.contains("total €900.00"), "{shown}");
    let refused = metadata(&admin_token).await;
    assert!(!refused.contains("Zyxwv"), "the admin's CLI decoded the details: {refused}");
    // ...and encodes back to something it decodes again.
    let (status, encoded) =
        codec(&stack, "/codec/encode", Some(&helper.access_token), None, &decoded).await;
    assert_eq!(status, 200);
    assert!(!encoded.to_string().contains("UGxhdHlwdXM"), "encoded payloads are sealed");

    // ...and never for the organisation's own admin, nor for nobody.
    let (status, body) = codec(&stack, "/codec/decode", Some(&admin_token), None, &input).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, body) = codec(&stack, "/codec/decode", None, None, &input).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_token"))
    );
    assert_eq!(
        stack.app.post("/api/support/codec-session", &admin_token, json!({})).await.status,
        403
    );

    // The Temporal UI's way: a codec session cookie, sent by the browser; preflights from the
    // UI's origin pass, others get no CORS grant.
    let res = reqwest::Client::new()
        .post(stack.app.url("/api/support/codec-session"))
        .bearer_auth(&helper.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/codec"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (status, decoded) = codec(&stack, "/codec/decode", None, Some(&cookie), &input).await;
    assert_eq!(status, 200);
    assert!(decoded_text(&decoded).contains("Platypus audit"));
    for (origin, granted) in [(UI, true), ("http://evil.test", false)] {
        let res = reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, stack.app.url("/codec/decode"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-namespace")
            .send()
            .await
            .unwrap();
        let allowed = res
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allowed.as_deref() == Some(origin), granted, "{origin}: {allowed:?}");
        assert_eq!(res.headers().contains_key("access-control-allow-credentials"), granted);
    }
    // A form post (no JSON content type) is refused before anything is decoded.
    let res = reqwest::Client::new()
        .post(stack.app.url("/codec/decode"))
        .header("cookie", &cookie)
        .header("content-type", "text/plain")
        .body(input.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Every access is recorded, with who and which invoice.
    let log: Vec<(String, String, Option<uuid::Uuid>)> =
        sqlx::query_as("SELECT email, action, invoice_id FROM support_audit_log ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap();
    let actions: Vec<&str> = log.iter().map(|(_, a, _)| a.as_str()).collect();
    let in_order = [
        "support.grant",
        "invoice.find",
        "invoice.read",
        "invoice.timeline",
        "codec.decode",
        "codec.encode",
        "codec.session",
    ];
    let mut rest = actions.iter();
    for expected in in_order {
        assert!(rest.any(|a| *a == expected), "{expected} missing or out of order in {actions:?}");
    }
    for once in ["invoice.find", "invoice.read", "invoice.timeline", "codec.session"] {
        assert_eq!(actions.iter().filter(|a| **a == once).count(), 1, "{actions:?}");
    }
    assert!(log.iter().all(|(email, _, _)| email == "helper@platform.test"));
    let read = log.iter().find(|(_, a, _)| a == "invoice.read").unwrap();
    assert_eq!(read.2.map(|u| u.to_string()), Some(id.clone()));

    // Revoked: the token and the cookie stop working at once.
    let (ok, out) = support_command(&db, &["revoke", "helper@platform.test", "--by", "ops"]);
    assert!(ok, "{out}");
    let (status, _) = codec(&stack, "/codec/decode", None, Some(&cookie), &input).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        stack.app.get(&format!("/api/support/invoices/{id}"), &helper.access_token).await.status,
        403
    );
}

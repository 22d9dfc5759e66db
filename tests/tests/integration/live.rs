//! The web app's side of the API: live invoice changes over `/api/ws` (fed by Postgres
//! LISTEN/NOTIFY), the built app served with its client-side routes, and `/api/app-config`.

use std::time::Duration;

use crate::common::stack::Stack;
use crate::common::{JWT_SECRET, TestApp};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/api/ws` and authenticates with `token` as the first message.
async fn connect(app: &TestApp, token: &str) -> Result<Socket, WsError> {
    let mut socket = open(app).await?;
    socket.send(Message::text(json!({ "type": "auth", "token": token }).to_string())).await?;
    Ok(socket)
}

/// Opens `/api/ws` without authenticating.
async fn open(app: &TestApp) -> Result<Socket, WsError> {
    let url = format!("ws://{}/api/ws", app.addr);
    tokio_tungstenite::connect_async(url).await.map(|(socket, _)| socket)
}

/// The close code the server ends the socket with within `within` (messages before it are
/// skipped); panics if the socket stays open.
async fn close_code(socket: &mut Socket, within: Duration) -> u16 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                return frame.map_or(1005, |f| u16::from(f.code));
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame within {within:?}: {other:?}"),
        }
    }
}

/// The next JSON message within `within`, or None.
async fn next_message(socket: &mut Socket, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(err))) => panic!("socket error: {err}"),
            Ok(None) | Err(_) => return None,
        }
    }
}

fn invoice_body() -> Value {
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    json!({
        "clientName": "Initech",
        "clientEmail": "ap@initech.example",
        "currency": "EUR",
        "dueDate": due.to_string(),
        "items": [{ "description": "Audit", "quantity": "1", "unitPrice": "400.00" }]
    })
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn invoice_changes_reach_their_organisation_live_and_no_other(db: PgPool) {
    let stack = Stack::start(db).await;
    let owner = stack.app.register("live-owner@example.com").await;
    let stranger = stack.app.register("live-stranger@example.com").await;
    let mut mine = connect(&stack.app, &owner.access_token).await.expect("owner connects");
    // The first subscriber starts the listener, which announces itself with a resync. The
    // stranger connects only after it: sockets authenticate concurrently, and had the stranger's
    // subscribed first, the resync could go out before the owner's socket subscribed.
    let first = next_message(&mut mine, Duration::from_secs(10)).await;
    assert_eq!(first, Some(json!({ "type": "resync" })));
    let mut theirs = connect(&stack.app, &stranger.access_token).await.expect("stranger connects");

    let created = stack.create_invoice(&owner, invoice_body()).await;
    let id = created["id"].as_str().unwrap();
    // The worker writes the row, the timeline and the status as the invoice goes out; each
    // write is pushed, up to `sent`, without the client asking.
    let mut seen = Vec::new();
    while !seen.iter().any(|m: &Value| m["status"] == "sent" && m["what"] == "email_sent") {
        let message = next_message(&mut mine, Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("no live update up to sent; got {seen:#?}"));
        if message["type"] == "resync" {
            continue;
        }
        assert_eq!(message["type"], "invoice_changed", "{message}");
        assert_eq!(message["invoiceId"], id, "{message}");
        seen.push(message);
    }
    assert!(seen.iter().any(|m| m["what"] == "insert"), "{seen:#?}");
    assert!(seen.iter().any(|m| m["what"] == "pdf_rendered"), "{seen:#?}");

    // The other organisation heard nothing about it (its socket is still open and quiet).
    while let Some(message) = next_message(&mut theirs, Duration::from_millis(300)).await {
        assert_eq!(message, json!({ "type": "resync" }), "leaked: {message}");
    }
    assert_alive(&mut theirs).await;
}

/// A draft deleted through the API disappears from open browsers: Postgres announces the
/// delete, and the socket passes it on. Every announcement on the channel, from the first insert
/// to the delete, has the one shape the API reads (the worker once sent a second kind).
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_deleted_draft_is_announced_and_every_announcement_has_one_shape(db: PgPool) {
    let mut listener = sqlx::postgres::PgListener::connect_with(&db).await.unwrap();
    listener.listen("invoice_changes").await.unwrap();
    let stack = Stack::start(db).await;
    let owner = stack.app.register("live-delete@example.com").await;
    let mut socket = connect(&stack.app, &owner.access_token).await.expect("owner connects");
    assert_eq!(
        next_message(&mut socket, Duration::from_secs(10)).await,
        Some(json!({ "type": "resync" }))
    );

    let mut body = invoice_body();
    body["draft"] = json!(true);
    let draft = stack.create_invoice(&owner, body).await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let path = format!("/api/invoices/{id}");
    let r = stack.app.call(reqwest::Method::DELETE, &path, Some(&owner.access_token), None).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let deleted = loop {
        let message = next_message(&mut socket, Duration::from_secs(30))
            .await
            .expect("the delete was never announced");
        if message["what"] == "delete" {
            break message;
        }
    };
    assert_eq!(
        deleted,
        json!({ "type": "invoice_changed", "invoiceId": id, "status": null, "what": "delete", "at": deleted["at"] })
    );
    assert!(deleted["at"].is_string(), "{deleted}");

    let mut shapes = std::collections::BTreeSet::new();
    while let Ok(Some(notification)) =
        tokio::time::timeout(Duration::from_millis(500), listener.try_recv())
            .await
            .map(Result::unwrap)
    {
        let payload: Value = serde_json::from_str(notification.payload()).unwrap();
        let mut keys: Vec<&str> = payload.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        shapes.insert(keys.join(","));
    }
    assert_eq!(shapes.into_iter().collect::<Vec<_>>(), ["at,invoice,org,status,what"]);
}

/// Sends a ping and expects the pong: the socket is alive (not closed on us).
async fn assert_alive(socket: &mut Socket) {
    socket.send(Message::Ping(b"check".to_vec().into())).await.expect("ping sent");
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Pong(body)))) => {
                assert_eq!(&body[..], b"check");
                return;
            }
            Ok(Some(Ok(Message::Text(text)))) => assert!(text.contains("resync"), "{text}"),
            other => panic!("no pong: {other:?}"),
        }
    }
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_socket_refuses_bad_tokens_and_plain_requests(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("live-refused@example.com").await;
    for token in ["", "garbage", "inv_sk_nope_nope"] {
        let mut socket = connect(&app, token).await.expect("the upgrade itself succeeds");
        assert_eq!(close_code(&mut socket, Duration::from_secs(5)).await, 1008, "{token:?}");
    }
    // The first message must be the auth message.
    let mut socket = open(&app).await.unwrap();
    socket.send(Message::text(r#"{"type":"subscribe"}"#)).await.unwrap();
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)).await, 1008);
    // Without an upgrade: a JSON error, like every other error of the API.
    let r = app.get("/api/ws", &user.access_token).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.code(), "websocket_required");
}

/// Tokens in URLs end up in access logs and browser history: even a valid one is refused there.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_token_in_the_url_is_refused(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("live-url@example.com").await;
    let url = format!("ws://{}/api/ws?token={}", app.addr, user.access_token);
    match tokio_tungstenite::connect_async(url).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("a token in the URL was accepted: {other:?}"),
    }
    let r = app.get(&format!("/api/ws?token={}", user.access_token), &user.access_token).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "token_in_url"), "{:?}", r.body);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_auth_message_opens_the_socket_and_silence_closes_it(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("live-auth@example.com").await;
    let mut socket = connect(&app, &user.access_token).await.expect("connects");
    // The server read the auth message before this ping: a refusal would have closed first.
    assert_alive(&mut socket).await;

    // A socket that never authenticates is closed after a few seconds.
    let mut silent = open(&app).await.unwrap();
    assert_eq!(close_code(&mut silent, Duration::from_secs(10)).await, 1008);
}

/// The socket lives as long as its access token, from the token's own `exp`.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_socket_closes_when_its_token_expires(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("live-expiry@example.com").await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": user.user_id, "org": user.org_id, "iat": now, "exp": now + 3,
        "iss": "invoice-api", "aud": "invoice-api", "jti": uuid::Uuid::new_v4(),
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let mut socket = connect(&app, &token).await.expect("connects");
    assert_alive(&mut socket).await;
    assert_eq!(close_code(&mut socket, Duration::from_secs(10)).await, 4001);
    assert!(chrono::Utc::now().timestamp() >= now + 2, "closed before the token expired");
    // A normal token's socket is still open: 4001 came from the short token's own exp.
    let mut normal = connect(&app, &user.access_token).await.expect("connects");
    assert_alive(&mut normal).await;
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_socket_closes_once_its_member_is_removed(db: PgPool) {
    let app = TestApp::spawn_with(db, |c| c.auth.live_membership_check_secs = 1).await;
    let owner = app.register("live-owner-rm@example.com").await;
    let member = app.register("live-member-rm@example.com").await;
    let member_token = app.join(&owner, &member, "viewer").await;
    let mut theirs = connect(&app, &member_token).await.expect("member connects");
    let mut mine = connect(&app, &owner.access_token).await.expect("owner connects");
    assert_alive(&mut theirs).await;

    let path = format!("/api/org/members/{}", member.user_id);
    let r = app.call(reqwest::Method::DELETE, &path, Some(&owner.access_token), None).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(close_code(&mut theirs, Duration::from_secs(10)).await, 4003);
    assert_alive(&mut mine).await;
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_built_app_is_served_with_its_routes_and_the_api_stays_json(db: PgPool) {
    let dist = std::env::temp_dir().join(format!("web-dist-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><div id=root></div>").unwrap();
    std::fs::write(dist.join("assets/app-3f2a.js"), "console.log(1)").unwrap();
    let dir = dist.clone();
    let app = TestApp::spawn_with(db, move |c| c.web.dist = Some(dir)).await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(app.url(path)).send();

    for path in ["/", "/invoices", "/invoices/0192c6a4-0000-7000-8000-000000000000", "/analytics"] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        // Scripts only from the API's origin, never framed, no Referer (hosted links carry
        // their token), no sniffing.
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
        for directive in
            ["script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]
        {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(
            !csp.contains("unsafe-eval") && !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{csp}"
        );
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{path}");
        assert!(r.text().await.unwrap().contains("id=root"), "{path}");
    }
    let page = get("/i/not-a-token").await.unwrap();
    assert!(page.headers().contains_key("content-security-policy"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let r = get("/assets/app-3f2a.js").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(r.text().await.unwrap(), "console.log(1)");
    // A missing asset is not answered with the page (it would be cached as a script).
    assert_eq!(get("/assets/gone-1111.js").await.unwrap().status(), 404);
    // Nothing outside the directory is reachable.
    let secret = format!("secret-{}.txt", uuid::Uuid::new_v4());
    std::fs::write(dist.parent().unwrap().join(&secret), "do not serve").unwrap();
    let r = get(&format!("/%2e%2e/{secret}")).await.unwrap();
    assert!(!r.text().await.unwrap().contains("do not serve"));
    std::fs::remove_file(dist.parent().unwrap().join(&secret)).ok();
    // The API's own paths keep their JSON errors; the hosted page and the docs their own 404s.
    for path in ["/api/nothing-here", "/api"] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    for path in ["/i/not-a-token", "/i/not-a-token/pdf", "/api-docs/nope"] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(!r.text().await.unwrap().contains("id=root"), "{path} got the app");
    }
    let r = client.post(app.url("/invoices")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let r = get("/api/app-config").await.unwrap();
    assert_eq!(r.status(), 200);
    let config: Value = r.json().await.unwrap();
    // The Temporal UI spans every organisation's runs: no organisation is pointed at it.
    assert_eq!(config.get("temporalUiUrl"), None, "{config}");
    // The one currency table, as the server computes with it: the web app formats amounts by it
    // (HUF has 2 digits in ISO 4217, where browsers' Intl says 0; IQD has 3).
    let exponent = |code: &str| {
        config["currencies"].as_array().unwrap().iter().find(|c| c["code"] == code).unwrap()
            ["exponent"]
            .clone()
    };
    assert_eq!(
        (exponent("HUF"), exponent("IQD"), exponent("JPY"), exponent("EUR")),
        (json!(2), json!(3), json!(0), json!(2))
    );
    assert_eq!(
        config["currencies"].as_array().unwrap().len(),
        invoice_domain::Currency::all().count()
    );
    std::fs::remove_dir_all(dist).ok();
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn without_a_built_app_unknown_paths_are_json_404s(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let r = reqwest::get(app.url("/invoices")).await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let config: Value =
        reqwest::get(app.url("/api/app-config")).await.unwrap().json().await.unwrap();
    assert!(config.get("temporalUiUrl").is_none(), "{config}");
}

//! Accounts, sessions and tokens through the real router: register, login, refresh rotation,
//! who-am-I, API keys, login throttling, and every kind of bad token refused with 401.

use crate::common::{JWT_SECRET, TestApp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn register_login_refresh_me(db: PgPool) {
    let app = TestApp::spawn(db).await;

    // The seed's sample call, verbatim.
    let r = app
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({ "email": "user@example.com", "password": "SecurePassword123!" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["role"], "owner");
    assert_eq!(r.body["tokenType"], "Bearer");
    assert_eq!(r.body["user"]["email"], "user@example.com");
    assert!(r.body.get("password").is_none() && r.body["user"].get("passwordHash").is_none());
    let org_id = r.body["organization"]["id"].clone();

    let login = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "email": "USER@example.com", "password": "SecurePassword123!" })),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(login.body["organization"]["id"], org_id);

    let refreshed = app
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refreshToken": login.body["refreshToken"] })),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    assert_ne!(refreshed.body["refreshToken"], login.body["refreshToken"], "refresh tokens rotate");

    let me = app.get("/api/me", refreshed.body["accessToken"].as_str().unwrap()).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["user"]["email"], "user@example.com");
    assert_eq!(me.body["organization"]["id"], org_id);
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["memberships"].as_array().unwrap().len(), 1);

    // Passwords are stored as argon2id hashes, never in clear.
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&app.db).await.unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn duplicate_email_and_bad_registration(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.register("dup@example.com").await;
    let r = app
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({ "email": "Dup@Example.com", "password": "another-password" })),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "email_taken"));

    let r = app
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({ "email": "not-an-email", "password": "short" })),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    assert_eq!(r.fields(), ["email", "password"]);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn refresh_token_reuse_revokes_the_session(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("rotate@example.com").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/auth/refresh",
                None,
                Some(json!({ "refreshToken": token })),
            )
            .await
        }
    };
    let first = refresh(user.refresh_token.clone()).await;
    assert_eq!(first.status, StatusCode::OK);
    // The old token again: a thief's copy. Refused, and the live successor dies with it.
    let replay = refresh(user.refresh_token.clone()).await;
    assert_eq!((replay.status, replay.code()), (StatusCode::UNAUTHORIZED, "refresh_token_reused"));
    let successor = refresh(first.body["refreshToken"].as_str().unwrap().to_owned()).await;
    assert_eq!(successor.status, StatusCode::UNAUTHORIZED);

    let garbage = refresh("not-a-token".into()).await;
    assert_eq!(
        (garbage.status, garbage.code()),
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token")
    );
}

/// Refreshing keeps a session alive only up to its absolute lifetime (90 days by default),
/// counted from the login: a stolen refresh token cannot be kept alive forever by rotating it.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let user = app.register("lifetime@example.com").await;
    let refresh = |token: &str| {
        app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refreshToken": token })))
    };
    // Logged in 89 days ago: the next token still works, but expires with the session, not 30
    // days from now.
    sqlx::query("UPDATE refresh_tokens SET session_started_at = now() - interval '89 days'")
        .execute(&db)
        .await
        .unwrap();
    let r = refresh(&user.refresh_token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let next = r.body["refreshToken"].as_str().unwrap().to_owned();
    let (days_left,): (f64,) = sqlx::query_as(
        "SELECT extract(epoch FROM expires_at - now())::float8 / 86400
         FROM refresh_tokens WHERE revoked_at IS NULL",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!((0.9..=1.0).contains(&days_left), "the successor expires in {days_left} days");

    // Past the lifetime: refused with its own code, whatever the token's own expiry says.
    sqlx::query(
        "UPDATE refresh_tokens SET session_started_at = now() - interval '91 days',
                                   expires_at = now() + interval '1 day'",
    )
    .execute(&db)
    .await
    .unwrap();
    let r = refresh(&next).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "session_expired"));

    // A fresh login starts a fresh session.
    let login = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "email": "lifetime@example.com", "password": user.password })),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    let r = refresh(login.body["refreshToken"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn logout_ends_the_session(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("bye@example.com").await;
    let r = app
        .call(
            Method::POST,
            "/api/auth/logout",
            None,
            Some(json!({ "refreshToken": user.refresh_token })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refreshToken": user.refresh_token })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn login_is_throttled_per_account_and_per_ip(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("victim@example.com").await;
    let login = |email: &str, password: &str, ip: &str| {
        let body = json!({ "email": email, "password": password }).to_string().into_bytes();
        let (app, ip) = (&app, ip.to_owned());
        async move {
            let res = reqwest::Client::new()
                .post(app.url("/api/auth/login"))
                .header("content-type", "application/json")
                .header("x-forwarded-for", ip)
                .body(body)
                .send()
                .await
                .unwrap();
            (res.status(), res.headers().get("retry-after").is_some())
        }
    };
    // Five wrong passwords for one account, from different addresses.
    for i in 0..5 {
        assert_eq!(
            login(&user.email, "wrong-password", &format!("10.0.0.{i}")).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password is refused for a while, from anywhere.
    let (status, retry_after) = login(&user.email, &user.password, "10.0.1.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after, "429 carries Retry-After");

    // One address guessing across many accounts is stopped too (limit 20 per IP).
    for i in 0..20 {
        assert_eq!(
            login(&format!("nobody{i}@example.com"), "guess", "192.0.2.7").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login("someone-else@example.com", "guess", "192.0.2.7").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other addresses and accounts are unaffected.
    let other = app.register("other@example.com").await;
    assert_eq!(login(&other.email, &other.password, "198.51.100.1").await.0, StatusCode::OK);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn bad_tokens_are_refused(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("tokens@example.com").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| {
        json!({
            "sub": user.user_id, "org": user.org_id, "iat": now - 10, "exp": exp,
            "iss": "invoice-api", "aud": "invoice-api", "jti": uuid::Uuid::new_v4(),
        })
    };
    let sign = |claims: &serde_json::Value, secret: &str| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };

    // Sanity: a token we forge with the real key and valid claims works, so the refusals
    // below are about what each case changes.
    assert_eq!(
        app.get("/api/me", &sign(&claims(now + 600), JWT_SECRET)).await.status,
        StatusCode::OK
    );

    let expired = sign(&claims(now - 3600), JWT_SECRET);
    let wrong_key = sign(&claims(now + 600), "another-secret-another-secret-0123456789");
    let tampered = {
        let mut parts: Vec<String> = user.access_token.split('.').map(str::to_owned).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["org"] = json!(uuid::Uuid::new_v4());
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        parts.join(".")
    };
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now + 600).to_string())
    );
    let cases = [
        ("expired", expired, "token_expired"),
        ("wrong key", wrong_key, "invalid_token"),
        ("tampered", tampered, "invalid_token"),
        ("alg none", alg_none, "invalid_token"),
        ("garbage", "abc.def.ghi".to_owned(), "invalid_token"),
        ("unknown api key", "inv_sk_000000000000_nope".to_owned(), "invalid_token"),
    ];
    for (name, token, code) in cases {
        let r = app.get("/api/me", &token).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, code), "{name}: {:?}", r.body);
    }
    let r = app.call(Method::GET, "/api/me", None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "missing_token"));
    let r = app.call_raw(Method::GET, "/api/customers", None, None, vec![]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn api_keys_are_shown_once_hashed_at_rest_and_revocable(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("keys@example.com").await;
    let created = app
        .post(
            "/api/org/api-keys",
            &owner.access_token,
            json!({ "name": "billing sync", "role": "accountant" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("inv_sk_"));

    // Only a hash is stored.
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT key_hash FROM api_keys").fetch_one(&app.db).await.unwrap();
    assert_ne!(stored, key.as_bytes());
    assert_eq!(stored.len(), 32);

    // The key works for server-to-server calls with its role.
    let me = app.get("/api/me", &key).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!((me.body["role"].as_str(), me.body["user"].is_null()), (Some("accountant"), true));
    let c = app.post("/api/customers", &key, json!({ "name": "Via API key" })).await;
    assert_eq!(c.status, StatusCode::CREATED);
    // ...and not beyond it.
    let r =
        app.post("/api/org/api-keys", &key, json!({ "name": "escalate", "role": "admin" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Listing never shows the key again.
    let list = app.get("/api/org/api-keys", &owner.access_token).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert!(list.body[0].get("key").is_none());

    let id = created.body["id"].as_str().unwrap();
    let r = app
        .call(Method::DELETE, &format!("/api/org/api-keys/{id}"), Some(&owner.access_token), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", &key).await.status, StatusCode::UNAUTHORIZED);

    // Owner keys cannot be made.
    let r = app
        .post("/api/org/api-keys", &owner.access_token, json!({ "name": "root", "role": "owner" }))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn api_keys_cannot_manage_access_and_follow_their_creators_role(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner@keys.test").await;
    let admin = app.register("admin@keys.test").await;
    let outsider = app.register("outsider@keys.test").await;
    let admin_token = app.join(&owner, &admin, "admin").await;
    let made = app
        .post("/api/org/api-keys", &admin_token, json!({ "name": "sync", "role": "admin" }))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let key = made.body["key"].as_str().unwrap().to_owned();
    let key_id = made.body["id"].as_str().unwrap().to_owned();

    // An admin key cannot add members, change roles or make more keys: a leaked key cannot
    // entrench itself.
    let r = app
        .post("/api/org/members", &key, json!({ "email": outsider.email, "role": "viewer" }))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.post("/api/org/api-keys", &key, json!({ "name": "more", "role": "viewer" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/org/members/{}", admin.user_id),
            Some(&key),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // It still does an admin's work.
    assert_eq!(
        app.post("/api/customers", &key, json!({ "name": "Via key" })).await.status,
        StatusCode::CREATED
    );

    // Its creator demoted to viewer: the key is a viewer's key now.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/org/members/{}", admin.user_id),
            Some(&owner.access_token),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(app.get("/api/me", &key).await.body["role"], "viewer");
    assert_eq!(
        app.post("/api/customers", &key, json!({ "name": "Denied" })).await.status,
        StatusCode::FORBIDDEN
    );

    // Its creator removed: the key stops working.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/org/members/{}", admin.user_id),
            Some(&owner.access_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = app.get("/api/me", &key).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "invalid_token"));
    // The owner still sees it listed, and can revoke it.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/org/api-keys/{key_id}"),
            Some(&owner.access_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

/// What a call in the web app's cookie transport answered: status, body, `Set-Cookie`s.
struct CookieReply {
    status: StatusCode,
    body: serde_json::Value,
    set_cookies: Vec<String>,
}

impl CookieReply {
    /// The `invoices_refresh` cookie's value and attributes, from its one `Set-Cookie`.
    fn refresh_cookie(&self) -> (String, Vec<String>) {
        let found: Vec<&String> =
            self.set_cookies.iter().filter(|c| c.starts_with("invoices_refresh=")).collect();
        assert_eq!(found.len(), 1, "{:?}", self.set_cookies);
        let mut parts = found[0].split(';').map(|p| p.trim().to_owned());
        let value = parts.next().unwrap()["invoices_refresh=".len()..].to_owned();
        (value, parts.collect())
    }
}

/// POSTs `body` as the web app does: asking for the refresh token as a cookie, sending `cookie`
/// (the refresh token) as the browser would.
async fn cookie_call(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    body: serde_json::Value,
) -> CookieReply {
    let mut req = reqwest::Client::new()
        .post(app.url(path))
        .header("x-refresh-token-transport", "cookie")
        .json(&body);
    if let Some(token) = cookie {
        req = req.header("cookie", format!("invoices_refresh={token}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let set_cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() { json!(null) } else { serde_json::from_str(&text).unwrap() };
    CookieReply { status, body, set_cookies }
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn the_cookie_transport_keeps_the_refresh_token_out_of_scripts_reach(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let r = cookie_call(
        &app,
        "/api/auth/register",
        None,
        json!({ "email": "cookie@example.com", "password": "SecurePassword123!" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(r.body.get("refreshToken").is_none(), "token in the body: {}", r.body);
    assert!(r.body["accessToken"].is_string());
    let (registered, attributes) = r.refresh_cookie();
    assert!(!registered.is_empty());
    let ttl = 30 * 24 * 3600;
    for expected in
        ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth", &format!("Max-Age={ttl}")]
    {
        assert!(attributes.iter().any(|a| a == expected), "{expected} missing: {attributes:?}");
    }

    let r = cookie_call(
        &app,
        "/api/auth/login",
        None,
        json!({ "email": "cookie@example.com", "password": "SecurePassword123!" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body.get("refreshToken").is_none(), "{}", r.body);
    let (logged_in, _) = r.refresh_cookie();

    // A refresh by cookie, with an empty body, rotates the cookie.
    let r = cookie_call(&app, "/api/auth/refresh", Some(&logged_in), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body.get("refreshToken").is_none(), "{}", r.body);
    assert_eq!(app.get("/api/me", r.body["accessToken"].as_str().unwrap()).await.status, 200);
    let (rotated, attributes) = r.refresh_cookie();
    assert_ne!(rotated, logged_in, "the cookie rotates");
    assert!(attributes.iter().any(|a| a == "HttpOnly"), "{attributes:?}");

    // The old cookie again, as a thief replaying it: refused, the cookie deleted, and the
    // whole session ends, as for tokens sent in the body.
    let r = cookie_call(&app, "/api/auth/refresh", Some(&logged_in), json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "refresh_token_reused");
    assert_eq!(r.refresh_cookie().0, "");
    let r = cookie_call(&app, "/api/auth/refresh", Some(&rotated), json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the successor died with it");

    // Neither cookie nor body: nothing to refresh.
    let r = cookie_call(&app, "/api/auth/refresh", None, json!({})).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_refresh_token"))
    );

    // The registration's session is a separate family, untouched by that revocation.
    let r = cookie_call(&app, "/api/auth/refresh", Some(&registered), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (current, _) = r.refresh_cookie();

    // Logout by cookie ends the session and deletes the cookie.
    let r = cookie_call(&app, "/api/auth/logout", Some(&current), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let (value, attributes) = r.refresh_cookie();
    assert_eq!(value, "");
    assert!(attributes.iter().any(|a| a == "Max-Age=0"), "{attributes:?}");
    assert!(attributes.iter().any(|a| a == "Path=/api/auth"), "{attributes:?}");
    let r = cookie_call(&app, "/api/auth/refresh", Some(&current), json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A client that does not ask for the cookie gets no cookie: API clients keep the body.
#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn without_the_cookie_transport_the_token_stays_in_the_body(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let res = reqwest::Client::new()
        .post(app.url("/api/auth/register"))
        .json(&json!({ "email": "body@example.com", "password": "SecurePassword123!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.headers().get("set-cookie").is_none());
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["refreshToken"].is_string(), "{body}");
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn logging_out_everywhere_ends_every_session_at_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let user = app.register("everywhere@example.com").await;
    // A second device.
    let other = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "email": user.email, "password": user.password })),
        )
        .await;
    assert_eq!(other.status, StatusCode::OK);
    let other_access = other.body["accessToken"].as_str().unwrap().to_owned();
    let other_refresh = other.body["refreshToken"].as_str().unwrap().to_owned();
    // No pause: tokens issued in the same second as the logout end with it too.
    let r =
        app.call(Method::POST, "/api/auth/logout-everywhere", Some(&user.access_token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    for token in [&user.access_token, &other_access] {
        let r = app.get("/api/me", token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "session_ended"),
            "{:?}",
            r.body
        );
    }
    for refresh in [&user.refresh_token, &other_refresh] {
        let r = app
            .call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refreshToken": refresh })))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    }
    // Logging in again works at once.
    let again = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "email": user.email, "password": user.password })),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/me", again.body["accessToken"].as_str().unwrap()).await.status,
        StatusCode::OK
    );
}

//! Organisations and roles: each role can do exactly its share, and one organisation cannot
//! read, change or even detect another's data.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn roles_are_enforced(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner@example.com").await;
    let viewer = app.join(&owner, &app.register("viewer@example.com").await, "viewer").await;
    let accountant =
        app.join(&owner, &app.register("accountant@example.com").await, "accountant").await;
    let admin_user = app.register("admin@example.com").await;
    let admin = app.join(&owner, &admin_user, "admin").await;

    let customer = app.post("/api/customers", &owner.access_token, json!({ "name": "Acme" })).await;
    let path = format!("/api/customers/{}", customer.body["id"].as_str().unwrap());

    // A viewer reads but cannot write anything.
    assert_eq!(app.get("/api/customers", &viewer).await.status, StatusCode::OK);
    assert_eq!(app.get(&path, &viewer).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/org/members", &viewer).await.status, StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, "/api/customers".to_owned(), Some(json!({ "name": "Nope" }))),
        (Method::PATCH, path.clone(), Some(json!({ "name": "Nope" }))),
        (Method::DELETE, path.clone(), None),
        (Method::PATCH, "/api/org".to_owned(), Some(json!({ "name": "Nope" }))),
        (
            Method::POST,
            "/api/org/members".to_owned(),
            Some(json!({ "email": "admin@example.com", "role": "viewer" })),
        ),
        (
            Method::POST,
            "/api/org/api-keys".to_owned(),
            Some(json!({ "name": "k", "role": "viewer" })),
        ),
        (Method::GET, "/api/org/api-keys".to_owned(), None),
    ] {
        let r = app.call(method.clone(), &path, Some(&viewer), body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "viewer {method} {path}"
        );
    }

    // An accountant writes customers but does not manage the organisation.
    assert_eq!(
        app.call(Method::PATCH, &path, Some(&accountant), Some(json!({ "name": "Acme 2" })))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.get("/api/org/api-keys", &accountant).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.call(Method::PATCH, "/api/org", Some(&accountant), Some(json!({ "name": "X" })))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // An admin manages members, but not owners.
    assert_eq!(
        app.call(Method::PATCH, "/api/org", Some(&admin), Some(json!({ "name": "Renamed" })))
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/org/members/{}", owner.user_id),
            Some(&admin),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "admin demoting the owner");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/org/members/{}", admin_user.user_id),
            Some(&admin),
            Some(json!({ "role": "owner" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "admin promoting to owner");

    // Demotion takes effect at once, on the same access token.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/org/members/{}", admin_user.user_id),
            Some(&owner.access_token),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.call(Method::PATCH, "/api/org", Some(&admin), Some(json!({ "name": "Again" })))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // The last owner cannot leave or be demoted.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/org/members/{}", owner.user_id),
            Some(&owner.access_token),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_owner"));
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/org/members/{}", owner.user_id),
            Some(&owner.access_token),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_owner"));

    // A removed member's token stops working.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/org/members/{}", admin_user.user_id),
            Some(&owner.access_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/customers", &admin).await.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn organisations_cannot_see_each_other(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice@example.com").await;
    let mallory = app.register("mallory@example.com").await;
    let created = app
        .post(
            "/api/customers",
            &alice.access_token,
            json!({ "name": "Alice's client", "email": "c@alice.test" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/api/customers/{id}");
    let missing = format!("/api/customers/{}", uuid::Uuid::new_v4());

    // Another organisation's customer answers exactly like one that does not exist.
    for path in [&path, &missing] {
        let get = app.get(path, &mallory.access_token).await;
        let patch = app
            .call(
                Method::PATCH,
                path,
                Some(&mallory.access_token),
                Some(json!({ "name": "pwned" })),
            )
            .await;
        let delete = app.call(Method::DELETE, path, Some(&mallory.access_token), None).await;
        for r in [&get, &patch, &delete] {
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, "not_found"),
                "{path}: {:?}",
                r.body
            );
            assert_eq!(r.body["error"]["message"], "Customer not found.");
        }
    }
    let list = app.get("/api/customers?q=alice", &mallory.access_token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);

    // Nothing changed for Alice.
    let r = app.get(&path, &alice.access_token).await;
    assert_eq!(r.body["name"], "Alice's client");

    // Mallory cannot switch into Alice's organisation.
    let r = app
        .call(Method::POST, "/api/auth/login", None,
            Some(json!({ "email": mallory.email, "password": mallory.password, "organizationId": alice.org_id })))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refreshToken": mallory.refresh_token, "organizationId": alice.org_id })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn a_member_of_two_organisations_switches_between_them(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("a@example.com").await;
    let bob = app.register("b@example.com").await;
    let bob_in_alice = app.join(&alice, &bob, "accountant").await;
    let me = app.get("/api/me", &bob_in_alice).await;
    assert_eq!(me.body["organization"]["id"], alice.org_id.as_str());
    assert_eq!(me.body["memberships"].as_array().unwrap().len(), 2);
    // Refresh into the other organisation.
    let r = app
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refreshToken": bob.refresh_token, "organizationId": alice.org_id })),
        )
        .await;
    assert_eq!((r.status, r.body["role"].as_str()), (StatusCode::OK, Some("accountant")));
}

#[sqlx::test(migrator = "invoice_api::MIGRATOR")]
async fn every_invoice_action_is_closed_to_other_organisations_and_to_viewers(db: PgPool) {
    use crate::common::stack::Stack;
    let stack = Stack::start(db).await;
    let app = &stack.app;
    let alice = app.register("alice@actions.test").await;
    let mallory = app.register("mallory@actions.test").await;
    let viewer = app.register("viewer@actions.test").await;
    let viewer_token = app.join(&alice, &viewer, "viewer").await;
    let due = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string();
    let body = |draft: bool| {
        json!({ "clientName": "Acme", "clientEmail": "ap@acme.example", "currency": "USD", "dueDate": due,
                "draft": draft, "items": [{ "description": "Work", "quantity": 1, "unitPrice": "100.00" }] })
    };
    let draft = stack.create_invoice(&alice, body(true)).await["id"].as_str().unwrap().to_owned();
    let sent = stack.create_invoice(&alice, body(false)).await["id"].as_str().unwrap().to_owned();
    stack.wait_for_status(&alice, &draft, "draft").await;
    stack.wait_for_status(&alice, &sent, "sent").await;

    let payment = json!({ "amount": "10.00", "method": "cash", "reference": "x" });
    let edit = json!({ "notes": "changed" });
    let actions: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::PATCH, format!("/api/invoices/{draft}"), Some(edit)),
        (Method::POST, format!("/api/invoices/{draft}/finalize"), None),
        (Method::DELETE, format!("/api/invoices/{draft}"), None),
        (Method::POST, format!("/api/invoices/{sent}/resend"), None),
        (Method::POST, format!("/api/invoices/{sent}/remind"), None),
        (Method::POST, format!("/api/invoices/{sent}/payments"), Some(payment)),
        (Method::POST, format!("/api/invoices/{sent}/void"), Some(json!({ "reason": "no" }))),
        (Method::POST, format!("/api/invoices/{sent}/retry"), None),
    ];
    for (method, path, body) in &actions {
        // Another organisation: exactly as if the invoice did not exist.
        let r = app.call(method.clone(), path, Some(&mallory.access_token), body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path} by another organisation: {:?}",
            r.body
        );
        // A viewer of the organisation: forbidden.
        let r = app.call(method.clone(), path, Some(&viewer_token), body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {path} by a viewer: {:?}",
            r.body
        );
    }
    // Nothing changed.
    let d = app.get(&format!("/api/invoices/{draft}"), &alice.access_token).await;
    assert_eq!(d.body["status"], "draft");
    assert_ne!(d.body["notes"], "changed");
    let s = app.get(&format!("/api/invoices/{sent}"), &alice.access_token).await;
    assert_eq!(
        (s.body["status"].as_str(), s.body["amountPaid"].as_i64()),
        (Some("sent"), Some(0)),
        "{:#}",
        s.body
    );
}

//! The admin JSON API (SPEC §6): `PATCH`/`DELETE /api/users/{id}`, `POST
//! /api/users/{id}/logout|password-reset|unlock`, with `GET`/`POST /api/users` and `DELETE
//! /api/users/{id}/mfa` beside them.

use gatehouse::accounts::By;
use gatehouse::config::AuthMode;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_client, csrf_in, location, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

async fn admin_token(app: &TestApp) -> String {
    app.tokens_for("admin", &app.admin_password).await.0
}

/// Sends `method path` with a bearer token (when given) and an optional JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = api_client().request(method, app.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request sent")
}

/// Every write route of the admin API for the user `id`, with a harmless body.
fn write_routes(id: i64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::PATCH,
            format!("/api/users/{id}"),
            Some(json!({"service": true})),
        ),
        (Method::DELETE, format!("/api/users/{id}"), None),
        (Method::POST, format!("/api/users/{id}/logout"), None),
        (
            Method::POST,
            format!("/api/users/{id}/password-reset"),
            None,
        ),
        (Method::POST, format!("/api/users/{id}/unlock"), None),
        (Method::DELETE, format!("/api/users/{id}/mfa"), None),
    ]
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, String, String) {
    let status = resp.status();
    let body: Value = resp.json().await.expect("json error body");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn anonymous_callers_get_a_bearer_challenge_on_every_admin_route() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;

    for (method, path, body) in write_routes(alice.id) {
        let resp = call(&app, method.clone(), &path, None, body).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            challenge.starts_with("Bearer"),
            "{method} {path}: {challenge}"
        );
    }
    let alice = app.find_user("alice").await.expect("alice untouched");
    assert!(!alice.service);
}

#[tokio::test]
async fn non_admins_get_insufficient_scope_on_every_admin_route() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (access, _) = app.tokens_for("alice", PASSWORD).await;

    for (method, path, body) in write_routes(alice.id) {
        let resp = call(&app, method.clone(), &path, Some(&access), body).await;
        let (status, error, _) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::FORBIDDEN, "insufficient_scope"),
            "{method} {path}"
        );
    }
    let alice = app.find_user("alice").await.expect("alice untouched");
    assert!(!alice.service);
}

#[tokio::test]
async fn unknown_users_are_not_found_on_every_admin_route() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;

    for id in ["999999", "not-a-number"] {
        for (method, path, body) in write_routes(0) {
            let path = path.replace("/0", &format!("/{id}"));
            let resp = call(&app, method.clone(), &path, Some(&token), body).await;
            let (status, error, _) = error_of(resp).await;
            assert_eq!(
                (status, error.as_str()),
                (StatusCode::NOT_FOUND, "not_found"),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;

    for (method, path, allow) in [
        (Method::PUT, "/api/users/1", "PATCH, DELETE"),
        (Method::GET, "/api/users/1/logout", "POST"),
        (Method::GET, "/api/users/1/password-reset", "POST"),
        (Method::DELETE, "/api/users/1/unlock", "POST"),
    ] {
        let resp = call(&app, method.clone(), path, Some(&token), None).await;
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn patch_changes_the_flags_and_answers_the_user_as_the_list_shows_it() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let token = admin_token(&app).await;
    let (alice_access, _) = app.tokens_for("alice", PASSWORD).await;

    let resp = call(
        &app,
        Method::PATCH,
        &format!("/api/users/{}", alice.id),
        Some(&token),
        Some(json!({"admin": true, "service": true})),
    )
    .await;

    assert_eq!(resp.status(), StatusCode::OK);
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(
        patched,
        json!({"id": alice.id, "username": "alice", "roles": ["user", "admin"], "disabled": false, "service": true})
    );
    let listed: Value = call(&app, Method::GET, "/api/users", Some(&token), None)
        .await
        .json()
        .await
        .unwrap();
    let item = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == alice.id)
        .cloned()
        .unwrap();
    assert_eq!(item, patched);
    // A promotion ends nothing.
    assert_eq!(app.me(&alice_access).await.status(), StatusCode::OK);

    // Disabling ends every credential of the user.
    let resp = call(
        &app,
        Method::PATCH,
        &format!("/api/users/{}", alice.id),
        Some(&token),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["disabled"], true);
    assert_eq!(
        app.me(&alice_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn patch_refuses_bodies_it_cannot_apply_with_a_message() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let token = admin_token(&app).await;
    let path = format!("/api/users/{}", alice.id);

    for (body, needle) in [
        (json!({}), "nothing to change"),
        (json!({"disabled": true, "role": "root"}), "unknown field"),
        (json!({"disabled": "yes"}), "invalid type"),
        (json!([true]), "JSON object"),
    ] {
        let resp = call(&app, Method::PATCH, &path, Some(&token), Some(body.clone())).await;
        let (status, error, description) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{body}"
        );
        assert!(description.contains(needle), "{body}: {description}");
    }
    let empty = api_client()
        .patch(app.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let form = api_client()
        .patch(app.url(&path))
        .bearer_auth(&token)
        .form(&[("disabled", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let broken = api_client()
        .patch(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"disabled\": tru")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let alice = app.find_user("alice").await.unwrap();
    assert!(!alice.disabled && !alice.is_admin && !alice.service);
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_disabled_demoted_or_deleted() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let admin = app.find_user("admin").await.unwrap();
    let path = format!("/api/users/{}", admin.id);

    for (method, body) in [
        (Method::PATCH, Some(json!({"disabled": true}))),
        (Method::PATCH, Some(json!({"admin": false}))),
        (Method::DELETE, None),
    ] {
        let resp = call(&app, method.clone(), &path, Some(&token), body).await;
        let (status, error, description) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::CONFLICT, "conflict"),
            "{method}"
        );
        assert!(description.contains("last enabled administrator"));
    }
    let admin = app.find_user("admin").await.unwrap();
    assert!(admin.is_admin && !admin.disabled);
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn delete_removes_the_user_and_everything_issued_to_them() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let token = admin_token(&app).await;
    let (alice_access, alice_refresh) = app.tokens_for("alice", PASSWORD).await;
    let path = format!("/api/users/{}", alice.id);

    let resp = call(&app, Method::DELETE, &path, Some(&token), None).await;

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(app.find_user("alice").await.is_none());
    assert_eq!(
        app.me(&alice_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh_grant(&alice_refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    let again = call(&app, Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn logout_ends_every_session_refresh_family_and_access_token_of_the_user() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let token = admin_token(&app).await;
    let (alice_access, alice_refresh) = app.tokens_for("alice", PASSWORD).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    let resp = call(
        &app,
        Method::POST,
        &format!("/api/users/{}/logout", alice.id),
        Some(&token),
        None,
    )
    .await;

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.me(&alice_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, error, _) = error_of(app.refresh_grant(&alice_refresh).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert!(location(&home).starts_with("/login"));
    // The admin's own token is untouched.
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unlock_lifts_a_lockout_of_the_user() {
    let app = spawn_app_with(|s| s.lockout.max_failures = 2).await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let token = admin_token(&app).await;
    for _ in 0..2 {
        app.password_grant("alice", "wrong password!").await;
    }
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let resp = call(
        &app,
        Method::POST,
        &format!("/api/users/{}/unlock", alice.id),
        Some(&token),
        None,
    )
    .await;

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_session_admin_needs_the_csrf_header_for_every_write() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("admin", &app.admin_password).await;
    let csrf = csrf_in(&browser.get("/admin").await.text().await.unwrap()).unwrap();

    for (method, path, body) in write_routes(alice.id) {
        let mut request = browser.client.request(method.clone(), browser.url(&path));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let (status, error, _) = error_of(request.send().await.unwrap()).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::FORBIDDEN, "invalid_csrf_token"),
            "{method} {path}"
        );
    }
    assert!(app.find_user("alice").await.is_some());

    let resp = browser
        .client
        .patch(browser.url(&format!("/api/users/{}", alice.id)))
        .header("x-csrf-token", &csrf)
        .json(&json!({"service": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(app.find_user("alice").await.unwrap().service);
}

/// Counts the enabled administrators in the database.
async fn enabled_admins(app: &TestApp) -> i64 {
    app.with_db(|c| gatehouse::db::users::count_enabled_admins(c).expect("count"))
        .await
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_an_admin() {
    let app = spawn_app().await;
    let admin = app.find_user("admin").await.unwrap();
    for round in 0..3 {
        // Arrange: exactly two enabled admins, each with a token.
        let name = format!("second{round}");
        let second = app.create_user(&name, PASSWORD, true).await;
        let first_token = admin_token(&app).await;
        let (second_token, _) = app.tokens_for(&name, PASSWORD).await;
        assert_eq!(enabled_admins(&app).await, 2);

        // Act: each demotes the other at the same moment.
        let (second_path, first_path) = (
            format!("/api/users/{}", second.id),
            format!("/api/users/{}", admin.id),
        );
        let (a, b) = tokio::join!(
            call(
                &app,
                Method::PATCH,
                &second_path,
                Some(&first_token),
                Some(json!({"admin": false})),
            ),
            call(
                &app,
                Method::PATCH,
                &first_path,
                Some(&second_token),
                Some(json!({"admin": false})),
            ),
        );

        // Assert: one of them won, and an admin remains.
        let statuses = [a.status(), b.status()];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(enabled_admins(&app).await, 1, "{statuses:?}");
        // Put the bootstrap admin back for the next round.
        let accounts = &app.state.accounts;
        accounts
            .set_admin(By::Operator, admin.id, true)
            .await
            .expect("promoted again");
        accounts
            .set_disabled(By::Operator, second.id, true)
            .await
            .expect("disabled");
    }
}

#[tokio::test]
async fn a_token_mode_admin_can_do_everything_the_admin_page_does() {
    let app = spawn_app_with(|s| {
        s.auth.mode = AuthMode::Token;
        s.lockout.max_failures = 2;
    })
    .await;
    let token = admin_token(&app).await;
    assert_eq!(
        api_client()
            .get(app.url("/admin"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // Create (an admin service account), then list it.
    let created = call(
        &app,
        Method::POST,
        "/api/users",
        Some(&token),
        Some(json!({"username": "robot", "password": PASSWORD, "admin": true, "service": true})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let user_path = format!("/api/users/{id}");
    let patch = |body: Value| call(&app, Method::PATCH, &user_path, Some(&token), Some(body));
    // Revoke admin, make admin, service off and on, disable, enable.
    for (body, field, expected) in [
        (json!({"admin": false}), "roles", json!(["user"])),
        (json!({"admin": true}), "roles", json!(["user", "admin"])),
        (json!({"service": false}), "service", json!(false)),
        (json!({"service": true}), "service", json!(true)),
        (json!({"disabled": true}), "disabled", json!(true)),
        (json!({"disabled": false}), "disabled", json!(false)),
    ] {
        let resp = patch(body.clone()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{body}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()[field],
            expected,
            "{body}"
        );
    }
    // Unlock a locked account.
    for _ in 0..2 {
        app.password_grant("robot", "wrong password!").await;
    }
    assert_eq!(
        app.password_grant("robot", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let unlocked = call(
        &app,
        Method::POST,
        &format!("/api/users/{id}/unlock"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    let (robot_access, _) = app.tokens_for("robot", PASSWORD).await;
    // Sign out everywhere.
    let signed_out = call(
        &app,
        Method::POST,
        &format!("/api/users/{id}/logout"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(signed_out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.me(&robot_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Reset two-step verification.
    let mfa = call(
        &app,
        Method::DELETE,
        &format!("/api/users/{id}/mfa"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(mfa.status(), StatusCode::NO_CONTENT);
    // A password-reset link.
    let reset = call(
        &app,
        Method::POST,
        &format!("/api/users/{id}/password-reset"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reset.status(), StatusCode::OK);
    let reset: Value = reset.json().await.unwrap();
    assert!(
        reset["reset_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/reset/", app.address))
    );
    // Delete.
    let deleted = call(
        &app,
        Method::DELETE,
        &format!("/api/users/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(app.find_user("robot").await.is_none());
}

//! One-time password-reset links: issued by an admin (JSON API, admin page, CLI), used once at
//! `/reset/{token}` in every mode; issuing ends every credential of the user.

use gatehouse::config::AuthMode;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Browser, HeldRequest, TestApp, api_client, csrf_in, location, spawn_app, spawn_app_with,
};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// Issues a link for `id` over the JSON API; returns its path (`/reset/…`) and the body.
async fn issue(app: &TestApp, id: i64) -> (String, Value) {
    let (token, _) = app.tokens_for("admin", &app.admin_password).await;
    let resp = api_client()
        .post(app.url(&format!("/api/users/{id}/password-reset")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    let url = body["reset_url"].as_str().unwrap();
    let path = url
        .strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{url} is not under {}", app.address))
        .to_string();
    (path, body)
}

/// Opens the form of `path` in `browser` and sets `password` (twice).
async fn use_link(browser: &Browser, path: &str, password: &str) -> reqwest::Response {
    browser
        .submit(
            path,
            path,
            &[("password", password), ("password_confirm", password)],
        )
        .await
}

async fn reset_rows(app: &TestApp) -> i64 {
    app.with_db(|c| {
        use diesel::prelude::*;
        use gatehouse::db::schema::password_resets;
        password_resets::table
            .count()
            .get_result::<i64>(c)
            .expect("count")
    })
    .await
}

#[tokio::test]
async fn an_admin_issues_a_link_over_the_api_and_the_user_sets_a_new_password_with_it() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;

    let (path, body) = issue(&app, alice.id).await;

    let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let left = expires - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(29) && left <= chrono::Duration::minutes(30));
    let token = path.trim_start_matches("/reset/");
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    // Only the token's hash is stored.
    let stored: Vec<String> = app
        .with_db(|c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::password_resets::dsl::*;
            password_resets.select(token_hash).load(c).expect("rows")
        })
        .await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);

    let browser = app.browser();
    let form = browser.get(&path).await;
    assert_eq!(form.status(), StatusCode::OK);
    let page = form.text().await.unwrap();
    assert!(page.contains("alice") && page.contains("name=\"password_confirm\""));
    let done = use_link(&browser, &path, NEW_PASSWORD).await;

    assert_eq!(done.status(), StatusCode::OK);
    let page = done.text().await.unwrap();
    assert!(page.contains("Password changed") && page.contains("href=\"/login\""));
    assert_eq!(
        app.password_grant("alice", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn issuing_a_link_ends_every_session_and_token_of_the_user() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    issue(&app, alice.id).await;

    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert!(location(&home).starts_with("/login"));
    let refreshed = app.refresh_grant(&refresh).await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refreshed.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
    // The password itself is unchanged until the link is used.
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn using_the_link_ends_credentials_issued_after_it_was_issued() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;

    assert_eq!(
        use_link(&app.browser(), &path, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );

    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh_grant(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_link_works_once() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let browser = app.browser();
    let token = browser.csrf(&path).await;
    let post = |password: &'static str| {
        let (browser, path, token) = (&browser, &path, &token);
        async move {
            browser
                .post_form(
                    path,
                    &[
                        ("csrf_token", token.as_str()),
                        ("password", password),
                        ("password_confirm", password),
                    ],
                )
                .await
        }
    };

    assert_eq!(post(NEW_PASSWORD).await.status(), StatusCode::OK);
    let again = post("yet another passphrase").await;

    assert_eq!(again.status(), StatusCode::GONE);
    let page = again.text().await.unwrap();
    assert!(page.contains("not valid"), "{page}");
    assert!(!page.contains("alice"));
    assert_eq!(browser.get(&path).await.status(), StatusCode::GONE);
    assert_eq!(
        app.password_grant("alice", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn two_concurrent_uses_of_one_link_set_the_password_once() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let (one, two) = (app.browser(), app.browser());
    let (t1, t2) = (one.csrf(&path).await, two.csrf(&path).await);

    let first = [
        ("csrf_token", t1.as_str()),
        ("password", "first passphrase here"),
        ("password_confirm", "first passphrase here"),
    ];
    let second = [
        ("csrf_token", t2.as_str()),
        ("password", "second passphrase here"),
        ("password_confirm", "second passphrase here"),
    ];
    let (a, b) = tokio::join!(one.post_form(&path, &first), two.post_form(&path, &second));

    let statuses = [a.status(), b.status()];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::GONE), "{statuses:?}");
    let winner = if a.status() == StatusCode::OK {
        "first passphrase here"
    } else {
        "second passphrase here"
    };
    let loser = if winner.starts_with("first") {
        "second passphrase here"
    } else {
        "first passphrase here"
    };
    assert_eq!(
        app.password_grant("alice", winner).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.password_grant("alice", loser).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Opens a use of the link `path` whose body is held back.
async fn held_use(app: &TestApp, path: &str) -> HeldRequest {
    let browser = app.browser();
    let token = browser.csrf(path).await;
    HeldRequest::open(
        app,
        path,
        &browser.cookie_header().expect("form cookie"),
        &[
            ("csrf_token", token.as_str()),
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await
}

#[tokio::test]
async fn a_use_held_open_across_a_newer_link_fails() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let held = held_use(&app, &path).await;

    let (newer, _) = issue(&app, alice.id).await;
    let late = held.finish().await;

    assert_eq!(late.status, 410);
    assert_eq!(
        app.password_grant("alice", NEW_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    // The newer link still works.
    assert_eq!(
        use_link(&app.browser(), &newer, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_use_held_open_across_the_users_deletion_fails() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let held = held_use(&app, &path).await;

    let (token, _) = app.tokens_for("admin", &app.admin_password).await;
    let deleted = api_client()
        .delete(app.url(&format!("/api/users/{}", alice.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let late = held.finish().await;

    assert_eq!(late.status, 410);
    assert!(app.find_user("alice").await.is_none());
    assert_eq!(reset_rows(&app).await, 0);
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let browser = app.browser();
    let token = browser.csrf(&path).await;

    app.with_db(|c| {
        use diesel::prelude::*;
        use gatehouse::db::schema::password_resets::dsl::*;
        diesel::update(password_resets)
            .set(expires_at.eq(gatehouse::domain::clock::now() - chrono::Duration::seconds(1)))
            .execute(c)
            .expect("shifted")
    })
    .await;

    assert_eq!(browser.get(&path).await.status(), StatusCode::GONE);
    let late = browser
        .post_form(
            &path,
            &[
                ("csrf_token", token.as_str()),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(late.status(), StatusCode::GONE);
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_form_refuses_mismatched_or_weak_passwords_and_keeps_the_link() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let browser = app.browser();

    let mismatch = browser
        .submit(
            &path,
            &path,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = mismatch.text().await.unwrap();
    assert!(
        page.contains("do not match") && page.contains("aria-invalid=\"true\""),
        "{page}"
    );
    let short = use_link(&browser, &path, "short").await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text().await.unwrap().contains("at least"));
    let forged = browser
        .post_form(
            &path,
            &[
                ("csrf_token", "forged"),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        use_link(&browser, &path, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_links_count_against_the_client_address() {
    let app = spawn_app_with(|s| s.lockout.max_failures_per_ip = 3).await;
    let browser = app.browser();
    // Any anonymous form gives the stateless token: the sign-in form does.
    let token = browser.csrf("/login").await;
    let guess = |n: usize| {
        let (browser, token) = (&browser, &token);
        async move {
            browser
                .post_form(
                    &format!("/reset/guess{n}"),
                    &[
                        ("csrf_token", token.as_str()),
                        ("password", NEW_PASSWORD),
                        ("password_confirm", NEW_PASSWORD),
                    ],
                )
                .await
                .status()
        }
    };
    for n in 0..3 {
        assert_eq!(guess(n).await, StatusCode::GONE);
    }
    let locked = guess(3).await;
    assert_eq!(locked, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_reset_page_is_served_in_token_mode() {
    let app = spawn_app_with(|s| s.auth.mode = AuthMode::Token).await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (path, _) = issue(&app, alice.id).await;
    let browser = app.browser();
    assert_eq!(browser.get("/login").await.status(), StatusCode::NOT_FOUND);

    let done = use_link(&browser, &path, NEW_PASSWORD).await;

    assert_eq!(done.status(), StatusCode::OK);
    let page = done.text().await.unwrap();
    assert!(
        page.contains("token API") && !page.contains("href=\"/login\""),
        "{page}"
    );
    assert_eq!(
        app.password_grant("alice", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_issues_a_link_from_the_admin_page_after_confirming() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let alice_browser = app.browser();
    alice_browser.login("alice", PASSWORD).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let action = format!("/admin/users/{}/reset-link", alice.id);
    assert!(
        admin
            .get("/admin")
            .await
            .text()
            .await
            .unwrap()
            .contains(&action)
    );

    // The confirm page, and a POST without its marker: nothing issued.
    let confirm = admin.get(&action).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let page = confirm.text().await.unwrap();
    assert!(page.contains("alice") && page.contains("name=\"confirm\" value=\"yes\""));
    assert!(page.contains("href=\"/admin\""), "a Cancel link");
    let bare = admin.submit("/admin", &action, &[]).await;
    assert_eq!(bare.status(), StatusCode::OK);
    assert!(
        bare.text()
            .await
            .unwrap()
            .contains("name=\"confirm\" value=\"yes\"")
    );
    assert_eq!(reset_rows(&app).await, 0);
    assert_eq!(alice_browser.get("/").await.status(), StatusCode::OK);

    let issued = admin.submit("/admin", &action, &[("confirm", "yes")]).await;

    assert_eq!(issued.status(), StatusCode::OK);
    assert_eq!(issued.headers()["cache-control"], "no-store");
    let page = issued.text().await.unwrap();
    let start = page
        .find(&format!("{}/reset/", app.address))
        .expect("the link is shown");
    let url: String = page[start..].chars().take_while(|c| *c != '"').collect();
    assert!(page.contains("UTC"), "its expiry");
    assert_eq!(alice_browser.get("/").await.status(), StatusCode::SEE_OTHER);
    let path = url.strip_prefix(&app.address).unwrap().to_string();
    assert_eq!(
        use_link(&app.browser(), &path, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        alice_browser.login("alice", NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_cli_prints_a_working_link() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    let out = app.cli(&["user", "reset-link", "alice"], None);

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let path = &url[url.find("/reset/").expect("a reset link")..];
    let browser = app.browser();
    let page = browser.get(path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(csrf_in(&page.text().await.unwrap()).is_some());
    assert_eq!(
        use_link(&browser, path, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    let unknown = app.cli(&["user", "reset-link", "nobody"], None);
    assert!(!unknown.status.success());
}

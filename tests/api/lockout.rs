//! Failed-login throttling (SPEC §8) on every door: the form, the token endpoint, HTTP Basic.

use base64::Engine;
use reqwest::StatusCode;

use crate::helpers::{TestApp, api_client, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "not the password";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

async fn fail_grants(app: &TestApp, user: &str, times: usize) {
    for _ in 0..times {
        assert_eq!(
            app.password_grant(user, WRONG).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn the_token_endpoint_locks_a_username_after_max_failures() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    fail_grants(&app, "alice", 5).await;

    let locked = app.password_grant("alice", PASSWORD).await;

    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&locked);
    assert!((1..=900).contains(&wait), "{wait}");
    let body: serde_json::Value = locked.json().await.unwrap();
    assert!(body["error"].is_string() && body["error_description"].is_string());
}

#[tokio::test]
async fn an_unknown_username_locks_the_same_way() {
    let app = spawn_app().await;
    fail_grants(&app, "ghost", 5).await;

    let resp = app.password_grant("ghost", WRONG).await;

    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_login_form_locks_and_says_so() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    for _ in 0..5 {
        assert_eq!(
            app.browser().login("Alice", WRONG).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    let resp = app.browser().login("alice", PASSWORD).await;

    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&resp) > 0);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Too many failed sign-ins")
    );
}

#[tokio::test]
async fn basic_credentials_count_and_lock_too() {
    let app = spawn_app_with(|s| s.auth.basic = true).await;
    app.create_user("alice", PASSWORD, false).await;
    for _ in 0..5 {
        let resp = api_client()
            .get(app.url("/api/me"))
            .header("authorization", basic("alice", WRONG))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }

    let resp = api_client()
        .get(app.url("/api/me"))
        .header("authorization", basic("alice", PASSWORD))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn failures_on_different_doors_add_up() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    fail_grants(&app, "alice", 3).await;
    for _ in 0..2 {
        app.browser().login("alice", WRONG).await;
    }

    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_success_resets_the_count() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    fail_grants(&app, "alice", 4).await;
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );

    fail_grants(&app, "alice", 4).await;

    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_client_ip_is_locked_after_max_failures_per_ip() {
    let app = spawn_app_with(|s| s.lockout.max_failures_per_ip = 4).await;
    app.create_user("alice", PASSWORD, false).await;
    for name in ["u1", "u2", "u3", "u4"] {
        assert_eq!(
            app.password_grant(name, WRONG).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    let resp = app.password_grant("alice", PASSWORD).await;

    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let app = spawn_app_with(|s| {
        s.lockout.max_failures_per_ip = 3;
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    let grant = |user: &'static str, password: &'static str, from: &'static str| {
        let url = app.url("/api/token");
        async move {
            api_client()
                .post(url)
                .header("x-forwarded-for", from)
                .json(&serde_json::json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for name in ["u1", "u2", "u3"] {
        assert_eq!(
            grant(name, WRONG, "198.51.100.7").await,
            StatusCode::UNAUTHORIZED
        );
    }

    assert_eq!(
        grant("alice", PASSWORD, "198.51.100.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        grant("alice", PASSWORD, "198.51.100.8").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_lock_holds_across_a_restart() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    fail_grants(&app, "alice", 5).await;

    let app = app.restart().await;

    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_lock_ends_when_its_duration_has_passed() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    fail_grants(&app, "alice", 5).await;
    // The lock was set lockout.duration ago.
    app.with_db(|c| {
        use diesel::prelude::*;
        use gatehouse::db::schema::login_failures::dsl::*;
        let past = gatehouse::domain::clock::now() - chrono::Duration::minutes(16);
        diesel::update(login_failures)
            .set((
                locked_until.eq(Some(past + chrono::Duration::minutes(15))),
                window_started_at.eq(past),
            ))
            .execute(c)
            .unwrap()
    })
    .await;

    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_unlocks_from_the_admin_page() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    fail_grants(&app, "alice", 5).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    assert!(
        admin
            .get("/admin")
            .await
            .text()
            .await
            .unwrap()
            .contains("locked")
    );

    let resp = admin
        .submit("/admin", &format!("/admin/users/{}/unlock", alice.id), &[])
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_cli_unlocks_a_username() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    fail_grants(&app, "alice", 5).await;

    let out = app.cli(&["user", "unlock", "ALICE"], None);

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked"));
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    let again = app.cli(&["user", "unlock", "nobody-at-all"], None);
    assert_eq!(again.status.code(), Some(1));
}

#[tokio::test]
async fn concurrent_failures_are_all_counted() {
    let app = spawn_app_with(|s| {
        s.server.workers = Some(2);
        s.lockout.max_failures = 10;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;

    let attempts = (0..10).map(|_| app.password_grant("alice", WRONG));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();

    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_full_hashing_queue_answers_503_with_retry_after() {
    // One bcrypt thread with room for one waiting job, and a slow hash (cost 12): of many
    // simultaneous logins, those that find the queue full are turned away at once.
    let app = spawn_app_with(|s| {
        s.password.hash_threads = Some(1);
        s.password.hash_queue = Some(1);
        s.password.bcrypt_cost = 12;
        s.server.workers = Some(2);
        s.lockout.max_failures = 100;
        s.lockout.max_failures_per_ip = 100;
    })
    .await;

    let attempts = (0..12).map(|_| app.password_grant("nobody", WRONG));
    let responses = futures_util::future::join_all(attempts).await;

    let busy: Vec<&reqwest::Response> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!busy.is_empty(), "no request found the queue full");
    assert!(busy.iter().all(|r| r.headers().contains_key("retry-after")));
    assert!(
        responses
            .iter()
            .all(|r| r.status() == StatusCode::UNAUTHORIZED
                || r.status() == StatusCode::SERVICE_UNAVAILABLE),
        "{:?}",
        responses.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
}

//! `password.min_score` (zxcvbn) on every surface where a new password is chosen: the sign-up
//! form and `POST /api/users`, an administrator's `POST /api/users`, `/account/password`, the
//! CLI; its feedback on the form and in the 422 JSON; and a new password equal to the current
//! one refused.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, api_client, spawn_app, spawn_app_with};

/// Long enough for `password.min_length`, and guessed at once by zxcvbn.
const WEAK: &str = "Password1234";
const STRONG: &str = "violet-ferry-57-quartz-bloom";
const PASSWORD: &str = "correct horse battery";

async fn open_app(min_score: u8) -> TestApp {
    spawn_app_with(move |s| {
        s.auth.registration = true;
        s.password.min_score = min_score;
    })
    .await
}

/// A 422 JSON refusal with zxcvbn's feedback.
async fn assert_guessable_json(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_input", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("too easy to guess"), "{body}");
    let feedback = &body["feedback"];
    assert!(
        feedback["warning"].is_string() || feedback["warning"].is_null(),
        "{body}"
    );
    let suggestions = feedback["suggestions"].as_array().expect("suggestions");
    assert!(!suggestions.is_empty(), "{body}");
    // The description carries the advice too, for clients that show only it.
    for s in suggestions {
        assert!(description.contains(s.as_str().unwrap()), "{body}");
    }
}

#[tokio::test]
async fn a_guessable_password_is_refused_on_the_sign_up_form_with_zxcvbns_advice() {
    let app = open_app(3).await;
    let browser = app.browser();

    let resp = browser
        .submit(
            "/register",
            "/register",
            &[("username", "carol"), ("password", WEAK)],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("This password is too easy to guess"),
        "{page}"
    );
    assert!(
        page.contains("This is similar to a commonly used password")
            || page.contains("Add another word or two"),
        "{page}"
    );
    assert!(app.find_user("carol").await.is_none());
}

#[tokio::test]
async fn a_guessable_password_is_refused_by_the_registration_api_with_feedback() {
    let app = open_app(3).await;

    let resp = api_client()
        .post(app.url("/api/users"))
        .json(&serde_json::json!({"username": "dave", "password": WEAK}))
        .send()
        .await
        .unwrap();

    assert_guessable_json(resp).await;
    assert!(app.find_user("dave").await.is_none());
    // The username itself is a guess zxcvbn is told about.
    let resp = api_client()
        .post(app.url("/api/users"))
        .json(&serde_json::json!({"username": "zebulon.harkness", "password": "zebulon.harkness2"}))
        .send()
        .await
        .unwrap();
    assert_guessable_json(resp).await;
    let resp = api_client()
        .post(app.url("/api/users"))
        .json(&serde_json::json!({"username": "dave", "password": STRONG}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_administrator_cannot_create_a_user_with_a_guessable_password() {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    let (access, _) = app.tokens_for("root", PASSWORD).await;

    let resp = api_client()
        .post(app.url("/api/users"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"username": "erin", "password": WEAK}))
        .send()
        .await
        .unwrap();

    assert_guessable_json(resp).await;
    assert!(app.find_user("erin").await.is_none());
}

#[tokio::test]
async fn min_score_0_accepts_what_3_refuses() {
    let app = open_app(0).await;

    let resp = api_client()
        .post(app.url("/api/users"))
        .json(&serde_json::json!({"username": "frank", "password": WEAK}))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = app
        .browser()
        .submit(
            "/register",
            "/register",
            &[("username", "grace"), ("password", WEAK)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_guessable_new_password_is_refused_on_the_account_page_with_advice() {
    let app = spawn_app().await;
    let user = app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", WEAK),
                ("new_password_confirm", WEAK),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("This password is too easy to guess"),
        "{page}"
    );
    let stored = app.find_user("alice").await.unwrap();
    assert_eq!(stored.password_hash, user.password_hash, "unchanged");
}

#[tokio::test]
async fn the_new_password_may_not_be_the_current_one() {
    let app = spawn_app().await;
    let user = app.create_user("alice", STRONG, false).await;
    let browser = app.browser();
    browser.login("alice", STRONG).await;

    let resp = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", STRONG),
                ("new_password", STRONG),
                ("new_password_confirm", STRONG),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("The new password must be different from the current one."),
        "{page}"
    );
    let stored = app.find_user("alice").await.unwrap();
    assert_eq!(stored.password_hash, user.password_hash, "unchanged");
    assert_eq!(
        stored.password_changed_at, user.password_changed_at,
        "nothing revoked"
    );
    // A wrong current password with the same text as the new one is just a wrong password.
    let resp = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "not-the-password-at-all"),
                ("new_password", "not-the-password-at-all"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Current password is incorrect.")
    );
}

#[tokio::test]
async fn the_cli_refuses_a_guessable_password_in_one_line() {
    let app = spawn_app().await;
    app.create_user("henry", PASSWORD, false).await;

    for args in [
        &["user", "add", "ivy", "--password-stdin"][..],
        &["user", "passwd", "henry", "--password-stdin"][..],
    ] {
        let out = app.cli(args, Some(&format!("{WEAK}\n")));

        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("too easy to guess"), "{stderr}");
    }
    assert!(app.find_user("ivy").await.is_none());
}

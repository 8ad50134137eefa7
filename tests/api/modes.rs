//! `auth.mode` and `auth.basic` (SPEC §7): which doors are open, and how the chain decides.

use base64::Engine;
use gatehouse::config::AuthMode;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, api_client, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

async fn app(mode: AuthMode, basic_on: bool) -> TestApp {
    let app = spawn_app_with(|s| {
        s.auth.mode = mode;
        s.auth.basic = basic_on;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    app
}

async fn me_with(app: &TestApp, authorization: &str) -> reqwest::Response {
    api_client()
        .get(app.url("/api/me"))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn session_mode_serves_pages_and_me_but_not_the_token_api() {
    let app = app(AuthMode::Session, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let me: Value = browser.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["via"], "session");
    for path in ["/api/token", "/api/token/revoke"] {
        let resp = api_client()
            .post(app.url(path))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
    ] {
        assert_eq!(
            api_client()
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn token_mode_serves_the_token_api_and_no_pages() {
    let app = app(AuthMode::Token, false).await;
    let (access, _) = app.tokens_for("alice", PASSWORD).await;

    let me: Value = app.me(&access).await.json().await.unwrap();
    assert_eq!(me["via"], "token");
    assert_eq!(
        app.browser().get("/login").await.status(),
        StatusCode::NOT_FOUND
    );
    // A session cookie means nothing in token mode.
    let resp = api_client()
        .get(app.url("/api/me"))
        .header("cookie", "gatehouse_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn both_mode_accepts_a_session_or_a_bearer_token() {
    let app = app(AuthMode::Both, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let (access, _) = app.tokens_for("alice", PASSWORD).await;

    let via_session: Value = browser.get("/api/me").await.json().await.unwrap();
    let via_token: Value = app.me(&access).await.json().await.unwrap();

    assert_eq!(via_session["via"], "session");
    assert_eq!(via_token["via"], "token");
}

#[tokio::test]
async fn a_wrong_bearer_token_is_rejected_even_with_a_valid_session() {
    let app = app(AuthMode::Both, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser
        .client
        .get(browser.url("/api/me"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn basic_is_refused_unless_enabled() {
    let app = app(AuthMode::Both, false).await;

    let resp = me_with(&app, &basic("alice", PASSWORD)).await;

    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> = resp.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(challenges.len(), 1);
}

#[tokio::test]
async fn with_basic_on_me_and_the_token_endpoint_take_basic_credentials() {
    for mode in [AuthMode::Token, AuthMode::Both, AuthMode::Session] {
        let app = app(mode, true).await;

        let ok = me_with(&app, &basic("alice", PASSWORD)).await;
        assert_eq!(ok.status(), StatusCode::OK, "{mode:?}");
        let me: Value = ok.json().await.unwrap();
        assert_eq!(me["via"], "basic");

        let wrong = me_with(&app, &basic("alice", "wrong password")).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{mode:?}");
        let malformed = me_with(&app, "Basic %%%").await;
        assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED, "{mode:?}");
        let none = api_client().get(app.url("/api/me")).send().await.unwrap();
        let challenges: Vec<String> = none
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert!(
            challenges
                .iter()
                .any(|c| c.starts_with("Bearer realm=\"gatehouse\"")),
            "{challenges:?}"
        );
        assert!(
            challenges
                .iter()
                .any(|c| c.starts_with("Basic realm=\"gatehouse\"")),
            "{challenges:?}"
        );
    }
}

#[tokio::test]
async fn the_token_endpoint_takes_a_basic_header_and_challenges_on_failure() {
    let app = app(AuthMode::Token, true).await;

    let ok = api_client()
        .post(app.url("/api/token"))
        .header("authorization", basic("alice", PASSWORD))
        .send()
        .await
        .unwrap();
    let bad = api_client()
        .post(app.url("/api/token"))
        .header("authorization", basic("alice", "wrong password"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();

    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"gatehouse\"")
    );
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

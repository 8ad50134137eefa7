//! How the app is wired: routes always mounted behind per-request gates, one `configure` that
//! runs without a socket, and session middleware only where a session decides.

use actix_web::test as actix_test;
use gatehouse::config::AuthMode;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{api_client, spawn_app};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn the_mode_is_read_per_request_so_a_new_configuration_switches_the_doors() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    assert_eq!(app.browser().get("/login").await.status(), StatusCode::OK);

    let mut token_only = (*app.state.config()).clone();
    token_only.auth.mode = AuthMode::Token;
    app.state.replace_config(token_only);

    assert_eq!(
        app.browser().get("/login").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );

    let mut session_only = (*app.state.config()).clone();
    session_only.auth.mode = AuthMode::Session;
    session_only.auth.registration = true;
    app.state.replace_config(session_only);

    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.browser().get("/login").await.status(), StatusCode::OK);
    assert_eq!(
        app.browser().get("/register").await.status(),
        StatusCode::OK,
        "registration turned on by the new configuration"
    );
}

#[tokio::test]
async fn the_routes_run_in_process_without_a_socket() {
    let app = spawn_app().await;
    let state = app.state.clone();
    let service = actix_test::init_service(
        actix_web::App::new()
            .app_data(state.clone())
            .configure(|cfg| gatehouse::routes::configure(cfg, &state)),
    )
    .await;

    let health = actix_test::call_service(
        &service,
        actix_test::TestRequest::get().uri("/healthz").to_request(),
    )
    .await;
    let me = actix_test::call_service(
        &service,
        actix_test::TestRequest::get().uri("/api/me").to_request(),
    )
    .await;

    assert_eq!(health.status(), actix_web::http::StatusCode::OK);
    assert_eq!(me.status(), actix_web::http::StatusCode::UNAUTHORIZED);
}

/// Session lookups so far (cache hits and store reads alike), from `/metrics`.
async fn session_lookups(app: &crate::helpers::TestApp) -> f64 {
    let scrape = crate::ops::scrape(app).await;
    ["hit", "miss"]
        .iter()
        .map(|result| {
            scrape.value(
                "gatehouse_cache_lookups_total",
                &[("cache", "sessions"), ("result", result)],
            )
        })
        .sum()
}

#[tokio::test]
async fn a_bearer_request_never_touches_the_session_store_even_with_a_cookie() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let cookie = browser.cookie_header().unwrap();
    let (access, _) = app.tokens_for("alice", PASSWORD).await;
    let before = session_lookups(&app).await;

    let resp = api_client()
        .get(app.url("/api/me"))
        .bearer_auth(&access)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("set-cookie").is_none());
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["via"], "token");
    assert_eq!(
        session_lookups(&app).await,
        before,
        "the session was looked up"
    );
    // The same cookie alone is looked up: the check above can fail.
    let by_cookie = browser.get_with_cookie("/api/me", &cookie).await;
    assert_eq!(by_cookie.status(), StatusCode::OK);
    assert!(session_lookups(&app).await > before);
}

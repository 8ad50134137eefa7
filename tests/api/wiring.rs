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

/// The idle expiry the store holds for the user's only session.
async fn session_expiry(app: &crate::helpers::TestApp, user_id: i64) -> chrono::NaiveDateTime {
    let sessions = app.state.sessions.list_for_user(user_id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    sessions[0].expires_at
}

#[tokio::test]
async fn a_bearer_request_never_touches_the_session_store_even_with_a_cookie() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let cookie = browser.cookie_header().unwrap();
    let (access, _) = app.tokens_for("alice", PASSWORD).await;
    // The database store keeps the idle expiry to the microsecond, so a touch shows; Redis
    // keeps a TTL in whole seconds, read back relative to now, so only the headers and the
    // answer are compared there.
    let exact = app.settings.session.store == gatehouse::config::SessionStoreKind::Database;
    let before = session_expiry(&app, alice.id).await;

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
    if exact {
        assert_eq!(
            session_expiry(&app, alice.id).await,
            before,
            "the session was loaded (its idle expiry moved)"
        );
        // The same cookie alone is read, and its idle expiry moves: the check above can fail.
        let by_cookie = browser.get_with_cookie("/api/me", &cookie).await;
        assert_eq!(by_cookie.status(), StatusCode::OK);
        assert!(session_expiry(&app, alice.id).await > before);
    }
}

//! `POST /api/token`, `/api/token/revoke`, `/api/me`, `/api/logout-all`, `/api/users` and the
//! discovery documents.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_client, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

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

async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: &str) -> reqwest::Response {
    api_client()
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_password_grant_issues_a_token_pair_as_json() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    let resp = app.password_grant("alice", PASSWORD).await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(refresh.len() >= 43, "at least 256 bits in base64url");
    assert!(
        refresh
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let me: Value = app
        .me(body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["roles"], json!(["user"]));
    assert_eq!(me["via"], "token");
}

#[tokio::test]
async fn the_password_grant_accepts_an_rfc_6749_form_with_client_fields() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    let resp = api_client()
        .post(app.url("/api/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
            ("client_id", "cli"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn the_refresh_token_is_stored_only_as_a_hash() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens_for("alice", PASSWORD).await;

    let hashes: Vec<String> = app
        .with_db(|c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::refresh_tokens::dsl::*;
            refresh_tokens.select(token_hash).load(c).unwrap()
        })
        .await;

    assert_eq!(hashes.len(), 1);
    assert_ne!(hashes[0], refresh);
    assert_eq!(
        hashes[0],
        gatehouse::auth::token::refresh::HashedToken::of(&refresh).as_str()
    );
}

#[tokio::test]
async fn bad_credentials_are_401_invalid_grant() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    for (user, password) in [("alice", "wrong password"), ("nobody", PASSWORD)] {
        let resp = app.password_grant(user, password).await;
        assert!(
            resp.headers().get("www-authenticate").is_none(),
            "no Basic challenge when Basic is off"
        );
        let (status, error, _) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_grant")
        );
    }
}

#[tokio::test]
async fn malformed_and_unsupported_requests_get_precise_errors() {
    let app = spawn_app().await;

    let cases = [
        (
            "application/json",
            "{not json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "application/json",
            "[]",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"username":1,"password":"x"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"username":"alice"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"grant_type":"client_credentials"}"#,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            "application/json",
            r#"{"grant_type":"refresh_token"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "application/x-www-form-urlencoded",
            "username=a&username=b&password=c",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "text/plain",
            "username=a",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
    ];
    for (content_type, body, status, error) in cases {
        let (got_status, got_error, _) =
            error_of(post_raw(&app, "/api/token", content_type, body).await).await;
        assert_eq!(
            (got_status, got_error.as_str()),
            (status, error),
            "{content_type} {body}"
        );
    }
    let big = format!(
        r#"{{"username":"{}","password":"x"}}"#,
        "a".repeat(20 * 1024)
    );
    let resp = post_raw(&app, "/api/token", "application/json", &big).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_json_body_naming_a_field_twice_is_an_invalid_request_and_signs_nobody_in() {
    // Arrange: serde_json alone would keep the last `username` and sign alice in.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let bodies = [
        format!(r#"{{"username":"mallory","username":"alice","password":"{PASSWORD}"}}"#),
        format!(r#"{{"username":"alice","password":"wrong","password":"{PASSWORD}"}}"#),
        // The same name, once plain and once with an escaped letter.
        format!(r#"{{"username":"bob","user\u006eame":"alice","password":"{PASSWORD}"}}"#),
        format!(
            r#"{{"grant_type":"client_credentials","grant_type":"password","username":"alice","password":"{PASSWORD}"}}"#
        ),
    ];

    for body in bodies {
        // Act
        let resp = post_raw(&app, "/api/token", "application/json", &body).await;

        // Assert
        let (status, error, description) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{body}"
        );
        assert!(description.contains("more than once"), "{description}");
    }
}

#[tokio::test]
async fn a_refresh_rotates_the_pair_and_the_old_token_dies() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, first) = app.tokens_for("alice", PASSWORD).await;

    let resp = app.refresh_grant(&first).await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    let second = body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(
        app.me(body["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    // The second one works once too (as a form this time).
    let resp = api_client()
        .post(app.url("/api/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_family() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, first) = app.tokens_for("alice", PASSWORD).await;
    let (_, other_login) = app.tokens_for("alice", PASSWORD).await;
    let second: Value = app.refresh_grant(&first).await.json().await.unwrap();
    let second = second["refresh_token"].as_str().unwrap().to_string();

    let (status, error, _) = error_of(app.refresh_grant(&first).await).await;

    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    // The token rotated from it is revoked with the family...
    let (status, error, _) = error_of(app.refresh_grant(&second).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    // ...while another login's family is untouched.
    assert_eq!(
        app.refresh_grant(&other_login).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let app = spawn_app_with(|s| s.server.workers = Some(2)).await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens_for("alice", PASSWORD).await;

    let attempts = (0..8).map(|_| app.refresh_grant(&refresh));
    let results = futures_util::future::join_all(attempts).await;

    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn unknown_and_garbage_refresh_tokens_are_invalid_grant() {
    let app = spawn_app().await;
    for token in ["nope", &"A".repeat(43), "../../etc/passwd"] {
        let (status, error, _) = error_of(app.refresh_grant(token).await).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_grant")
        );
    }
}

#[tokio::test]
async fn revocation_ends_the_family_and_answers_200_even_for_unknown_tokens() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, first) = app.tokens_for("alice", PASSWORD).await;
    let second: Value = app.refresh_grant(&first).await.json().await.unwrap();
    let second = second["refresh_token"].as_str().unwrap().to_string();

    let resp = api_client()
        .post(app.url("/api/token/revoke"))
        .form(&[
            ("token", first.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.refresh_grant(&second).await.status(),
        StatusCode::BAD_REQUEST
    );
    let unknown = api_client()
        .post(app.url("/api/token/revoke"))
        .json(&json!({"token": "never-issued"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::OK);
    let missing = api_client()
        .post(app.url("/api/token/revoke"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn me_without_credentials_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;

    let resp = api_client().get(app.url("/api/me")).send().await.unwrap();

    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"gatehouse\""
    );
    let (status, error, _) = error_of(resp).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_and_refresh_family_of_the_caller() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    app.create_user("bob", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;
    let (_, bobs_refresh) = app.tokens_for("bob", PASSWORD).await;

    let resp = api_client()
        .post(app.url("/api/logout-all"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.refresh_grant(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.refresh_grant(&bobs_refresh).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_all_by_session_cookie_needs_the_sessions_csrf_token() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let token = browser.csrf("/account").await;

    let forged = browser
        .client
        .post(browser.url("/api/logout-all"))
        .send()
        .await
        .unwrap();
    let wrong = browser
        .client
        .post(browser.url("/api/logout-all"))
        .header("x-csrf-token", "not-the-token")
        .send()
        .await
        .unwrap();

    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    let resp = browser
        .client
        .post(browser.url("/api/logout-all"))
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_password_change_on_the_web_revokes_refresh_tokens() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.refresh_grant(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_admin_disabling_a_user_revokes_their_tokens() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", PASSWORD, false).await;
    let (access, refresh) = app.tokens_for("bob", PASSWORD).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;

    admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/disable", bob.id),
            &[("confirm", "yes")],
        )
        .await;

    assert_eq!(
        app.refresh_grant(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.password_grant("bob", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn api_registration_follows_the_same_rules() {
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    let register = |body: Value| {
        let url = app.url("/api/users");
        async move { api_client().post(url).json(&body).send().await.unwrap() }
    };

    let created = register(json!({"username": "Zed", "password": "long enough pw"})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["username"], "Zed");
    assert!(body["id"].is_i64());

    let (status, error, _) =
        error_of(register(json!({"username": "zED", "password": "long enough pw"})).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::CONFLICT, "conflict"));
    let (status, _, description) =
        error_of(register(json!({"username": "yan", "password": "short"})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(description.contains("at least 10"), "{description}");
    let (status, _, description) =
        error_of(register(json!({"username": "yan", "password": "a".repeat(73)})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(description.contains("72 bytes"), "{description}");
    assert_eq!(
        app.password_grant("zed", "long enough pw").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_registration_is_404_when_off() {
    let app = spawn_app().await;
    let resp = api_client()
        .post(app.url("/api/users"))
        .json(&json!({"username": "zed", "password": "long enough pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_missing_role_is_403_insufficient_scope() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (alice, _) = app.tokens_for("alice", PASSWORD).await;
    let (admin, _) = app.tokens_for("admin", &app.admin_password).await;

    let denied = api_client()
        .get(app.url("/api/users"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let allowed = api_client()
        .get(app.url("/api/users"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();

    assert!(
        denied.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let (status, error, _) = error_of(denied).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    assert_eq!(allowed.status(), StatusCode::OK);
    let users: Value = allowed.json().await.unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_discovery_documents_describe_the_server() {
    let app = spawn_app().await;

    let meta: Value = api_client()
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks: Value = api_client()
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Without `server.public_url`, URLs follow the address actually bound (port 0 resolved).
    let base = &app.address;
    assert_eq!(meta["issuer"], base.as_str());
    assert_eq!(meta["token_endpoint"], format!("{base}/api/token"));
    assert_eq!(
        meta["revocation_endpoint"],
        format!("{base}/api/token/revoke")
    );
    assert_eq!(meta["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        meta["grant_types_supported"],
        json!([
            "password",
            "refresh_token",
            "urn:gatehouse:mfa-otp",
            "urn:gatehouse:mfa-recovery"
        ])
    );
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["alg"].as_str(), key["use"].as_str()),
        (Some("EdDSA"), Some("sig"))
    );
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(key.get("d").is_none(), "no private part");
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_is_405_with_allow_and_closed_routes_stay_404() {
    // Arrange
    let app = spawn_app().await;
    let client = api_client();
    let cases = [
        (reqwest::Method::GET, "/api/token", "POST"),
        (reqwest::Method::PUT, "/api/token/revoke", "POST"),
        (reqwest::Method::DELETE, "/api/me", "GET"),
        (reqwest::Method::PATCH, "/api/users", "GET, POST"),
        (reqwest::Method::GET, "/api/users/1/mfa", "DELETE"),
        (reqwest::Method::POST, "/.well-known/jwks.json", "GET"),
    ];

    for (method, path, allow) in cases {
        // Act
        let resp = client
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        let (_, error, description) = error_of(resp).await;
        assert_eq!(error, "method_not_allowed");
        assert!(description.contains(allow), "{description}");
    }

    // With the token API off, its routes do not exist, whatever the method.
    let session_only = spawn_app_with(|s| s.auth.mode = gatehouse::config::AuthMode::Session).await;
    for path in ["/api/token", "/api/users"] {
        let resp = client
            .get(format!("{}{path}", session_only.address))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

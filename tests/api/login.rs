//! `GET/POST /login`: credentials, CSRF, session renewal, redirects, headers, escaping.

use reqwest::StatusCode;

use crate::helpers::{Browser, csrf_in, location, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn the_login_form_has_every_field_and_the_security_headers() {
    let app = spawn_app().await;
    let resp = app.browser().get("/login?next=%2Faccount").await;

    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("referrer-policy"));
    assert_eq!(h["cache-control"], "no-store");
    // An anonymous form stores nothing: its only cookie is the nonce of its stateless token.
    let cookies: Vec<String> = h
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("gatehouse_session_form="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    assert!(
        !cookie.contains("Secure"),
        "public_url is http: no Secure flag"
    );
    let body = resp.text().await.unwrap();
    for field in [
        "name=\"username\"",
        "name=\"password\"",
        "name=\"csrf_token\"",
        "name=\"next\" value=\"/account\"",
    ] {
        assert!(body.contains(field), "missing {field}");
    }
}

#[tokio::test]
async fn the_cookies_are_secure_when_the_public_url_is_https() {
    let app =
        spawn_app_with(|s| s.server.public_url = Some("https://auth.example.com".into())).await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    let form = browser.get("/login").await;
    assert!(
        form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );

    let signed_in = browser.login("alice", PASSWORD).await;

    let session = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("gatehouse_session="))
        .expect("the session cookie is set at sign-in")
        .to_string();
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
    assert!(
        session.contains("SameSite=Lax") && session.contains("Path=/"),
        "{session}"
    );
}

#[tokio::test]
async fn valid_credentials_sign_in_and_redirect_to_next() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();

    let resp = browser.login_next("alice", PASSWORD, "/account").await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");
    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    assert_eq!(home.headers()["cache-control"], "no-store");
    assert!(home.text().await.unwrap().contains("Signed in as alice"));
}

#[tokio::test]
async fn usernames_match_without_regard_to_case() {
    let app = spawn_app().await;
    app.create_user("Alice", PASSWORD, false).await;
    let browser = app.browser();

    assert_eq!(
        browser.login("aLiCe", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        browser
            .get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Signed in as Alice")
    );
}

#[tokio::test]
async fn every_failure_kind_gets_401_and_the_same_message() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let disabled = app.create_user("bob", PASSWORD, false).await;
    app.state
        .accounts
        .set_disabled(gatehouse::accounts::By::Operator, disabled.id, true)
        .await
        .unwrap();

    for (user, password, kind) in [
        ("nobody", PASSWORD, "unknown user"),
        ("alice", "wrong password!!", "wrong password"),
        ("bob", PASSWORD, "disabled user"),
        ("bad name!", PASSWORD, "impossible username"),
        ("alice", &"x".repeat(100), "too long password"),
    ] {
        let browser = app.browser();
        let resp = browser.login(user, password).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{kind}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Invalid username or password."), "{kind}");
        assert!(csrf_in(&body).is_some(), "{kind}: the form is shown again");
        assert_eq!(
            browser.get("/").await.status(),
            StatusCode::SEE_OTHER,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.get("/login").await; // the session now has a token

    let missing = browser
        .post_form("/login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    let wrong = browser
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    let no_session = app
        .browser()
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;

    for resp in [missing, wrong, no_session] {
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn signing_in_renews_the_session_id() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    let token = browser.csrf("/login").await;
    let before = browser.cookie_header().expect("anonymous session cookie");

    let resp = browser
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let after = browser.cookie_header().expect("session cookie");
    assert_ne!(before, after);
    // The pre-login id is gone: replaying it gets no session.
    let replay = browser.get_with_cookie("/", &before).await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_stored_session_records_the_user_and_not_the_raw_id() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let cookie = browser.cookie_header().unwrap();

    let rows = app.sessions_of(alice.id).await;

    assert_eq!(rows.len(), 1, "the store files the session under the user");
    assert_eq!(rows[0].id.len(), 64, "a SHA-256 hex digest");
    assert!(!cookie.contains(&rows[0].id));
}

#[tokio::test]
async fn open_redirects_are_refused() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    for next in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ] {
        let resp = app.browser().login_next("alice", PASSWORD, next).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&resp), "/", "{next:?}");
    }
}

#[tokio::test]
async fn a_hostile_username_is_escaped_when_the_form_is_shown_again() {
    let app = spawn_app().await;
    let hostile = "<script>alert(1)</script>\"><img src=x>";

    let resp = app.browser().login(hostile, "whatever password").await;

    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body = resp.text().await.unwrap();
    assert!(!body.contains("<script>alert(1)"));
    assert!(!body.contains("\"><img"));
    assert!(
        body.contains("&lt;script&gt;") || body.contains("&#60;script&#62;"),
        "escaped: {body}"
    );
}

#[tokio::test]
async fn a_hash_of_another_cost_is_upgraded_at_login() {
    let app = spawn_app_with(|s| s.password.bcrypt_cost = 5).await;
    // Created at cost 4 by the harness; the app is configured for 5.
    app.create_user("alice", PASSWORD, false).await;

    let resp = app.browser().login("alice", PASSWORD).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let hash = app.find_user("alice").await.unwrap().password_hash;
    assert!(hash.starts_with("$2b$05$"), "{hash}");
    assert_eq!(
        app.browser().login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_bootstrap_admin_can_sign_in() {
    let app = spawn_app().await;
    let browser = app.browser();

    assert_eq!(
        browser.login("admin", &app.admin_password).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(browser.get("/admin").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn html_routes_answer_404_in_token_mode() {
    let app = spawn_app_with(|s| s.auth.mode = gatehouse::config::AuthMode::Token).await;
    let browser = Browser::new(&app.address);

    for path in ["/login", "/", "/account", "/admin", "/register"] {
        assert_eq!(
            browser.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(browser.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_signed_in_visit_to_the_login_page_goes_to_next() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser.get("/login?next=%2Faccount").await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_the_login_form_with_next() {
    let app = spawn_app().await;
    let resp = app.browser().get("/").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login?next=%2F");
    let resp = app.browser().get("/account").await;
    assert_eq!(location(&resp), "/login?next=%2Faccount");
}

#[tokio::test]
async fn oversized_or_mistyped_forms_get_clear_4xx() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = browser.csrf("/login").await;
    let big = "x".repeat(20 * 1024);

    let too_big = browser
        .post_form(
            "/login",
            &[
                ("username", &big),
                ("password", "p"),
                ("csrf_token", &token),
            ],
        )
        .await;
    let json = browser
        .client
        .post(browser.url("/login"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();

    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_failed_sign_in_ties_the_error_to_both_fields_and_focuses_the_password() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    let fresh = browser.get("/login").await.text().await.unwrap();
    assert!(
        fresh.contains(r#"autocomplete="username" required autofocus>"#),
        "an empty form starts at the username: {fresh}"
    );

    let resp = browser.login("alice", "wrong password!!").await;

    let body = resp.text().await.unwrap();
    assert!(body.contains(r#"id="login-error""#), "{body}");
    assert_eq!(
        body.matches(r#"aria-invalid="true" aria-describedby="login-error""#)
            .count(),
        2,
        "{body}"
    );
    let password = &body[body.find(r#"<input id="password""#).unwrap()..];
    let password = &password[..password.find('>').unwrap()];
    assert!(password.contains("autofocus"), "{password}");
    assert!(body.contains(r#"value="alice""#), "the username is kept");
}

//! Passkeys (issue 11 item 2), through real HTTP with a software authenticator
//! (`soft_authenticator`): named registration on `/account`, the passkey second step, the
//! username-less sign-in of `auth.passkey_login`, single use and expiry of challenges, the
//! bound on anonymous challenges per client address, origins, removal through the revocation
//! seam, the admin reset, and what the token API answers a passkey-only user.
//!
//! The app serves at 127.0.0.1; its relying party is `localhost` at the same port, so the
//! authenticator signs for `http://localhost:PORT`, as a browser there would.

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, TestApp, api_client, csrf_in, location, spawn_app, spawn_app_with};
use crate::soft_authenticator::{SoftAuthenticator, sign};

const PASSWORD: &str = "correct horse battery";

/// The origin browsers use for passkeys on a test app.
fn origin(app: &TestApp) -> String {
    let port = app.address.rsplit(':').next().expect("a port");
    format!("http://localhost:{port}")
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asks for registration options for a passkey named `name` (the account page's token).
async fn registration_options(browser: &Browser, name: &str) -> (StatusCode, Value) {
    let token = browser.csrf("/account").await;
    json_of(
        browser
            .post_form(
                "/account/passkeys/options",
                &[("csrf_token", &token), ("name", name)],
            )
            .await,
    )
    .await
}

/// Posts a ceremony's answer as the page's form does.
async fn post_answer(
    browser: &Browser,
    form_page: &str,
    path: &str,
    ceremony: &str,
    credential: &Value,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let token = browser.csrf(form_page).await;
    let credential = credential.to_string();
    let mut fields = vec![
        ("csrf_token", token.as_str()),
        ("ceremony", ceremony),
        ("credential", credential.as_str()),
    ];
    fields.extend_from_slice(extra);
    browser.post_form(path, &fields).await
}

/// Registers a passkey named `name` with `key` from a signed-in browser.
async fn register(app: &TestApp, browser: &Browser, key: &mut SoftAuthenticator, name: &str) {
    let (status, options) = registration_options(browser, name).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let credential = key.create(&options["publicKey"], &origin(app));
    let resp = post_answer(
        browser,
        "/account",
        "/account/passkeys",
        options["ceremony"].as_str().unwrap(),
        &credential,
        &[],
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "registration of {name}"
    );
    assert_eq!(location(&resp), "/account#passkeys");
}

/// A browser signed in with the password (alice has no second factor yet).
async fn signed_in(app: &TestApp) -> Browser {
    let browser = app.browser();
    let resp = browser.login("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/");
    browser
}

async fn signed_in_as(browser: &Browser, user: &str) -> bool {
    let resp = browser.get("/").await;
    resp.status() == StatusCode::OK
        && resp
            .text()
            .await
            .unwrap()
            .contains(&format!("Signed in as {user}"))
}

/// A browser whose password was accepted and whose sign-in waits for its second step.
async fn at_second_step(browser: &Browser) {
    let resp = browser.login("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login/mfa");
}

/// Second-step options for the browser's pending sign-in.
async fn second_step_options(browser: &Browser) -> (StatusCode, Value) {
    let token = browser.csrf("/login/mfa").await;
    json_of(
        browser
            .post_form("/login/mfa/passkey/options", &[("csrf_token", &token)])
            .await,
    )
    .await
}

/// Username-less sign-in options.
async fn sign_in_options(browser: &Browser) -> (StatusCode, Value) {
    let token = browser.csrf("/login").await;
    json_of(
        browser
            .post_form("/login/passkey/options", &[("csrf_token", &token)])
            .await,
    )
    .await
}

async fn failures_of(app: &TestApp, subject: &str) -> i32 {
    use gatehouse::db::schema::login_failures::dsl as lf;
    let subject = subject.to_string();
    app.with_db(move |c| {
        lf::login_failures
            .filter(lf::kind.eq("user"))
            .filter(lf::subject.eq(subject))
            .select(lf::failures)
            .first::<i32>(c)
            .optional()
            .unwrap()
            .unwrap_or(0)
    })
    .await
}

async fn metrics(app: &TestApp) -> String {
    api_client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Moves every stored ceremony's expiry into the past.
async fn expire_ceremonies(app: &TestApp) {
    use gatehouse::db::schema::passkey_challenges::dsl as pc;
    let past = gatehouse::domain::clock::now() - chrono::Duration::seconds(1);
    app.with_db(move |c| {
        diesel::update(pc::passkey_challenges)
            .set(pc::expires_at.eq(past))
            .execute(c)
            .unwrap()
    })
    .await;
}

#[tokio::test]
async fn named_passkeys_are_registered_listed_and_shown_to_the_operator() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = signed_in(&app).await;
    let (mut laptop, mut yubikey) = (SoftAuthenticator::default(), SoftAuthenticator::default());

    // Act
    register(&app, &browser, &mut laptop, "Work laptop").await;
    register(&app, &browser, &mut yubikey, "YubiKey <5>").await;

    // Assert: both listed, escaped, never used yet.
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(
        page.contains("Passkey “YubiKey &#60;5&#62;” added."),
        "{page}"
    );
    assert!(page.contains("Work laptop"), "{page}");
    assert!(
        page.contains("<span class=\"passkey-name\">YubiKey &#60;5&#62;</span>"),
        "{page}"
    );
    assert_eq!(page.matches("last used never</span>").count(), 2, "{page}");
    assert!(
        page.contains("A passkey is asked after your password"),
        "{page}"
    );
    // A name is one per user; an authenticator registers once.
    let (status, body) = registration_options(&browser, "Work laptop").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already have a passkey named")
    );
    let (status, options) = registration_options(&browser, "Again").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        options["publicKey"]["excludeCredentials"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let (status, body) = registration_options(&browser, "   ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Without passkey_login no resident key is asked for.
    assert_ne!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let out = app.cli(&["user", "mfa", "alice"], None);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("passkeys: 2"), "{shown}");
    assert!(shown.contains("\"Work laptop\""), "{shown}");
    assert!(
        metrics(&app)
            .await
            .contains("gatehouse_passkey_registrations_total 2")
    );
}

#[tokio::test]
async fn a_passkey_completes_the_second_step_after_the_password() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Laptop").await;
    let browser = app.browser();
    at_second_step(&browser).await;
    let page = browser.get("/login/mfa").await.text().await.unwrap();
    assert!(page.contains("Use a passkey"), "{page}");
    assert!(page.contains("/static/passkeys.js"), "{page}");
    assert!(
        !page.contains("Code from your authenticator app"),
        "no TOTP, no code form: {page}"
    );

    // Act
    let (status, options) = second_step_options(&browser).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let answer = key.get(&options["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &browser,
        "/login/mfa",
        "/login/mfa/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;

    // Assert
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/");
    assert!(signed_in_as(&browser, "alice").await);
    let page = browser.get("/account").await.text().await.unwrap();
    assert_eq!(
        page.matches("last used never</span>").count(),
        0,
        "last used: {page}"
    );
    {
        use gatehouse::db::schema::passkeys::dsl as pk;
        let counter = app
            .with_db(|c| pk::passkeys.select(pk::sign_count).first::<i64>(c).unwrap())
            .await;
        assert_eq!(counter, 1, "the counter moved");
    }
    let shown = metrics(&app).await;
    assert!(
        shown.contains("gatehouse_second_factor_total{factor=\"passkey\",result=\"ok\"} 1"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_replayed_assertion_and_a_reused_challenge_are_refused() {
    // Arrange: a completed second step.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Laptop").await;
    let first = app.browser();
    at_second_step(&first).await;
    let (_, options) = second_step_options(&first).await;
    let ceremony = options["ceremony"].as_str().unwrap().to_string();
    let answer = key.get(&options["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &first,
        "/login/mfa",
        "/login/mfa/passkey",
        &ceremony,
        &answer,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let before = failures_of(&app, "alice").await;

    // Act: the same answer again, for a new sign-in held in another browser.
    let second = app.browser();
    at_second_step(&second).await;
    let resp = post_answer(
        &second,
        "/login/mfa",
        "/login/mfa/passkey",
        &ceremony,
        &answer,
        &[],
    )
    .await;

    // Assert
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let page = resp.text().await.unwrap();
    assert!(page.contains("already used"), "{page}");
    assert!(!signed_in_as(&second, "alice").await);
    assert_eq!(failures_of(&app, "alice").await, before + 1, "counted");
}

#[tokio::test]
async fn an_assertion_for_another_challenge_is_refused_counted_and_burns_its_challenge() {
    // Arrange: two challenges of one held sign-in.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Laptop").await;
    let browser = app.browser();
    at_second_step(&browser).await;
    let (_, one) = second_step_options(&browser).await;
    let (_, two) = second_step_options(&browser).await;

    // Act: an answer signed for the first, presented for the second.
    let answer = key.get(&one["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &browser,
        "/login/mfa",
        "/login/mfa/passkey",
        two["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;

    // Assert: refused and counted; the second challenge is gone, the first still works.
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(failures_of(&app, "alice").await, 1);
    let retry = key.get(&two["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &browser,
        "/login/mfa",
        "/login/mfa/passkey",
        two["ceremony"].as_str().unwrap(),
        &retry,
        &[],
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "burnt by the failure"
    );
    let good = key.get(&one["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &browser,
        "/login/mfa",
        "/login/mfa/passkey",
        one["ceremony"].as_str().unwrap(),
        &good,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&browser, "alice").await);
    assert_eq!(
        failures_of(&app, "alice").await,
        0,
        "a completed sign-in clears"
    );
    assert!(
        metrics(&app)
            .await
            .contains("gatehouse_second_factor_total{factor=\"passkey\",result=\"failed\"} 2")
    );
}

#[tokio::test]
async fn wrong_passkey_answers_lock_the_username_out() {
    let app = spawn_app_with(|s| s.lockout.max_failures = 2).await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Laptop").await;
    let browser = app.browser();
    at_second_step(&browser).await;
    let mut last = StatusCode::OK;
    for _ in 0..3 {
        let (_, options) = second_step_options(&browser).await;
        let mut answer = key.get(&options["publicKey"], &origin(&app), 0);
        answer["response"]["signature"] = Value::from("AAAA");
        last = post_answer(
            &browser,
            "/login/mfa",
            "/login/mfa/passkey",
            options["ceremony"].as_str().unwrap(),
            &answer,
            &[],
        )
        .await
        .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    // Arrange
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Laptop").await;
    let held = app.browser();
    at_second_step(&held).await;
    let (_, second) = second_step_options(&held).await;
    let anonymous = app.browser();
    let (_, first) = sign_in_options(&anonymous).await;

    // Act: five minutes pass (the stored expiry is moved, nobody sleeps).
    expire_ceremonies(&app).await;
    let answer = key.get(&second["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &held,
        "/login/mfa",
        "/login/mfa/passkey",
        second["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;
    let answer = key.get(&first["publicKey"], &origin(&app), 0);
    let refused = post_answer(
        &anonymous,
        "/login",
        "/login/passkey",
        first["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;

    // Assert
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(failures_of(&app, "alice").await, 1);
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(page.contains("expired or was already used"), "{page}");
    assert!(!signed_in_as(&anonymous, "alice").await);
}

#[tokio::test]
async fn passkey_login_signs_in_without_a_username() {
    // Arrange
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let registering = signed_in(&app).await;
    let (_, options) = registration_options(&registering, "Phone").await;
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"], "required",
        "{options}"
    );
    let mut key = SoftAuthenticator::default();
    register(&app, &registering, &mut key, "Phone").await;
    let browser = app.browser();
    let page = browser.get("/login").await.text().await.unwrap();
    assert!(page.contains("Sign in with a passkey"), "{page}");
    assert!(
        page.contains(&format!("data-origin=\"{}\"", origin(&app))),
        "{page}"
    );

    // Act
    let (status, options) = sign_in_options(&browser).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    let answer = key.get(&options["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &browser,
        "/login",
        "/login/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        &[("next", "/account")],
    )
    .await;

    // Assert: signed in, straight to `next`, with a fresh session.
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");
    assert!(signed_in_as(&browser, "alice").await);
    let shown = metrics(&app).await;
    assert!(
        shown.contains("gatehouse_passkey_sign_ins_total{result=\"ok\"} 1"),
        "{shown}"
    );
    // The same answer again is refused (its challenge is gone).
    let again = app.browser();
    let resp = post_answer(
        &again,
        "/login",
        "/login/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(!signed_in_as(&again, "alice").await);
}

#[tokio::test]
async fn a_passkey_that_does_not_verify_its_user_cannot_sign_in_alone() {
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Key").await;
    key.verifies_user = false;
    let browser = app.browser();
    let (_, options) = sign_in_options(&browser).await;
    let answer = key.get(&options["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &browser,
        "/login",
        "/login/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let page = resp.text().await.unwrap();
    assert!(page.contains("did not verify you"), "{page}");
    assert!(!signed_in_as(&browser, "alice").await);
}

#[tokio::test]
async fn a_counter_that_goes_back_is_refused() {
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Key").await;
    let browser = app.browser();
    let (_, options) = sign_in_options(&browser).await;
    let answer = key.get(&options["publicKey"], &origin(&app), 0);
    let resp = post_answer(
        &browser,
        "/login",
        "/login/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    // A copy of the key that signs with the counter it had before.
    let copy = app.browser();
    let (_, options) = sign_in_options(&copy).await;
    let stale = sign(
        &key.credentials[0],
        options["publicKey"]["challenge"].as_str().unwrap(),
        &origin(&app),
        0x05,
        1,
    );
    let resp = post_answer(
        &copy,
        "/login",
        "/login/passkey",
        options["ceremony"].as_str().unwrap(),
        &stale,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(!signed_in_as(&copy, "alice").await);
}

#[tokio::test]
async fn passkey_login_is_off_by_default() {
    let app = spawn_app().await;
    let browser = app.browser();
    let page = browser.get("/login").await.text().await.unwrap();
    assert!(!page.contains("Sign in with a passkey"), "{page}");
    let token = browser.csrf("/login").await;
    let resp = browser
        .post_form("/login/passkey/options", &[("csrf_token", &token)])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn anonymous_challenges_are_bounded_per_client_address() {
    // Arrange: clients told apart by X-Forwarded-For behind a trusted proxy.
    let app = spawn_app_with(|s| {
        s.auth.passkey_login = true;
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let browser = app.browser();
    let token = browser.csrf("/login").await;
    let ask = |client: &'static str| {
        let (browser, token) = (browser.clone(), token.clone());
        async move {
            browser
                .client
                .post(browser.url("/login/passkey/options"))
                .header("X-Forwarded-For", client)
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .unwrap()
        }
    };

    // Act: 30 at once from one address.
    let answers = futures_util::future::join_all((0..30).map(|_| ask("198.51.100.7"))).await;

    // Assert: exactly 20 stored, the rest refused with a clear 429.
    let ok = answers
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let refused: Vec<_> = answers
        .into_iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!((ok, refused.len()), (20, 10));
    let retry_after = refused[0].headers().get("retry-after").cloned();
    assert_eq!(retry_after.unwrap().to_str().unwrap(), "300");
    let (_, body) = json_of(refused.into_iter().next().unwrap()).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Too many passkey requests"),
        "{body}"
    );
    // Another address is not affected; once they expire, this one may ask again.
    assert_eq!(ask("198.51.100.8").await.status(), StatusCode::OK);
    expire_ceremonies(&app).await;
    assert_eq!(ask("198.51.100.7").await.status(), StatusCode::OK);
    assert!(
        metrics(&app)
            .await
            .contains("gatehouse_passkey_challenges_refused_total 10")
    );
}

#[tokio::test]
async fn an_answer_for_another_origin_is_refused_with_a_clear_message() {
    // Arrange
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    let registering = signed_in(&app).await;
    register(&app, &registering, &mut key, "Key").await;
    let browser = app.browser();
    let expected = format!("work only at {}", origin(&app));

    // Act + Assert: a page opened at 127.0.0.1 asks (its Origin header says so)...
    let token = browser.csrf("/login").await;
    let resp = browser
        .client
        .post(browser.url("/login/passkey/options"))
        .header("Origin", app.address.as_str())
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains(&expected),
        "{body}"
    );

    // ...and an answer the browser signed for 127.0.0.1 is refused on the page.
    let (_, options) = sign_in_options(&browser).await;
    let answer = key.get(&options["publicKey"], &app.address, 0);
    let resp = post_answer(
        &browser,
        "/login",
        "/login/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let page = resp.text().await.unwrap();
    assert!(page.contains(&expected), "{page}");
    assert!(!signed_in_as(&browser, "alice").await);

    // A registration made at 127.0.0.1 is refused the same way.
    let (_, options) = registration_options(&registering, "Other").await;
    let credential = SoftAuthenticator::default().create(&options["publicKey"], &app.address);
    let resp = post_answer(
        &registering,
        "/account",
        "/account/passkeys",
        options["ceremony"].as_str().unwrap(),
        &credential,
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains(&expected));
}

#[tokio::test]
async fn removing_a_passkey_ends_the_other_sessions_but_not_this_one() {
    // Arrange: this browser, another one, and an API family; two passkeys.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let this = signed_in(&app).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &this, &mut key, "Lost key").await;
    register(&app, &this, &mut SoftAuthenticator::default(), "Spare").await;
    let other = app.browser();
    at_second_step(&other).await;
    let (_, options) = second_step_options(&other).await;
    let answer = key.get(&options["publicKey"], &origin(&app), 0);
    post_answer(
        &other,
        "/login/mfa",
        "/login/mfa/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        &[],
    )
    .await;
    assert!(signed_in_as(&other, "alice").await);
    let id = {
        use gatehouse::db::schema::passkeys::dsl as pk;
        app.with_db(|c| {
            pk::passkeys
                .filter(pk::name.eq("Lost key"))
                .select(pk::id)
                .first::<i64>(c)
                .unwrap()
        })
        .await
    };

    // Act: the confirm page, then the removal.
    let confirm = this
        .get(&format!("/account/passkeys/{id}/remove"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        confirm.contains("Remove this passkey?") && confirm.contains("Lost key"),
        "{confirm}"
    );
    let token = csrf_in(&confirm).unwrap();
    let resp = this
        .post_form(
            &format!("/account/passkeys/{id}/remove"),
            &[("csrf_token", token.as_str())],
        )
        .await;

    // Assert
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&this, "alice").await);
    assert!(!signed_in_as(&other, "alice").await);
    let page = this.get("/account").await.text().await.unwrap();
    assert!(page.contains("Passkey “Lost key” removed."), "{page}");
    assert!(
        page.contains("Spare") && !page.contains(">Lost key"),
        "{page}"
    );
    // The removed key no longer signs in.
    let again = app.browser();
    at_second_step(&again).await;
    let (_, options) = second_step_options(&again).await;
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Another user's passkey id is not found.
    let resp = this.get("/account/passkeys/999999/remove").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(
        metrics(&app)
            .await
            .contains("gatehouse_passkey_removals_total 1")
    );
}

#[tokio::test]
async fn mfa_reset_removes_passkeys_and_the_password_signs_in_alone() {
    let app = spawn_app_with(crate::caches::with_bound).await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = signed_in(&app).await;
    register(&app, &browser, &mut SoftAuthenticator::default(), "Key").await;
    assert_eq!(
        location(&app.browser().login("alice", PASSWORD).await),
        "/login/mfa"
    );

    let out = app.cli(&["user", "mfa-reset", "alice"], None);
    let reset = std::time::Instant::now();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("passkeys"));

    let shown = app.cli(&["user", "mfa", "alice"], None);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("passkeys: 0"));
    // A reset ends her sessions (the CLI is another process: within cache.max_staleness).
    crate::caches::refused_within_bound(reset, "alice's session", || async {
        !signed_in_as(&browser, "alice").await
    })
    .await;
    assert_eq!(location(&app.browser().login("alice", PASSWORD).await), "/");
}

#[tokio::test]
async fn the_token_api_tells_a_passkey_only_user_what_to_do() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    register(
        &app,
        &signed_in(&app).await,
        &mut SoftAuthenticator::default(),
        "Key",
    )
    .await;

    let (status, body) = json_of(app.password_grant("alice", PASSWORD).await).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "mfa_required");
    assert!(body["mfa_token"].is_string());
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("passkey"), "{description}");
    assert!(description.contains("service account"), "{description}");
}

#[tokio::test]
async fn the_pages_load_their_script_from_this_origin_only() {
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    let browser = app.browser();
    let resp = browser.get("/login").await;
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let page = resp.text().await.unwrap();
    assert!(!page.contains("<script>"), "no inline script");
    let script = browser.get("/static/passkeys.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
}

#[tokio::test]
async fn a_user_with_totp_and_a_passkey_is_offered_both_and_either_completes() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = signed_in(&app).await;
    let (secret, _) = crate::mfa::enrol(&app, "alice").await;
    let mut key = SoftAuthenticator::default();
    register(&app, &browser, &mut key, "Key").await;

    // Act
    let held = app.browser();
    at_second_step(&held).await;
    let page = held.get("/login/mfa").await.text().await.unwrap();

    // Assert: the passkey, the code and the recovery codes are all offered; a code completes.
    assert!(page.contains("Use a passkey"), "{page}");
    assert!(page.contains("Code from your authenticator app"), "{page}");
    assert!(page.contains("Use a recovery code"), "{page}");
    let resp = held
        .submit(
            "/login/mfa",
            "/login/mfa",
            &[("code", &crate::mfa::code(&secret, 0))],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&held, "alice").await);
    // The token API answers mfa_required with the usual description: TOTP completes there.
    let (_, body) = json_of(app.password_grant("alice", PASSWORD).await).await;
    assert_eq!(body["error"], "mfa_required");
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap()
            .contains("only second factor is a passkey")
    );
}

#[tokio::test]
async fn malformed_answers_are_refused_with_a_4xx_never_a_500() {
    // Arrange: a registration, a held second step and a username-less sign-in in flight.
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = signed_in(&app).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &browser, &mut key, "Key").await;
    let good_registration = {
        let (_, options) = registration_options(&browser, "Other").await;
        SoftAuthenticator::default().create(&options["publicKey"], &origin(&app))
    };
    let good_assertion = {
        let (_, options) = sign_in_options(&app.browser()).await;
        key.get(&options["publicKey"], &origin(&app), 0)
    };
    let mangled = |mut value: Value, pointer: &str, with: Value| {
        *value.pointer_mut(pointer).expect("field") = with;
        value
    };
    let bad_registrations = [
        Value::from("not a credential"),
        serde_json::json!({}),
        mangled(
            good_registration.clone(),
            "/response/attestationObject",
            "AAAA".into(),
        ),
        mangled(
            good_registration.clone(),
            "/response/clientDataJSON",
            "e30".into(),
        ),
        mangled(
            good_registration.clone(),
            "/response/attestationObject",
            "!!!".into(),
        ),
        mangled(good_registration.clone(), "/rawId", Value::from(12)),
    ];
    let bad_assertions = [
        Value::from("not a credential"),
        mangled(
            good_assertion.clone(),
            "/response/authenticatorData",
            "AA".into(),
        ),
        mangled(
            good_assertion.clone(),
            "/response/clientDataJSON",
            "bm90IGpzb24".into(),
        ),
        mangled(
            good_assertion.clone(),
            "/response/userHandle",
            "AAAA".into(),
        ),
        mangled(good_assertion.clone(), "/response/userHandle", Value::Null),
        mangled(good_assertion.clone(), "/rawId", "".into()),
    ];

    // Act + Assert
    for bad in &bad_registrations {
        let (_, options) = registration_options(&browser, "Other").await;
        let resp = post_answer(
            &browser,
            "/account",
            "/account/passkeys",
            options["ceremony"].as_str().unwrap(),
            bad,
            &[],
        )
        .await;
        assert!(resp.status().is_client_error(), "{bad}: {}", resp.status());
    }
    let held = app.browser();
    at_second_step(&held).await;
    for bad in &bad_assertions {
        let anonymous = app.browser();
        let (_, options) = sign_in_options(&anonymous).await;
        let resp = post_answer(
            &anonymous,
            "/login",
            "/login/passkey",
            options["ceremony"].as_str().unwrap(),
            bad,
            &[],
        )
        .await;
        assert!(resp.status().is_client_error(), "{bad}: {}", resp.status());
        let (_, options) = second_step_options(&held).await;
        let resp = post_answer(
            &held,
            "/login/mfa",
            "/login/mfa/passkey",
            options["ceremony"].as_str().unwrap(),
            bad,
            &[],
        )
        .await;
        assert!(resp.status().is_client_error(), "{bad}: {}", resp.status());
    }
    // Missing or oversized fields, unknown ceremonies, a script-less submit.
    for (ceremony, credential) in [
        ("", "{}".to_string()),
        ("unknown", good_assertion.to_string()),
        (&"x".repeat(65)[..], good_assertion.to_string()),
        ("unknown", "x".repeat(13 * 1024)),
    ] {
        let anonymous = app.browser();
        let token = anonymous.csrf("/login").await;
        let resp = anonymous
            .post_form(
                "/login/passkey",
                &[
                    ("csrf_token", token.as_str()),
                    ("ceremony", ceremony),
                    ("credential", credential.as_str()),
                ],
            )
            .await;
        assert!(
            resp.status().is_client_error(),
            "{ceremony}: {}",
            resp.status()
        );
    }
}

/// A username-less passkey sign-in of alice (who registers `key` first) that carries `extra`
/// fields (`next`, `rd`) as the login page's passkey form does; returns the answer.
async fn passkey_sign_in_with(
    app: &TestApp,
    browser: &Browser,
    key: &mut SoftAuthenticator,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let (status, options) = sign_in_options(browser).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let answer = key.get(&options["publicKey"], &origin(app), 0);
    post_answer(
        browser,
        "/login",
        "/login/passkey",
        options["ceremony"].as_str().unwrap(),
        &answer,
        extra,
    )
    .await
}

/// Issue 13: an application's sign-in may be made with a passkey alone; it returns to
/// `/authorize`, and the ID token's `amr` names a hardware key with user verification.
#[tokio::test]
async fn a_passkey_sign_in_returns_to_authorize_and_the_id_token_names_it() {
    use crate::oidc::{authorize_url, exchange, jwt_part, pkce, query_param, register as client};
    // Arrange
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Phone").await;
    let rp = client(&app, false, true).await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &app,
        &rp,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let browser = app.browser();
    let resp = browser.client.get(&url).send().await.unwrap();
    let next = query_param(&location(&resp), "next").expect("sent to sign in");

    // Act
    let signed = passkey_sign_in_with(&app, &browser, &mut key, &[("next", &next)]).await;
    assert_eq!(crate::helpers::signed_in_to(signed).await, next);
    let back = browser.get(&next).await;
    let code = query_param(&location(&back), "code").expect("a code");
    let tokens: Value = exchange(&app, &rp, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();

    // Assert
    let claims = jwt_part(tokens["id_token"].as_str().expect("an ID token"), 1);
    assert_eq!(
        claims["amr"],
        serde_json::json!(["hwk", "user", "mfa"]),
        "{claims}"
    );
}

/// Issue 15: a passkey sign-in started from a forward-auth redirect (`/login?rd=`) goes on to
/// the app, by the "continuing to" page; an `rd` outside `forward_auth.domains` is not followed.
#[tokio::test]
async fn a_passkey_sign_in_follows_rd_to_a_listed_domain_only() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.auth.passkey_login = true;
        s.forward_auth.domains =
            vec![gatehouse::config::HostPattern::parse("app.example.com").unwrap()];
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    let mut key = SoftAuthenticator::default();
    register(&app, &signed_in(&app).await, &mut key, "Phone").await;
    let rd = "https://app.example.com/dash?a=1&b=2";

    // Act
    let listed = app.browser();
    let page = listed
        .get(&format!("/login?rd={}", urlencoding(rd)))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"rd\""), "the passkey form carries rd");
    let to_app = passkey_sign_in_with(&app, &listed, &mut key, &[("rd", rd)]).await;
    let elsewhere = app.browser();
    let to_evil = passkey_sign_in_with(
        &app,
        &elsewhere,
        &mut key,
        &[("rd", "https://evil.example/steal")],
    )
    .await;

    // Assert
    assert_eq!(crate::helpers::signed_in_to(to_app).await, rd);
    let landed = crate::helpers::signed_in_to(to_evil).await;
    assert!(landed.starts_with('/'), "never off to {landed}");
    assert!(signed_in_as(&elsewhere, "alice").await);
}

fn urlencoding(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

//! Second factors (issue 11): TOTP enrolment and sign-in on both doors, single use of codes
//! (across instances), the skew window, the lockout, recovery codes, the `mfa_required`
//! grants and their errors, HTTP Basic and service accounts, `auth.require_mfa`, revocation
//! of other credentials, admin resets, and the secret sealed at rest.
//!
//! Codes are computed here from the secret the server hands out (totp-rs), right before the
//! request that carries them, so a step boundary falls in between only by a few milliseconds'
//! chance. Tests that need more successful codes than the skew window holds forget the last
//! accepted step in the database instead of waiting.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{
    Browser, HeldRequest, TestApp, api_client, location, spawn_app, spawn_app_with,
};

const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "not the password";
const OTP: &str = "urn:gatehouse:mfa-otp";
const RECOVERY: &str = "urn:gatehouse:mfa-recovery";

/// The code of the time step `offset` steps from now.
pub(crate) fn code(secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .expect("base32 secret");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let time = (now + offset * 30).max(0) as u64;
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes).generate(time)
}

/// A code for a step that is not the one `used` (its neighbour within the skew window).
fn other_code(secret: &str, offset: i64) -> String {
    code(secret, offset)
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn post_token(app: &TestApp, body: Value) -> reqwest::Response {
    api_client()
        .post(app.url("/api/token"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = api_client()
        .request(method, app.url(path))
        .bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Enrols TOTP through the JSON API with a fresh token; returns the secret and the recovery
/// codes. The confirming code is the previous step's, so the current and next steps are left
/// for sign-ins.
pub(crate) async fn enrol(app: &TestApp, user: &str) -> (String, Vec<String>) {
    let (access, _) = app.tokens_for(user, PASSWORD).await;
    let (status, started) = json_of(
        api(
            app,
            reqwest::Method::POST,
            "/api/account/totp",
            &access,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let secret = started["secret"].as_str().unwrap().to_string();
    let uri = started["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    let (status, confirmed) = json_of(
        api(
            app,
            reqwest::Method::POST,
            "/api/account/totp/confirm",
            &access,
            Some(json!({"code": code(&secret, -1)})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

/// The password grant of a user with a second factor: 401 `mfa_required`; its `mfa_token`.
async fn mfa_token(app: &TestApp, user: &str) -> String {
    let (status, body) = json_of(app.password_grant(user, PASSWORD).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "mfa_required", "{body}");
    let token = body["mfa_token"].as_str().unwrap().to_string();
    assert!(token.len() >= 43, "256 bits, base64url: {token}");
    token
}

async fn otp_grant(app: &TestApp, token: &str, otp: &str) -> reqwest::Response {
    post_token(
        app,
        json!({"grant_type": OTP, "mfa_token": token, "otp": otp}),
    )
    .await
}

async fn recovery_grant(app: &TestApp, token: &str, recovery: &str) -> reqwest::Response {
    post_token(
        app,
        json!({"grant_type": RECOVERY, "mfa_token": token, "recovery_code": recovery}),
    )
    .await
}

/// Forgets every user's last accepted step, so that codes of the current window pass again.
async fn forget_steps(app: &TestApp) {
    use gatehouse::db::schema::totp_secrets::dsl as ts;
    app.with_db(|c| {
        diesel::update(ts::totp_secrets)
            .set(ts::last_step.eq(0_i64))
            .execute(c)
            .unwrap()
    })
    .await;
}

/// Signs a browser in through both steps with a TOTP code.
async fn browser_sign_in(app: &TestApp, user: &str, secret: &str, offset: i64) -> Browser {
    let browser = app.browser();
    let resp = browser.login(user, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login/mfa");
    let resp = browser
        .submit(
            "/login/mfa",
            "/login/mfa",
            &[("code", &code(secret, offset))],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "second step");
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

#[tokio::test]
async fn totp_enrolled_over_json_signs_in_on_the_token_endpoint() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, codes) = enrol(&app, "alice").await;
    assert_eq!(codes.len(), 10);

    // Act
    let token = mfa_token(&app, "alice").await;
    let (status, pair) = json_of(otp_grant(&app, &token, &code(&secret, 0)).await).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{pair}");
    let access = pair["access_token"].as_str().unwrap();
    assert!(pair["refresh_token"].as_str().is_some());
    assert_eq!(app.me(access).await.status(), StatusCode::OK);
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(claims["auth_time"].as_i64().is_some(), "{claims}");
    // A refresh keeps the sign-in's auth_time.
    let (status, refreshed) = json_of(
        app.refresh_grant(pair["refresh_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let again: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                refreshed["access_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again["auth_time"], claims["auth_time"]);
}

#[tokio::test]
async fn totp_signs_a_browser_in_with_a_fresh_session_and_keeps_next() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;
    let browser = app.browser();

    // Act: the password, then the code.
    let resp = browser.login_next("alice", PASSWORD, "/account").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login/mfa");
    let pending_cookie = browser.cookie_header().unwrap();
    assert!(
        !pending_cookie.contains("gatehouse_session="),
        "no session before the second factor: {pending_cookie}"
    );
    // Every page leads back to the second step meanwhile.
    let home = browser.get("/").await;
    assert_eq!(location(&home), "/login/mfa");
    let page = browser.get("/login/mfa").await.text().await.unwrap();
    assert!(page.contains("autocomplete=\"one-time-code\""), "{page}");
    assert!(page.contains("inputmode=\"numeric\""), "{page}");
    let done = browser
        .submit("/login/mfa", "/login/mfa", &[("code", &code(&secret, 0))])
        .await;

    // Assert
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/account", "next survives the second step");
    assert!(signed_in_as(&browser, "alice").await);
    let cookies = browser.cookie_header().unwrap();
    assert!(cookies.contains("gatehouse_session="), "{cookies}");
    assert!(!cookies.contains("gatehouse_session_mfa="), "{cookies}");
}

#[tokio::test]
async fn a_code_is_accepted_once_even_on_a_second_instance() {
    // Arrange
    let a = spawn_app().await;
    a.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&a, "alice").await;
    let b = a.second_instance().await;
    let used = code(&secret, 0);
    let first = mfa_token(&a, "alice").await;
    assert_eq!(otp_grant(&a, &first, &used).await.status(), StatusCode::OK);

    // Act: the same code on the other instance, and on the first again (a browser too).
    let on_b = mfa_token(&b, "alice").await;
    let (replayed_b, body) = json_of(otp_grant(&b, &on_b, &used).await).await;
    let on_a = mfa_token(&a, "alice").await;
    let replayed_a = otp_grant(&a, &on_a, &used).await.status();
    let browser = b.browser();
    browser.login("alice", PASSWORD).await;
    let replayed_html = browser
        .submit("/login/mfa", "/login/mfa", &[("code", &used)])
        .await
        .status();

    // Assert
    assert_eq!(replayed_b, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(replayed_a, StatusCode::BAD_REQUEST);
    assert_eq!(replayed_html, StatusCode::UNAUTHORIZED);
    // A later code still works with the token that a wrong code did not use up.
    let next = other_code(&secret, 1);
    assert_eq!(otp_grant(&b, &on_b, &next).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn one_step_of_skew_is_accepted_and_two_are_not() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;

    for (offset, expected) in [
        (-2, StatusCode::BAD_REQUEST),
        (2, StatusCode::BAD_REQUEST),
        (-1, StatusCode::OK),
        (1, StatusCode::OK),
    ] {
        forget_steps(&app).await;
        let token = mfa_token(&app, "alice").await;
        let status = otp_grant(&app, &token, &code(&secret, offset))
            .await
            .status();
        assert_eq!(status, expected, "offset {offset}");
    }
}

#[tokio::test]
async fn wrong_codes_lock_the_username_out_on_both_doors() {
    // Arrange: three failures lock.
    let app = spawn_app_with(|s| s.lockout.max_failures = 3).await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;
    let token = mfa_token(&app, "alice").await;

    // Act: two wrong codes on the token endpoint, one on the form.
    for _ in 0..2 {
        let (status, body) = json_of(otp_grant(&app, &token, "000000").await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant");
    }
    let browser = app.browser();
    assert_eq!(
        browser.login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let wrong = browser
        .submit("/login/mfa", "/login/mfa", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // Assert: locked everywhere, the right code included.
    let right = otp_grant(&app, &token, &code(&secret, 0)).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(right.headers().contains_key("retry-after"));
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let form = browser
        .submit("/login/mfa", "/login/mfa", &[("code", &code(&secret, 1))])
        .await;
    assert_eq!(form.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_correct_password_alone_clears_nothing() {
    // Arrange: three failures lock.
    let app = spawn_app_with(|s| s.lockout.max_failures = 3).await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;
    for _ in 0..2 {
        assert_eq!(
            app.password_grant("alice", WRONG).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    // Act: the right password (the sign-in waits for its code), then one more wrong code.
    let token = mfa_token(&app, "alice").await;
    let wrong = otp_grant(&app, &token, "000000").await.status();

    // Assert: the two failures still counted: the third locks.
    assert_eq!(wrong, StatusCode::BAD_REQUEST);
    assert_eq!(
        otp_grant(&app, &token, &code(&secret, 0)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_completed_sign_in_clears_the_count() {
    let app = spawn_app_with(|s| s.lockout.max_failures = 3).await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;
    for _ in 0..2 {
        app.password_grant("alice", WRONG).await;
    }

    let token = mfa_token(&app, "alice").await;
    assert_eq!(
        otp_grant(&app, &token, &code(&secret, 0)).await.status(),
        StatusCode::OK
    );

    for _ in 0..2 {
        assert_eq!(
            app.password_grant("alice", WRONG).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let token = mfa_token(&app, "alice").await;
    assert_eq!(
        otp_grant(&app, &token, &code(&secret, 1)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_recovery_code_works_once_and_tells_how_many_remain() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, codes) = enrol(&app, "alice").await;

    // Act: one code in the browser, another twice on the token endpoint.
    let browser = app.browser();
    browser.login_next("alice", PASSWORD, "/account").await;
    let page = browser
        .submit(
            "/login/mfa",
            "/login/mfa",
            &[("recovery_code", &codes[0].to_uppercase())],
        )
        .await;
    let token = mfa_token(&app, "alice").await;
    let first = recovery_grant(&app, &token, &codes[1]).await.status();
    let token = mfa_token(&app, "alice").await;
    let (again, body) = json_of(recovery_grant(&app, &token, &codes[1]).await).await;
    let browser_again = app.browser();
    browser_again.login("alice", PASSWORD).await;
    let reused_html = browser_again
        .submit("/login/mfa", "/login/mfa", &[("recovery_code", &codes[0])])
        .await
        .status();

    // Assert
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    assert!(text.contains("9 recovery codes"), "{text}");
    assert!(text.contains("href=\"/account\""), "{text}");
    assert!(signed_in_as(&browser, "alice").await);
    assert_eq!(first, StatusCode::OK);
    assert_eq!(
        (again, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(reused_html, StatusCode::UNAUTHORIZED);
    let account = browser.get("/account").await.text().await.unwrap();
    assert!(account.contains("8 unused recovery codes"), "{account}");
}

#[tokio::test]
async fn two_concurrent_uses_of_one_recovery_code_let_exactly_one_through() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, codes) = enrol(&app, "alice").await;
    for (round, recovery) in codes.iter().enumerate().take(3) {
        let (one, two) = (
            mfa_token(&app, "alice").await,
            mfa_token(&app, "alice").await,
        );

        let (a, b) = tokio::join!(
            recovery_grant(&app, &one, recovery),
            recovery_grant(&app, &two, recovery)
        );

        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::BAD_REQUEST],
            "round {round}"
        );
    }
}

#[tokio::test]
async fn two_concurrent_uses_of_one_totp_code_let_exactly_one_through() {
    // Two instances, so that the two checks can run at once (on PostgreSQL they do: only the
    // compare-and-swap on the last accepted step keeps the second out).
    let a = spawn_app().await;
    a.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&a, "alice").await;
    let b = a.second_instance().await;
    for round in 0..3 {
        forget_steps(&a).await;
        let (one, two) = (mfa_token(&a, "alice").await, mfa_token(&b, "alice").await);
        let otp = code(&secret, 0);

        let (first, second) = tokio::join!(otp_grant(&a, &one, &otp), otp_grant(&b, &two, &otp));

        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::BAD_REQUEST],
            "round {round}"
        );
    }
}

#[tokio::test]
async fn two_concurrent_completions_of_one_mfa_token_let_exactly_one_through() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, codes) = enrol(&app, "alice").await;
    let token = mfa_token(&app, "alice").await;

    let (a, b) = tokio::join!(
        recovery_grant(&app, &token, &codes[0]),
        recovery_grant(&app, &token, &codes[1])
    );

    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
}

#[tokio::test]
async fn bad_mfa_tokens_and_grant_fields_are_refused_and_counted() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, codes) = enrol(&app, "alice").await;

    // Expired: five minutes passed (moved in the database, not waited for).
    let expired = mfa_token(&app, "alice").await;
    {
        use gatehouse::db::schema::pending_logins::dsl as pl;
        app.with_db(|c| {
            let past = gatehouse::domain::clock::now() - chrono::Duration::minutes(6);
            diesel::update(pl::pending_logins)
                .set(pl::expires_at.eq(past))
                .execute(c)
                .unwrap()
        })
        .await;
    }
    let (status, body) = json_of(recovery_grant(&app, &expired, &codes[0]).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Reused.
    let token = mfa_token(&app, "alice").await;
    assert_eq!(
        recovery_grant(&app, &token, &codes[0]).await.status(),
        StatusCode::OK
    );
    let (status, body) = json_of(otp_grant(&app, &token, &code(&secret, 0)).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Unknown.
    let (status, body) = json_of(
        otp_grant(
            &app,
            "bm90LWEtcmVhbC10b2tlbi1hdC1hbGwtbm90LW9uZS0",
            "123456",
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Wrong fields: no mfa_token, no otp, the other grant's field, an empty token.
    let token = mfa_token(&app, "alice").await;
    for body in [
        json!({"grant_type": OTP, "otp": "123456"}),
        json!({"grant_type": RECOVERY, "recovery_code": codes[1]}),
        json!({"grant_type": OTP, "mfa_token": token}),
        json!({"grant_type": OTP, "mfa_token": token, "recovery_code": codes[1]}),
        json!({"grant_type": RECOVERY, "mfa_token": token, "otp": "123456"}),
        json!({"grant_type": OTP, "mfa_token": "", "otp": "123456"}),
        json!({"grant_type": OTP, "mfa_token": token, "otp": 123456}),
    ] {
        let (status, answer) = json_of(post_token(&app, body.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"], "invalid_request", "{body}: {answer}");
    }
    // As a form too.
    let resp = api_client()
        .post(app.url("/api/token"))
        .form(&[
            ("grant_type", RECOVERY),
            ("mfa_token", &token),
            ("recovery_code", &codes[1]),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // The expired, reused and unknown tokens counted: three failures of alice's five.
    let failures = app
        .with_db(|c| {
            use gatehouse::db::schema::login_failures::dsl as lf;
            lf::login_failures
                .filter(lf::kind.eq("user"))
                .filter(lf::subject.eq("alice"))
                .select(lf::failures)
                .first::<i32>(c)
                .optional()
                .unwrap()
        })
        .await;
    assert_eq!(
        failures, None,
        "the completed sign-in cleared alice's count"
    );
    let ip_failures = app
        .with_db(|c| {
            use gatehouse::db::schema::login_failures::dsl as lf;
            lf::login_failures
                .filter(lf::kind.eq("ip"))
                .select(lf::failures)
                .first::<i32>(c)
                .unwrap()
        })
        .await;
    assert_eq!(ip_failures, 3, "expired, reused and unknown tokens count");
}

#[tokio::test]
async fn an_mfa_completion_held_open_fails_once_its_token_was_used_elsewhere() {
    // Arrange: a completion with a valid code whose body is held back.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, codes) = enrol(&app, "alice").await;
    let token = mfa_token(&app, "alice").await;
    let otp = code(&secret, 0);
    let held = HeldRequest::open(
        &app,
        "/api/token",
        "unrelated=1",
        &[("grant_type", OTP), ("mfa_token", &token), ("otp", &otp)],
    )
    .await;

    // Act: the token is used elsewhere meanwhile, then the held body ends.
    assert_eq!(
        recovery_grant(&app, &token, &codes[0]).await.status(),
        StatusCode::OK
    );
    let late = held.finish().await;

    // Assert
    assert_eq!(late.status, 400, "{}", late.head);
    // The held code was not spent: it still completes a new sign-in.
    let fresh = mfa_token(&app, "alice").await;
    assert_eq!(otp_grant(&app, &fresh, &otp).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn basic_is_refused_for_mfa_users_unless_they_are_service_accounts() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.auth.basic = true;
        s.lockout.max_failures = 3;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    enrol(&app, "alice").await;
    let me = || async {
        api_client()
            .get(app.url("/api/me"))
            .header("authorization", basic("alice", PASSWORD))
            .send()
            .await
            .unwrap()
    };

    // Act + Assert: refused, and not counted (more times than the limit).
    for _ in 0..4 {
        let resp = me().await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let (_, body) = json_of(resp).await;
        assert_eq!(
            body["error_description"], "second factor required",
            "{body}"
        );
    }
    let out = app.cli(&["user", "service", "alice", "on"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp = me().await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, body) = json_of(resp).await;
    assert_eq!(body["via"], "basic");
    // A wrong password is still a failure.
    let wrong = api_client()
        .get(app.url("/api/me"))
        .header("authorization", basic("alice", WRONG))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // The admin API shows the flag.
    let (admin, _) = app.tokens_for("admin", &app.admin_password).await;
    let users: Value = api_client()
        .get(app.url("/api/users"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alice = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap();
    assert_eq!(alice["service"], true);
}

#[tokio::test]
async fn service_accounts_are_made_by_the_cli_and_the_admin_api() {
    let app = spawn_app().await;
    let out = app.cli(
        &["user", "add", "robot", "--service", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(app.find_user("robot").await.unwrap().service);
    let (admin, _) = app.tokens_for("admin", &app.admin_password).await;

    let (status, body) = json_of(
        api(
            &app,
            reqwest::Method::POST,
            "/api/users",
            &admin,
            Some(json!({"username": "robot2", "password": PASSWORD, "service": true})),
        )
        .await,
    )
    .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["service"], true);
    assert!(app.find_user("robot2").await.unwrap().service);
    let out = app.cli(&["user", "service", "robot2", "off"], None);
    assert!(out.status.success());
    assert!(!app.find_user("robot2").await.unwrap().service);
}

#[tokio::test]
async fn require_mfa_leads_api_clients_to_enrolment_first() {
    // Arrange
    let app = spawn_app_with(|s| s.auth.require_mfa = gatehouse::config::RequireMfa::All).await;
    app.create_user("alice", PASSWORD, false).await;

    // Act: the password grant holds the sign-in for enrolment.
    let (status, body) = json_of(app.password_grant("alice", PASSWORD).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "mfa_enrollment_required");
    let token = body["mfa_token"].as_str().unwrap().to_string();

    // Assert: the token works only on /api/account/totp*.
    assert_eq!(app.me(&token).await.status(), StatusCode::UNAUTHORIZED);
    let (status, answer) = json_of(otp_grant(&app, &token, "123456").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let delete = api(
        &app,
        reqwest::Method::DELETE,
        "/api/account/totp",
        &token,
        None,
    )
    .await;
    assert_eq!(delete.status(), StatusCode::UNAUTHORIZED);
    let (status, started) = json_of(
        api(
            &app,
            reqwest::Method::POST,
            "/api/account/totp",
            &token,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let secret = started["secret"].as_str().unwrap().to_string();
    let wrong = api(
        &app,
        reqwest::Method::POST,
        "/api/account/totp/confirm",
        &token,
        Some(json!({"code": "000000"})),
    )
    .await;
    let (status, wrong_body) = json_of(wrong).await;
    assert_eq!(
        (status, wrong_body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, confirmed) = json_of(
        api(
            &app,
            reqwest::Method::POST,
            "/api/account/totp/confirm",
            &token,
            Some(json!({"code": code(&secret, 0)})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
    // Enrolled: the same token now completes the sign-in with a later code.
    let (status, pair) = json_of(otp_grant(&app, &token, &code(&secret, 1)).await).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    // And no longer enrols anything.
    let again = api(
        &app,
        reqwest::Method::POST,
        "/api/account/totp",
        &token,
        None,
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn require_mfa_leads_browsers_to_enrolment_and_nowhere_else() {
    // Arrange: only admins must.
    let app = spawn_app_with(|s| s.auth.require_mfa = gatehouse::config::RequireMfa::Admins).await;
    app.create_user("plain", PASSWORD, false).await;
    app.create_user("boss", PASSWORD, true).await;
    let plain = app.browser();
    assert_eq!(location(&plain.login("plain", PASSWORD).await), "/");
    let browser = app.browser();

    // Act
    let resp = browser.login_next("boss", PASSWORD, "/admin").await;

    // Assert: the enrolment page, with an inline QR code, and every page leads there.
    assert_eq!(location(&resp), "/login/mfa");
    for path in ["/", "/account", "/admin"] {
        assert_eq!(location(&browser.get(path).await), "/login/mfa", "{path}");
    }
    let page = browser.get("/login/mfa").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg "), "{html}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let secret = html
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_string();
    // Shown again on reload: the same secret.
    assert!(
        browser
            .get("/login/mfa")
            .await
            .text()
            .await
            .unwrap()
            .contains(&secret)
    );
    let wrong = browser
        .submit("/login/mfa", "/login/mfa", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let done = browser
        .submit("/login/mfa", "/login/mfa", &[("code", &code(&secret, 0))])
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let shown = done.text().await.unwrap();
    assert_eq!(shown.matches("<li><code>").count(), 10, "{shown}");
    assert!(shown.contains("href=\"/admin\""), "{shown}");
    assert!(signed_in_as(&browser, "boss").await);
    // The next sign-in asks for the code.
    let later = app.browser();
    assert_eq!(location(&later.login("boss", PASSWORD).await), "/login/mfa");
}

#[tokio::test]
async fn turning_totp_off_ends_the_other_sessions_and_families_but_not_this_one() {
    // Arrange: this browser, another browser, and an API family.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;
    let this = browser_sign_in(&app, "alice", &secret, 0).await;
    let other = browser_sign_in(&app, "alice", &secret, 1).await;
    forget_steps(&app).await;
    let token = mfa_token(&app, "alice").await;
    let (_, pair) = json_of(otp_grant(&app, &token, &code(&secret, 0)).await).await;
    let access = pair["access_token"].as_str().unwrap().to_string();

    // Act: signed in moments ago, no password needed.
    let resp = this.submit("/account", "/account/totp/remove", &[]).await;

    // Assert
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&this, "alice").await);
    assert!(!signed_in_as(&other, "alice").await);
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh_grant(pair["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let page = this.get("/account").await.text().await.unwrap();
    assert!(page.contains("Set up an authenticator app"), "{page}");
    // The password alone signs in again.
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn regenerating_codes_over_json_keeps_the_callers_family_and_ends_the_others() {
    // Arrange: two API families and a browser.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, old_codes) = enrol(&app, "alice").await;
    let t1 = mfa_token(&app, "alice").await;
    let (_, mine) = json_of(otp_grant(&app, &t1, &code(&secret, 0)).await).await;
    let t2 = mfa_token(&app, "alice").await;
    let (_, theirs) = json_of(otp_grant(&app, &t2, &code(&secret, 1)).await).await;
    forget_steps(&app).await;
    let browser = browser_sign_in(&app, "alice", &secret, 0).await;
    let access = mine["access_token"].as_str().unwrap();

    // Act
    let (status, body) = json_of(
        api(
            &app,
            reqwest::Method::POST,
            "/api/account/totp/recovery-codes",
            access,
            None,
        )
        .await,
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_codes = body["recovery_codes"].as_array().unwrap();
    assert_eq!(new_codes.len(), 10);
    assert_eq!(
        app.me(access).await.status(),
        StatusCode::OK,
        "the caller stays"
    );
    let (status, _) = json_of(
        app.refresh_grant(mine["refresh_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the caller's family stays");
    let their_access = theirs["access_token"].as_str().unwrap();
    assert_eq!(
        app.me(their_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(!signed_in_as(&browser, "alice").await);
    // The old set is void, the new one works.
    let token = mfa_token(&app, "alice").await;
    assert_eq!(
        recovery_grant(&app, &token, &old_codes[5]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        recovery_grant(&app, &token, new_codes[0].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn factor_changes_need_the_password_once_the_sign_in_is_ten_minutes_old() {
    // Arrange: a family that signed in 11 minutes ago, refreshed since (a refresh is not a
    // sign-in: the new token carries the old auth_time).
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (_, codes) = enrol(&app, "alice").await;
    let token = mfa_token(&app, "alice").await;
    let (_, pair) = json_of(recovery_grant(&app, &token, &codes[0]).await).await;
    {
        use gatehouse::db::schema::refresh_tokens::dsl as rt;
        app.with_db(move |c| {
            let past = gatehouse::domain::clock::now() - chrono::Duration::minutes(11);
            diesel::update(rt::refresh_tokens.filter(rt::user_id.eq(alice.id)))
                .set(rt::auth_time.eq(Some(past)))
                .execute(c)
                .unwrap()
        })
        .await;
    }
    let (status, refreshed) = json_of(
        app.refresh_grant(pair["refresh_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let access = refreshed["access_token"].as_str().unwrap().to_string();
    let delete = |body: Option<Value>| {
        let access = access.clone();
        let app = &app;
        async move {
            api(
                app,
                reqwest::Method::DELETE,
                "/api/account/totp",
                &access,
                body,
            )
            .await
        }
    };

    // Act + Assert
    let (status, body) = json_of(delete(None).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = json_of(delete(Some(json!({"password": WRONG}))).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let done = delete(Some(json!({"password": PASSWORD}))).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.me(&access).await.status(),
        StatusCode::OK,
        "the caller stays"
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn admins_reset_second_factors_from_the_cli_the_page_and_the_api() {
    // Arrange
    let app = spawn_app_with(crate::caches::with_bound).await;
    for name in ["alice", "bob", "carol"] {
        app.create_user(name, PASSWORD, false).await;
    }
    let (secret, _) = enrol(&app, "alice").await;
    enrol(&app, "bob").await;
    enrol(&app, "carol").await;
    let alice_browser = browser_sign_in(&app, "alice", &secret, 0).await;

    // CLI
    let shown = app.cli(&["user", "mfa", "alice"], None);
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(shown.contains("totp: on"), "{shown}");
    assert!(shown.contains("recovery codes left: 10"), "{shown}");
    let out = app.cli(&["user", "mfa-reset", "alice"], None);
    let reset = std::time::Instant::now();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Her sessions end (the CLI is another process: within cache.max_staleness).
    crate::caches::refused_within_bound(reset, "alice's session", || async {
        !signed_in_as(&alice_browser, "alice").await
    })
    .await;
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    let shown = app.cli(&["user", "mfa", "alice"], None);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("totp: off"));

    // The admin page.
    let admin = app.browser();
    assert_eq!(
        location(&admin.login("admin", &app.admin_password).await),
        "/"
    );
    let bob = app.find_user("bob").await.unwrap();
    let page = admin.get("/admin").await.text().await.unwrap();
    assert!(
        page.contains(&format!("/admin/users/{}/mfa-reset", bob.id)),
        "{page}"
    );
    let resp = admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/mfa-reset", bob.id),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.password_grant("bob", PASSWORD).await.status(),
        StatusCode::OK
    );

    // The admin JSON API.
    let carol = app.find_user("carol").await.unwrap();
    let (admin_token, _) = app.tokens_for("admin", &app.admin_password).await;
    let (alice_token, _) = app.tokens_for("alice", PASSWORD).await;
    let denied = api(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/users/{}/mfa", carol.id),
        &alice_token,
        None,
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let reset = api(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/users/{}/mfa", carol.id),
        &admin_token,
        None,
    )
    .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.password_grant("carol", PASSWORD).await.status(),
        StatusCode::OK
    );
    let missing = api(
        &app,
        reqwest::Method::DELETE,
        "/api/users/999999/mfa",
        &admin_token,
        None,
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn totp_enrolment_on_the_account_page_shows_a_qr_code_and_the_codes_once() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    // Act
    let started = browser.submit("/account", "/account/totp", &[]).await;
    assert_eq!(started.status(), StatusCode::OK);
    let html = started.text().await.unwrap();
    let secret = html
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_string();
    let wrong = browser
        .submit("/account", "/account/totp/confirm", &[("code", "000000")])
        .await;
    let confirmed = browser
        .submit(
            "/account",
            "/account/totp/confirm",
            &[("code", &code(&secret, 0))],
        )
        .await;

    // Assert
    assert!(html.contains("<svg "), "{html}");
    assert!(html.contains("role=\"img\""), "{html}");
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(confirmed.status(), StatusCode::OK);
    let shown = confirmed.text().await.unwrap();
    assert_eq!(shown.matches("<li><code>").count(), 10, "{shown}");
    let account = browser.get("/account").await.text().await.unwrap();
    assert!(account.contains("10 unused recovery codes"), "{account}");
    assert!(!account.contains(&secret), "the secret is not shown again");
    // Enrolling ended nothing: this browser is still signed in.
    assert!(signed_in_as(&browser, "alice").await);
    let token = mfa_token(&app, "alice").await;
    assert_eq!(
        otp_grant(&app, &token, &code(&secret, 1)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_totp_secret_is_sealed_at_rest_and_reseal_moves_it() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;
    let decoded = Secret::Encoded(secret.clone()).to_bytes().unwrap();

    // Act: what a database dump shows.
    let (sealed, sealed_with) = app
        .with_db(move |c| {
            use gatehouse::db::schema::totp_secrets::dsl as ts;
            ts::totp_secrets
                .filter(ts::user_id.eq(alice.id))
                .select((ts::sealed, ts::sealed_with))
                .first::<(Vec<u8>, String)>(c)
                .unwrap()
        })
        .await;

    // Assert
    assert!(!String::from_utf8_lossy(&sealed).contains(&secret));
    assert!(
        !sealed
            .windows(decoded.len())
            .any(|w| w == decoded.as_slice())
    );
    assert!(sealed.len() >= decoded.len() + 12 + 16, "nonce and tag");
    // Re-sealed under a prepended secret, the old one can go.
    let path = app.settings.master_secret_file();
    let old = std::fs::read_to_string(&path).unwrap();
    let new_line = "ab".repeat(32);
    std::fs::write(&path, format!("{new_line}\n{old}")).unwrap();
    let out = app.cli(&["keys", "reseal"], None);
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("1 TOTP secret(s)"), "{printed}");
    std::fs::write(&path, format!("{new_line}\n")).unwrap();
    let resealed_with = app
        .with_db(move |c| {
            use gatehouse::db::schema::totp_secrets::dsl as ts;
            ts::totp_secrets
                .filter(ts::user_id.eq(alice.id))
                .select(ts::sealed_with)
                .first::<String>(c)
                .unwrap()
        })
        .await;
    assert_ne!(resealed_with, sealed_with);
    let b = app.second_instance().await;
    let token = mfa_token(&b, "alice").await;
    assert_eq!(
        otp_grant(&b, &token, &code(&secret, 0)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn second_factor_metrics_and_audit_count_outcomes() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, codes) = enrol(&app, "alice").await;
    let token = mfa_token(&app, "alice").await;
    otp_grant(&app, &token, "000000").await;
    otp_grant(&app, &token, &code(&secret, 0)).await;
    let token = mfa_token(&app, "alice").await;
    recovery_grant(&app, &token, &codes[0]).await;

    let metrics = api_client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    for line in [
        "gatehouse_second_factor_total{factor=\"totp\",result=\"failed\"} 1",
        "gatehouse_second_factor_total{factor=\"totp\",result=\"ok\"} 1",
        "gatehouse_second_factor_total{factor=\"recovery_code\",result=\"ok\"} 1",
        "gatehouse_mfa_enrolments_total 1",
        "gatehouse_recovery_codes_used_total 1",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
}

/// Issue 13: an application's sign-in (`/authorize`) goes through the second step like any
/// other, comes back to `/authorize`, and the ID token says which factors were used.
#[tokio::test]
async fn an_app_sign_in_passes_the_second_step_and_its_id_token_names_the_factors() {
    use crate::oidc::{authorize_url, exchange, jwt_part, pkce, query_param, register};
    // Arrange: alice has TOTP; a trusted client (no consent page).
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (secret, _) = enrol(&app, "alice").await;
    let client = register(&app, false, true).await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &app,
        &client,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let browser = app.browser();

    // Act: /authorize → sign in → second step → back to /authorize → the client.
    let resp = browser.client.get(&url).send().await.unwrap();
    let next = query_param(&location(&resp), "next").expect("sent to sign in");
    let resp = browser.login_next("alice", PASSWORD, &next).await;
    assert_eq!(location(&resp), "/login/mfa", "the password is not enough");
    let done = browser
        .submit("/login/mfa", "/login/mfa", &[("code", &code(&secret, 0))])
        .await;
    assert_eq!(crate::helpers::signed_in_to(done).await, next);
    let back = browser.get(&next).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let code = query_param(&location(&back), "code").expect("a code");
    let tokens: Value = exchange(&app, &client, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();

    // Assert
    let claims = jwt_part(tokens["id_token"].as_str().expect("an ID token"), 1);
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{claims}");
}

/// The same application sign-in stopped at the second step hands out nothing: `/authorize`
/// leads back to the second step, never to the client with a code.
#[tokio::test]
async fn an_app_sign_in_waiting_for_its_second_step_gets_no_code() {
    use crate::oidc::{authorize_url, register};
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    enrol(&app, "alice").await;
    let client = register(&app, false, true).await;
    let url = authorize_url(&app, &client, &[]);
    let browser = app.browser();
    let resp = browser.client.get(&url).send().await.unwrap();
    let next = crate::oidc::query_param(&location(&resp), "next").unwrap();
    browser.login_next("alice", PASSWORD, &next).await;

    let again = browser.get(&next).await;

    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&again).starts_with("/login"),
        "back to signing in: {}",
        location(&again)
    );
    let none = browser.get(&format!("{next}&prompt=none")).await;
    let back = location(&none);
    assert!(back.starts_with(crate::oidc::REDIRECT), "{back}");
    assert_eq!(
        crate::oidc::query_param(&back, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(crate::oidc::query_param(&back, "code"), None);
}

//! Requests that overlap a revocation or arrive in a burst (issue: close the races). Each test
//! reproduces one attack over real sockets: a body held open across someone else's change, a
//! burst of concurrent guesses, sign-ins racing a password change.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{HeldRequest, TestApp, api_client, location, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";
const ATTACKER_PASSWORD: &str = "the attacker's choice";

/// The store's sessions of a user (any store).
async fn stored_sessions(app: &TestApp, user_id: i64) -> usize {
    app.state
        .sessions
        .list_for_user(user_id)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_password_change_held_open_across_the_owners_change_changes_nothing() {
    // Arrange: the owner and an attacker who knows the old password, both signed in.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (owner, attacker) = (app.browser(), app.browser());
    owner.login("alice", PASSWORD).await;
    attacker.login("alice", PASSWORD).await;
    let token = attacker.csrf("/account").await;
    let cookie = attacker.cookie_header().unwrap();
    let held = HeldRequest::open(
        &app,
        "/account/password",
        &cookie,
        &[
            ("current_password", PASSWORD),
            ("new_password", ATTACKER_PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;

    // Act: the owner changes the password (signing the attacker out), then the held body ends.
    let changed = owner
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), "/account");
    let late = held.finish().await;

    // Assert: the attacker is sent to sign in again; nothing changed.
    assert_eq!(late.status, 303, "{late:?}");
    assert!(
        late.header_values("location")
            .iter()
            .all(|l| l.starts_with("/login")),
        "the held change went through: {late:?}"
    );
    assert_eq!(
        app.password_grant("alice", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.password_grant("alice", ATTACKER_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(owner.get("/account").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_action_held_open_across_the_admins_demotion_does_nothing() {
    // Arrange: a second admin, and a target user.
    let app = spawn_app().await;
    let rogue = app.create_user("rogue", PASSWORD, true).await;
    let target = app.create_user("target", PASSWORD, false).await;
    let (admin, rogue_browser) = (app.browser(), app.browser());
    admin.login("admin", &app.admin_password).await;
    rogue_browser.login("rogue", PASSWORD).await;
    let token = rogue_browser.csrf("/admin").await;
    let held = HeldRequest::open(
        &app,
        &format!("/admin/users/{}/disable", target.id),
        &rogue_browser.cookie_header().unwrap(),
        &[("csrf_token", &token), ("confirm", "yes")],
    )
    .await;

    // Act
    let demoted = admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/revoke-admin", rogue.id),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::SEE_OTHER);
    let late = held.finish().await;

    // Assert
    assert_ne!(late.header_values("location"), vec!["/admin".to_string()]);
    assert!(!app.find_user("target").await.unwrap().disabled);
}

/// The ids of the sessions `/account` lists, this browser's first.
pub(crate) async fn listed_sessions(browser: &crate::helpers::Browser) -> Vec<String> {
    let page = browser.get("/account").await.text().await.unwrap();
    page.split("/account/sessions/")
        .skip(1)
        .filter_map(|rest| rest.split('/').next().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_request_held_open_across_a_logout_does_not_bring_the_session_back() {
    // Arrange: the laptop holds a request that would write its session (ending the phone's
    // session leaves a notice in it), then signs out.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (laptop, phone) = (app.browser(), app.browser());
    laptop.login("alice", PASSWORD).await;
    phone.login("alice", PASSWORD).await;
    let ids = listed_sessions(&laptop).await;
    assert_eq!(ids.len(), 2);
    let cookie = laptop.cookie_header().unwrap();
    let token = laptop.csrf("/account").await;
    let held = HeldRequest::open(
        &app,
        &format!("/account/sessions/{}/end", ids[1]),
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;

    // Act
    let out = laptop.submit("/account", "/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let late = held.finish().await;

    // Assert: the signed-out laptop did not act, and no cookie of its answer signs in.
    assert_eq!(phone.get("/").await.status(), StatusCode::OK, "{late:?}");
    assert_eq!(
        laptop.get_with_cookie("/", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );
    for set in late.header_values("set-cookie") {
        let pair = set.split(';').next().unwrap_or_default();
        assert_eq!(
            laptop.get_with_cookie("/", pair).await.status(),
            StatusCode::SEE_OTHER,
            "a cookie from the held answer signs in: {set}"
        );
    }
}

#[tokio::test]
async fn a_session_ended_from_the_account_page_stays_ended_after_its_held_request() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let (laptop, phone) = (app.browser(), app.browser());
    laptop.login("alice", PASSWORD).await;
    phone.login("alice", PASSWORD).await;
    let phone_cookie = phone.cookie_header().unwrap();
    let phone_token = phone.csrf("/account").await;
    // The phone holds a request that would write its session (a flash notice).
    let laptop_page = laptop.get("/account").await.text().await.unwrap();
    let laptop_session = laptop_page
        .split("/account/sessions/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let held = HeldRequest::open(
        &app,
        &format!("/account/sessions/{laptop_session}/end"),
        &phone_cookie,
        &[("csrf_token", &phone_token)],
    )
    .await;
    // The laptop ends the phone's session.
    let listed = laptop.get("/account").await.text().await.unwrap();
    let ids: Vec<String> = listed
        .split("/account/sessions/")
        .skip(1)
        .filter_map(|rest| rest.split('/').next().map(str::to_string))
        .collect();
    let phone_id = ids
        .iter()
        .find(|id| **id != laptop_session)
        .expect("the phone's session is listed")
        .clone();
    let ended = laptop
        .submit(
            "/account",
            &format!("/account/sessions/{phone_id}/end"),
            &[],
        )
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);

    let late = held.finish().await;

    assert_eq!(
        stored_sessions(&app, alice.id).await,
        1,
        "only the laptop's session is left: {late:?}"
    );
    assert_eq!(laptop.get("/").await.status(), StatusCode::OK);
    assert_eq!(
        phone.get_with_cookie("/", &phone_cookie).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_burst_of_concurrent_wrong_guesses_runs_at_most_the_allowed_checks() {
    // Arrange: a real bcrypt cost, so that guesses overlap.
    let app = spawn_app_with(|s| {
        s.server.workers = Some(2);
        s.password.bcrypt_cost = 10;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;

    // Act
    let guesses = (0..20)
        .map(|i| app.password_grant("alice", if i == 19 { PASSWORD } else { "wrong guess!" }));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();

    // Assert: every answer is a check or a lock, and at most five were checked.
    let checked = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 5, "{checked} guesses were checked: {statuses:?}");
    assert!(
        statuses.iter().all(|s| [
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::OK
        ]
        .contains(s)),
        "{statuses:?}"
    );
    let after = app.password_grant("alice", PASSWORD).await;
    if statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count()
        == 5
    {
        assert_eq!(after.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn wrong_current_passwords_on_the_account_page_lead_to_a_lock() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    for _ in 0..5 {
        let wrong = browser
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", "not it at all"),
                    ("new_password", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let right = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;

    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(right.headers().contains_key("retry-after"));
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the username is locked on every door"
    );
}

#[tokio::test]
async fn anonymous_visits_store_no_session() {
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();

    let mut set_cookies = Vec::new();
    for path in ["/login", "/register", "/login?next=%2Faccount", "/"] {
        let resp = browser.get(path).await;
        set_cookies.extend(
            resp.headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_string()),
        );
    }
    let failed = browser.login("alice", "wrong password!").await;
    set_cookies.extend(
        failed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string()),
    );

    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies
            .iter()
            .all(|c| !c.starts_with("gatehouse_session=")),
        "a session was stored: {set_cookies:?}"
    );
    if app.settings.session.store == gatehouse::config::SessionStoreKind::Database {
        use diesel::prelude::*;
        let rows: i64 = app
            .with_db(|c| {
                gatehouse::db::schema::sessions::table
                    .count()
                    .get_result(c)
                    .unwrap()
            })
            .await;
        assert_eq!(rows, 0);
    }
    // The stateless form still signs in.
    assert_eq!(
        browser.login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_sign_in_form_token_from_another_browser_is_refused() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (victim, attacker) = (app.browser(), app.browser());
    let attackers_token = attacker.csrf("/login").await;
    victim.get("/login").await;

    let resp = victim
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", &attackers_token),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn registrations_are_throttled_per_address_whatever_their_outcome() {
    let app = spawn_app_with(|s| {
        s.auth.registration = true;
        s.lockout.max_registrations_per_ip = 3;
    })
    .await;
    app.create_user("taken", PASSWORD, false).await;
    let register = async |name: &str| {
        api_client()
            .post(app.url("/api/users"))
            .json(&serde_json::json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
    };

    let first = register("taken").await.status();
    let second = register("bob").await.status();
    let third = register("x!").await.status();
    let fourth = register("carol").await;

    assert_eq!(
        (first, second, third),
        (
            StatusCode::CONFLICT,
            StatusCode::CREATED,
            StatusCode::UNPROCESSABLE_ENTITY
        )
    );
    assert_eq!(fourth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(fourth.headers().contains_key("retry-after"));
    assert!(app.find_user("carol").await.is_none());
    let page = app.browser();
    let refused = page
        .submit(
            "/register",
            "/register",
            &[("username", "dave"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn me_status(app: &TestApp, access: &str) -> StatusCode {
    app.me(access).await.status()
}

#[tokio::test]
async fn access_tokens_end_with_logout_all_admin_sign_out_and_their_familys_revocation() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;

    // Logout-all by the caller.
    let (access, _) = app.tokens_for("alice", PASSWORD).await;
    let (other_access, _) = app.tokens_for("alice", PASSWORD).await;
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);
    let out = api_client()
        .post(app.url("/api/logout-all"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &other_access).await,
        StatusCode::UNAUTHORIZED
    );

    // An admin signs the user out.
    let (access, _) = app.tokens_for("alice", PASSWORD).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/logout", alice.id),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(me_status(&app, &access).await, StatusCode::UNAUTHORIZED);

    // RFC 7009 revocation of the refresh token ends its family's access tokens, not others.
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;
    let (bystander, _) = app.tokens_for("alice", PASSWORD).await;
    api_client()
        .post(app.url("/api/token/revoke"))
        .form(&[("token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(me_status(&app, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &bystander).await, StatusCode::OK);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_access_tokens_of_its_family() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens_for("alice", PASSWORD).await;
    let rotated: Value = app.refresh_grant(&refresh).await.json().await.unwrap();
    let access = rotated["access_token"].as_str().unwrap().to_string();
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);

    let reuse = app.refresh_grant(&refresh).await;

    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    assert_eq!(me_status(&app, &access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_disabled_or_deleted_from_the_cli() {
    let app = spawn_app().await;

    for command in ["disable", "delete"] {
        let out = app.cli(&["user", command, "admin"], None);

        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("last enabled administrator"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let admin = app.find_user("admin").await.unwrap();
    assert!(admin.is_admin && !admin.disabled);

    // With a second admin, one of them may go.
    app.create_user("second", PASSWORD, true).await;
    let out = app.cli(&["user", "disable", "admin"], None);
    let listed = app.cli(&["user", "list", "--json"], None);
    assert!(
        out.status.success(),
        "{} {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&listed.stdout)
    );
    let out = app.cli(&["user", "delete", "second"], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "second is now the last enabled admin"
    );
}

/// Sign-ins with the old password, looping on two tasks while the owner changes it: afterwards
/// nothing born of the old password works and the new password is the one stored.
async fn old_password_logins_race_a_change(app: &TestApp, other: &TestApp) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let looping = |target: &TestApp| {
        let (done, base) = (done.clone(), target.address.clone());
        tokio::spawn(async move {
            let mut refresh_tokens = Vec::new();
            let mut access_tokens = Vec::new();
            let mut sessions = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let resp = api_client()
                    .post(format!("{base}/api/token"))
                    .json(&serde_json::json!({"username": "alice", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                if resp.status() == StatusCode::OK {
                    let body: Value = resp.json().await.unwrap();
                    refresh_tokens.push(body["refresh_token"].as_str().unwrap().to_string());
                    access_tokens.push(body["access_token"].as_str().unwrap().to_string());
                }
                let browser = crate::helpers::Browser::new(&base);
                if browser.login("alice", PASSWORD).await.status() == StatusCode::SEE_OTHER {
                    sessions.push(browser);
                }
            }
            (refresh_tokens, access_tokens, sessions)
        })
    };
    let (first, second) = (looping(app), looping(other));
    // Let each loop sign in at least once with the old password first.
    let owner = app.browser();
    owner.login("alice", PASSWORD).await;
    let changed = owner
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for handle in [first, second] {
        let (refresh_tokens, access_tokens, sessions) = handle.await.unwrap();
        for refresh in refresh_tokens {
            assert_eq!(
                app.refresh_grant(&refresh).await.status(),
                StatusCode::BAD_REQUEST,
                "a family born of the old password still rotates"
            );
        }
        for access in access_tokens {
            assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
        }
        for browser in sessions {
            assert_eq!(
                browser.get("/").await.status(),
                StatusCode::SEE_OTHER,
                "a session born of the old password is still signed in"
            );
        }
    }
    assert_eq!(
        app.password_grant("alice", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        other.password_grant("alice", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sign_ins_with_the_old_password_do_not_survive_its_change() {
    let app = spawn_app_with(|s| {
        s.server.workers = Some(2);
        s.password.bcrypt_cost = 10;
        s.lockout.max_failures = 1000;
        s.lockout.max_failures_per_ip = 1000;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;

    old_password_logins_race_a_change(&app, &app).await;
}

#[tokio::test]
async fn a_cost_upgrade_at_sign_in_never_writes_an_old_password_back() {
    // Two instances on one database at different costs: every sign-in on the second one
    // upgrades the hash, racing the password change on the first.
    let app = spawn_app_with(|s| {
        s.password.bcrypt_cost = 10;
        s.lockout.max_failures = 1000;
        s.lockout.max_failures_per_ip = 1000;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    let mut settings = app.settings.clone();
    settings.password.bcrypt_cost = 11;
    let other = app.second_instance_with(settings).await;

    old_password_logins_race_a_change(&app, &other).await;
}

/// `gatehouse_password_checks_total` as `/metrics` shows it.
async fn password_checks(app: &TestApp) -> u64 {
    let text = api_client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("gatehouse_password_checks_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("password_checks_total in /metrics")
}

#[tokio::test]
async fn a_failed_sign_in_against_a_cheaper_stored_hash_is_padded_to_the_configured_cost() {
    // The configured cost is 5; `create_user` stores hashes at cost 4, as an older setting did.
    let app = spawn_app_with(|s| {
        s.password.bcrypt_cost = 5;
        s.auth.registration = true;
    })
    .await;
    app.create_user("old", PASSWORD, false).await;
    let registered = api_client()
        .post(app.url("/api/users"))
        .json(&serde_json::json!({"username": "current", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);

    let mut cost = Vec::new();
    for name in ["nobody", "current", "old"] {
        let before = password_checks(&app).await;
        let resp = app.password_grant(name, "a wrong password").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
        cost.push(password_checks(&app).await - before);
    }

    // An unknown user and a current hash: one check at cost 5. The cost-4 hash: its own check
    // plus one at cost 5.
    assert_eq!(cost, vec![1, 1, 2]);
}

#[tokio::test]
async fn a_username_cannot_forge_fields_in_the_text_log() {
    // The real binary, logging as text to stderr.
    let server = crate::helpers::ServeProcess::start(&[]).await;
    let base = server.base.clone();
    let forged = "nobody ip=203.0.113.66 event=login_ok user_id=1";

    let resp = api_client()
        .post(format!("{base}/api/token"))
        .json(&serde_json::json!({"username": forged, "password": "whatever it is"}))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let out = server.stop().await;
    let log = String::from_utf8_lossy(&out.stderr);
    let failed: Vec<&str> = log.lines().filter(|l| l.contains("login_failed")).collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert!(
        failed[0].contains(&format!("username={forged:?}")),
        "the username is not quoted: {}",
        failed[0]
    );
    // Outside the quoted value, nothing reads as a successful login.
    let unquoted = log.replace(&format!("{forged:?}"), "\"…\"");
    assert!(!unquoted.contains("login_ok"), "{unquoted}");
}

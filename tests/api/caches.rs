//! The caches of the request path (issue 9): a warm instance answers from memory, and never
//! honours a revoked credential — at once on the instance (or process) that revoked it, within
//! `cache.max_staleness` on every other instance sharing the database, and not at all past
//! that bound when the change feed cannot be read (fail closed).
//!
//! Bounds are checked by the time each request was *sent*: any request sent at least
//! `max_staleness` after the revocation committed must be refused; earlier ones may go either
//! way. No test sleeps for a fixed time; they poll until the answer changes.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, TestApp, api_client, spawn_app, spawn_app_with};
use crate::ops::scrape;

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "another long passphrase";
/// The bound the multi-instance tests run with (short, so that they stay quick).
pub(crate) const BOUND: Duration = Duration::from_millis(400);
/// How long a test polls past the bound before it gives up.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

pub(crate) fn with_bound(s: &mut gatehouse::config::Settings) {
    s.cache.max_staleness = gatehouse::config::HumanDuration(BOUND);
}

/// A user holding a warm bearer token and a warm session, plus a bystander.
struct Holder {
    user_id: i64,
    access: String,
    refresh: String,
    browser: Browser,
}

async fn holder(app: &TestApp, name: &str) -> Holder {
    let user = app.create_user(name, PASSWORD, false).await;
    let (access, refresh) = app.tokens_for(name, PASSWORD).await;
    let browser = app.browser();
    browser.login(name, PASSWORD).await;
    Holder {
        user_id: user.id,
        access,
        refresh,
        browser,
    }
}

/// The same credentials, presented to another instance.
fn on(app: &TestApp, h: &Holder) -> Holder {
    Holder {
        user_id: h.user_id,
        access: h.access.clone(),
        refresh: h.refresh.clone(),
        browser: Browser {
            base: app.address.clone(),
            ..h.browser.clone()
        },
    }
}

pub(crate) async fn me(app: &TestApp, access: &str) -> StatusCode {
    app.me(access).await.status()
}

async fn home(browser: &Browser) -> StatusCode {
    browser.get("/").await.status()
}

/// Serves the holder's token and session twice on `app`, so that both sit in its caches.
async fn warm(app: &TestApp, h: &Holder) {
    for _ in 0..2 {
        assert_eq!(me(app, &h.access).await, StatusCode::OK);
        assert_eq!(home(&h.browser).await, StatusCode::OK);
    }
}

async fn lookups(app: &TestApp, cache: &str, result: &str) -> f64 {
    scrape(app).await.value(
        "gatehouse_cache_lookups_total",
        &[("cache", cache), ("result", result)],
    )
}

/// Polls until `refused` holds for a request; fails if a request sent at least `BOUND` after
/// `since` was still honoured, or if none is refused within `PATIENCE`.
pub(crate) async fn refused_within_bound<F, Fut>(since: Instant, what: &str, mut request: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        let sent = Instant::now();
        if request().await {
            return;
        }
        assert!(
            sent.duration_since(since) < BOUND,
            "{what}: still honoured {:?} after the revocation (bound {BOUND:?})",
            sent.duration_since(since)
        );
        assert!(
            sent.duration_since(since) < PATIENCE,
            "{what}: never refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_warm_instance_answers_bearer_and_session_requests_from_memory() {
    let app = spawn_app().await;
    let alice = holder(&app, "alice").await;
    warm(&app, &alice).await;
    let misses = [
        lookups(&app, "tokens", "miss").await,
        lookups(&app, "users", "miss").await,
        lookups(&app, "families", "miss").await,
        lookups(&app, "sessions", "miss").await,
    ];
    let hits = lookups(&app, "tokens", "hit").await;

    assert_eq!(me(&app, &alice.access).await, StatusCode::OK);
    assert_eq!(home(&alice.browser).await, StatusCode::OK);

    assert_eq!(lookups(&app, "tokens", "hit").await, hits + 1.0);
    assert_eq!(
        [
            lookups(&app, "tokens", "miss").await,
            lookups(&app, "users", "miss").await,
            lookups(&app, "families", "miss").await,
            lookups(&app, "sessions", "miss").await,
        ],
        misses,
        "a warm request read nothing from the database or the store"
    );
}

/// Each way of ending a user's credentials, made through this instance.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    SignOutEverywhereOnTheAccountPage,
    SignOutEverywhereByApi,
    PasswordChange,
    AdminSignOut,
    AdminDisable,
    AdminDelete,
    AdminDemotion,
}

async fn pull(app: &TestApp, h: &Holder, trigger: Trigger) {
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let action = |name: &str| format!("/admin/users/{}/{name}", h.user_id);
    let status = match trigger {
        Trigger::SignOutEverywhereOnTheAccountPage => h
            .browser
            .submit("/account", "/account/logout-all", &[])
            .await
            .status(),
        Trigger::SignOutEverywhereByApi => api_client()
            .post(app.url("/api/logout-all"))
            .bearer_auth(&h.access)
            .send()
            .await
            .unwrap()
            .status(),
        Trigger::PasswordChange => h
            .browser
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", NEW_PASSWORD),
                    ("new_password_confirm", NEW_PASSWORD),
                ],
            )
            .await
            .status(),
        Trigger::AdminSignOut => admin
            .submit("/admin", &action("logout"), &[("confirm", "yes")])
            .await
            .status(),
        Trigger::AdminDisable => admin
            .submit("/admin", &action("disable"), &[("confirm", "yes")])
            .await
            .status(),
        Trigger::AdminDelete => admin
            .submit("/admin", &action("delete"), &[("confirm", "yes")])
            .await
            .status(),
        Trigger::AdminDemotion => admin
            .submit("/admin", &action("revoke-admin"), &[("confirm", "yes")])
            .await
            .status(),
    };
    assert!(
        status.is_success() || status.is_redirection(),
        "{trigger:?}: {status}"
    );
}

#[tokio::test]
async fn every_revocation_ends_cached_credentials_at_once_on_the_instance_that_made_it() {
    for trigger in [
        Trigger::SignOutEverywhereOnTheAccountPage,
        Trigger::SignOutEverywhereByApi,
        Trigger::PasswordChange,
        Trigger::AdminSignOut,
        Trigger::AdminDisable,
        Trigger::AdminDelete,
        Trigger::AdminDemotion,
    ] {
        let app = spawn_app().await;
        let alice = holder(&app, "alice").await;
        let bob = holder(&app, "bob").await;
        if let Trigger::AdminDemotion = trigger {
            app.state
                .accounts
                .set_admin(gatehouse::accounts::By::Operator, alice.user_id, true)
                .await
                .unwrap();
        }
        warm(&app, &alice).await;
        warm(&app, &bob).await;

        pull(&app, &alice, trigger).await;

        assert_eq!(
            me(&app, &alice.access).await,
            StatusCode::UNAUTHORIZED,
            "{trigger:?}: the cached token still works"
        );
        // The browser that changed its own password carries its session over; every other
        // trigger ends it.
        if !matches!(trigger, Trigger::PasswordChange) {
            assert_eq!(
                home(&alice.browser).await,
                StatusCode::SEE_OTHER,
                "{trigger:?}: the cached session still works"
            );
        }
        assert_eq!(
            app.refresh_grant(&alice.refresh).await.status(),
            StatusCode::BAD_REQUEST,
            "{trigger:?}"
        );
        assert_eq!(me(&app, &bob.access).await, StatusCode::OK, "{trigger:?}");
        assert_eq!(home(&bob.browser).await, StatusCode::OK, "{trigger:?}");
    }
}

#[tokio::test]
async fn a_password_change_ends_the_other_cached_sessions_at_once() {
    let app = spawn_app().await;
    let alice = holder(&app, "alice").await;
    let phone = app.browser();
    phone.login("alice", PASSWORD).await;
    warm(&app, &alice).await;
    assert_eq!(home(&phone).await, StatusCode::OK);
    assert_eq!(home(&phone).await, StatusCode::OK);

    pull(&app, &alice, Trigger::PasswordChange).await;

    assert_eq!(home(&phone).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_ended_family_refuses_its_cached_token_at_once_here_and_within_the_bound_elsewhere() {
    let a = spawn_app_with(with_bound).await;
    let b = a.second_instance().await;
    let alice = holder(&a, "alice").await;
    warm(&a, &alice).await;
    warm(&b, &on(&b, &alice)).await;

    let resp = api_client()
        .post(a.url("/api/token/revoke"))
        .form(&[("token", alice.refresh.as_str())])
        .send()
        .await
        .unwrap();
    let revoked = Instant::now();

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(me(&a, &alice.access).await, StatusCode::UNAUTHORIZED);
    refused_within_bound(revoked, "token on B", || async {
        me(&b, &alice.access).await == StatusCode::UNAUTHORIZED
    })
    .await;
    // Only the family ended: the session stands.
    assert_eq!(home(&alice.browser).await, StatusCode::OK);
}

#[tokio::test]
async fn a_revocation_on_one_instance_holds_on_another_within_the_bound() {
    let a = spawn_app_with(with_bound).await;
    let b = a.second_instance().await;
    let alice = holder(&a, "alice").await;
    let bob = holder(&a, "bob").await;
    let alice_on_b = on(&b, &alice);
    let bob_on_b = on(&b, &bob);
    warm(&b, &alice_on_b).await;
    warm(&b, &bob_on_b).await;

    pull(&a, &alice, Trigger::AdminSignOut).await;
    let revoked = Instant::now();

    refused_within_bound(revoked, "token on B", || async {
        me(&b, &alice.access).await == StatusCode::UNAUTHORIZED
    })
    .await;
    refused_within_bound(revoked, "session on B", || async {
        home(&alice_on_b.browser).await == StatusCode::SEE_OTHER
    })
    .await;
    assert_eq!(me(&b, &bob.access).await, StatusCode::OK);
    assert_eq!(home(&bob_on_b.browser).await, StatusCode::OK);
}

#[tokio::test]
async fn a_logout_on_one_instance_ends_the_session_another_has_cached_within_the_bound() {
    let a = spawn_app_with(with_bound).await;
    let b = a.second_instance().await;
    let alice = holder(&a, "alice").await;
    let alice_on_b = on(&b, &alice);
    warm(&b, &alice_on_b).await;
    // The cookie as B knows it, before the logout clears it from the shared jar.
    let cookie = alice.browser.cookie_header().unwrap();

    let resp = alice.browser.submit("/", "/logout", &[]).await;
    let logged_out = Instant::now();

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    refused_within_bound(logged_out, "session on B", || async {
        Browser::new(&b.address)
            .get_with_cookie("/", &cookie)
            .await
            .status()
            == StatusCode::SEE_OTHER
    })
    .await;
}

#[tokio::test]
async fn a_cli_revocation_holds_on_a_running_instance_within_the_bound() {
    for command in ["disable", "passwd"] {
        let app = spawn_app_with(with_bound).await;
        let alice = holder(&app, "alice").await;
        warm(&app, &alice).await;

        let out = match command {
            "passwd" => app.cli(
                &["user", "passwd", "alice", "--password-stdin"],
                Some(&format!("{NEW_PASSWORD}\n")),
            ),
            _ => app.cli(&["user", command, "alice"], None),
        };
        let revoked = Instant::now();

        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        refused_within_bound(revoked, "token", || async {
            me(&app, &alice.access).await == StatusCode::UNAUTHORIZED
        })
        .await;
        refused_within_bound(revoked, "session", || async {
            home(&alice.browser).await == StatusCode::SEE_OTHER
        })
        .await;
    }
}

/// `exp` of a JWT, read without verifying (the test's own token).
fn expiry_of(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["exp"].as_i64().unwrap()
}

#[tokio::test]
async fn an_expired_token_is_refused_though_it_is_cached() {
    let app = spawn_app_with(|s| {
        s.token.access_ttl = gatehouse::config::HumanDuration(Duration::from_secs(1));
        s.token.leeway = gatehouse::config::HumanDuration(Duration::ZERO);
    })
    .await;
    let alice = holder(&app, "alice").await;
    let exp = expiry_of(&alice.access);
    // First used in its last second (`exp` is whole seconds: good until that second ends), as
    // a token signed just before a second turns is: it must be cached all the same.
    while chrono::Utc::now().timestamp() < exp {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(me(&app, &alice.access).await, StatusCode::OK);
    let hits = lookups(&app, "tokens", "hit").await;

    let started = Instant::now();
    loop {
        let sent = chrono::Utc::now().timestamp();
        let resp = app.me(&alice.access).await;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("expired"), "{challenge}");
            break;
        }
        assert!(sent <= exp, "honoured at {sent}, after its exp {exp}");
        assert!(started.elapsed() < PATIENCE, "never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        lookups(&app, "tokens", "hit").await > hits,
        "the refusal came from the cached entry"
    );
}

#[tokio::test]
async fn with_the_change_feed_unreadable_past_the_bound_cached_facts_are_not_trusted() {
    let a = spawn_app_with(with_bound).await;
    let b = a.second_instance().await;
    let alice = holder(&a, "alice").await;
    let bob = holder(&a, "bob").await;
    assert_eq!(me(&b, &alice.access).await, StatusCode::OK);
    assert_eq!(me(&b, &bob.access).await, StatusCode::OK);
    assert_eq!(me(&b, &alice.access).await, StatusCode::OK);

    // The feed goes away (as on a lost connection), then alice is disabled in a way no feed
    // reports: only a fresh read can see it.
    a.with_db(|conn| {
        diesel::sql_query("ALTER TABLE changes RENAME TO changes_away")
            .execute(conn)
            .unwrap();
    })
    .await;
    let alice_id = alice.user_id;
    a.with_db(move |conn| {
        use gatehouse::db::schema::users;
        diesel::update(users::table.find(alice_id))
            .set(users::disabled.eq(true))
            .execute(conn)
            .unwrap();
    })
    .await;
    let disabled = Instant::now();

    refused_within_bound(disabled, "token on B", || async {
        me(&b, &alice.access).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(
        me(&b, &bob.access).await,
        StatusCode::OK,
        "fresh reads still work"
    );

    a.with_db(|conn| {
        diesel::sql_query("ALTER TABLE changes_away RENAME TO changes")
            .execute(conn)
            .unwrap();
    })
    .await;
    // Back to caching: bob is served from memory again once the feed is read.
    let start = Instant::now();
    loop {
        let hits = lookups(&b, "users", "hit").await;
        assert_eq!(me(&b, &bob.access).await, StatusCode::OK);
        if lookups(&b, "users", "hit").await > hits {
            break;
        }
        assert!(start.elapsed() < PATIENCE, "the cache never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(me(&b, &alice.access).await, StatusCode::UNAUTHORIZED);
}

/// The idle expiry the store holds for the user's only session.
async fn session_expiry(app: &TestApp, user_id: i64) -> chrono::NaiveDateTime {
    let sessions = app.state.sessions.list_for_user(user_id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    sessions[0].expires_at
}

#[tokio::test]
async fn the_idle_extension_is_written_once_per_tenth_of_the_timeout_and_still_keeps_users_in() {
    let app = spawn_app().await;
    let user = app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let idle = chrono::Duration::from_std(app.settings.session.idle_timeout.0).unwrap();
    // The database store keeps the expiry to the microsecond; Redis keeps a TTL in seconds.
    let exact = app.settings.session.store == gatehouse::config::SessionStoreKind::Database;
    let written = session_expiry(&app, user.id).await;

    // Requests right after sign-in write nothing.
    assert_eq!(home(&browser).await, StatusCode::OK);
    assert_eq!(home(&browser).await, StatusCode::OK);
    if exact {
        assert_eq!(session_expiry(&app, user.id).await, written);
    }

    // As if the last write was 95% of the timeout ago: the next request extends it.
    app.shift_sessions(user.id, chrono::Duration::zero(), idle * 95 / 100)
        .await;
    assert_eq!(home(&browser).await, StatusCode::OK);
    let extended = session_expiry(&app, user.id).await;
    assert!(
        extended > chrono::Utc::now().naive_utc() + idle * 9 / 10,
        "not extended: {extended}"
    );

    // Idle past the timeout: signed out.
    app.shift_sessions(
        user.id,
        chrono::Duration::zero(),
        idle + chrono::Duration::seconds(1),
    )
    .await;
    assert_eq!(home(&browser).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_write_held_open_on_one_instance_across_a_logout_on_another_does_not_act() {
    // Arrange: the laptop's session is warm on B, where it holds a request that would end the
    // phone's session; then the laptop signs out on A.
    let a = spawn_app().await;
    let b = a.second_instance().await;
    let alice = a.create_user("alice", PASSWORD, false).await;
    let (laptop, phone) = (a.browser(), a.browser());
    laptop.login("alice", PASSWORD).await;
    phone.login("alice", PASSWORD).await;
    let cookie = laptop.cookie_header().unwrap();
    let laptop_on_b = Browser {
        base: b.address.clone(),
        ..laptop.clone()
    };
    assert_eq!(home(&laptop_on_b).await, StatusCode::OK);
    assert_eq!(home(&laptop_on_b).await, StatusCode::OK);
    let ids = crate::races::listed_sessions(&laptop).await;
    assert_eq!(ids.len(), 2);
    let token = laptop.csrf("/account").await;
    let held = crate::helpers::HeldRequest::open(
        &b,
        &format!("/account/sessions/{}/end", ids[1]),
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;

    // Act: the sign-out commits on A; the held body reaches B at once, well inside the bound.
    let out = laptop.submit("/account", "/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let late = held.finish().await;

    // Assert: a write is decided on a fresh read of the store, not on B's cache: the phone's
    // session is still stored (the store is read directly; A may still have it cached).
    let left = a.state.sessions.list_for_user(alice.id).await.unwrap();
    assert_eq!(left.len(), 1, "the phone's session was ended: {late:?}");
    assert_eq!(home(&phone).await, StatusCode::OK);
}

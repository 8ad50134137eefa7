//! Server-side session lifetimes and persistence across restarts.

use chrono::Duration;
use diesel::prelude::*;
use gatehouse::db::schema::sessions;
use gatehouse::domain::clock::now;
use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery";

async fn signed_in_session(app: &TestApp, name: &str) -> (crate::helpers::Browser, i64) {
    let user = app.create_user(name, PASSWORD, false).await;
    let browser = app.browser();
    browser.login(name, PASSWORD).await;
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
    (browser, user.id)
}

#[tokio::test]
async fn a_session_idle_past_its_timeout_is_ended() {
    let app = spawn_app().await;
    let (browser, alice) = signed_in_session(&app, "alice").await;

    // The session was last used longer ago than session.idle_timeout.
    app.shift_sessions(alice, Duration::minutes(31), Duration::minutes(31))
        .await;

    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_new_session_expires_after_the_idle_timeout_and_activity_pushes_it_forward() {
    let app = spawn_app().await;
    let (browser, alice) = signed_in_session(&app, "alice").await;
    let first = app.sessions_of(alice).await;
    assert_eq!(first.len(), 1);
    assert!(now() - first[0].created_at < Duration::minutes(1));
    let idle = first[0].expires_at - now();
    assert!(
        idle > Duration::minutes(29) && idle <= Duration::minutes(30),
        "{idle}"
    );
    // Idle for 29 minutes: one minute left.
    app.shift_sessions(alice, Duration::minutes(29), Duration::minutes(29))
        .await;
    assert!(app.sessions_of(alice).await[0].expires_at < now() + Duration::minutes(2));

    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    let after = app.sessions_of(alice).await;
    assert!(
        after[0].expires_at > now() + Duration::minutes(29),
        "{}",
        after[0].expires_at
    );
}

#[tokio::test]
async fn a_session_older_than_its_absolute_ttl_is_ended_even_if_active() {
    let app = spawn_app().await;
    let (browser, alice) = signed_in_session(&app, "alice").await;

    // Signed in just over session.ttl ago, yet used a moment ago.
    app.shift_sessions(
        alice,
        Duration::hours(12) + Duration::seconds(1),
        Duration::zero(),
    )
    .await;

    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn expired_rows_are_purged() {
    let app = spawn_app().await;
    if app.settings.session.store != gatehouse::config::SessionStoreKind::Database {
        return; // Redis expires its keys itself.
    }
    let _signed_in = signed_in_session(&app, "alice").await;
    app.with_db(|c| {
        diesel::update(sessions::table)
            .set(sessions::expires_at.eq(now() - Duration::seconds(1)))
            .execute(c)
            .unwrap()
    })
    .await;
    let store = gatehouse::session_store::DatabaseSessionStore::new(
        app.db.clone(),
        app.settings.session.ttl.0,
    );

    let purged = store.purge_expired().await.unwrap();

    assert!(purged >= 1);
    let left: i64 = app
        .with_db(|c| sessions::table.count().get_result(c).unwrap())
        .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let app = spawn_app().await;
    let (browser, _) = signed_in_session(&app, "alice").await;

    let app = app.restart().await;
    let browser = crate::helpers::Browser {
        base: app.address.clone(),
        ..browser
    };

    let resp = browser.get("/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Signed in as alice"));
}

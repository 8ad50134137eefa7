//! `GET /admin` and its actions.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, spawn_app};

const PASSWORD: &str = "correct horse battery";

async fn admin_browser(app: &TestApp) -> crate::helpers::Browser {
    let browser = app.browser();
    assert_eq!(
        browser.login("admin", &app.admin_password).await.status(),
        StatusCode::SEE_OTHER
    );
    browser
}

async fn act(browser: &crate::helpers::Browser, id: i64, action: &str) -> reqwest::Response {
    browser
        .submit("/admin", &format!("/admin/users/{id}/{action}"), &[])
        .await
}

#[tokio::test]
async fn the_admin_page_is_for_admins_only() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;

    assert_eq!(alice.get("/admin").await.status(), StatusCode::FORBIDDEN);
    let anonymous = app.browser().get("/admin").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anonymous), "/login?next=%2Fadmin");
    let admin = admin_browser(&app).await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(body.contains("alice") && body.contains("admin"));
}

#[tokio::test]
async fn a_non_admin_cannot_post_actions() {
    let app = spawn_app().await;
    let alice_user = app.create_user("alice", PASSWORD, false).await;
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;

    let resp = alice
        .submit(
            "/",
            &format!("/admin/users/{}/grant-admin", alice_user.id),
            &[],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!app.find_user("alice").await.unwrap().is_admin);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_blocks_login_until_enabled() {
    let app = spawn_app().await;
    let bob_user = app.create_user("bob", PASSWORD, false).await;
    let bob = app.browser();
    bob.login("bob", PASSWORD).await;
    let admin = admin_browser(&app).await;

    let resp = act(&admin, bob_user.id, "disable").await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        admin
            .get("/admin")
            .await
            .text()
            .await
            .unwrap()
            .contains("User bob disabled")
    );
    assert_eq!(bob.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.browser().login("bob", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    act(&admin, bob_user.id, "enable").await;
    assert_eq!(
        app.browser().login("bob", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn deleting_a_user_removes_them_and_their_sessions() {
    let app = spawn_app().await;
    let carl_user = app.create_user("carl", PASSWORD, false).await;
    let carl = app.browser();
    carl.login("carl", PASSWORD).await;
    let admin = admin_browser(&app).await;

    assert_eq!(
        act(&admin, carl_user.id, "delete").await.status(),
        StatusCode::SEE_OTHER
    );

    assert!(app.find_user("carl").await.is_none());
    assert_eq!(carl.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        act(&admin, carl_user.id, "delete").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn granting_and_revoking_admin_changes_access_and_a_demotion_signs_out() {
    let app = spawn_app().await;
    let dora_user = app.create_user("dora", PASSWORD, false).await;
    let dora = app.browser();
    dora.login("dora", PASSWORD).await;
    let admin = admin_browser(&app).await;

    act(&admin, dora_user.id, "grant-admin").await;
    assert_eq!(dora.get("/admin").await.status(), StatusCode::OK);

    // A demotion ends the user's sessions and tokens (tokens carry the roles they were issued
    // with); signed in again, the user is no admin.
    act(&admin, dora_user.id, "revoke-admin").await;
    assert_eq!(dora.get("/admin").await.status(), StatusCode::SEE_OTHER);
    dora.login("dora", PASSWORD).await;
    assert_eq!(dora.get("/admin").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_admin_cannot_lock_themselves_out() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let me = app.find_user("admin").await.unwrap();

    for action in ["disable", "delete", "revoke-admin"] {
        let resp = act(&admin, me.id, action).await;
        assert_eq!(resp.status(), StatusCode::CONFLICT, "{action}");
    }
    let me = app.find_user("admin").await.unwrap();
    assert!(me.is_admin && !me.disabled);
}

#[tokio::test]
async fn unknown_actions_and_users_are_404_and_actions_need_csrf() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let erin = app.create_user("erin", PASSWORD, false).await;

    assert_eq!(
        act(&admin, erin.id, "explode").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        act(&admin, 999_999, "disable").await.status(),
        StatusCode::NOT_FOUND
    );
    let forged = admin
        .post_form(
            &format!("/admin/users/{}/disable", erin.id),
            &[("csrf_token", "nope")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(!app.find_user("erin").await.unwrap().disabled);
}

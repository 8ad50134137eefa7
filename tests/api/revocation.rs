//! Revocation everywhere (issue: hardening): every trigger ends every session and refresh-token
//! family of the user, and nothing of other users.

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, location, spawn_app};

const PASSWORD: &str = "correct horse battery";

/// A user signed in twice on the web and holding a refresh token, plus a bystander.
struct Scene {
    laptop: Browser,
    phone: Browser,
    refresh: String,
    bystander: Browser,
    bystander_refresh: String,
    user_id: i64,
}

async fn scene(app: &TestApp) -> Scene {
    let user = app.create_user("alice", PASSWORD, false).await;
    app.create_user("bob", PASSWORD, false).await;
    let (laptop, phone, bystander) = (app.browser(), app.browser(), app.browser());
    laptop.login("alice", PASSWORD).await;
    phone.login("alice", PASSWORD).await;
    bystander.login("bob", PASSWORD).await;
    let (_, refresh) = app.tokens_for("alice", PASSWORD).await;
    let (_, bystander_refresh) = app.tokens_for("bob", PASSWORD).await;
    Scene {
        laptop,
        phone,
        refresh,
        bystander,
        bystander_refresh,
        user_id: user.id,
    }
}

async fn assert_all_revoked(app: &TestApp, s: &Scene) {
    // The store itself holds none of the user's sessions (checked before any request, which
    // would end a stale session by itself): every trigger went through the revocation seam.
    let left = app.state.sessions.list_for_user(s.user_id).await.unwrap();
    assert!(left.is_empty(), "{} sessions left in the store", left.len());
    assert_eq!(s.laptop.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.phone.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.refresh_grant(&s.refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.bystander.get("/").await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh_grant(&s.bystander_refresh).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_out_everywhere_on_the_account_page() {
    let app = spawn_app().await;
    let s = scene(&app).await;

    let resp = s
        .laptop
        .submit("/account", "/account/logout-all", &[])
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    assert_all_revoked(&app, &s).await;
}

#[tokio::test]
async fn an_admin_signs_a_user_out_everywhere() {
    let app = spawn_app().await;
    let s = scene(&app).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;

    let resp = admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/logout", s.user_id),
            &[("confirm", "yes")],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_all_revoked(&app, &s).await;
    assert_eq!(
        admin.get("/admin").await.status(),
        StatusCode::OK,
        "the admin stays signed in"
    );
}

#[tokio::test]
async fn deleting_a_user_revokes_everything() {
    let app = spawn_app().await;
    let s = scene(&app).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;

    admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/delete", s.user_id),
            &[("confirm", "yes")],
        )
        .await;

    assert_all_revoked(&app, &s).await;
}

#[tokio::test]
async fn the_cli_password_change_revokes_everything() {
    let app = spawn_app().await;
    let s = scene(&app).await;

    let out = app.cli(
        &["user", "passwd", "alice", "--password-stdin"],
        Some("a new long passphrase\n"),
    );

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_all_revoked(&app, &s).await;
}

#[tokio::test]
async fn the_cli_disable_and_delete_revoke_everything() {
    for command in ["disable", "delete"] {
        let app = spawn_app().await;
        let s = scene(&app).await;

        let out = app.cli(&["user", command, "alice"], None);

        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_all_revoked(&app, &s).await;
    }
}

#[tokio::test]
async fn revoking_the_admin_role_revokes_everything() {
    let app = spawn_app().await;
    let s = scene(&app).await;
    app.state
        .accounts
        .set_admin(gatehouse::accounts::By::Operator, s.user_id, true)
        .await
        .unwrap();
    assert_eq!(
        s.laptop.get("/").await.status(),
        StatusCode::OK,
        "a grant ends nothing"
    );
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;

    let resp = admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/revoke-admin", s.user_id),
            &[("confirm", "yes")],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_all_revoked(&app, &s).await;
}

#[tokio::test]
async fn the_account_page_lists_sessions_and_ends_one() {
    let app = spawn_app().await;
    let s = scene(&app).await;

    let page = s.laptop.get("/account").await.text().await.unwrap();

    assert_eq!(
        page.matches("/account/sessions/").count(),
        2,
        "two sessions listed"
    );
    assert!(page.contains("this browser"));
    // The row not marked as this browser is the phone's.
    let rows: Vec<&str> = page
        .split("<tr>")
        .filter(|r| r.contains("/account/sessions/"))
        .collect();
    let phone_row = rows.iter().find(|r| !r.contains("this browser")).unwrap();
    let start = phone_row.find("/account/sessions/").unwrap();
    let action = &phone_row[start..start + phone_row[start..].find('"').unwrap()];

    let resp = s.laptop.submit("/account", action, &[]).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.phone.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.laptop.get("/").await.status(), StatusCode::OK);
    // Another user's session cannot be ended through this form.
    let bob_page = s.bystander.get("/account").await.text().await.unwrap();
    let start = bob_page.find("/account/sessions/").unwrap();
    let bobs_action = &bob_page[start..start + bob_page[start..].find('"').unwrap()];
    let resp = s.laptop.submit("/account", bobs_action, &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.bystander.get("/").await.status(), StatusCode::OK);
}

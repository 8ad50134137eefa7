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
        .submit(
            "/admin",
            &format!("/admin/users/{id}/{action}"),
            &[("confirm", "yes")],
        )
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

#[tokio::test]
async fn destructive_actions_ask_first_and_a_post_without_the_confirm_step_changes_nothing() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let bob = app.create_user("bob", PASSWORD, true).await;
    let bob_browser = app.browser();
    bob_browser.login("bob", PASSWORD).await;

    for action in [
        "disable",
        "delete",
        "logout",
        "revoke-admin",
        "mfa-reset",
        "reset-link",
    ] {
        let path = format!("/admin/users/{}/{action}", bob.id);
        let confirm = admin.get(&path).await;
        assert_eq!(confirm.status(), StatusCode::OK, "{action}");
        let page = confirm.text().await.unwrap();
        assert!(page.contains("bob"), "{action}");
        assert!(page.contains(&format!("action=\"{path}\"")), "{action}");
        assert!(page.contains("name=\"confirm\" value=\"yes\""), "{action}");
        assert!(page.contains("name=\"csrf_token\""), "{action}");
        assert!(page.contains(">Cancel</a>"), "{action}");

        let bare = act_without_confirm(&admin, &path).await;
        assert_eq!(bare.status(), StatusCode::OK, "{action}");
        assert!(
            bare.text()
                .await
                .unwrap()
                .contains("name=\"confirm\" value=\"yes\""),
            "{action}"
        );
    }

    let bob_now = app.find_user("bob").await.expect("bob is not deleted");
    assert!(bob_now.is_admin && !bob_now.disabled);
    assert_eq!(bob_browser.get("/").await.status(), StatusCode::OK);
    // Non-destructive actions have no confirm page: they act at once.
    assert_eq!(
        admin
            .get(&format!("/admin/users/{}/enable", bob.id))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn act_without_confirm(browser: &crate::helpers::Browser, path: &str) -> reqwest::Response {
    browser.submit("/admin", path, &[]).await
}

#[tokio::test]
async fn the_list_links_destructive_actions_to_their_confirm_pages() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let bob = app.create_user("bob", PASSWORD, false).await;

    let page = admin.get("/admin").await.text().await.unwrap();

    for action in ["disable", "delete", "logout", "reset-link"] {
        assert!(
            page.contains(&format!("href=\"/admin/users/{}/{action}\"", bob.id)),
            "{action}"
        );
        assert!(
            !page.contains(&format!("action=\"/admin/users/{}/{action}\"", bob.id)),
            "{action} must not act from the list"
        );
    }
    // The actions cell stays a table cell, with a flex box inside it, on every row (the
    // admin's own too).
    let cells = page
        .matches("<td class=\"actions\" data-label=\"Actions\"><div class=\"actions\">")
        .count();
    assert_eq!(cells, 2, "{page}");
    assert!(page.contains("<caption"));
    let css = admin.get("/static/style.css").await.text().await.unwrap();
    assert!(!css.contains("td.actions { display: flex"));
}

#[tokio::test]
async fn the_create_user_form_creates_users_and_shows_errors_beside_their_fields() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;

    let created = admin
        .submit(
            "/admin",
            "/admin/users",
            &[
                ("username", "robot"),
                ("password", PASSWORD),
                ("admin", "on"),
                ("service", "on"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&created), "/admin");
    let robot = app.find_user("robot").await.expect("created");
    assert!(robot.is_admin && robot.service && !robot.disabled);
    assert!(
        admin
            .get("/admin")
            .await
            .text()
            .await
            .unwrap()
            .contains("User robot created.")
    );
    let plain = admin
        .submit(
            "/admin",
            "/admin/users",
            &[("username", "walter"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(plain.status(), StatusCode::SEE_OTHER);
    let walter = app.find_user("walter").await.unwrap();
    assert!(!walter.is_admin && !walter.service);
    assert_eq!(
        app.password_grant("walter", PASSWORD).await.status(),
        StatusCode::OK
    );

    // Invalid input: 422, each problem beside its field, the typed name kept.
    let invalid = admin
        .submit(
            "/admin",
            "/admin/users",
            &[("username", "bad name!"), ("password", "short")],
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = invalid.text().await.unwrap();
    assert!(page.contains("id=\"new-username-error\""), "{page}");
    assert!(page.contains("id=\"new-password-error\""), "{page}");
    assert!(page.contains(
        "aria-describedby=\"new-username-hint new-username-error\" aria-invalid=\"true\""
    ));
    assert!(page.contains(
        "aria-describedby=\"new-password-hint new-password-error\" aria-invalid=\"true\""
    ));
    assert!(page.contains("value=\"bad name!\""));
    assert!(app.find_user("bad name!").await.is_none());

    // A taken name: 409, the error beside the username.
    let taken = admin
        .submit(
            "/admin",
            "/admin/users",
            &[("username", "ROBOT"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let page = taken.text().await.unwrap();
    assert!(page.contains("That username is taken."));
    assert!(page.contains("new-username-error"));
    assert!(!page.contains("id=\"new-password-error\""));

    // Only admins, with the session's CSRF token.
    let forged = admin
        .post_form(
            "/admin/users",
            &[
                ("username", "mallory"),
                ("password", PASSWORD),
                ("csrf_token", "x"),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    app.create_user("alice", PASSWORD, false).await;
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;
    let refused = alice
        .submit(
            "/",
            "/admin/users",
            &[("username", "mallory"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(app.find_user("mallory").await.is_none());
}

/// The number in the overview's stat `id`.
fn stat(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {id}")) + marker.len();
    page[start..].chars().take_while(|c| *c != '<').collect()
}

#[tokio::test]
async fn the_overview_counts_users_sessions_and_sign_ins_and_charts_them() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let bob = app.create_user("bob", PASSWORD, false).await;
    app.state
        .accounts
        .set_disabled(gatehouse::accounts::By::Operator, bob.id, true)
        .await
        .unwrap();
    let admin = admin_browser(&app).await;
    // Two more completed sign-ins (a browser, the token API) and three failures (a wrong
    // password on each surface, a disabled user).
    app.browser().login("alice", PASSWORD).await;
    app.tokens_for("alice", PASSWORD).await;
    app.browser().login("alice", "wrong password!").await;
    app.password_grant("alice", "wrong password!").await;
    app.password_grant("bob", PASSWORD).await;

    let page = admin.get("/admin").await.text().await.unwrap();

    assert_eq!(stat(&page, "stat-users"), "3");
    assert!(page.contains("(2 enabled, 1 disabled)"));
    assert_eq!(stat(&page, "stat-admins"), "1");
    assert_eq!(stat(&page, "stat-sessions"), "2");
    assert_eq!(stat(&page, "stat-sign-ins"), "3");
    assert_eq!(stat(&page, "stat-failures"), "3");
    // The chart: an accessible SVG with the bars of this hour, and the numbers as a table.
    assert!(page.contains("<svg class=\"chart\""));
    assert!(page.contains("role=\"img\" aria-labelledby=\"chart-title chart-desc\""));
    assert!(page.contains("<title id=\"chart-title\">"));
    assert!(page.contains("3 sign-ins and 3 failed sign-ins"));
    // (Summed over the bars: the test may straddle the turn of an hour.)
    let charted = |kind: &str| -> i64 {
        let marker = format!("data-kind=\"{kind}\" data-count=\"");
        page.match_indices(&marker)
            .map(|(i, _)| {
                let rest = &page[i + marker.len()..];
                rest[..rest.find('"').unwrap()].parse::<i64>().unwrap()
            })
            .sum()
    };
    assert_eq!(charted("succeeded"), 3);
    assert_eq!(charted("failed"), 3);
    assert!(page.matches("<rect class=\"bar").count() >= 2);
    assert!(page.contains("<caption>Sign-ins and failed sign-ins per hour"));
}

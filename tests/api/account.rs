//! `GET /account`, `POST /account/password`.

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test]
async fn changing_the_password_ends_every_other_session_but_this_one() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", PASSWORD).await;
    phone.login("alice", PASSWORD).await;
    let laptop_cookie_before = laptop.cookie_header().unwrap();

    let resp = laptop
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");
    let page = laptop.get("/account").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Your password was changed.")
    );
    assert_eq!(phone.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        laptop
            .get_with_cookie("/", &laptop_cookie_before)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.browser().login("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.browser().login("alice", NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "not my password"),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Current password is incorrect.")
    );
    assert_eq!(
        app.browser().login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_weak_new_password_is_refused_with_the_reason() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser
        .submit(
            "/account",
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", "short")],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("at least 10 characters")
    );
}

#[tokio::test]
async fn the_password_form_needs_a_csrf_token_and_a_session() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let forged = browser
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("csrf_token", "x"),
            ],
        )
        .await;
    let anonymous = app
        .browser()
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;

    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.browser().login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

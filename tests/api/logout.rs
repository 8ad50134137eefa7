//! `POST /logout`.

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn logout_deletes_the_session_so_the_old_cookie_no_longer_works() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let stolen = browser.cookie_header().unwrap();
    assert_eq!(
        browser.get_with_cookie("/", &stolen).await.status(),
        StatusCode::OK
    );

    let resp = browser.submit("/", "/logout", &[]).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    let replay = browser.get_with_cookie("/", &stolen).await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replay), "/login?next=%2F");
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logout_without_a_csrf_token_is_refused_and_keeps_the_session() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser.post_form("/logout", &[]).await;

    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_without_a_body_is_refused_as_a_missing_csrf_token() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser
        .client
        .post(browser.url("/logout"))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn get_logout_shows_a_one_button_confirm_page_and_signs_nobody_out() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let page = browser.get("/logout").await;

    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(
        body.contains(r#"<form method="post" action="/logout">"#),
        "{body}"
    );
    assert_eq!(
        body.matches("<button").count(),
        3,
        "the nav's, the language switcher's and the page's: {body}"
    );
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
    // Anonymous: nothing to sign out of.
    let anonymous = app.browser().get("/logout").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anonymous), "/login");
}

#[tokio::test]
async fn after_signing_out_the_login_page_says_so_once() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    assert!(
        !browser
            .get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("signed out"),
        "no notice before signing out"
    );

    let resp = browser.submit("/", "/logout", &[]).await;
    assert_eq!(location(&resp), "/login");

    let first = browser.get("/login").await.text().await.unwrap();
    assert!(first.contains("You have been signed out."), "{first}");
    let second = browser.get("/login").await.text().await.unwrap();
    assert!(!second.contains("signed out"), "shown once: {second}");
}

#[tokio::test]
async fn after_signing_out_everywhere_the_login_page_says_so() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let resp = browser.submit("/account", "/account/logout-all", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");

    let page = browser.get("/login").await.text().await.unwrap();
    assert!(
        page.contains("You have been signed out everywhere"),
        "{page}"
    );
}

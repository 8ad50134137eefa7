//! `GET/POST /register` (only with `auth.registration`).

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app, spawn_app_with};

async fn open_app() -> crate::helpers::TestApp {
    spawn_app_with(|s| s.auth.registration = true).await
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let app = spawn_app().await;
    assert_eq!(
        app.browser().get("/register").await.status(),
        StatusCode::NOT_FOUND
    );
    let resp = app
        .browser()
        .post_form(
            "/register",
            &[("username", "eve"), ("password", "long enough pw")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_account_is_created_and_signed_in() {
    let app = open_app().await;
    let browser = app.browser();

    let resp = browser
        .submit(
            "/register",
            "/register",
            &[
                ("username", "Carol"),
                ("password", "long enough pw"),
                ("password_confirm", "long enough pw"),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/");
    assert!(
        browser
            .get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Signed in as Carol")
    );
    let user = app.find_user("carol").await.expect("stored");
    assert!(!user.is_admin && !user.disabled);
    assert!(user.password_hash.starts_with("$2b$"));
}

#[tokio::test]
async fn a_name_taken_in_another_case_is_409() {
    let app = open_app().await;
    app.create_user("dave", "long enough pw", false).await;

    let resp = app
        .browser()
        .submit(
            "/register",
            "/register",
            &[("username", "DAVE"), ("password", "another long pw")],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("That username is taken.")
    );
}

#[tokio::test]
async fn invalid_input_is_422_with_the_reasons() {
    let app = open_app().await;
    let long = "é".repeat(37); // 74 bytes, 37 characters
    let cases: [(&str, &str, &str); 5] = [
        ("erin", "short", "at least 10 characters"),
        ("erin", &long, "at most 72 bytes"),
        ("erin", &"a".repeat(73), "at most 72 bytes"),
        ("bad name!", "long enough pw", "Username may contain only"),
        ("", "long enough pw", "Username is required."),
    ];
    for (name, password, reason) in cases {
        let resp = app
            .browser()
            .submit(
                "/register",
                "/register",
                &[("username", name), ("password", password)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
        assert!(resp.text().await.unwrap().contains(reason), "{reason}");
    }
    assert!(app.find_user("erin").await.is_none());
}

#[tokio::test]
async fn mismatched_confirmation_is_422() {
    let app = open_app().await;
    let resp = app
        .browser()
        .submit(
            "/register",
            "/register",
            &[
                ("username", "frank"),
                ("password", "long enough pw"),
                ("password_confirm", "other long pw"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.find_user("frank").await.is_none());
}

#[tokio::test]
async fn registration_needs_a_csrf_token() {
    let app = open_app().await;
    let browser = app.browser();
    browser.get("/register").await;
    let resp = browser
        .post_form(
            "/register",
            &[("username", "gina"), ("password", "long enough pw")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(app.find_user("gina").await.is_none());
}

#[tokio::test]
async fn each_error_is_tied_to_its_field_and_the_first_wrong_field_gets_the_focus() {
    let app = open_app().await;
    let browser = app.browser();

    let resp = browser
        .submit(
            "/register",
            "/register",
            &[
                ("username", "bad name!"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    let username = input(&page, "username");
    assert!(username.contains(r#"aria-invalid="true""#), "{username}");
    assert!(
        username.contains("username-hint username-error"),
        "{username}"
    );
    assert!(username.contains("autofocus"), "{username}");
    let password = input(&page, "password");
    assert!(password.contains(r#"aria-invalid="true""#), "{password}");
    assert!(
        password.contains("password-hint password-error"),
        "{password}"
    );
    assert!(!password.contains("autofocus"), "{password}");
    assert!(
        page.contains(r#"id="username-error">Username may contain only"#),
        "{page}"
    );
    assert!(page.contains(r#"id="password-error">"#), "{page}");
    assert!(
        page.contains(r##"<a href="#username">"##),
        "the summary links to the field"
    );

    // Passwords that differ: the repeat field is the wrong one.
    let resp = browser
        .submit(
            "/register",
            "/register",
            &[
                ("username", "carol"),
                ("password", "long enough pw"),
                ("password_confirm", "long enough pX"),
            ],
        )
        .await;
    let page = resp.text().await.unwrap();
    let confirm = input(&page, "password_confirm");
    assert!(confirm.contains(r#"aria-invalid="true""#), "{confirm}");
    assert!(confirm.contains("autofocus"), "{confirm}");
    assert!(!input(&page, "username").contains("aria-invalid"), "{page}");
}

/// The `<input>` tag with `id`.
fn input<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"<input id="{id}""#))
        .unwrap_or_else(|| panic!("no input {id} in {page}"));
    let end = start + page[start..].find('>').unwrap();
    &page[start..=end]
}

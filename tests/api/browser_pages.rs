//! Every page in a real browser (`webdriver::Driver`: headless Chromium), at desktop width and
//! at 375 px: a person signs in (after a failed try), changes their password, sees their
//! sessions, signs out through the confirm page and sees the notice; registration errors; the
//! admin page. On each page: nothing scrolls sideways, and axe-core finds no serious or critical
//! accessibility violation. Screenshots of each page go to `target/browser-pages/` to be looked
//! at; on a failure, a screenshot and the source go to `target/browser-failures/`.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with};
use crate::webdriver::{Driver, axe_source, target_dir};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a quite different passphrase";

/// The width checks of a page: no sideways scroll, no serious accessibility violation, and a
/// screenshot to look at.
pub(crate) async fn check_page(driver: &Driver, axe: Option<&str>, name: &str, width: u32) {
    let overflowing = driver.overflowing(width).await;
    if !overflowing.is_empty() {
        driver
            .fail(&format!(
                "{name} scrolls sideways at {width} px: {}",
                overflowing.join(", ")
            ))
            .await;
    }
    if let Some(axe) = axe {
        let violations = driver.axe(axe).await;
        if !violations.is_empty() {
            driver
                .fail(&format!(
                    "{name} at {width} px: axe-core found\n{}",
                    violations.join("\n")
                ))
                .await;
        }
    }
    let dir = target_dir().join("browser-pages");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    driver
        .screenshot(width, &dir.join(format!("{name}-{width}.png")))
        .await;
    driver.set_width(width).await;
}

async fn attribute(driver: &Driver, css: &str, name: &str) -> Value {
    driver
        .script(&format!(
            "return document.querySelector({css:?}).getAttribute({name:?});"
        ))
        .await
}

async fn sign_in(driver: &Driver, app: &TestApp, user: &str, password: &str) {
    driver.goto(&app.url("/login")).await;
    driver.type_into("#username", user).await;
    driver.type_into("#password", password).await;
    driver
        .click("form[action='/login'] button[type=submit]")
        .await;
}

#[tokio::test]
async fn every_page_works_at_desktop_and_phone_width_with_no_serious_accessibility_violation() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let axe = axe_source();
    let axe = axe.as_deref();
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    app.create_user("root", PASSWORD, true).await;

    for width in [1280, 375] {
        driver.set_width(width).await;
        let alice = format!("alice-{width}");
        app.create_user(&alice, PASSWORD, false).await;

        // The sign-in form, then a failed try: the error is tied to the fields, and the focus
        // is on the password (the username is kept).
        driver.goto(&app.url("/login")).await;
        driver.wait_for("/login", "Sign in").await;
        check_page(&driver, axe, "login", width).await;
        sign_in(&driver, &app, &alice, "not the password").await;
        driver
            .wait_for("/login", "Invalid username or password.")
            .await;
        assert_eq!(driver.focused_id().await, "password");
        assert_eq!(
            attribute(&driver, "#password", "aria-invalid").await,
            Value::from("true")
        );
        assert_eq!(
            attribute(&driver, "#password", "aria-describedby").await,
            Value::from("login-error")
        );
        check_page(&driver, axe, "login-failed", width).await;

        // Signed in; the account page lists this browser's session.
        driver.type_into("#password", PASSWORD).await;
        driver
            .click("form[action='/login'] button[type=submit]")
            .await;
        driver.wait_for("/", &format!("Signed in as {alice}")).await;
        check_page(&driver, axe, "home", width).await;
        driver.goto(&app.url("/account")).await;
        driver.wait_for("/account", "this browser").await;
        check_page(&driver, axe, "account", width).await;

        // A wrong current password, then a password change.
        driver
            .type_into("#current_password", "not the password")
            .await;
        driver.type_into("#new_password", NEW_PASSWORD).await;
        driver
            .type_into("#new_password_confirm", NEW_PASSWORD)
            .await;
        driver
            .click("form[action='/account/password'] button[type=submit]")
            .await;
        driver
            .wait_for("/account/password", "Current password is incorrect.")
            .await;
        check_page(&driver, axe, "account-error", width).await;
        driver.type_into("#current_password", PASSWORD).await;
        driver.type_into("#new_password", NEW_PASSWORD).await;
        driver
            .type_into("#new_password_confirm", NEW_PASSWORD)
            .await;
        driver
            .click("form[action='/account/password'] button[type=submit]")
            .await;
        driver
            .wait_for("/account", "Your password was changed.")
            .await;

        // Signing out through the confirm page; the sign-in page says so.
        driver.goto(&app.url("/logout")).await;
        driver.wait_for("/logout", "Sign out of Gatehouse").await;
        check_page(&driver, axe, "logout-confirm", width).await;
        driver.click("main form[action='/logout'] button").await;
        driver.wait_for("/login", "You have been signed out.").await;
        check_page(&driver, axe, "login-signed-out", width).await;

        // Registration: a taken name and passwords that differ are explained on the form.
        driver.goto(&app.url("/register")).await;
        driver.wait_for("/register", "Create an account").await;
        check_page(&driver, axe, "register", width).await;
        driver.type_into("#username", &alice).await;
        driver.type_into("#password", NEW_PASSWORD).await;
        driver.type_into("#password_confirm", NEW_PASSWORD).await;
        driver
            .click("form[action='/register'] button[type=submit]")
            .await;
        driver
            .wait_for("/register", "That username is taken.")
            .await;
        check_page(&driver, axe, "register-taken", width).await;

        // The admin page.
        sign_in(&driver, &app, "root", PASSWORD).await;
        driver.wait_for("/", "Signed in as root").await;
        driver.goto(&app.url("/admin")).await;
        driver.wait_for("/admin", &alice).await;
        check_page(&driver, axe, "admin", width).await;
        // A destructive action asks first, on a page of its own, then acts.
        let doomed = format!("doomed-{width}");
        let user = app.create_user(&doomed, PASSWORD, false).await;
        driver.goto(&app.url("/admin")).await;
        driver
            .click(&format!("a[href='/admin/users/{}/delete']", user.id))
            .await;
        let confirm = format!("/admin/users/{}/delete", user.id);
        driver.wait_for(&confirm, &doomed).await;
        check_page(&driver, axe, "admin-confirm-delete", width).await;
        driver
            .click(&format!("main form[action='{confirm}'] button"))
            .await;
        driver.wait_for("/admin", "deleted").await;
        assert!(
            app.find_user(&doomed).await.is_none(),
            "deleted after the confirm step"
        );
        driver.click("form[action='/logout'] button").await;
        driver.wait_for("/login", "Sign in").await;
    }
    driver.quit().await;
}

/// The same pages in Korean, chosen with the switcher (the `lang` cookie), at 375 px and at
/// desktop width: Hangul renders (a CJK font is installed by `.ci/run`), nothing scrolls
/// sideways, axe-core finds nothing serious. The consent page of an app is among them.
#[tokio::test]
async fn every_page_works_in_korean_at_phone_and_desktop_width() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let axe = axe_source();
    let axe = axe.as_deref();
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    app.create_user("root", PASSWORD, true).await;
    let client = crate::oidc::register(&app, false, false).await;
    let authorize = format!(
        "/authorize?{}",
        serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", "http://localhost:8123/callback"),
            ("scope", "openid profile offline_access"),
            ("state", "st"),
            ("nonce", "n"),
        ])
        .expect("query")
    );

    // The switcher, as a person uses it: choose 한국어, press 변경, land on the same page.
    driver.set_width(375).await;
    driver.goto(&app.url("/login")).await;
    driver.wait_for("/login", "Sign in").await;
    driver
        .script("document.querySelector('#lang-select').value = 'ko'; return true;")
        .await;
    driver.click("form.lang-switch button").await;
    driver.wait_for("/login", "<html lang=\"ko\">").await;

    for width in [375, 1280] {
        driver.set_width(width).await;
        let name = |page: &str| format!("ko-{page}");
        let alice = format!("alice-ko-{width}");
        app.create_user(&alice, PASSWORD, false).await;

        driver.goto(&app.url("/login")).await;
        driver.wait_for("/login", "<h1>로그인</h1>").await;
        check_page(&driver, axe, &name("login"), width).await;
        sign_in(&driver, &app, &alice, "not the password").await;
        driver
            .wait_for("/login", "사용자 이름 또는 비밀번호가 올바르지 않습니다.")
            .await;
        check_page(&driver, axe, &name("login-failed"), width).await;
        driver.type_into("#password", PASSWORD).await;
        driver
            .click("form[action='/login'] button[type=submit]")
            .await;
        driver
            .wait_for("/", &format!("{alice} 계정으로 로그인했습니다."))
            .await;
        check_page(&driver, axe, &name("home"), width).await;
        driver.goto(&app.url("/account")).await;
        driver.wait_for("/account", "이 브라우저").await;
        check_page(&driver, axe, &name("account"), width).await;
        driver
            .type_into("#current_password", "not the password")
            .await;
        driver.type_into("#new_password", NEW_PASSWORD).await;
        driver
            .type_into("#new_password_confirm", NEW_PASSWORD)
            .await;
        driver
            .click("form[action='/account/password'] button[type=submit]")
            .await;
        driver
            .wait_for("/account/password", "현재 비밀번호가 올바르지 않습니다.")
            .await;
        check_page(&driver, axe, &name("account-error"), width).await;

        driver.goto(&app.url(&authorize)).await;
        driver.wait_for(&authorize, "허용").await;
        check_page(&driver, axe, &name("consent"), width).await;

        driver.goto(&app.url("/logout")).await;
        driver
            .wait_for("/logout", "이 브라우저에서 Gatehouse 로그아웃을 할까요?")
            .await;
        check_page(&driver, axe, &name("logout-confirm"), width).await;
        driver.click("main form[action='/logout'] button").await;
        driver.wait_for("/login", "로그아웃되었습니다.").await;

        driver.goto(&app.url("/register")).await;
        driver.wait_for("/register", "계정 만들기").await;
        driver.type_into("#username", &alice).await;
        driver.type_into("#password", NEW_PASSWORD).await;
        driver.type_into("#password_confirm", NEW_PASSWORD).await;
        driver
            .click("form[action='/register'] button[type=submit]")
            .await;
        driver
            .wait_for("/register", "이미 사용 중인 사용자 이름입니다.")
            .await;
        check_page(&driver, axe, &name("register-taken"), width).await;

        sign_in(&driver, &app, "root", PASSWORD).await;
        driver
            .wait_for("/", "root 계정(관리자)으로 로그인했습니다.")
            .await;
        driver.goto(&app.url("/admin")).await;
        driver.wait_for("/admin", &alice).await;
        check_page(&driver, axe, &name("admin"), width).await;
        driver.click("form[action='/logout'] button").await;
        driver.wait_for("/login", "로그아웃되었습니다.").await;
    }
    driver.quit().await;
}

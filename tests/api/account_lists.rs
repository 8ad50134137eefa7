//! `/account` lists the user's sessions by browser and OS, and their API sign-ins (refresh-token
//! families), each of which can be ended there.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, location, spawn_app};

const PASSWORD: &str = "correct horse battery";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

#[tokio::test]
async fn sessions_are_named_by_browser_and_os_not_by_raw_user_agent() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let laptop = Browser::with_user_agent(&app.address, FIREFOX);
    let phone = Browser::with_user_agent(&app.address, SAFARI);
    laptop.login("alice", PASSWORD).await;
    phone.login("alice", PASSWORD).await;

    let page = laptop.get("/account").await.text().await.unwrap();

    assert!(page.contains("Firefox 128 on Linux"), "{page}");
    assert!(page.contains("Safari 17 on iPhone"), "{page}");
    assert!(!page.contains("Gecko/20100101"), "no raw header: {page}");
    assert!(page.contains("<caption"), "tables have captions");
}

#[tokio::test]
async fn api_sign_ins_are_listed_and_each_can_be_revoked() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;
    let (_, other_refresh) = app.tokens_for("alice", PASSWORD).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let page = browser.get("/account").await.text().await.unwrap();
    let forms: Vec<&str> = page
        .match_indices("/account/tokens/")
        .map(|(i, _)| &page[i..i + page[i..].find('"').unwrap()])
        .collect();
    assert_eq!(forms.len(), 2, "two API sign-ins listed: {page}");

    // Which family is the first token's: its access token carries the family as `sid`.
    let sid = claims(&access)["sid"].as_str().unwrap().to_string();
    let action = format!("/account/tokens/{sid}/revoke");
    assert!(forms.contains(&action.as_str()), "{forms:?}");
    let resp = browser.submit("/account", &action, &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");

    assert_eq!(
        app.refresh_grant(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh_grant(&other_refresh).await.status(),
        StatusCode::OK
    );
    let after = browser.get("/account").await.text().await.unwrap();
    assert!(after.contains("The API sign-in was revoked"), "{after}");
    assert!(!after.contains(&action), "{after}");
}

#[tokio::test]
async fn another_users_family_cannot_be_revoked_and_a_missing_token_is_refused() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    app.create_user("bob", PASSWORD, false).await;
    let (bob_access, bob_refresh) = app.tokens_for("bob", PASSWORD).await;
    let sid = claims(&bob_access)["sid"].as_str().unwrap().to_string();
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;

    let action = format!("/account/tokens/{sid}/revoke");
    let resp = alice.submit("/account", &action, &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let forged = alice.post_form(&action, &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        app.refresh_grant(&bob_refresh).await.status(),
        StatusCode::OK
    );
}

/// The claims of a JWT, unverified (the test only reads its own token's `sid`).
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

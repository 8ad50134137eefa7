//! Several instances on one database (and one Redis, when the suite runs with it) behave as one
//! (SPEC §9): credentials issued by one work on all, and a revocation on one holds on all.

use reqwest::StatusCode;

use crate::helpers::{Browser, spawn_app};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn a_session_from_one_instance_works_on_another_until_revoked_there() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    a.create_user("alice", PASSWORD, false).await;
    let on_a = a.browser();
    on_a.login("alice", PASSWORD).await;
    let on_b = Browser {
        base: b.address.clone(),
        ..a.browser()
    };
    let cookie = on_a.cookie_header().unwrap();

    let resp = on_b.get_with_cookie("/", &cookie).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Signed in as alice"));

    // Sign out everywhere on B, with the session A issued.
    let on_b = Browser {
        base: b.address.clone(),
        ..on_a
    };
    let resp = on_b.submit("/account", "/account/logout-all", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let again = Browser::new(&a.address).get_with_cookie("/", &cookie).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn tokens_from_one_instance_work_on_another_and_revocation_holds_on_all() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    a.create_user("alice", PASSWORD, false).await;
    let (access, refresh) = a.tokens_for("alice", PASSWORD).await;

    assert_eq!(b.me(&access).await.status(), StatusCode::OK);
    let rotated: serde_json::Value = b.refresh_grant(&refresh).await.json().await.unwrap();
    let rotated = rotated["refresh_token"].as_str().unwrap().to_string();

    // Reuse on A of the token B rotated revokes the family everywhere.
    assert_eq!(
        a.refresh_grant(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        b.refresh_grant(&rotated).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_lockout_on_one_instance_holds_on_another() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    a.create_user("alice", PASSWORD, false).await;
    for _ in 0..5 {
        assert_eq!(
            a.password_grant("alice", "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    assert_eq!(
        b.password_grant("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

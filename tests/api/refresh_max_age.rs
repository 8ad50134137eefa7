//! `token.refresh_max_age` (SPEC §3): a refresh-token family cannot be refreshed past it, counted
//! from the family's first sign-in however often it rotated; what it issued before keeps its
//! own lifetime.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

async fn app_with_max_age(max_age: Duration) -> TestApp {
    let app = spawn_app_with(|s| {
        s.token.refresh_max_age = gatehouse::config::HumanDuration(max_age);
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    app
}

/// A refresh grant that must succeed: the new (access, refresh) pair.
async fn refreshed(app: &TestApp, refresh: &str) -> (String, String) {
    let resp = app.refresh_grant(refresh).await;
    assert_eq!(resp.status(), StatusCode::OK, "refresh grant");
    let body: Value = resp.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

/// Moves the start of the family that `refresh` belongs to back by `by`, in every row of the
/// family (the rows' own creation and expiry stay: the newest token is fresh).
async fn age_family_of(app: &TestApp, refresh: &str, by: chrono::Duration) {
    let hash = gatehouse::auth::token::refresh::HashedToken::of(refresh)
        .as_str()
        .to_string();
    let moved = app
        .with_db(move |c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::refresh_tokens::dsl::*;
            let family: String = refresh_tokens
                .filter(token_hash.eq(&hash))
                .select(family_id)
                .first(c)
                .unwrap();
            let started: Option<chrono::NaiveDateTime> = refresh_tokens
                .filter(family_id.eq(&family))
                .select(diesel::dsl::min(family_created_at))
                .first(c)
                .unwrap();
            diesel::update(refresh_tokens.filter(family_id.eq(&family)))
                .set(family_created_at.eq(started.expect("the family has a start") - by))
                .execute(c)
                .unwrap()
        })
        .await;
    assert!(moved >= 1);
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: Value = resp.json().await.expect("json error body");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_family_past_refresh_max_age_cannot_be_refreshed_however_recently_it_rotated() {
    let app = app_with_max_age(Duration::from_secs(3600)).await;
    let (_, first) = app.tokens_for("alice", PASSWORD).await;
    let (_, other_login) = app.tokens_for("alice", PASSWORD).await;
    // Rotated just now: the token presented below is minutes old, its family is not.
    let (access, latest) = refreshed(&app, &first).await;
    age_family_of(&app, &latest, chrono::Duration::minutes(61)).await;

    let refused = error_of(app.refresh_grant(&latest).await).await;

    assert_eq!(refused, (StatusCode::BAD_REQUEST, "invalid_grant".into()));
    // Not a reuse either when presented again, and the access token issued before it keeps
    // its own lifetime: the family was not ended, only closed to refreshes.
    let again = error_of(app.refresh_grant(&latest).await).await;
    assert_eq!(again, (StatusCode::BAD_REQUEST, "invalid_grant".into()));
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    let scrape = crate::ops::scrape(&app).await;
    assert_eq!(
        scrape.value("gatehouse_refresh_token_reuse_total", &[]),
        0.0
    );
    // Another sign-in's family is untouched.
    refreshed(&app, &other_login).await;
}

#[tokio::test]
async fn a_family_within_refresh_max_age_keeps_refreshing_and_rotation_keeps_its_start() {
    let app = app_with_max_age(Duration::from_secs(3600)).await;
    let (_, first) = app.tokens_for("alice", PASSWORD).await;
    age_family_of(&app, &first, chrono::Duration::minutes(50)).await;

    // Within the hour: refreshes work, and each new token carries the family's start...
    let (_, second) = refreshed(&app, &first).await;
    let (_, third) = refreshed(&app, &second).await;
    // ...so ten more minutes of age close the family, though `third` was issued just now.
    age_family_of(&app, &third, chrono::Duration::minutes(11)).await;

    let refused = error_of(app.refresh_grant(&third).await).await;

    assert_eq!(refused, (StatusCode::BAD_REQUEST, "invalid_grant".into()));
}

#[tokio::test]
async fn an_access_token_of_a_closed_family_stays_valid_until_its_own_exp() {
    let app = spawn_app_with(|s| {
        s.token.refresh_max_age = gatehouse::config::HumanDuration(Duration::from_secs(3600));
        // Three seconds: at least two whole ones after signing, for the steps before the first
        // use on a loaded machine (exp is whole seconds).
        s.token.access_ttl = gatehouse::config::HumanDuration(Duration::from_secs(3));
        s.token.leeway = gatehouse::config::HumanDuration(Duration::ZERO);
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;
    age_family_of(&app, &refresh, chrono::Duration::hours(2)).await;
    let exp = jwt_claims(&access)["exp"].as_i64().unwrap();

    assert_eq!(
        app.refresh_grant(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);

    // Refused once its own `exp` has passed, and not before. A bounded wait for the token to
    // expire, polling the outcome.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resp = app.me(&access).await;
        if resp.status() == StatusCode::UNAUTHORIZED {
            assert!(chrono::Utc::now().timestamp() >= exp, "refused before exp");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error_description"], "expired");
            break;
        }
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            std::time::Instant::now() < deadline,
            "the token did not expire"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_readme_and_the_example_document_refresh_max_age() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("gatehouse.example.toml")).unwrap();

    assert!(readme.contains("token.refresh_max_age"), "README.md");
    assert!(
        example.contains("GATEHOUSE_TOKEN__REFRESH_MAX_AGE"),
        "gatehouse.example.toml"
    );
}

/// The claims of a JWT, unverified (the server verified it; this reads what it said).
fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

//! What the server believes about the network (issue 8): the client address behind trusted
//! proxies (one forwarding header, unparseable hops counted, IPv6 grouped by /64), slow
//! clients cut by `server.request_timeout`, and `Strict-Transport-Security` on https.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::helpers::{TestApp, api_client, spawn_app_with};

const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "not the password";

/// A password grant sent with extra headers, as a reverse proxy would pass it on.
async fn grant_via(
    app: &TestApp,
    user: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> StatusCode {
    let mut request = api_client()
        .post(app.url("/api/token"))
        .json(&serde_json::json!({"username": user, "password": password}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent").status()
}

/// The subjects of the per-IP failed-login counters.
async fn ip_counters(app: &TestApp) -> BTreeSet<String> {
    app.with_db(|c| {
        use diesel::prelude::*;
        use gatehouse::db::schema::login_failures::dsl::*;
        login_failures
            .filter(kind.eq("ip"))
            .select(subject)
            .load::<String>(c)
            .expect("query")
    })
    .await
    .into_iter()
    .collect()
}

// ---------------------------------------------------------------------------------------------
// The client address (SPEC §3 `server.client_ip_header`)

fn behind_a_local_proxy(s: &mut gatehouse::config::Settings) {
    // The test client connects from 127.0.0.1: it plays the reverse proxy.
    s.server.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
}

#[tokio::test]
async fn a_forwarded_header_is_ignored_while_x_forwarded_for_is_the_configured_one() {
    let app = spawn_app_with(behind_a_local_proxy).await;

    let status = grant_via(&app, "mallory", WRONG, &[("forwarded", "for=198.51.100.1")]).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ip_counters(&app).await,
        BTreeSet::from(["127.0.0.1".to_string()]),
        "the failure counts against the peer, not the spoofed Forwarded address"
    );
}

#[tokio::test]
async fn an_unparseable_hop_is_the_client_and_the_entries_to_its_left_are_not_believed() {
    let app = spawn_app_with(|s| {
        behind_a_local_proxy(s);
        s.lockout.max_failures_per_ip = 3;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;

    // An attacker varies the entry left of the hop the proxy wrote ("unknown").
    for (i, name) in ["u1", "u2", "u3"].into_iter().enumerate() {
        let chain = format!("198.51.100.{}, unknown", i + 1);
        assert_eq!(
            grant_via(&app, name, WRONG, &[("x-forwarded-for", &chain)]).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let status = grant_via(
        &app,
        "alice",
        PASSWORD,
        &[("x-forwarded-for", "198.51.100.99, unknown")],
    )
    .await;

    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        ip_counters(&app).await,
        BTreeSet::from(["unknown".to_string()])
    );
}

#[tokio::test]
async fn two_ipv6_addresses_of_one_64_share_one_failed_login_counter() {
    let app = spawn_app_with(|s| {
        behind_a_local_proxy(s);
        s.lockout.max_failures_per_ip = 2;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    for (name, from) in [("u1", "2001:db8:1:2::1"), ("u2", "2001:db8:1:2:ffff::9")] {
        assert_eq!(
            grant_via(&app, name, WRONG, &[("x-forwarded-for", from)]).await,
            StatusCode::UNAUTHORIZED
        );
    }

    let same_64 = grant_via(
        &app,
        "alice",
        PASSWORD,
        &[("x-forwarded-for", "2001:db8:1:2:abcd::7")],
    )
    .await;
    let next_64 = grant_via(
        &app,
        "alice",
        PASSWORD,
        &[("x-forwarded-for", "2001:db8:1:3::1")],
    )
    .await;

    assert_eq!(same_64, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(next_64, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Strict-Transport-Security (SPEC §5)

const HSTS: &str = "strict-transport-security";

#[tokio::test]
async fn responses_carry_strict_transport_security_when_the_public_url_is_https() {
    let app =
        spawn_app_with(|s| s.server.public_url = Some("https://auth.example.com".into())).await;

    for path in ["/login", "/api/me", "/healthz", "/no/such/page"] {
        let resp = api_client().get(app.url(path)).send().await.unwrap();

        assert_eq!(
            resp.headers().get(HSTS).map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn responses_carry_no_strict_transport_security_when_the_public_url_is_http() {
    let app =
        spawn_app_with(|s| s.server.public_url = Some("http://auth.example.com".into())).await;

    for path in ["/login", "/api/me", "/healthz"] {
        let resp = api_client().get(app.url(path)).send().await.unwrap();

        assert!(resp.headers().get(HSTS).is_none(), "{path}");
    }
}

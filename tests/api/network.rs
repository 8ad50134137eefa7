//! What the server believes about the network (issue 8): the client address behind trusted
//! proxies (one forwarding header, unparseable hops counted, IPv6 grouped by /64),
//! `Strict-Transport-Security` on https, and slow clients cut by `server.request_timeout`.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

// ---------------------------------------------------------------------------------------------
// Slow clients (SPEC §3 `server.request_timeout`)

/// Sends `head` and all of `body` but its last `late` bytes, waits `wait`, then sends the rest
/// (ignoring write errors: the server may have answered and closed). Returns the status and
/// text of the answer, read from the start so that an early answer is not lost.
async fn send_slowly(
    app: &TestApp,
    head: &str,
    body: &[u8],
    late: usize,
    wait: Duration,
) -> (u16, String) {
    let addr = app.address.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let (early, rest) = body.split_at(body.len() - late);
    writer.write_all(head.as_bytes()).await.expect("head sent");
    writer.write_all(early).await.expect("first part sent");
    let answer = tokio::spawn(async move {
        let mut answer = Vec::new();
        // A bound, not a timing assertion: an unanswered request fails the test here.
        let _ =
            tokio::time::timeout(Duration::from_secs(15), reader.read_to_end(&mut answer)).await;
        answer
    });
    tokio::time::sleep(wait).await;
    let _ = writer.write_all(rest).await;
    let _ = writer.shutdown().await;
    let answer = answer.await.expect("reader");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    (status, text)
}

fn one_second_timeout(s: &mut gatehouse::config::Settings) {
    s.server.request_timeout = gatehouse::config::HumanDuration(Duration::from_secs(1));
}

async fn failed_login_counters(app: &TestApp) -> i64 {
    app.with_db(|c| {
        use diesel::prelude::*;
        use gatehouse::db::schema::login_failures::dsl::*;
        login_failures.count().get_result::<i64>(c).expect("count")
    })
    .await
}

#[tokio::test]
async fn a_request_whose_body_is_not_complete_within_the_request_timeout_gets_408_and_is_not_processed()
 {
    let app = spawn_app_with(one_second_timeout).await;
    app.create_user("alice", PASSWORD, false).await;
    let body = format!(r#"{{"username":"alice","password":"{WRONG}"}}"#);
    let head = format!(
        "POST /api/token HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );

    // The last byte comes after the timeout: too late for the request to count.
    let (status, text) =
        send_slowly(&app, &head, body.as_bytes(), 1, Duration::from_millis(2500)).await;

    assert_eq!(status, 408, "{text}");
    assert!(text.contains(r#""error":"request_timeout""#), "{text}");
    // Give a late handler the chance to run, if the server had let it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        failed_login_counters(&app).await,
        0,
        "the wrong password was checked"
    );
    assert_eq!(
        app.password_grant("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_form_whose_body_is_not_complete_within_the_request_timeout_gets_a_short_408_page() {
    let app = spawn_app_with(one_second_timeout).await;
    let body = format!(
        "username=alice&password={}&csrf_token=x",
        WRONG.replace(' ', "+")
    );
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: gatehouse\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );

    let (status, text) =
        send_slowly(&app, &head, body.as_bytes(), 5, Duration::from_millis(2500)).await;

    assert_eq!(status, 408, "{text}");
    let head = text.to_ascii_lowercase();
    assert!(head.contains("content-type: text/plain"), "{text}");
    assert!(!text.contains("request_timeout\""), "{text}");
}

#[tokio::test]
async fn a_request_that_arrived_in_time_is_answered_however_long_it_takes() {
    // bcrypt at cost 15 takes over a second: the unknown user's dummy check outlasts the timeout.
    let app = spawn_app_with(|s| {
        one_second_timeout(s);
        s.password.bcrypt_cost = 15;
    })
    .await;

    let resp = app.password_grant("nobody", WRONG).await;

    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        failed_login_counters(&app).await,
        2,
        "one per username and one per address"
    );
}

//! Operations endpoints (SPEC §10): `/healthz`, `/readyz` (including a database that stops
//! answering, cut through a TCP proxy on PostgreSQL), `/metrics` counters for logins, tokens,
//! lockouts, refresh-token reuse and requests, and the request id on every response, even one
//! whose session could not be loaded.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{TestApp, api_client, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

// ---------------------------------------------------------------------------------------------
// Health and readiness

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;

    let resp = api_client().get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_answers_200_when_the_database_answers() {
    let app = spawn_app().await;

    let resp = api_client().get(app.url("/readyz")).send().await.unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("ready"), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// One scrape of `/metrics`: every sample by name and labels.
pub(crate) struct Scrape(BTreeMap<(String, BTreeMap<String, String>), f64>);

impl Scrape {
    /// The value of the sample `name{labels}` (labels in any order), 0 when absent.
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        self.0
            .get(&(name.to_string(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    fn names(&self) -> HashSet<&str> {
        self.0.keys().map(|(name, _)| name.as_str()).collect()
    }
}

/// Parses the Prometheus text format: `name{k="v",…} value` lines; comments are skipped.
fn parse_metrics(text: &str) -> Scrape {
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in metrics line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|e| panic!("bad value in metrics line {line:?}: {e}"));
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (name, parse_labels(inner, line))
            }
        };
        samples.insert((name.to_string(), labels), value);
    }
    Scrape(samples)
}

/// `k="v",k2="v2"` with `\"`, `\\` and `\n` escapes in values.
fn parse_labels(inner: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = inner.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            return labels;
        }
        assert_eq!(
            chars.next(),
            Some('"'),
            "label value not quoted in {line:?}"
        );
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape in {line:?}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        }
        labels.insert(key.trim().to_string(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
}

pub(crate) async fn scrape(app: &TestApp) -> Scrape {
    let resp = api_client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    parse_metrics(&resp.text().await.unwrap())
}

const LOGINS: &str = "gatehouse_logins_total";

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;

    let resp = api_client().get(app.url("/metrics")).send().await.unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("# TYPE gatehouse_logins_total counter"),
        "{text}"
    );
    let scrape = parse_metrics(&text);
    for name in [
        LOGINS,
        "gatehouse_lockouts_total",
        "gatehouse_tokens_issued_total",
        "gatehouse_refresh_token_reuse_total",
    ] {
        assert!(scrape.names().contains(name), "{name} missing: {text}");
    }
    // Every login result is shown from the start, as zero.
    for result in ["ok", "failed", "locked"] {
        assert_eq!(scrape.value(LOGINS, &[("result", result)]), 0.0, "{result}");
    }
}

#[tokio::test]
async fn a_good_and_a_bad_password_grant_count_once_each() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let before = scrape(&app).await;

    app.tokens_for("alice", PASSWORD).await;
    let resp = app.password_grant("alice", "wrong password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let after = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta(LOGINS, &[("result", "ok")]), 1.0);
    assert_eq!(delta(LOGINS, &[("result", "failed")]), 1.0);
    assert_eq!(delta(LOGINS, &[("result", "locked")]), 0.0);
    assert_eq!(delta("gatehouse_tokens_issued_total", &[]), 1.0);
    assert_eq!(delta("gatehouse_lockouts_total", &[]), 0.0);
    let token_route = |status| {
        delta(
            "gatehouse_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/token"),
                ("status", status),
            ],
        )
    };
    assert_eq!(token_route("200"), 1.0);
    assert_eq!(token_route("401"), 1.0);
    assert_eq!(
        delta(
            "gatehouse_http_request_duration_seconds_count",
            &[("route", "/api/token")]
        ),
        2.0
    );
}

#[tokio::test]
async fn a_lockout_is_counted() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let before = scrape(&app).await;

    // lockout.max_failures = 5: the fifth failure sets the lock, the sixth attempt meets it.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.password_grant("alice", "wrong password").await.status());
    }

    assert_eq!(
        statuses,
        [
            [StatusCode::UNAUTHORIZED; 5].as_slice(),
            &[StatusCode::TOO_MANY_REQUESTS]
        ]
        .concat()
    );
    let after = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta("gatehouse_lockouts_total", &[]), 1.0);
    assert_eq!(delta(LOGINS, &[("result", "locked")]), 1.0);
    assert_eq!(delta(LOGINS, &[("result", "failed")]), 5.0);
    assert_eq!(delta(LOGINS, &[("result", "ok")]), 0.0);
}

#[tokio::test]
async fn a_reused_refresh_token_is_counted() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens_for("alice", PASSWORD).await;
    let resp = app.refresh_grant(&refresh).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let before = scrape(&app).await;

    let resp = app.refresh_grant(&refresh).await;

    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let after = scrape(&app).await;
    let reuse = "gatehouse_refresh_token_reuse_total";
    assert_eq!(after.value(reuse, &[]) - before.value(reuse, &[]), 1.0);
    let issued = "gatehouse_tokens_issued_total";
    assert_eq!(after.value(issued, &[]) - before.value(issued, &[]), 0.0);
}

#[tokio::test]
async fn unmatched_paths_do_not_become_metric_labels() {
    let app = spawn_app().await;
    let path = format!("/api/probe-{}", gatehouse::domain::random_token(8));

    let resp = api_client().get(app.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let resp = api_client().get(app.url("/metrics")).send().await.unwrap();
    let text = resp.text().await.unwrap();
    assert!(!text.contains(&path), "a raw path became a label: {text}");
}

fn allow_only_10_8(s: &mut gatehouse::config::Settings) {
    s.server.metrics_allow = vec!["10.0.0.0/8".parse().expect("network")];
}

#[tokio::test]
async fn metrics_answer_404_to_a_client_outside_metrics_allow() {
    let app = spawn_app_with(allow_only_10_8).await;

    let resp = api_client().get(app.url("/metrics")).send().await.unwrap();

    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("gatehouse_"), "{text}");
}

#[tokio::test]
async fn metrics_are_judged_on_the_peer_not_on_a_forwarded_address() {
    let app = spawn_app_with(|s| {
        allow_only_10_8(s);
        s.server.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;

    let resp = api_client()
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_answer_a_loopback_client_by_default() {
    let app = spawn_app().await;

    let resp = api_client().get(app.url("/metrics")).send().await.unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
}

/// Sends one raw HTTP/1.1 request and reads the answer until the server closes.
async fn raw_request(app: &TestApp, request: &[u8]) -> String {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading everything.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn extension_methods_do_not_become_metric_labels() {
    let app = spawn_app().await;
    // Two scrapes first, so the /metrics route's own series exist before measuring.
    scrape(&app).await;
    let before = api_client().get(app.url("/metrics")).send().await.unwrap();
    let before = before.text().await.unwrap();

    let filler = "X".repeat(100 * 1024);
    for i in 0..50 {
        let method = format!("M{i:02}{filler}");
        let request = format!("{method} /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = raw_request(&app, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 "),
            "request {i}: {answer:.200}"
        );
    }

    let after = api_client().get(app.url("/metrics")).send().await.unwrap();
    let after = after.text().await.unwrap();
    assert!(!after.contains("XXXXXXXX"), "a method became a label");
    assert!(
        after.len() < before.len() + 8 * 1024,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    let other = parse_metrics(&after)
        .0
        .iter()
        .filter(|((name, labels), _)| {
            name == "gatehouse_http_requests_total"
                && labels.get("method").map(String::as_str) == Some("OTHER")
        })
        .map(|(_, value)| value)
        .sum::<f64>();
    assert_eq!(other, 50.0);
}

// ---------------------------------------------------------------------------------------------
// Request ids

#[tokio::test]
async fn every_response_carries_its_own_request_id() {
    let app = spawn_app().await;
    let client = api_client();
    let requests = [
        client.get(app.url("/healthz")),
        client.get(app.url("/healthz")),
        client.get(app.url("/readyz")),
        client.get(app.url("/metrics")),
        client.get(app.url("/")),
        client.get(app.url("/login")),
        client.get(app.url("/api/me")),
        client.get(app.url("/api/does-not-exist")),
        client.get(app.url("/no/such/page")),
        client
            .post(app.url("/api/token"))
            .header(CONTENT_TYPE, "text/plain")
            .body("x"),
    ];

    let mut ids = HashSet::new();
    for request in requests {
        let resp = request.send().await.unwrap();
        let what = format!("{} {}", resp.status(), resp.url().path());
        let id = resp
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on {what}"))
            .to_str()
            .unwrap()
            .to_string();
        assert!(!id.is_empty(), "{what}");
        assert!(ids.insert(id.clone()), "{what} repeats request id {id}");
    }
}

// ---------------------------------------------------------------------------------------------
// Readiness with a database that goes away (PostgreSQL only)

/// A TCP proxy in front of PostgreSQL that the test can cut, like a database host going away.
struct TcpProxy {
    addr: SocketAddr,
    listener: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let connections = Arc::new(Mutex::new(Vec::new()));
        let tracked = Arc::clone(&connections);
        let accept_loop = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().expect("lock").push(forward);
            }
        });
        Self {
            addr,
            listener: Some(accept_loop),
            connections,
        }
    }

    /// Stops accepting and cuts every forwarded connection.
    async fn kill(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
            // Once it has ended, the listening socket is closed and no new connection is tracked.
            let _ = listener.await;
        }
        let connections = std::mem::take(&mut *self.connections.lock().expect("lock"));
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        if let Ok(connections) = self.connections.lock() {
            connections.iter().for_each(JoinHandle::abort);
        }
    }
}

/// A schema made (and dropped) through the real PostgreSQL port.
struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    fn create(base: &str) -> Self {
        let name = format!(
            "t_ready_{}",
            gatehouse::domain::random_token(9)
                .to_ascii_lowercase()
                .replace(['-', '_'], "x")
        );
        let mut conn = PgConnection::establish(base).expect("PostgreSQL answers");
        conn.batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create schema");
        Self {
            base: base.to_string(),
            name,
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.base) {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Splits `postgres://user@host:port/db?x` into `postgres://user@`, `host:port` and `/db?x`.
fn split_authority(url: &str) -> (&str, &str, &str) {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..authority_end].rfind('@').map_or(0, |i| i + 1);
    (
        &url[..scheme_end + host_start],
        &rest[host_start..authority_end],
        &rest[authority_end..],
    )
}

#[test]
fn postgres_urls_are_split_around_host_and_port() {
    assert_eq!(
        split_authority("postgres://postgres@127.0.0.1:5432/test"),
        ("postgres://postgres@", "127.0.0.1:5432", "/test")
    );
    assert_eq!(
        split_authority("postgresql://u:p@w@db.example:6543/x?sslmode=disable"),
        (
            "postgresql://u:p@w@",
            "db.example:6543",
            "/x?sslmode=disable"
        )
    );
    assert_eq!(
        split_authority("postgres://localhost"),
        ("postgres://", "localhost", "")
    );
}

async fn readyz(app: &TestApp) -> (StatusCode, String, Option<String>) {
    let resp = api_client()
        .get(app.url("/readyz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("/readyz answers");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    (status, resp.text().await.unwrap_or_default(), retry_after)
}

/// An app whose database connections all pass through a [`TcpProxy`]. Fields drop in order:
/// the app first, then the proxy, then the schema (through the real port).
struct AppBehindProxy {
    app: TestApp,
    proxy: TcpProxy,
    /// Kept only to be dropped last.
    _schema: PgSchema,
}

/// `cache.max_staleness` of the apps behind a proxy.
const CACHE_BOUND: Duration = Duration::from_millis(400);

/// Starts an app on its own schema behind a proxy; `None` (after saying so) without PostgreSQL.
async fn app_behind_proxy(test: &str) -> Option<AppBehindProxy> {
    app_behind_proxy_with(test, |_| {}).await
}

/// [`app_behind_proxy`] with settings of the test's own.
async fn app_behind_proxy_with(
    test: &str,
    customize: impl FnOnce(&mut gatehouse::config::Settings),
) -> Option<AppBehindProxy> {
    let base = match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped {test}: GATEHOUSE_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    let schema = PgSchema::create(&base);
    let (prefix, host_port, suffix) = split_authority(&base);
    let upstream = match host_port {
        "" => "127.0.0.1:5432".to_string(),
        hp if hp.contains(':') => hp.to_string(),
        host => format!("{host}:5432"),
    };
    let proxy = TcpProxy::start(upstream).await;
    let sep = if suffix.contains('?') { '&' } else { '?' };
    let proxied_url = format!(
        "{prefix}{}{suffix}{sep}options=-csearch_path%3D{}",
        proxy.addr, schema.name
    );
    let app = spawn_app_with(|s| {
        s.database.url = proxied_url;
        s.cache.max_staleness = gatehouse::config::HumanDuration(CACHE_BOUND);
        customize(s);
    })
    .await;
    Some(AppBehindProxy {
        app,
        proxy,
        _schema: schema,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_when_the_database_stops_answering() {
    let Some(mut fixture) =
        app_behind_proxy("readyz_answers_503_when_the_database_stops_answering").await
    else {
        return;
    };
    let app = &fixture.app;
    let (status, body, _) = readyz(app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.starts_with("ready"), "{body}");

    fixture.proxy.kill().await;

    // The pool notices the cut connections on their next use; allow for that, bounded.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (status, body, retry_after) = loop {
        let answer = readyz(app).await;
        if answer.0 != StatusCode::OK || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.starts_with("not ready"), "{body}");
    assert!(retry_after.is_some(), "503 without Retry-After");
    // Liveness does not depend on the database.
    let resp = api_client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_session_store_still_answers_with_a_request_id_and_is_counted() {
    let Some(mut fixture) = app_behind_proxy_with(
        "a_failing_session_store_still_answers_with_a_request_id_and_is_counted",
        |s| {
            // Forward-auth asked for an app that needs a sign-in, by a trusted proxy.
            s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            s.forward_auth.default_policy = gatehouse::config::Policy::SignedIn;
        },
    )
    .await
    else {
        return;
    };
    let app = &fixture.app;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    assert_eq!(
        browser.login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    // The session cookie now names a session in a database that no longer answers.
    fixture.proxy.kill().await;
    let home = browser.get("/").await;
    let me = browser.get("/api/me").await;
    let check = api_client()
        .get(app.url("/auth/request"))
        .header("x-original-url", "https://app.example.com/")
        .header(
            reqwest::header::COOKIE,
            browser.cookie_header().expect("a session cookie"),
        )
        .send()
        .await
        .unwrap();
    // The proxy shows its error page: 503, never a sign-in (401) or a pass (200).
    assert_eq!(check.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(check.headers().contains_key("retry-after"));

    for (what, resp) in [("GET /", &home), ("GET /api/me", &me)] {
        assert!(resp.status().is_server_error(), "{what}: {}", resp.status());
        assert!(
            resp.headers().contains_key("x-request-id"),
            "{what} ({}) has no x-request-id: {:?}",
            resp.status(),
            resp.headers()
        );
    }
    let me_body = me.text().await.unwrap();
    let me_body: serde_json::Value = serde_json::from_str(&me_body)
        .unwrap_or_else(|e| panic!("/api/me error is not JSON ({e}): {me_body:?}"));
    assert!(me_body["error"].is_string(), "{me_body}");
    let scrape = scrape(app).await;
    let server_errors = |route: &str| -> f64 {
        scrape
            .0
            .iter()
            .filter(|((name, labels), _)| {
                name == "gatehouse_http_requests_total"
                    && labels.get("route").map(String::as_str) == Some(route)
                    && labels.get("status").is_some_and(|s| s.starts_with('5'))
            })
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(server_errors("/"), 1.0, "GET / not counted");
    assert_eq!(
        server_errors("/auth/request"),
        1.0,
        "GET /auth/request not counted"
    );
    assert_eq!(server_errors("/api/me"), 1.0, "GET /api/me not counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_credentials_are_not_honoured_past_the_bound_once_the_database_is_gone() {
    let Some(mut fixture) = app_behind_proxy(
        "cached_credentials_are_not_honoured_past_the_bound_once_the_database_is_gone",
    )
    .await
    else {
        return;
    };
    let app = &fixture.app;
    app.create_user("alice", PASSWORD, false).await;
    let (access, _) = app.tokens_for("alice", PASSWORD).await;
    for _ in 0..2 {
        assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    }

    fixture.proxy.kill().await;
    let cut = Instant::now();

    // Within the bound the cache may still answer; past it, only the database could, and it
    // is gone: 503, never 200.
    loop {
        let sent = Instant::now();
        let resp = app.me(&access).await;
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(resp.headers().contains_key("retry-after"));
            break;
        }
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            sent.duration_since(cut) < CACHE_BOUND,
            "served from the cache {:?} after the database went away",
            sent.duration_since(cut)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

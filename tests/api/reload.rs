//! Configuration reload without restart (SPEC §10): `gatehouse::reload::reload` as SIGHUP and
//! the file watcher call it, SIGHUP to a real `gatehouse serve`, `server.watch_config`, and
//! `gatehouse config check`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use gatehouse::config::{AuthMode, HumanDuration, Settings};
use gatehouse::reload::{ReloadError, reload};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{Cli, assert_fails_with_one_line, assert_success, assert_usage_error, stdout};
use crate::helpers::{ServeProcess, TestApp, api_client, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

/// The app's configuration file (in its data directory).
fn config_path(settings: &Settings) -> PathBuf {
    settings.server.data_dir.join("gatehouse.toml")
}

/// Writes `text` to `path` the way editors and deployment tools replace a file: a new file
/// renamed over the old one.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.new");
    std::fs::write(&tmp, text).expect("config written");
    std::fs::rename(&tmp, path).expect("config renamed into place");
}

/// An app whose configuration source is a file that says what the app was built with.
async fn app_with_file(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let app = spawn_app_with(|s| {
        customize(s);
        s.config_file = Some(config_path(s));
        replace_file(&config_path(s), &s.to_redacted_toml());
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    app
}

/// Rewrites the app's configuration file: the configuration in force, changed by `change`.
fn write_config(app: &TestApp, change: impl FnOnce(&mut Settings)) {
    let mut settings = (*app.state.config()).clone();
    change(&mut settings);
    replace_file(&config_path(&settings), &settings.to_redacted_toml());
}

/// Rewrites the file with the configuration in force, one line replaced (for values that a
/// `Settings` cannot hold).
fn write_config_replacing(app: &TestApp, line: &str, with: &str) {
    let text = app.state.config().to_redacted_toml();
    assert!(text.contains(line), "{line:?} not in {text}");
    replace_file(
        &config_path(&app.state.config()),
        &text.replacen(line, with, 1),
    );
}

/// Polls `check` until it holds or `limit` has passed: a bounded wait for an outcome.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One HTTP/1.1 connection kept open across requests.
struct KeepAlive {
    stream: tokio::net::TcpStream,
    buffered: Vec<u8>,
}

/// A response read off a [`KeepAlive`] connection.
struct Raw {
    status: u16,
    head: String,
}

impl KeepAlive {
    async fn connect(app: &TestApp) -> Self {
        let address = app.address.trim_start_matches("http://");
        Self {
            stream: tokio::net::TcpStream::connect(address)
                .await
                .expect("connect"),
            buffered: Vec::new(),
        }
    }

    async fn get(&mut self, path: &str) -> Raw {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("request sent on the open connection");
        let head_end = loop {
            if let Some(at) = find(&self.buffered, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buffered[..head_end]).to_string();
        self.buffered.drain(..head_end);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        let raw = Raw { status, head };
        if raw.header("transfer-encoding").as_deref() == Some("chunked") {
            // Chunks up to the empty one.
            loop {
                let line_end = loop {
                    if let Some(at) = find(&self.buffered, b"\r\n") {
                        break at;
                    }
                    self.fill().await;
                };
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&self.buffered[..line_end]).trim(),
                    16,
                )
                .expect("chunk size");
                let total = line_end + 2 + size + 2;
                while self.buffered.len() < total {
                    self.fill().await;
                }
                self.buffered.drain(..total);
                if size == 0 {
                    break;
                }
            }
        } else {
            let length: usize = raw
                .header("content-length")
                .map_or(0, |v| v.parse().expect("content-length"));
            while self.buffered.len() < length {
                self.fill().await;
            }
            self.buffered.drain(..length);
        }
        raw
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buffered.extend_from_slice(&chunk[..n]);
    }
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reloads(scrape: &crate::ops::Scrape, result: &str) -> f64 {
    scrape.value("gatehouse_config_reload_total", &[("result", result)])
}

// ---- modes ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_reload_switches_the_mode_for_the_next_request_on_a_connection_kept_open() {
    let app = app_with_file(|_| {}).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let me: Value = browser.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["via"], "session");
    let mut connection = KeepAlive::connect(&app).await;
    let before = connection.get("/login").await;
    assert_eq!(before.status, 200);
    assert_ne!(before.header("connection").as_deref(), Some("close"));

    write_config(&app, |s| s.auth.mode = AuthMode::Token);
    let outcome = reload(&app.state).await.expect("the reload succeeds");

    assert_eq!(outcome.applied, ["auth.mode"]);
    assert!(outcome.kept.is_empty(), "{:?}", outcome.kept);
    // The same connection: the HTML surface is gone for its next request.
    assert_eq!(connection.get("/login").await.status, 404);
    assert_eq!(connection.get("/").await.status, 404);
    // The session cookie is no credential in token mode; a bearer token is.
    assert_eq!(
        browser.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (access, _) = app.tokens_for("alice", PASSWORD).await;
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);

    // And back.
    write_config(&app, |s| s.auth.mode = AuthMode::Both);
    reload(&app.state).await.expect("the reload succeeds");

    assert_eq!(connection.get("/login").await.status, 200);
    let me: Value = browser.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["via"], "session", "the session lived on in the store");
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
}

// ---- what does not change ------------------------------------------------------------------

#[tokio::test]
async fn an_invalid_configuration_changes_nothing_and_is_counted() {
    let app = app_with_file(|_| {}).await;
    write_config_replacing(&app, "mode = \"both\"", "mode = \"tokn\"");

    let err = reload(&app.state).await.expect_err("the reload fails");

    let ReloadError::Config(err) = err else {
        panic!("not a configuration error: {err}");
    };
    assert!(err.0.contains("`auth.mode`"), "{err}");
    assert!(err.0.contains("gatehouse.toml"), "names the file: {err}");
    assert_eq!(app.state.config().auth.mode, AuthMode::Both);
    assert_eq!(app.browser().get("/login").await.status(), StatusCode::OK);

    // A value that parses but does not validate (and a live key beside it) changes nothing
    // either.
    write_config(&app, |s| {
        s.server.log_level = "info,gatehouse=loud".into();
        s.auth.registration = true;
    });
    let err = reload(&app.state).await.expect_err("the reload fails");
    assert!(err.to_string().contains("server.log_level"), "{err}");
    assert!(!app.state.config().auth.registration);
    assert_eq!(
        app.browser().get("/register").await.status(),
        StatusCode::NOT_FOUND
    );
    let scrape = crate::ops::scrape(&app).await;
    assert_eq!(reloads(&scrape, "error"), 2.0);
    assert_eq!(reloads(&scrape, "ok"), 0.0);
    assert_eq!(app.state.reload.last(), None);
}

#[tokio::test]
async fn keys_that_cannot_change_live_are_named_and_keep_their_running_values() {
    let app = app_with_file(|_| {}).await;
    let running = app.state.config();
    write_config(&app, |s| {
        s.session.cookie_name = "renamed".into();
        s.database.pool_size = 2;
        s.server.max_body = gatehouse::config::ByteSize(1024 * 1024);
        s.auth.registration = true;
    });

    let outcome = reload(&app.state).await.expect("the reload succeeds");

    assert_eq!(
        outcome.kept,
        [
            "server.max_body",
            "database.pool_size",
            "session.cookie_name"
        ]
    );
    assert_eq!(outcome.applied, ["auth.registration"]);
    let config = app.state.config();
    assert_eq!(config.session.cookie_name, running.session.cookie_name);
    assert_eq!(config.database.pool_size, running.database.pool_size);
    assert_eq!(config.server.max_body, running.server.max_body);
    assert!(config.auth.registration);
    // The cookie still has its running name; the live key took effect.
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let cookies = browser.cookie_header().unwrap_or_default();
    assert!(cookies.contains("gatehouse_session="), "{cookies}");
    assert_eq!(
        app.browser().get("/register").await.status(),
        StatusCode::OK
    );
    let scrape = crate::ops::scrape(&app).await;
    assert_eq!(reloads(&scrape, "ok"), 1.0);
}

// ---- what does change ----------------------------------------------------------------------

#[tokio::test]
async fn new_cache_caps_put_empty_caches_in_place_that_revocations_still_reach() {
    let app = app_with_file(|_| {}).await;
    let (access, _) = app.tokens_for("alice", PASSWORD).await;
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    let tokens = |scrape: &crate::ops::Scrape, result: &str| {
        scrape.value(
            "gatehouse_cache_lookups_total",
            &[("cache", "tokens"), ("result", result)],
        )
    };
    let warm = crate::ops::scrape(&app).await;
    assert_eq!(tokens(&warm, "hit"), 1.0, "the second use was a hit");

    write_config(&app, |s| {
        s.cache.tokens = 10;
        s.cache.users = 20;
        s.cache.sessions = 30;
    });
    let outcome = reload(&app.state).await.expect("the reload succeeds");

    assert_eq!(
        outcome.applied,
        ["cache.sessions", "cache.tokens", "cache.users"]
    );
    assert_eq!(app.state.auth.caches.caps(), (10, 20));
    assert_eq!(app.state.sessions.cache_capacity(), 30);
    // The new caches start empty, then fill.
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    let after = crate::ops::scrape(&app).await;
    assert_eq!(tokens(&after, "miss"), tokens(&warm, "miss") + 1.0);
    assert_eq!(tokens(&after, "hit"), tokens(&warm, "hit") + 1.0);
    // A revocation reaches the caches in force (the feed's listener follows the swap):
    // the cached user state and family are dropped at once.
    let resp = api_client()
        .post(app.url("/api/logout-all"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_reload_opens_registration_and_basic_and_tightens_password_and_lockout_rules() {
    let app = app_with_file(|_| {}).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"))
    );
    let me_basic = || {
        api_client()
            .get(app.url("/api/me"))
            .header("authorization", basic.clone())
            .send()
    };
    assert_eq!(me_basic().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    write_config(&app, |s| {
        s.auth.registration = true;
        s.auth.basic = true;
        s.password.min_length = 20;
        s.lockout.max_failures = 2;
    });
    reload(&app.state).await.expect("the reload succeeds");

    assert_eq!(me_basic().await.unwrap().status(), StatusCode::OK);
    let resp = api_client()
        .post(app.url("/api/users"))
        .json(&serde_json::json!({"username": "bob", "password": "fifteen chars!!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "min_length 20"
    );
    let resp = api_client()
        .post(app.url("/api/users"))
        .json(&serde_json::json!({"username": "bob", "password": "twenty or more characters"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    for _ in 0..2 {
        assert_eq!(
            app.password_grant("bob", "wrong password here!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.password_grant("bob", "twenty or more characters")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "locked after lockout.max_failures = 2"
    );
}

#[tokio::test]
async fn a_reload_shortens_the_lifetimes_of_sessions_already_signed_in() {
    let app = app_with_file(|_| {}).await;
    let alice = app.find_user("alice").await.unwrap().id;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    // Signed in two hours ago (of the default 12 h), used a moment ago.
    app.shift_sessions(alice, chrono::Duration::hours(2), chrono::Duration::zero())
        .await;
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    write_config(&app, |s| {
        s.session.ttl = HumanDuration::hours(1);
        s.session.idle_timeout = HumanDuration::minutes(10);
    });
    reload(&app.state).await.expect("the reload succeeds");

    assert_eq!(
        browser.get("/").await.status(),
        StatusCode::SEE_OTHER,
        "past the new session.ttl"
    );
    // A new session gets the new idle timeout.
    let other = app.browser();
    other.login("alice", PASSWORD).await;
    assert_eq!(other.get("/").await.status(), StatusCode::OK);
    let sessions = app.sessions_of(alice).await;
    assert_eq!(sessions.len(), 1);
    let idle = sessions[0].expires_at - gatehouse::domain::clock::now();
    assert!(
        idle > chrono::Duration::minutes(9) && idle <= chrono::Duration::minutes(10),
        "{idle}"
    );
}

#[tokio::test]
async fn a_reload_changes_refresh_lifetimes_the_bcrypt_cost_and_the_trusted_proxies() {
    let app = app_with_file(|_| {}).await;
    let cost_of = |hash: &str| gatehouse::auth::password::cost_of(hash);
    let stored = app.find_user("alice").await.unwrap().password_hash;
    assert_eq!(cost_of(&stored), Some(crate::helpers::TEST_COST));

    write_config(&app, |s| {
        s.token.refresh_ttl = HumanDuration::hours(1);
        s.password.bcrypt_cost = crate::helpers::TEST_COST + 1;
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    reload(&app.state).await.expect("the reload succeeds");

    // A refresh token issued now lives an hour.
    app.tokens_for("alice", PASSWORD).await;
    let lifetimes: Vec<chrono::Duration> = app
        .with_db(|c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::refresh_tokens::dsl::*;
            refresh_tokens
                .select((created_at, expires_at))
                .load::<(chrono::NaiveDateTime, chrono::NaiveDateTime)>(c)
                .unwrap()
                .into_iter()
                .map(|(created, expires)| expires - created)
                .collect()
        })
        .await;
    assert_eq!(lifetimes, [chrono::Duration::hours(1)]);
    // That sign-in upgraded the stored hash to the new cost.
    let stored = app.find_user("alice").await.unwrap().password_hash;
    assert_eq!(cost_of(&stored), Some(crate::helpers::TEST_COST + 1));
    // The forwarded address of a trusted proxy is the client's now.
    let browser = app.browser();
    let token = browser.csrf("/login").await;
    browser
        .client
        .post(browser.url("/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let alice = app.find_user("alice").await.unwrap().id;
    let sessions = app.sessions_of(alice).await;
    let meta = gatehouse::session_store::SessionMeta::from_state(&sessions[0].state);
    assert_eq!(meta.ip.as_deref(), Some("203.0.113.9"));
}

// ---- the admin page ------------------------------------------------------------------------

#[tokio::test]
async fn a_reload_applies_token_lifetimes_and_rotates_to_a_new_algorithm() {
    // Arrange
    let app = app_with_file(|_| {}).await;
    let (eddsa, _) = app.tokens_for("alice", PASSWORD).await;
    write_config(&app, |s| {
        s.token.algorithm = gatehouse::config::TokenAlgorithm::ES256;
        s.token.access_ttl = HumanDuration::minutes(5);
    });

    // Act
    let outcome = reload(&app.state).await.expect("the reload succeeds");

    // Assert: new tokens are ES256, live 5 minutes; the EdDSA one still works.
    assert!(outcome.kept.is_empty(), "{:?}", outcome.kept);
    assert!(
        outcome.applied.iter().any(|k| k == "token.algorithm"),
        "{:?}",
        outcome.applied
    );
    let resp = app.password_grant("alice", PASSWORD).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 300);
    let es256 = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(es256).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(app.me(es256).await.status(), StatusCode::OK);
    assert_eq!(app.me(&eddsa).await.status(), StatusCode::OK);
    let jwks: Value = api_client()
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["EdDSA", "ES256"]);
}

#[tokio::test]
async fn the_admin_page_shows_the_mode_the_source_and_the_last_reload() {
    let app = app_with_file(|_| {}).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let page = admin.get("/admin").await.text().await.unwrap();
    let source = config_path(&app.settings).display().to_string();
    assert!(page.contains("Authentication mode</th><td>both"), "{page}");
    assert!(page.contains(&source), "{page}");
    assert!(page.contains("Last reload</th><td>never"), "{page}");

    write_config(&app, |s| s.auth.registration = true);
    reload(&app.state).await.expect("the reload succeeds");

    let page = admin.get("/admin").await.text().await.unwrap();
    let last = app.state.reload.last().expect("a reload happened");
    assert!(
        page.contains(&format!(
            "Last reload</th><td>{}",
            last.format("%Y-%m-%d %H:%M:%S UTC")
        )),
        "{page}"
    );
}

#[tokio::test]
async fn the_admin_page_says_when_no_file_was_read() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;

    let page = admin.get("/admin").await.text().await.unwrap();

    assert!(
        page.contains("Configuration</th><td>defaults and environment"),
        "{page}"
    );
}

// ---- the file watcher ----------------------------------------------------------------------

#[tokio::test]
async fn with_watch_config_a_file_replaced_on_disk_is_reloaded() {
    let app = app_with_file(|s| s.server.watch_config = true).await;
    assert_eq!(app.browser().get("/login").await.status(), StatusCode::OK);

    write_config(&app, |s| s.auth.mode = AuthMode::Token);

    eventually(Duration::from_secs(15), "the watcher reloads", || async {
        app.browser().get("/login").await.status() == StatusCode::NOT_FOUND
    })
    .await;
    assert!(app.state.reload.last().is_some());
    // Once, for one change.
    let scrape = crate::ops::scrape(&app).await;
    assert_eq!(reloads(&scrape, "ok"), 1.0);
}

// ---- a real process ------------------------------------------------------------------------

#[tokio::test]
async fn sighup_reloads_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    replace_file(&file, "[auth]\nmode = \"both\"\n");
    let path = file.to_str().unwrap();
    let server = ServeProcess::start(&[("GATEHOUSE_CONFIG", path)]).await;
    let get = |path: &'static str| {
        let url = format!("{}{path}", server.base);
        async move { api_client().get(url).send().await.unwrap() }
    };
    let reloaded = |count: usize| {
        let url = format!("{}/metrics", server.base);
        let line = format!("gatehouse_config_reload_total{{result=\"ok\"}} {count}");
        async move {
            let text = api_client()
                .get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines().any(|l| l == line)
        }
    };
    assert_eq!(get("/login").await.status(), StatusCode::OK);

    // A live key and a fixed one.
    replace_file(
        &file,
        "[auth]\nmode = \"token\"\n[session]\ncookie_name = \"renamed\"\n",
    );
    server.signal("HUP");

    eventually(Duration::from_secs(15), "SIGHUP reloads", || async {
        get("/login").await.status() == StatusCode::NOT_FOUND
    })
    .await;
    assert!(reloaded(1).await);
    get("/marker-at-info").await;

    // A new log level applies at once (RUST_LOG=info set the one at start-up).
    replace_file(
        &file,
        "[auth]\nmode = \"token\"\n[server]\nlog_level = \"warn\"\n",
    );
    server.signal("HUP");
    eventually(Duration::from_secs(15), "the second SIGHUP reloads", || {
        reloaded(2)
    })
    .await;
    get("/marker-at-warn").await;

    let out = server.stop().await;
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("SIGHUP"), "{log}");
    let kept: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("keep their running values"))
        .collect();
    assert_eq!(kept.len(), 1, "{log}");
    assert!(kept[0].contains("session.cookie_name"), "{log}");
    assert!(log.contains("/marker-at-info"), "{log}");
    assert!(!log.contains("/marker-at-warn"), "{log}");
}

// ---- config check --------------------------------------------------------------------------

#[test]
fn config_check_validates_a_file_without_starting_anything() {
    let cli = Cli::new();
    let good = cli.write_file("good.toml", "[auth]\nmode = \"token\"\n");
    let bad = cli.write_file("bad.toml", "[auth]\nmode = \"tokn\"\n");
    let bad_level = cli.write_file("level.toml", "[server]\nlog_level = \"info,x=loud\"\n");

    let ok = cli.run(&["config", "check", good.to_str().unwrap()], None);
    assert_success(&ok);
    assert_eq!(
        stdout(&ok),
        format!("configuration ok: {}\n", good.display())
    );
    let line =
        assert_fails_with_one_line(&cli.run(&["config", "check", bad.to_str().unwrap()], None));
    assert!(line.contains("`auth.mode`"), "{line}");
    assert!(line.contains("bad.toml"), "{line}");
    let line = assert_fails_with_one_line(
        &cli.run(&["config", "check", bad_level.to_str().unwrap()], None),
    );
    assert!(line.contains("`server.log_level`"), "{line}");
    let line = assert_fails_with_one_line(&cli.run(&["config", "check", "missing.toml"], None));
    assert!(line.contains("missing.toml"), "{line}");
    assert!(!cli.path("gatehouse.db").exists(), "no database was opened");

    assert_usage_error(&cli.run(&["config", "check", "a.toml", "b.toml"], None));
    assert_usage_error(&cli.run(&["config", "check", "--nope"], None));
}

#[test]
fn config_check_without_a_file_checks_what_the_server_would_read() {
    let cli = Cli::new();

    let ok = cli.run(&["config", "check"], None);
    assert_success(&ok);
    assert_eq!(stdout(&ok), "configuration ok: defaults and environment\n");

    cli.write_file("gatehouse.toml", "[server]\nbindd = \"127.0.0.1:1\"\n");
    let line = assert_fails_with_one_line(&cli.run(&["config", "check"], None));
    assert!(line.contains("`server.bindd`"), "{line}");
    let line = assert_fails_with_one_line(&cli.run_with_env(
        &["config", "check"],
        &[("GATEHOUSE_AUTH__MODE", "nope")],
        None,
    ));
    assert!(
        line.contains("auth.mode"),
        "the environment is checked too: {line}"
    );
}

#[test]
fn config_check_of_a_file_ignores_a_broken_default_configuration() {
    let cli = Cli::new();
    cli.write_file("gatehouse.toml", "[server]\nbindd = \"127.0.0.1:1\"\n");
    let good = cli.write_file("good.toml", "[auth]\nbasic = false\n");
    let bad = cli.write_file("bad.toml", "[lockout]\nmax_failures = 0\n");

    assert_success(&cli.run(&["config", "check", good.to_str().unwrap()], None));
    let line =
        assert_fails_with_one_line(&cli.run(&["config", "check", bad.to_str().unwrap()], None));
    assert!(line.contains("lockout.max_failures"), "{line}");
    assert!(!line.contains("bindd"), "{line}");
    // `--config` names the file to check too.
    assert_success(&cli.run(
        &["--config", good.to_str().unwrap(), "config", "check"],
        None,
    ));
}

#[test]
fn the_readme_names_every_key_that_cannot_change_live_and_the_log_level() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("## Reloading the configuration")
        .nth(1)
        .expect("a section on reloading")
        .split("\n## ")
        .next()
        .unwrap();

    let missing: Vec<&&str> = gatehouse::reload::FIXED_KEYS
        .iter()
        .filter(|key| !section.contains(&format!("`{key}`")))
        .collect();

    assert!(missing.is_empty(), "not named: {missing:?}");
    assert!(section.contains("`server.log_level`"));
    assert!(section.contains("config check"));
}

#[tokio::test]
async fn the_default_language_reloads_live_and_a_language_we_lack_is_refused_by_name() {
    let app = app_with_file(|_| {}).await;
    let lang_of_login = |app: &TestApp| {
        let browser = app.browser();
        async move {
            let page = browser.get("/login").await.text().await.unwrap();
            page.contains("<html lang=\"ko\">")
        }
    };
    assert!(!lang_of_login(&app).await, "English by default");

    write_config(&app, |s| s.server.default_language = "fr".into());
    let err = reload(&app.state).await.expect_err("the reload fails");
    assert!(err.to_string().contains("server.default_language"), "{err}");
    assert_eq!(app.state.config().server.default_language, "en");

    write_config(&app, |s| s.server.default_language = "ko".into());
    reload(&app.state).await.expect("the reload succeeds");
    assert!(
        lang_of_login(&app).await,
        "Korean for a browser that names no language"
    );
}

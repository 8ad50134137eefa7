//! A real browser: Debian's Chromium, headless, driven over the W3C WebDriver protocol (plain
//! HTTP to chromedriver) with a virtual authenticator (chromedriver's WebAuthn extension
//! commands), against the real app at `http://localhost:PORT`. A person's path: password
//! sign-in, a passkey registered on `/account`, sign-out, password + passkey, then the passkey
//! alone (`auth.passkey_login`); and a page opened at 127.0.0.1 told where passkeys work.
//!
//! Screenshots of the account page and the second step, at desktop width and at 375 px, go to
//! `$TMPDIR/gatehouse-passkeys/` (never into the repository). Without `chromium` and
//! `chromedriver` the test says so and passes; with `GATEHOUSE_TEST_BROWSER=required` (CI) it
//! fails instead.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

const PASSWORD: &str = "correct horse battery";
/// How long a page may take to get where a step leads.
const PATIENCE: Duration = Duration::from_secs(15);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate.to_string_lossy().into_owned());
            }
        }
    }
    None
}

/// A chromedriver process and one browser session.
struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    child: Child,
}

impl Drop for Driver {
    /// Ends chromedriver and the browser it started: they run in a process group of their
    /// own, which goes whole (a test that failed midway leaves no Chromium behind).
    fn drop(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver and a headless Chromium, or says why it cannot (`None`).
    async fn start() -> Option<Driver> {
        let required = std::env::var("GATEHOUSE_TEST_BROWSER").is_ok_and(|v| v == "required");
        let (Some(chromium), Some(chromedriver)) = (
            find_program(&["chromium", "chromium-browser"]),
            find_program(&["chromedriver"]),
        ) else {
            assert!(
                !required,
                "GATEHOUSE_TEST_BROWSER=required, but chromium or chromedriver is not installed"
            );
            eprintln!(
                "SKIPPED browser test: chromium and chromedriver are not installed \
                 (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut driver = Driver {
            http,
            base,
            session: String::new(),
            child,
        };
        let started = Instant::now();
        loop {
            let ready = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let created = driver
            .raw(
                reqwest::Method::POST,
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-dev-shm-usage",
                            "--window-size=1280,900", "--lang=en-US",
                        ],
                    },
                }}}),
            )
            .await;
        driver.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_string();
        driver
            .cmd(
                reqwest::Method::POST,
                "/timeouts",
                json!({"implicit": 5000}),
            )
            .await;
        Some(driver)
    }

    async fn raw(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        let request = if method == reqwest::Method::GET {
            request
        } else {
            request.json(&body)
        };
        let resp = request.send().await.expect("chromedriver answers");
        let status = resp.status();
        let value: Value = resp.json().await.expect("JSON from chromedriver");
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value["value"].clone()
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.raw(method, &path, body).await
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT].as_str().expect("element id").to_string()
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the page at `path` shows `text` (a step led there).
    async fn wait_for(&self, path: &str, text: &str) {
        let started = Instant::now();
        loop {
            let (url, source) = (self.url().await, self.source().await);
            let at = url
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
                .unwrap_or_default();
            if at.split('#').next() == Some(path) && source.contains(text) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "never reached {path} showing {text:?}; at {url}:\n{source}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Plugs a virtual authenticator in (CTAP2, resident keys, verifying its user); returns
    /// its id.
    async fn add_authenticator(&self) -> String {
        self.cmd(
            reqwest::Method::POST,
            "/webauthn/authenticator",
            json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserConsenting": true,
                "isUserVerified": true,
            }),
        )
        .await
        .as_str()
        .expect("authenticator id")
        .to_string()
    }

    async fn remove_authenticator(&self, id: &str) {
        self.cmd(
            reqwest::Method::DELETE,
            &format!("/webauthn/authenticator/{id}"),
            json!({}),
        )
        .await;
    }

    /// Closes the browser.
    async fn quit(&self) {
        self.cmd(reqwest::Method::DELETE, "", json!({})).await;
    }

    /// The CDP command `cmd` (chromedriver's Chromium extension).
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
    }

    /// A full-page PNG at `width` CSS pixels; asserts nothing overflows sideways.
    async fn screenshot(&self, width: u32, path: &std::path::Path) {
        let metrics = |height: u64| json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics(800))
            .await;
        // Against the width asked for: a mobile layout viewport zooms out to fit what
        // overflows, so `innerWidth` would grow with the page.
        let overflow = self
            .script(&format!(
                "return document.documentElement.scrollWidth > {width} \
                 || Array.from(document.querySelectorAll('body *')).some(\
                      e => e.getBoundingClientRect().right > {width} + 0.5);"
            ))
            .await;
        assert_eq!(
            overflow,
            Value::Bool(false),
            "the page overflows at {width} px"
        );
        let height = self
            .script("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap_or(800)
            .max(400);
        self.cdp("Emulation.setDeviceMetricsOverride", metrics(height))
            .await;
        let png = self
            .cmd(reqwest::Method::GET, "/screenshot", json!({}))
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("PNG");
        std::fs::write(path, bytes).expect("screenshot written");
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }
}

fn localhost(app: &TestApp, path: &str) -> String {
    let port = app.address.rsplit(':').next().expect("port");
    format!("http://localhost:{port}{path}")
}

#[tokio::test]
async fn a_person_registers_a_passkey_and_signs_in_with_it_in_chromium() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let shots = std::env::temp_dir().join("gatehouse-passkeys");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let app = spawn_app_with(|s| s.auth.passkey_login = true).await;
    app.create_user("alice", PASSWORD, false).await;
    let laptop = driver.add_authenticator().await;

    // A password sign-in, then a passkey registered on the account page.
    driver.goto(&localhost(&app, "/login")).await;
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", PASSWORD).await;
    driver
        .click("form[action='/login'] button[type=submit]")
        .await;
    driver.wait_for("/", "Signed in as alice").await;
    driver.goto(&localhost(&app, "/account")).await;
    driver.type_into("#passkey_name", "This laptop").await;
    driver
        .click("form[data-passkey=register] button[type=submit]")
        .await;
    driver
        .wait_for("/account", "Passkey \u{201c}This laptop\u{201d} added.")
        .await;
    // The same authenticator again is refused by the browser (it is excluded).
    driver.type_into("#passkey_name", "Twice").await;
    driver
        .click("form[data-passkey=register] button[type=submit]")
        .await;
    driver
        .wait_for("/account", "This authenticator is already registered")
        .await;
    // Another one (the first is unplugged) registers under its own name.
    driver.remove_authenticator(&laptop).await;
    driver.add_authenticator().await;
    driver.goto(&localhost(&app, "/account")).await;
    driver
        .type_into(
            "#passkey_name",
            "Phone with a rather long name, for the table",
        )
        .await;
    driver
        .click("form[data-passkey=register] button[type=submit]")
        .await;
    driver
        .wait_for("/account", "Passkey \u{201c}Phone with a rather long name")
        .await;
    driver
        .screenshot(1280, &shots.join("account-desktop.png"))
        .await;
    driver.screenshot(375, &shots.join("account-375.png")).await;

    // Signed out; the password leads to the second step, and the passkey completes it.
    driver.click("form[action='/logout'] button").await;
    driver.wait_for("/login", "Sign in with a passkey").await;
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", PASSWORD).await;
    driver
        .click("form[action='/login'] button[type=submit]")
        .await;
    driver.wait_for("/login/mfa", "Use a passkey").await;
    driver
        .screenshot(1280, &shots.join("second-step-desktop.png"))
        .await;
    driver
        .screenshot(375, &shots.join("second-step-375.png"))
        .await;
    driver
        .click("form[data-passkey=authenticate] button[type=submit]")
        .await;
    driver.wait_for("/", "Signed in as alice").await;

    // Signed out again: the passkey alone signs in (no username typed).
    driver.click("form[action='/logout'] button").await;
    driver.wait_for("/login", "Sign in with a passkey").await;
    driver.screenshot(375, &shots.join("login-375.png")).await;
    driver
        .click("form[action='/login/passkey'] button[type=submit]")
        .await;
    driver.wait_for("/", "Signed in as alice").await;

    // The same page opened at 127.0.0.1 says where passkeys work, and offers no button.
    driver.click("form[action='/logout'] button").await;
    driver.wait_for("/login", "Sign in").await;
    driver.goto(&app.url("/login")).await;
    driver
        .wait_for("/login", "Passkeys work only at http://localhost:")
        .await;
    let disabled = driver
        .script("return document.querySelector(\"form[action='/login/passkey'] button\").disabled;")
        .await;
    assert_eq!(disabled, Value::Bool(true));
    driver
        .screenshot(375, &shots.join("login-wrong-origin-375.png"))
        .await;
    driver.quit().await;
    eprintln!("screenshots in {}", shots.display());
}

//! A real browser for the tests: Debian's Chromium, headless, driven over the W3C WebDriver
//! protocol (plain HTTP to chromedriver; no crate needed for the dozen commands used, and no
//! browser download). Used by `browser` (passkeys) and `browser_pages` (every page, both widths,
//! with an axe-core audit).
//!
//! Without `chromium` and `chromedriver` a test says so and passes; with
//! `GATEHOUSE_TEST_BROWSER=required` (CI) it fails instead. When a step fails, a screenshot and
//! the page source go to `target/browser-failures/` before the test panics.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// How long a page may take to get where a step leads.
const PATIENCE: Duration = Duration::from_secs(15);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn required() -> bool {
    std::env::var("GATEHOUSE_TEST_BROWSER").is_ok_and(|v| v == "required")
}

/// `target/` of this checkout (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// axe-core's browser bundle: `GATEHOUSE_TEST_AXE`, else `target/axe/node_modules/axe-core/
/// axe.min.js` (what `.ci/run` installs with `npm install --prefix target/axe axe-core`).
pub fn axe_source() -> Option<String> {
    let path = std::env::var_os("GATEHOUSE_TEST_AXE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| target_dir().join("axe/node_modules/axe-core/axe.min.js"));
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) => {
            assert!(
                !required(),
                "GATEHOUSE_TEST_BROWSER=required, but axe-core is not at {} \
                 (npm install --prefix target/axe axe-core)",
                path.display()
            );
            eprintln!(
                "SKIPPED accessibility audit: axe-core is not at {} \
                 (npm install --prefix target/axe axe-core)",
                path.display()
            );
            None
        }
    }
}

pub fn find_program(names: &[&str]) -> Option<String> {
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
pub struct Driver {
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
    pub async fn start() -> Option<Driver> {
        let required = required();
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
                json!({"implicit": 5000, "script": 30000}),
            )
            .await;
        Some(driver)
    }

    pub async fn raw(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
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

    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.raw(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    pub async fn find(&self, css: &str) -> String {
        let found = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT].as_str().expect("element id").to_string()
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    pub async fn script(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    pub async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the page at `path` shows `text` (a step led there).
    pub async fn wait_for(&self, path: &str, text: &str) {
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
            if started.elapsed() >= PATIENCE {
                self.fail(&format!(
                    "never reached {path} showing {text:?}; at {url}:\n{source}"
                ))
                .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `script` (a function body) returns `true` on the page; `what` names the
    /// awaited state in the failure. For what the page's scripts do after it loaded, which
    /// [`Driver::wait_for`] cannot see: the page source also holds texts a script may show
    /// (`data-t-*` attributes), so finding a text there proves nothing.
    pub async fn wait_until(&self, script: &str, what: &str) {
        let started = Instant::now();
        loop {
            if self.script(script).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() >= PATIENCE {
                let url = self.url().await;
                self.fail(&format!("never saw {what}; at {url}")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element at `css` shows `text` (what a script wrote into it).
    pub async fn wait_for_text(&self, css: &str, text: &str) {
        let script = format!(
            "var e = document.querySelector({css}); return !!e && e.textContent.includes({text});",
            css = serde_json::to_string(css).expect("a JSON string"),
            text = serde_json::to_string(text).expect("a JSON string"),
        );
        self.wait_until(&script, &format!("{css} showing {text:?}"))
            .await;
    }

    /// Plugs a virtual authenticator in (CTAP2, resident keys, verifying its user); returns
    /// its id.
    pub async fn add_authenticator(&self) -> String {
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

    pub async fn remove_authenticator(&self, id: &str) {
        self.cmd(
            reqwest::Method::DELETE,
            &format!("/webauthn/authenticator/{id}"),
            json!({}),
        )
        .await;
    }

    /// Closes the browser.
    pub async fn quit(&self) {
        self.cmd(reqwest::Method::DELETE, "", json!({})).await;
    }

    /// The CDP command `cmd` (chromedriver's Chromium extension).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
    }

    /// A full-page PNG at `width` CSS pixels; asserts nothing overflows sideways.
    pub async fn screenshot(&self, width: u32, path: &std::path::Path) {
        let metrics = |height: u64| json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics(800))
            .await;
        // Against the width asked for: a mobile layout viewport zooms out to fit what
        // overflows, so `innerWidth` would grow with the page.
        let overflowing = self.overflowing(width).await;
        if !overflowing.is_empty() {
            self.fail(&format!(
                "the page overflows at {width} px: {}",
                overflowing.join(", ")
            ))
            .await;
        }
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

impl Driver {
    /// Saves a screenshot and the page source under `target/browser-failures/`, then panics
    /// with `message`.
    pub async fn fail(&self, message: &str) -> ! {
        let dir = target_dir().join("browser-failures");
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let _ = std::fs::create_dir_all(&dir);
        let shot = self
            .http
            .get(format!("{}/session/{}/screenshot", self.base, self.session))
            .send()
            .await;
        if let Ok(resp) = shot
            && let Ok(value) = resp.json::<Value>().await
            && let Some(png) = value["value"].as_str()
            && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(png)
        {
            let _ = std::fs::write(dir.join(format!("{stamp}.png")), bytes);
        }
        let source = self.source().await;
        let _ = std::fs::write(dir.join(format!("{stamp}.html")), source);
        panic!(
            "{message}\n(screenshot and page source: {}/{stamp}.png, .html)",
            dir.display()
        );
    }

    /// Sets the viewport to `width` CSS pixels (a phone's below 600) for the pages that follow.
    pub async fn set_width(&self, width: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}),
        )
        .await;
    }

    /// What on the page reaches past `width` CSS pixels (empty when nothing does): the page
    /// itself (`html`), or each element, as `tag.class#id`. Text kept for screen readers only
    /// (`.visually-hidden`: a 1 px clipped box) is clipped, so it cannot make anything scroll.
    pub async fn overflowing(&self, width: u32) -> Vec<String> {
        self.script(&format!(
            "const out = [], hidden = []; \
             const name = e => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') + (e.id ? '#' + e.id : ''); \
             for (const e of document.querySelectorAll('body *')) {{ \
               if (e.getBoundingClientRect().right <= {width} + 0.5) continue; \
               (e.closest('.visually-hidden') ? hidden : out).push(name(e)); \
             }} \
             if (document.documentElement.scrollWidth > {width}) \
               out.unshift('html (' + document.documentElement.scrollWidth + ' px wide; screen-reader-only text past the edge: ' + hidden.join(' ') + ')'); \
             return out;"
        ))
        .await
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
    }

    /// The `id` of the focused element.
    pub async fn focused_id(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs axe-core on the page; the serious and critical violations, one line each.
    pub async fn axe(&self, axe: &str) -> Vec<String> {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": format!("{axe}\n;return true;"), "args": []}),
        )
        .await;
        let found = self
            .cmd(
                reqwest::Method::POST,
                "/execute/async",
                json!({"script": "const done = arguments[arguments.length - 1];\
                    axe.run(document, {resultTypes: ['violations']}).then(r => done(\
                      r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
                       .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +\
                            v.nodes.map(n => n.target.join(' ')).join(', '))),\
                      e => done(['axe failed: ' + e]));", "args": []}),
            )
            .await;
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn localhost(app: &TestApp, path: &str) -> String {
    let port = app.address.rsplit(':').next().expect("port");
    format!("http://localhost:{port}{path}")
}

//! Test harness: `spawn_app()` builds the real application (the same `Application::build` as
//! `main`) on a random port with its own temporary SQLite database, or its own PostgreSQL
//! schema when `GATEHOUSE_TEST_POSTGRES_URL` is set, and talks HTTP to it.

use std::sync::Arc;

use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use gatehouse::accounts;
use gatehouse::auth::password::hash_blocking;
use gatehouse::config::Settings;
use gatehouse::db::models::User;
use gatehouse::db::{Database, users};
use gatehouse::domain::{Password, Username};
use gatehouse::startup::Application;
use gatehouse::state::AppState;
use reqwest::cookie::CookieStore;
use reqwest::redirect::Policy;
use tempfile::TempDir;

/// bcrypt cost used by tests: the lowest bcrypt allows, so tests stay fast.
pub const TEST_COST: u32 = 4;

/// A database for one test: a temporary SQLite file, or a fresh PostgreSQL schema that is
/// dropped again when the last handle goes.
pub struct TestDatabase {
    pub url: String,
    pg_schema: Option<(String, String)>,
}

impl TestDatabase {
    pub fn new(dir: &TempDir) -> Self {
        match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
            Ok(base) if !base.is_empty() => {
                let schema = format!("t_{}", random_suffix());
                let mut conn = PgConnection::establish(&base)
                    .unwrap_or_else(|e| panic!("GATEHOUSE_TEST_POSTGRES_URL does not answer: {e}"));
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create test schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                Self {
                    url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
                    pg_schema: Some((base, schema)),
                }
            }
            _ => Self {
                url: format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
                pg_schema: None,
            },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg_schema
            && let Ok(mut conn) = PgConnection::establish(base)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

fn random_suffix() -> String {
    gatehouse::domain::random_token(9)
        .to_ascii_lowercase()
        .replace(['-', '_'], "x")
}

/// Settings for a test app in `dir`: random port, one worker, cheap bcrypt.
pub fn test_settings(dir: &TempDir, database_url: &str) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = Some(1);
    s.server.data_dir = dir.path().to_path_buf();
    s.database.url = database_url.to_string();
    s.database.pool_size = 4;
    s.password.bcrypt_cost = TEST_COST;
    s
}

pub struct TestApp {
    pub address: String,
    pub settings: Settings,
    pub db: Database,
    /// The running app's shared state: its account lifecycle (`state.accounts`) and stores.
    pub state: web::Data<AppState>,
    /// Password of the bootstrap `admin` user.
    pub admin_password: String,
    handle: actix_web::dev::ServerHandle,
    pub test_db: Arc<TestDatabase>,
    pub dir: Arc<TempDir>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns an app after `customize` has adjusted its settings.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let test_db = Arc::new(TestDatabase::new(&dir));
    let mut settings = test_settings(&dir, &test_db.url);
    let admin_password = format!("admin-{}", gatehouse::domain::random_token(12));
    settings.admin_password = Some(Password::new(admin_password.clone()));
    // With GATEHOUSE_TEST_REDIS_URL the suite runs on the Redis session store; each test's keys
    // are apart, under its own database's installation id.
    if let Ok(url) = std::env::var("GATEHOUSE_TEST_REDIS_URL")
        && !url.is_empty()
    {
        settings.session.store = gatehouse::config::SessionStoreKind::Redis;
        settings.session.redis_url = Some(url);
    }
    customize(&mut settings);
    start(settings, admin_password, test_db, dir).await
}

async fn start(
    settings: Settings,
    admin_password: String,
    test_db: Arc<TestDatabase>,
    dir: Arc<TempDir>,
) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("application builds");
    let port = app.port();
    let handle = app.handle();
    let state = app.state();
    // The configuration in force: `public_url` now names the port actually bound, so a
    // restart or a second instance keeps the same issuer.
    let settings = {
        let mut effective = (*state.config()).clone();
        effective.admin_password = settings.admin_password.clone();
        effective
    };
    tokio::spawn(app.run_until_stopped());
    let url = settings.database.url.clone();
    let db = tokio::task::spawn_blocking(move || Database::open(&url, 2))
        .await
        .expect("join")
        .expect("test database opens");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        settings,
        db,
        state,
        admin_password,
        handle,
        test_db,
        dir,
    }
}

impl TestApp {
    /// A new browser: its own cookie jar, redirects not followed.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// Stops this server and starts a new one on the same data directory and database.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        start(
            self.settings.clone(),
            self.admin_password.clone(),
            self.test_db.clone(),
            self.dir.clone(),
        )
        .await
    }

    /// Starts another instance on the same database, data directory (keys) and session store,
    /// as a second server behind a load balancer.
    pub async fn second_instance(&self) -> TestApp {
        start(
            self.settings.clone(),
            self.admin_password.clone(),
            self.test_db.clone(),
            self.dir.clone(),
        )
        .await
    }

    /// Another instance on the same database and data directory, with other settings.
    pub async fn second_instance_with(&self, mut settings: Settings) -> TestApp {
        // Its own port; the issuer stays the first instance's, as behind one load balancer.
        settings.server.bind = "127.0.0.1:0".into();
        start(
            settings,
            self.admin_password.clone(),
            self.test_db.clone(),
            self.dir.clone(),
        )
        .await
    }

    /// Creates a user directly in the repository.
    pub async fn create_user(&self, name: &str, password: &str, admin: bool) -> User {
        let db = self.db.clone();
        let (name, password) = (name.to_string(), password.to_string());
        tokio::task::spawn_blocking(move || {
            let hash = hash_blocking(&Password::new(password), TEST_COST).expect("hash");
            let mut conn = db.get().expect("connection");
            accounts::create_user(
                &mut conn,
                &Username::parse(&name).expect("valid name"),
                &hash,
                admin,
            )
            .expect("user created")
        })
        .await
        .expect("join")
    }

    /// Runs blocking database code against the app's database.
    pub async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut gatehouse::db::AnyConnection) -> T + Send + 'static,
    ) -> T {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("connection");
            f(&mut conn)
        })
        .await
        .expect("join")
    }

    pub async fn find_user(&self, name: &str) -> Option<User> {
        let name = name.to_string();
        self.with_db(move |c| users::find_by_username(c, &name).expect("query"))
            .await
    }
}

/// Runs the `gatehouse` binary in `cwd` with exactly the `GATEHOUSE_*` variables of `env`
/// (none inherited from the shell that runs the tests), `stdin` piped in (or none at all,
/// which is not a terminal).
pub fn run_gatehouse(
    cwd: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.args(args).current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GATEHOUSE_") {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("gatehouse starts");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // A command that fails before reading its input closes the pipe: not a test failure.
        if let Err(e) = pipe.write_all(text.as_bytes())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            panic!("cannot write to gatehouse's stdin: {e}");
        }
    }
    child.wait_with_output().expect("gatehouse runs")
}

impl TestApp {
    /// The signing keys in force, opened from the key store with the app's master secret,
    /// oldest activation first (the last one that has activated signs).
    pub fn stored_signing_keys(&self) -> Vec<gatehouse::auth::token::access::OpenedKey> {
        use gatehouse::auth::token::store;
        let mut conn = self.db.get().expect("connection");
        let master = store::open_master(&self.settings, &mut conn, false).expect("master secret");
        store::load_access(&mut conn, &master).expect("keys open")
    }

    /// Runs a `gatehouse` command against this app's database, data directory and session
    /// store, as an operator on the same machine would.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let data_dir = self.settings.server.data_dir.to_string_lossy().to_string();
        let cost = TEST_COST.to_string();
        let store = match self.settings.session.store {
            gatehouse::config::SessionStoreKind::Database => "database",
            gatehouse::config::SessionStoreKind::Redis => "redis",
        };
        let mut env = vec![
            (
                "GATEHOUSE_DATABASE__URL",
                self.settings.database.url.as_str(),
            ),
            ("GATEHOUSE_SERVER__DATA_DIR", data_dir.as_str()),
            ("GATEHOUSE_PASSWORD__BCRYPT_COST", cost.as_str()),
            ("GATEHOUSE_SESSION__STORE", store),
        ];
        if let Some(url) = &self.settings.session.redis_url {
            env.push(("GATEHOUSE_SESSION__REDIS_URL", url.as_str()));
        }
        run_gatehouse(self.dir.path(), &env, args, stdin)
    }
}

/// A cookie-keeping HTTP client that does not follow redirects, like a browser under test.
/// A clone shares the cookie jar (the same browser).
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub base: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("client");
        Self {
            client,
            jar,
            base: base.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    /// The CSRF token of the form at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        let body = self.get(path).await.text().await.expect("body");
        csrf_in(&body).unwrap_or_else(|| panic!("no csrf_token in {path}: {body}"))
    }

    /// Posts the login form (with a valid CSRF token).
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.login_next(username, password, "/").await
    }

    pub async fn login_next(
        &self,
        username: &str,
        password: &str,
        next: &str,
    ) -> reqwest::Response {
        let token = self.csrf("/login").await;
        self.post_form(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &token),
                ("next", next),
            ],
        )
        .await
    }

    /// Posts a form at `path` with the CSRF token of the page `form_page`.
    pub async fn submit(
        &self,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf(form_page).await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_form(path, &all).await
    }

    /// The raw `Cookie` header value this browser would send.
    pub fn cookie_header(&self) -> Option<String> {
        let url = self.base.parse().expect("url");
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().expect("ascii").to_string())
    }

    /// A GET that carries exactly `cookie` (e.g. a stolen or old one), outside any jar.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client")
            .get(self.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("request sent")
    }
}

/// The value of the first `csrf_token` hidden field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default()
}

/// A plain JSON API client (no cookies, no redirects).
pub fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `POST /api/token` with a JSON password grant.
    pub async fn password_grant(&self, username: &str, password: &str) -> reqwest::Response {
        api_client()
            .post(self.url("/api/token"))
            .json(&serde_json::json!({"grant_type": "password", "username": username, "password": password}))
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /api/token` with a JSON refresh grant.
    pub async fn refresh_grant(&self, refresh_token: &str) -> reqwest::Response {
        api_client()
            .post(self.url("/api/token"))
            .json(
                &serde_json::json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
            )
            .send()
            .await
            .expect("request sent")
    }

    /// A fresh (access, refresh) pair for a user, asserting success.
    pub async fn tokens_for(&self, username: &str, password: &str) -> (String, String) {
        let resp = self.password_grant(username, password).await;
        assert_eq!(resp.status(), reqwest::StatusCode::OK, "password grant");
        let body: serde_json::Value = resp.json().await.expect("json");
        (
            body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_string(),
        )
    }

    /// `GET /api/me` with a bearer token.
    pub async fn me(&self, access_token: &str) -> reqwest::Response {
        api_client()
            .get(self.url("/api/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request sent")
    }
}

impl TestApp {
    /// A user's live sessions, as the app's own store lists them (whichever store it is).
    pub async fn sessions_of(&self, user_id: i64) -> Vec<gatehouse::session_store::SessionRecord> {
        self.state
            .sessions
            .list_for_user(user_id)
            .await
            .expect("the store lists sessions")
    }

    /// Moves a user's sessions back in time through the store's API: signed in `created_by`
    /// earlier, idle expiry `expires_by` earlier.
    pub async fn shift_sessions(
        &self,
        user_id: i64,
        created_by: chrono::Duration,
        expires_by: chrono::Duration,
    ) {
        self.state
            .sessions
            .shift_user_sessions(user_id, created_by, expires_by)
            .await
            .expect("the store shifts sessions");
    }
}

/// A form POST sent over a raw socket whose body is held back: the head (with
/// `Expect: 100-continue`) and the first half of the body go out at once, and [`HeldRequest::open`]
/// returns when the server has answered `100 Continue`, i.e. has read the head and dispatched
/// the request; [`HeldRequest::finish`] sends the rest, as an attacker holding a request open
/// across someone else's change would.
pub struct HeldRequest {
    stream: tokio::net::TcpStream,
    rest: Vec<u8>,
}

/// What came back on a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
}

impl RawResponse {
    /// The values of a header (lower-case name).
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

impl HeldRequest {
    pub async fn open(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = serde_urlencoded::to_string(form)
            .expect("form")
            .into_bytes();
        let half = body.len() / 2;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nCookie: {cookie}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let address = app.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream.write_all(head.as_bytes()).await.expect("head sent");
        let mut interim = [0u8; 25];
        stream.read_exact(&mut interim).await.expect("100 Continue");
        assert!(
            interim.starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"),
            "{:?}",
            String::from_utf8_lossy(&interim)
        );
        stream.write_all(&body[..half]).await.expect("part sent");
        stream.flush().await.expect("flushed");
        Self {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    pub async fn finish(mut self) -> RawResponse {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(&self.rest).await.expect("rest sent");
        let mut raw = Vec::new();
        self.stream
            .read_to_end(&mut raw)
            .await
            .expect("response read");
        let text = String::from_utf8_lossy(&raw).to_string();
        let head = text
            .split_once("\r\n\r\n")
            .map_or(text.as_str(), |(head, _)| head);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        RawResponse {
            status,
            head: head.to_string(),
        }
    }
}

/// The real `gatehouse serve` process on a free port with its own SQLite data directory
/// (no `GATEHOUSE_*` variable inherited but `env`), for what only a process shows: its log
/// and its signals.
pub struct ServeProcess {
    pub base: String,
    child: std::process::Child,
    _db: TestDatabase,
    _dir: TempDir,
}

impl ServeProcess {
    /// Starts it and waits (bounded) until `/healthz` answers.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::new(&dir);
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("address").port()
        };
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command.arg("serve").current_dir(dir.path());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GATEHOUSE_") {
                command.env_remove(key);
            }
        }
        command
            .env("GATEHOUSE_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_SERVER__WORKERS", "1")
            .env("GATEHOUSE_SERVER__DATA_DIR", dir.path())
            .env("GATEHOUSE_DATABASE__URL", &db.url)
            .env("GATEHOUSE_PASSWORD__BCRYPT_COST", TEST_COST.to_string())
            .env("GATEHOUSE_ADMIN_PASSWORD", "admin-password-123")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("gatehouse starts");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if api_client()
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Self {
                    base,
                    child,
                    _db: db,
                    _dir: dir,
                };
            }
            // A bounded wait for the process to listen, not a timing assertion.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let out = child.wait_with_output().expect("gatehouse exits");
        panic!(
            "gatehouse serve did not answer /healthz: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sends `signal` (a name `kill` knows, e.g. `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal}");
    }

    /// Sends SIGTERM and returns what the process printed and how it exited.
    pub async fn stop(self) -> std::process::Output {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let child = self.child;
        tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("gatehouse exits")
    }
}

impl Browser {
    /// A browser that sends `user_agent` with every request (as a real one does).
    pub fn with_user_agent(base: &str, user_agent: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .user_agent(user_agent)
            .build()
            .expect("client");
        Self {
            client,
            jar,
            base: base.to_string(),
        }
    }
}

/// Where a sign-in form sent the browser: a 303's `Location`, or the URL a "continuing to …"
/// page moves on to by `<meta http-equiv="refresh">` (what Gatehouse answers when the next
/// stop is another site or `/authorize`, which Chromium's `form-action` would otherwise block).
pub async fn signed_in_to(resp: reqwest::Response) -> String {
    match resp.status() {
        reqwest::StatusCode::SEE_OTHER => location(&resp),
        reqwest::StatusCode::OK => {
            let page = resp.text().await.expect("body");
            let marker = "http-equiv=\"refresh\" content=\"0; url=";
            let start = page
                .find(marker)
                .unwrap_or_else(|| panic!("neither a redirect nor a continue page: {page}"))
                + marker.len();
            let end = start + page[start..].find('"').expect("closing quote");
            unescape_html(&page[start..end])
        }
        other => panic!("a sign-in answered {other}"),
    }
}

/// Undoes askama's HTML escaping of an attribute value (named and numeric references).
pub fn unescape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

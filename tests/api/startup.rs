//! Unsafe configurations are refused at start-up with a clear message.

use gatehouse::config::{Settings, TokenAlgorithm};
use gatehouse::startup::Application;

use crate::helpers::{TestDatabase, test_settings};

async fn build_error(customize: impl FnOnce(&mut Settings, &std::path::Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new(&dir);
    let mut settings = test_settings(&dir, &db.url);
    customize(&mut settings, dir.path());
    match Application::build(settings).await {
        Ok(_) => panic!("the configuration was accepted"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_short_hmac_secret_is_refused() {
    let err = build_error(|s, dir| {
        let path = dir.join("short.key");
        std::fs::write(&path, "only-twenty-bytes-xx").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        s.token.algorithm = TokenAlgorithm::HS256;
        s.token.secret_file = Some(path);
    })
    .await;
    assert!(err.contains("at least 32"), "{err}");
}

#[tokio::test]
async fn basic_over_plain_http_is_refused_unless_on_loopback() {
    let err = build_error(|s, _| {
        s.auth.basic = true;
        s.server.bind = "0.0.0.0:0".into();
    })
    .await;
    assert!(err.contains("auth.basic"), "{err}");
}

#[tokio::test]
async fn basic_over_https_or_loopback_is_accepted() {
    let mut s = Settings::default();
    s.auth.basic = true;
    s.server.bind = "0.0.0.0:8080".into();
    s.server.public_url = Some("https://auth.example.com".into());
    assert!(s.validate().is_ok());
    let mut s = Settings::default();
    s.auth.basic = true;
    assert!(s.validate().is_ok(), "127.0.0.1 is loopback");
}

#[tokio::test]
async fn mismatched_key_files_are_refused() {
    let err = build_error(|_, dir| {
        let a = tempfile::tempdir().unwrap();
        gatehouse::auth::token::keys::generate_into(
            TokenAlgorithm::EdDSA,
            &a.path().join("signing.pem"),
            Some(&a.path().join("signing.pub.pem")),
        )
        .unwrap();
        gatehouse::auth::token::keys::generate_into(
            TokenAlgorithm::EdDSA,
            &dir.join("signing.pem"),
            Some(&dir.join("other.pub.pem")),
        )
        .unwrap();
        std::fs::copy(
            a.path().join("signing.pub.pem"),
            dir.join("signing.pub.pem"),
        )
        .unwrap();
    })
    .await;
    assert!(err.contains("does not match"), "{err}");
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let server = crate::helpers::ServeProcess::start(&[]).await;

    let status = server.stop().await;

    assert!(status.status.success(), "exit status {:?}", status.status);
    let log = String::from_utf8_lossy(&status.stderr);
    assert!(
        log.contains("SIGTERM") || log.to_lowercase().contains("graceful"),
        "{log}"
    );
    assert!(
        !log.contains("admin-password-123"),
        "the given admin password is never logged"
    );
}

/// Runs `gatehouse serve` on a port of its choosing with `env` over a fresh SQLite setup,
/// until it logs that it listens (or exits); then stops it with SIGTERM and returns its log.
fn serve_log(env: &[(&str, &str)]) -> String {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let data_dir = dir.path().to_string_lossy().to_string();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .arg("serve")
        .current_dir(dir.path())
        .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:0")
        .env("GATEHOUSE_SERVER__WORKERS", "1")
        .env("GATEHOUSE_SERVER__DATA_DIR", &data_dir)
        .env("GATEHOUSE_DATABASE__URL", &url)
        .env("GATEHOUSE_PASSWORD__BCRYPT_COST", "4")
        .env("GATEHOUSE_ADMIN_PASSWORD", "admin-password-123")
        .env("NO_COLOR", "1")
        .env_remove("GATEHOUSE_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(60)) {
        let listening = line.contains("gatehouse is listening");
        log.push_str(&line);
        log.push('\n');
        if listening {
            break;
        }
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    log
}

#[test]
fn an_insecure_session_cookie_under_an_https_public_url_is_warned_about_at_start_up() {
    let log = serve_log(&[
        ("GATEHOUSE_SERVER__PUBLIC_URL", "https://auth.example.com"),
        ("GATEHOUSE_SESSION__COOKIE_SECURE", "false"),
    ]);

    assert!(log.contains("gatehouse is listening"), "{log}");
    let warning = log
        .lines()
        .find(|l| l.contains("session.cookie_secure"))
        .unwrap_or_else(|| panic!("no warning about session.cookie_secure in:\n{log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("https"), "{warning}");
    // Neither a secure cookie nor a plain-http URL is warned about.
    for env in [
        [
            ("GATEHOUSE_SERVER__PUBLIC_URL", "https://auth.example.com"),
            ("GATEHOUSE_SESSION__COOKIE_SECURE", "auto"),
        ],
        [
            ("GATEHOUSE_SERVER__PUBLIC_URL", "http://auth.example.com"),
            ("GATEHOUSE_SESSION__COOKIE_SECURE", "false"),
        ],
    ] {
        let log = serve_log(&env);
        assert!(log.contains("gatehouse is listening"), "{env:?}: {log}");
        assert!(!log.contains("session.cookie_secure"), "{env:?}: {log}");
    }
}

/// The `gatehouse is listening` line of a log.
fn listening_line(log: &str) -> &str {
    log.lines()
        .find(|l| l.contains("gatehouse is listening"))
        .unwrap_or_else(|| panic!("no start-up line in:\n{log}"))
}

#[test]
fn the_start_up_line_names_url_mode_basic_registration_store_database_and_version() {
    let log = serve_log(&[
        ("GATEHOUSE_AUTH__MODE", "session"),
        ("GATEHOUSE_AUTH__REGISTRATION", "true"),
    ]);

    let line = listening_line(&log);
    assert!(line.contains(" INFO "), "{line}");
    let bind = line
        .split(' ')
        .find_map(|f| f.strip_prefix("bind="))
        .unwrap_or_else(|| panic!("no bind= in {line}"));
    assert!(
        bind.starts_with("127.0.0.1:") && !bind.ends_with(":0"),
        "{line}"
    );
    // `server.public_url` unset: the URL follows the address bound.
    assert!(line.contains(&format!(" url=http://{bind} ")), "{line}");
    for field in [
        " mode=session ",
        " basic=off ",
        " registration=on ",
        " session_store=database ",
        " database=\"sqlite://",
        &format!(" version={}", env!("CARGO_PKG_VERSION")),
    ] {
        assert_eq!(line.matches(field).count(), 1, "{field:?} once in {line}");
    }

    let log = serve_log(&[("GATEHOUSE_SERVER__PUBLIC_URL", "https://auth.example.com/")]);
    let line = listening_line(&log);
    assert!(line.contains(" url=https://auth.example.com "), "{line}");
    assert!(line.contains(" mode=both ") && line.contains(" registration=off "));
}

#[test]
fn the_start_up_line_never_shows_the_database_password() {
    // With PostgreSQL, the test database's URL with a password added (the test server trusts
    // local connections, so it is accepted and ignored); on SQLite, whose URL holds none, the
    // summary's redaction of such a URL.
    let secret = "n0t-f0r-the-l0g";
    if let Ok(base) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        && !base.is_empty()
    {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDatabase::new(&dir);
        let (scheme, rest) = db.url.split_once("://").unwrap();
        let (user, host) = rest.split_once('@').expect("a user in the test URL");
        let user = user.split(':').next().unwrap();
        let url = format!("{scheme}://{user}:{secret}@{host}");

        let log = serve_log(&[("GATEHOUSE_DATABASE__URL", &url)]);

        let line = listening_line(&log);
        assert!(
            line.contains(&format!(" database=\"{scheme}://{user}:***@")),
            "{line}"
        );
        assert!(!log.contains(secret), "{log}");
    }
    let mut settings = Settings::default();
    settings.database.url = format!("postgres://gate:{secret}@db.internal:5432/gh?sslmode=require");
    let summary =
        gatehouse::startup::StartupSummary::new(&settings, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(
        summary.database,
        "postgres://gate:***@db.internal:5432/gh?sslmode=require"
    );
    settings.database.url = "sqlite://./data/gatehouse.db".into();
    let summary =
        gatehouse::startup::StartupSummary::new(&settings, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(summary.database, "sqlite://./data/gatehouse.db");
}

//! A real nginx in front of a small upstream, with `auth_request` to Gatehouse's
//! `/auth/request` (the README's snippet): an anonymous browser is sent to sign in, comes back
//! to the URL it asked for, and the upstream sees `Remote-User`. nginx asks from 127.0.0.2
//! (`proxy_bind`), the only trusted proxy; the test's own requests come from 127.0.0.1, an
//! untrusted peer whose forwarding headers change nothing.
//!
//! Without `nginx` installed the test says so and passes; with `GATEHOUSE_TEST_NGINX=required`
//! (`.ci/run`, which installs Debian's nginx) it fails instead.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Browser, csrf_in, location, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

/// nginx, stopped (whole) when dropped, a failing test included.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_nginx() -> Option<String> {
    ["nginx", "/usr/sbin/nginx"].into_iter().find_map(|p| {
        Command::new(p)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| p.to_string())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Nginx {
    /// Starts nginx on a free port in front of `upstream`, asking Gatehouse at `gatehouse`.
    async fn start(binary: &str, gatehouse: u16, upstream: u16) -> (Nginx, u16) {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /internal-auth {{
            internal;
            proxy_bind 127.0.0.2;
            proxy_pass http://127.0.0.1:{gatehouse}/auth/request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
        }}
        location / {{
            auth_request /internal-auth;
            auth_request_set $user $upstream_http_remote_user;
            auth_request_set $gatehouse_login $upstream_http_location;
            proxy_set_header Remote-User $user;
            proxy_pass http://127.0.0.1:{upstream};
            error_page 401 =302 $gatehouse_login;
        }}
    }}
}}
"#
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).expect("nginx.conf written");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx { child, dir };
        // Ready when it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (nginx, port)
    }
}

/// The app behind nginx: answers every request with the `Remote-User` header it received.
async fn echo_upstream() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let user = text
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("remote-user")
                            .then(|| value.trim().to_string())
                    })
                    .unwrap_or_default();
                let body = format!("upstream sees Remote-User: {user}");
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn behind_nginx_a_browser_signs_in_and_the_upstream_sees_remote_user() {
    let required = std::env::var("GATEHOUSE_TEST_NGINX").is_ok_and(|v| v == "required");
    let Some(binary) = find_nginx() else {
        assert!(
            !required,
            "GATEHOUSE_TEST_NGINX=required, but nginx is not installed"
        );
        eprintln!("SKIPPED nginx test: nginx is not installed (apt-get install nginx)");
        return;
    };
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.2".parse().unwrap()];
        s.forward_auth = gatehouse::config::Settings::from_toml_str(
            "[forward_auth]\ndomains = [\"127.0.0.1\"]\ndefault_policy = \"signed_in\"\n\
             [[forward_auth.rules]]\nhost = \"127.0.0.1\"\npath = \"/public/\"\npolicy = \"bypass\"\n",
        )
        .unwrap()
        .forward_auth;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    let gatehouse_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let upstream = echo_upstream().await;
    let (_nginx, port) = Nginx::start(&binary, gatehouse_port, upstream).await;
    // A query of several parameters survives the trip through the sign-in.
    let proxied = format!("http://127.0.0.1:{port}/app/page?a=1&b=2");
    let browser = Browser::new(&app.address);

    // Anonymous: nginx sends the browser to sign in, with the URL it asked for.
    let resp = browser.client.get(&proxied).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let login = location(&resp);
    let encoded: String = url::form_urlencoded::byte_serialize(proxied.as_bytes()).collect();
    assert_eq!(login, format!("{}/login?rd={encoded}", app.address));
    // A path a rule bypasses reaches the upstream without anyone signed in.
    let resp = browser
        .client
        .get(format!("http://127.0.0.1:{port}/public/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "upstream sees Remote-User: ");
    // A client that sends its own forwarding headers through nginx changes nothing.
    let resp = browser
        .client
        .get(&proxied)
        .header("x-forwarded-uri", "/public/x")
        .header("x-forwarded-host", "127.0.0.1")
        .header("remote-user", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);

    // The sign-in page names the app and carries rd; signing in leads back to it.
    let page = browser
        .client
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        crate::helpers::unescape_html(&page).contains(&format!("name=\"rd\" value=\"{proxied}\"")),
        "{page}"
    );
    let token = csrf_in(&page).unwrap();
    let resp = browser
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("next", "/"),
                ("rd", &proxied),
            ],
        )
        .await;
    // A page that moves on by meta refresh (a 303 to another origin after a form would be
    // blocked by Chromium's `form-action`).
    assert_eq!(crate::helpers::signed_in_to(resp).await, proxied);

    // Back at the original URL: the upstream sees alice (the session cookie is host-only,
    // and cookies do not depend on the port).
    let resp = browser.client.get(&proxied).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.text().await.unwrap(),
        "upstream sees Remote-User: alice"
    );
    // A Remote-User header sent by the client is replaced, never passed on.
    let resp = browser
        .client
        .get(&proxied)
        .header("remote-user", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.text().await.unwrap(),
        "upstream sees Remote-User: alice"
    );

    // Straight to Gatehouse from 127.0.0.1, an untrusted peer: the original-request headers
    // are ignored and the request is judged as one for Gatehouse itself (path `/`, which
    // needs a sign-in), not for the bypassed path it names.
    for (name, value) in [
        (
            "x-original-url",
            format!("http://127.0.0.1:{port}/public/x"),
        ),
        ("x-forwarded-uri", "/public/x".to_string()),
    ] {
        let resp = crate::helpers::api_client()
            .get(app.url("/auth/request"))
            .header(name, value)
            .header("x-forwarded-host", "127.0.0.1")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
}

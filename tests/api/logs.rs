//! The log as an operator reads it (README "Logs"): one compact line per request with each
//! field once, no colour codes outside a terminal, no per-request chatter from libraries at the
//! default level, client-controlled values quoted so they cannot forge a line; the JSON format.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Browser, ServeProcess, csrf_in};

/// The request lines of a text log.
fn request_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" gatehouse::request: "))
        .collect()
}

/// The one request line for `path` (as logged, quoted).
fn line_for<'a>(log: &'a str, method: &str, path: &str) -> &'a str {
    let wanted = format!("method={method:?} path={path}");
    let found: Vec<&str> = request_lines(log)
        .into_iter()
        .filter(|l| l.contains(&wanted))
        .collect();
    assert_eq!(found.len(), 1, "one line with {wanted} in:\n{log}");
    found[0]
}

/// Sends `head` as it is over a new connection and reads until the server closes it.
async fn raw_request(base: &str, head: &[u8]) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_is_one_compact_line_with_each_field_once_and_no_colour_codes() {
    // `RUST_LOG` empty: the default level (`server.log_level = "info"`) with its quieting.
    let server = ServeProcess::start(&[("RUST_LOG", "")]).await;
    let browser = Browser::new(&server.base);
    let page = browser.get("/login").await;
    assert_eq!(page.status(), 200);
    let request_id = page.headers()["x-request-id"].to_str().unwrap().to_string();
    // A signed-out session's cookie: actix-session logs "No session state has been found"
    // (INFO) for it, which the default filter keeps out.
    assert_eq!(
        browser.login("admin", "admin-password-123").await.status(),
        303
    );
    let old_cookie = browser.cookie_header().expect("a session cookie");
    let home = browser.get("/").await.text().await.unwrap();
    let token = csrf_in(&home).expect("the sign-out form");
    assert_eq!(
        browser
            .post_form("/logout", &[("csrf_token", &token)])
            .await
            .status(),
        303
    );
    assert_eq!(
        browser.get_with_cookie("/", &old_cookie).await.status(),
        303
    );

    let output = server.stop().await;
    let log = String::from_utf8_lossy(&output.stderr).into_owned();

    assert!(!log.contains('\u{1b}'), "no ANSI codes in a pipe:\n{log}");
    assert!(!log.contains("No session state"), "{log}");
    assert!(!log.contains("actix_session"), "{log}");
    let lines: Vec<&str> = request_lines(&log)
        .into_iter()
        .filter(|l| l.contains(&format!("request_id={request_id} ")))
        .collect();
    assert_eq!(lines.len(), 1, "one line for {request_id}:\n{log}");
    let line = lines[0];
    assert!(line.contains(r#" method="GET" path="/login" "#), "{line}");
    for field in [
        "request_id=",
        "method=",
        "path=",
        "status=",
        "latency_us=",
        "client_ip=",
    ] {
        assert_eq!(line.matches(field).count(), 1, "{field} once in {line:?}");
    }
    assert!(line.contains(" INFO gatehouse::request: "), "{line}");
    assert!(line.contains(" status=200 "), "{line}");
    assert!(line.ends_with(" client_ip=127.0.0.1"), "{line}");
    let latency = line
        .split(' ')
        .find_map(|f| f.strip_prefix("latency_us="))
        .unwrap();
    assert!(
        !latency.is_empty() && latency.bytes().all(|b| b.is_ascii_digit()),
        "whole microseconds: {line}"
    );
    // No span in front repeating request_id, method and path.
    assert!(!line.contains("request{"), "{line}");
    assert!(line.len() <= 200, "{} bytes: {line}", line.len());
    // Every request has its line: the sign-in, sign-out and the old cookie's visit too.
    for (method, path) in [("POST", "/login"), ("POST", "/logout")] {
        line_for(&log, method, &format!("{path:?}"));
    }
    assert_eq!(
        request_lines(&log)
            .iter()
            .filter(|l| l.contains(r#" method="GET" path="/" "#))
            .count(),
        2,
        "{log}"
    );
}

#[tokio::test]
async fn client_controlled_values_cannot_forge_a_log_line() {
    let server = ServeProcess::start(&[]).await;

    // A quote and a backslash are legal in a request target as sent; they stay escaped
    // inside the quoted path.
    let answer = raw_request(
        &server.base,
        b"GET /a\"b\\c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    // A line break in the target is refused by the HTTP parser before any handler runs.
    let answer = raw_request(
        &server.base,
        b"GET /x\n2026-01-01T00:00:00Z  INFO forged: status=200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");
    // An extension method is quoted like the path.
    let answer = raw_request(
        &server.base,
        b"BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");

    let output = server.stop().await;
    let log = String::from_utf8_lossy(&output.stderr).into_owned();

    line_for(&log, "GET", r#""/a\"b\\c""#);
    line_for(&log, "BREW", "\"/pot\"");
    assert!(
        !log.lines().any(|l| l.contains("INFO forged")),
        "no forged line:\n{log}"
    );
    // Every line the server wrote is one of its own records, starting with a timestamp.
    for line in log.lines() {
        assert!(
            line.len() > 20 && line.as_bytes()[..4].iter().all(u8::is_ascii_digit),
            "{line:?} in:\n{log}"
        );
    }
}

#[tokio::test]
async fn the_json_log_has_one_object_per_request_with_the_same_fields() {
    let server = ServeProcess::start(&[("GATEHOUSE_LOG_FORMAT", "json")]).await;
    let resp = crate::helpers::api_client()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();

    let output = server.stop().await;
    let log = String::from_utf8_lossy(&output.stderr).into_owned();

    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let line = records
        .iter()
        .find(|r| r["fields"]["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no line for {request_id}:\n{log}"));
    assert_eq!(line["target"], "gatehouse::request");
    assert_eq!(line["fields"]["status"], 200);
    assert!(line["fields"]["latency_us"].is_u64(), "{line}");
    assert_eq!(line["fields"]["client_ip"], "127.0.0.1");
    assert!(
        line.get("span").is_none() && line.get("spans").is_none(),
        "{line}"
    );
    let start = records
        .iter()
        .find(|r| r["fields"]["message"] == "gatehouse is listening")
        .unwrap_or_else(|| panic!("no start-up line:\n{log}"));
    assert_eq!(start["fields"]["mode"], "both");
}

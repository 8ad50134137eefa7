//! Never a 500 for anything a client sent (SPEC §6, §8): oversized, mistyped and malformed
//! bodies, broken credentials and cookies, huge headers, odd paths and concurrent writes each get
//! a precise 4xx (or succeed), and the server goes on answering `/healthz` after every one.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::join_all;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderValue, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, api_client, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

/// The default `server.max_body` (16 KiB).
const MAX_BODY: usize = 16 * 1024;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------------
// Helpers

async fn send(request: reqwest::RequestBuilder, case: &str) -> reqwest::Response {
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{case}: no answer: {e}"))
}

/// `POST path` with exactly these bytes and this content type.
async fn post_bytes(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> reqwest::Response {
    send(
        api_client()
            .post(app.url(path))
            .header(CONTENT_TYPE, content_type)
            .body(body.into()),
        path,
    )
    .await
}

/// The server still answers after a hostile request.
async fn assert_still_serving(app: &TestApp, after: &str) {
    let resp = send(api_client().get(app.url("/healthz")), after).await;
    assert_eq!(resp.status(), StatusCode::OK, "/healthz after {after}");
}

/// A JSON-surface error: exactly `status`, a JSON body with string `error` (equal to `code`
/// when given) and a non-empty `error_description`.
async fn assert_api_error(
    resp: reqwest::Response,
    status: StatusCode,
    code: Option<&str>,
    case: &str,
) {
    let got = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "{case}: {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{case}: the error body is not JSON ({e}): {text}"));
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no `error` in {body}"));
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{case}: no `error_description` in {body}"
    );
    if let Some(code) = code {
        assert_eq!(error, code, "{case}: {body}");
    }
}

/// Exactly `status` (HTML surface); the body is shown when it differs.
async fn assert_status(resp: reqwest::Response, status: StatusCode, case: &str) {
    let got = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "{case}: {text}");
}

/// Sends `request` verbatim on a new connection (for what a well-behaved client cannot send:
/// lying `Content-Length`s, `..` segments) and returns the status code and the whole answer.
/// Write errors are ignored: the server may answer and close before reading everything.
async fn raw_http(app: &TestApp, request: &[u8]) -> (u16, String) {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    while !complete_answer(&answer) {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    (status, text)
}

/// Whether `answer` holds a whole head and as much body as its `Content-Length` says.
fn complete_answer(answer: &[u8]) -> bool {
    let Some(head_end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|n| answer.len() >= head_end + 4 + n)
}

fn host_header(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

// ---------------------------------------------------------------------------------------------
// Body size

#[tokio::test]
async fn bodies_over_max_body_get_413_on_every_surface() {
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    let big = "a".repeat(MAX_BODY + 1);

    let resp = send(
        api_client()
            .post(app.url("/api/token"))
            .json(&json!({"username": "alice", "password": big})),
        "token JSON",
    )
    .await;
    assert_api_error(resp, StatusCode::PAYLOAD_TOO_LARGE, None, "token JSON").await;
    assert_still_serving(&app, "token JSON").await;

    let resp = send(
        api_client().post(app.url("/api/token")).form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", big.as_str()),
        ]),
        "token form",
    )
    .await;
    assert_api_error(resp, StatusCode::PAYLOAD_TOO_LARGE, None, "token form").await;
    assert_still_serving(&app, "token form").await;

    let browser = app.browser();
    let csrf = browser.csrf("/login").await;
    let resp = browser
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", big.as_str()),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_status(resp, StatusCode::PAYLOAD_TOO_LARGE, "login form").await;
    assert_still_serving(&app, "login form").await;

    let resp = send(
        api_client()
            .post(app.url("/api/users"))
            .json(&json!({"username": "bob", "password": big})),
        "register JSON",
    )
    .await;
    assert_api_error(resp, StatusCode::PAYLOAD_TOO_LARGE, None, "register JSON").await;
    assert_still_serving(&app, "register JSON").await;
    assert!(app.find_user("bob").await.is_none());
}

#[tokio::test]
async fn a_body_of_exactly_max_body_is_read() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let empty = json!({"username": "alice", "password": ""}).to_string();
    let body =
        json!({"username": "alice", "password": "a".repeat(MAX_BODY - empty.len())}).to_string();
    assert_eq!(body.len(), MAX_BODY);

    let resp = post_bytes(&app, "/api/token", JSON, body).await;

    // Read and judged: a (wrong, over-long) password, not a refused body.
    assert_api_error(
        resp,
        StatusCode::UNAUTHORIZED,
        Some("invalid_grant"),
        "16 KiB body",
    )
    .await;
}

#[tokio::test]
async fn a_content_length_over_max_body_gets_413_before_the_body_is_sent() {
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    let host = host_header(&app);

    for (path, content_type) in [
        ("/api/token", JSON),
        ("/api/token", FORM),
        ("/api/users", JSON),
        ("/login", FORM),
    ] {
        let case = format!("{path} ({content_type}) announcing 1 MB");
        // Only the head: the server must refuse on the announced length alone.
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n\
             Content-Length: 1048576\r\nConnection: close\r\n\r\n"
        );

        let (status, answer) = raw_http(&app, request.as_bytes()).await;

        assert_eq!(status, 413, "{case}: {answer}");
        assert_still_serving(&app, &case).await;
    }
}

#[tokio::test]
async fn a_chunked_body_over_max_body_gets_413() {
    let app = spawn_app().await;
    let host = host_header(&app);
    let chunk = "a".repeat(4096);
    let mut request = format!(
        "POST /api/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: {JSON}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    // Five 4 KiB chunks: 20 KiB, and no length announced up front.
    for _ in 0..5 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");

    let (status, answer) = raw_http(&app, request.as_bytes()).await;

    assert_eq!(status, 413, "{answer}");
    assert_still_serving(&app, "a chunked 20 KiB body").await;
}

// ---------------------------------------------------------------------------------------------
// Content types

#[tokio::test]
async fn wrong_content_types_get_415() {
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    let credentials = "username=alice&password=correct+horse+battery";

    for (path, content_type, body) in [
        ("/api/token", "text/plain", credentials.to_string()),
        (
            "/api/token",
            "multipart/form-data; boundary=XyZ",
            "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--XyZ--\r\n"
                .to_string(),
        ),
        ("/api/token", "application/xml", "<username/>".to_string()),
        ("/api/token/revoke", "text/plain", "token=abc".to_string()),
        (
            "/api/users",
            "text/plain",
            json!({"username": "bob", "password": PASSWORD}).to_string(),
        ),
    ] {
        let case = format!("{path} as {content_type}");
        let resp = post_bytes(&app, path, content_type, body).await;
        assert_api_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, None, &case).await;
        assert_still_serving(&app, &case).await;
    }

    // A body without any content type.
    let resp = send(
        api_client()
            .post(app.url("/api/token"))
            .body(credentials.to_string()),
        "no content type",
    )
    .await;
    assert_api_error(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
        "no content type",
    )
    .await;
    assert_still_serving(&app, "no content type").await;

    // The login form takes only a form.
    let browser = app.browser();
    let csrf = browser.csrf("/login").await;
    let resp = browser
        .client
        .post(browser.url("/login"))
        .header(CONTENT_TYPE, JSON)
        .body(json!({"username": "alice", "password": PASSWORD, "csrf_token": csrf}).to_string())
        .send()
        .await
        .expect("request sent");
    assert_status(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "/login as JSON").await;
    assert_still_serving(&app, "/login as JSON").await;
}

#[tokio::test]
async fn content_type_parameters_are_accepted_and_an_unreadable_content_type_is_a_bad_request() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let body = json!({"username": "alice", "password": PASSWORD}).to_string();

    let resp = post_bytes(
        &app,
        "/api/token",
        "application/json; charset=utf-8",
        body.clone(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "JSON with a charset");

    let resp = post_bytes(&app, "/api/token", "not a mime type ///", body).await;
    assert_api_error(
        resp,
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        "unreadable Content-Type",
    )
    .await;
    assert_still_serving(&app, "unreadable Content-Type").await;
}

// ---------------------------------------------------------------------------------------------
// Malformed bodies

/// A request body for `/api/token`: name, content type, bytes, expected status and `error`.
type TokenCase = (
    &'static str,
    &'static str,
    Vec<u8>,
    (StatusCode, &'static str),
);

#[tokio::test]
async fn malformed_token_requests_get_400_or_401_never_5xx() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let long_name = json!({"username": "n".repeat(10_000), "password": "x"}).to_string();
    let bad_request = (StatusCode::BAD_REQUEST, "invalid_request");
    let bad_grant = (StatusCode::BAD_REQUEST, "invalid_grant");
    let bad_credentials = (StatusCode::UNAUTHORIZED, "invalid_grant");

    let cases: Vec<TokenCase> = vec![
        ("JSON syntax error", JSON, b"{nope".to_vec(), bad_request),
        ("empty JSON body", JSON, Vec::new(), bad_request),
        (
            "truncated JSON",
            JSON,
            br#"{"username":"alice","pass"#.to_vec(),
            bad_request,
        ),
        ("JSON array", JSON, b"[1,2,3]".to_vec(), bad_request),
        ("JSON string", JSON, br#""alice""#.to_vec(), bad_request),
        ("JSON null", JSON, b"null".to_vec(), bad_request),
        ("JSON number", JSON, b"42".to_vec(), bad_request),
        (
            "JSON nested 5000 deep",
            JSON,
            deep.into_bytes(),
            bad_request,
        ),
        (
            "numeric username",
            JSON,
            br#"{"username":1,"password":"x"}"#.to_vec(),
            bad_request,
        ),
        (
            "array password",
            JSON,
            br#"{"username":"alice","password":["x"]}"#.to_vec(),
            bad_request,
        ),
        (
            "object username",
            JSON,
            br#"{"username":{"$ne":null},"password":"x"}"#.to_vec(),
            bad_request,
        ),
        (
            "boolean grant_type",
            JSON,
            br#"{"grant_type":true,"username":"alice","password":"x"}"#.to_vec(),
            bad_request,
        ),
        (
            "object refresh_token",
            JSON,
            br#"{"grant_type":"refresh_token","refresh_token":{}}"#.to_vec(),
            bad_request,
        ),
        (
            "invalid UTF-8 in JSON",
            JSON,
            b"{\"username\":\"al\xff\xfeice\",\"password\":\"x\"}".to_vec(),
            bad_request,
        ),
        (
            "lone surrogate escape in JSON",
            JSON,
            br#"{"username":"\ud800","password":"x"}"#.to_vec(),
            bad_request,
        ),
        (
            "missing password",
            JSON,
            br#"{"grant_type":"password","username":"alice"}"#.to_vec(),
            bad_request,
        ),
        (
            "unknown grant type",
            JSON,
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        ),
        (
            "NUL in grant_type",
            JSON,
            br#"{"grant_type":"password\u0000","username":"alice","password":"x"}"#.to_vec(),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        ),
        (
            "NUL in a JSON username",
            JSON,
            br#"{"username":"mallory\u0000","password":"x"}"#.to_vec(),
            bad_credentials,
        ),
        (
            "NUL in a JSON password",
            JSON,
            br#"{"username":"alice","password":"correct\u0000horse"}"#.to_vec(),
            bad_credentials,
        ),
        (
            "NUL refresh token",
            JSON,
            br#"{"grant_type":"refresh_token","refresh_token":"\u0000"}"#.to_vec(),
            bad_grant,
        ),
        (
            "10 000-character username",
            JSON,
            long_name.into_bytes(),
            bad_credentials,
        ),
        (
            "invalid UTF-8 in a form",
            FORM,
            b"username=\xff\xfe&password=x".to_vec(),
            bad_credentials,
        ),
        (
            "percent-encoded invalid UTF-8 in a form",
            FORM,
            b"username=%FF%FE&password=x".to_vec(),
            bad_credentials,
        ),
        (
            "invalid percent-encoding in a form",
            FORM,
            b"username=%ZZ&password=%".to_vec(),
            bad_credentials,
        ),
        (
            "NUL in a form username",
            FORM,
            b"username=eve%00&password=x".to_vec(),
            bad_credentials,
        ),
        (
            "NUL in a form password",
            FORM,
            b"username=alice&password=correct%00horse".to_vec(),
            bad_credentials,
        ),
        (
            "NUL refresh token in a form",
            FORM,
            b"grant_type=refresh_token&refresh_token=%00".to_vec(),
            bad_grant,
        ),
        (
            "repeated form field",
            FORM,
            b"username=alice&username=bob&password=x".to_vec(),
            bad_request,
        ),
        (
            "form of separators only",
            FORM,
            b"&&=&==&".to_vec(),
            bad_request,
        ),
    ];

    for (case, content_type, body, (status, code)) in cases {
        let resp = post_bytes(&app, "/api/token", content_type, body).await;
        assert_api_error(resp, status, Some(code), case).await;
        assert_still_serving(&app, case).await;
    }

    // None of that locked or broke the real account.
    app.tokens_for("alice", PASSWORD).await;
}

#[tokio::test]
async fn malformed_login_forms_get_4xx_never_5xx() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    let csrf = browser.csrf("/login").await;

    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        (
            "invalid percent-encoding",
            b"username=%ZZ&password=%&csrf_token=".to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "percent-encoded invalid UTF-8",
            b"username=%FF%FE&password=x&csrf_token=".to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "raw invalid UTF-8",
            b"username=\xff\xfe&password=x&csrf_token=".to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "NUL in the username",
            b"username=eve%00&password=x&csrf_token=".to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "NUL in the password",
            b"username=alice&password=correct%00horse&csrf_token=".to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "NUL in next",
            b"username=eve&password=x&next=%00&csrf_token=".to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "repeated field",
            b"username=alice&username=bob&password=x&csrf_token=".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
    ];

    for (case, mut body, status) in cases {
        body.extend_from_slice(csrf.as_bytes());
        let resp = browser
            .client
            .post(browser.url("/login"))
            .header(CONTENT_TYPE, FORM)
            .body(body)
            .send()
            .await
            .expect("request sent");
        assert_status(resp, status, case).await;
        assert_still_serving(&app, case).await;
    }

    // Without a valid CSRF token the same garbage is refused as a forgery.
    for (case, body) in [
        ("no token", &b"username=%ZZ&password=%"[..]),
        ("NUL token", b"username=eve%00&password=x&csrf_token=%00"),
        (
            "invalid UTF-8 token",
            b"username=a&password=x&csrf_token=%FF",
        ),
    ] {
        let resp = browser
            .client
            .post(browser.url("/login"))
            .header(CONTENT_TYPE, FORM)
            .body(body.to_vec())
            .send()
            .await
            .expect("request sent");
        assert_status(resp, StatusCode::FORBIDDEN, case).await;
        assert_still_serving(&app, case).await;
    }

    let resp = browser.login("alice", PASSWORD).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "alice can still sign in"
    );
}

// ---------------------------------------------------------------------------------------------
// Credentials and cookies

#[tokio::test]
async fn malformed_basic_and_bearer_headers_get_401() {
    let app = spawn_app_with(|s| s.auth.basic = true).await;
    let not_utf8 = STANDARD.encode(b"al\xff\xfeice:password");
    let no_colon = STANDARD.encode("alice-without-a-colon");
    let empty_user = STANDARD.encode(":password");
    let huge_bearer = format!("Bearer {}", "a".repeat(10 * 1024));

    let basic_cases: Vec<(&str, Vec<u8>)> = vec![
        ("scheme only", b"Basic".to_vec()),
        ("scheme and space", b"Basic ".to_vec()),
        ("not base64", b"Basic !!!".to_vec()),
        (
            "base64 of non-UTF-8",
            format!("Basic {not_utf8}").into_bytes(),
        ),
        (
            "base64 without a colon",
            format!("Basic {no_colon}").into_bytes(),
        ),
        ("empty user id", format!("Basic {empty_user}").into_bytes()),
        ("raw non-ASCII bytes", b"Basic \xc3\xa9\xff".to_vec()),
    ];
    for (case, value) in basic_cases {
        let value = HeaderValue::from_bytes(&value).expect("header value");
        let resp = send(
            api_client()
                .get(app.url("/api/me"))
                .header(AUTHORIZATION, value),
            case,
        )
        .await;
        let challenges: Vec<String> = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect();
        assert_api_error(resp, StatusCode::UNAUTHORIZED, None, case).await;
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic ")),
            "{case}: no Basic challenge in {challenges:?}"
        );
        assert_still_serving(&app, case).await;
    }

    for (case, value) in [
        ("bearer scheme only", "Bearer"),
        ("bearer and space", "Bearer "),
        ("two segments", "Bearer a.b"),
        ("three empty segments", "Bearer .."),
        ("not base64url", "Bearer !!!.@@@.###"),
        ("10 KB of a", huge_bearer.as_str()),
    ] {
        let resp = send(
            api_client()
                .get(app.url("/api/me"))
                .header(AUTHORIZATION, value),
            case,
        )
        .await;
        assert_api_error(resp, StatusCode::UNAUTHORIZED, Some("invalid_token"), case).await;
        assert_still_serving(&app, case).await;
    }

    // A bearer header that is not even text is refused as well.
    let resp = send(
        api_client().get(app.url("/api/me")).header(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("header value"),
        ),
        "non-ASCII bearer",
    )
    .await;
    assert_api_error(resp, StatusCode::UNAUTHORIZED, None, "non-ASCII bearer").await;
    assert_still_serving(&app, "non-ASCII bearer").await;
}

#[tokio::test]
async fn garbage_session_cookies_are_ignored() {
    let app = spawn_app().await;
    let name = app.settings.session.cookie_name.clone();
    let many: Vec<String> = (0..300).map(|i| format!("c{i}=v{i}")).collect();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "random value",
            format!("{name}={}", gatehouse::domain::random_token(32)).into_bytes(),
        ),
        ("empty value", format!("{name}=").into_bytes()),
        (
            "5 KB value",
            format!("{name}={}", "A".repeat(5 * 1024)).into_bytes(),
        ),
        (
            "non-ASCII bytes",
            [format!("{name}=").as_bytes(), b"\xc3\xa9\xff\xfe\x80"].concat(),
        ),
        ("twice", format!("{name}=first; {name}=second").into_bytes()),
        ("no equals sign", format!("{name}; ;;=; =x").into_bytes()),
        (
            "300 other cookies",
            format!("{}; {name}=garbage", many.join("; ")).into_bytes(),
        ),
    ];

    for (case, cookie) in cases {
        let cookie = HeaderValue::from_bytes(&cookie).expect("header value");

        let resp = send(
            api_client()
                .get(app.url("/"))
                .header(COOKIE, cookie.clone()),
            case,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "GET / with {case}");
        assert_eq!(crate::helpers::location(&resp), "/login?next=%2F", "{case}");

        let resp = send(
            api_client().get(app.url("/api/me")).header(COOKIE, cookie),
            case,
        )
        .await;
        assert_api_error(
            resp,
            StatusCode::UNAUTHORIZED,
            Some("unauthorized"),
            &format!("/api/me with {case}"),
        )
        .await;
        assert_still_serving(&app, case).await;
    }

    // Many separate Cookie headers.
    let mut request = api_client().get(app.url("/api/me"));
    for i in 0..50 {
        request = request.header(COOKIE, format!("{name}=garbage{i}"));
    }
    let resp = send(request, "50 Cookie headers").await;
    assert_api_error(
        resp,
        StatusCode::UNAUTHORIZED,
        Some("unauthorized"),
        "50 Cookie headers",
    )
    .await;
    assert_still_serving(&app, "50 Cookie headers").await;
}

// ---------------------------------------------------------------------------------------------
// Headers and paths

#[tokio::test]
async fn huge_headers_are_refused_or_handled_never_5xx() {
    let app = spawn_app().await;

    // Within actix's fixed 128 KiB limit for a request head: handled like any request.
    let resp = send(
        api_client()
            .get(app.url("/api/me"))
            .header("x-junk", "x".repeat(100 * 1024)),
        "100 KB header",
    )
    .await;
    assert_api_error(
        resp,
        StatusCode::UNAUTHORIZED,
        Some("unauthorized"),
        "100 KB header",
    )
    .await;
    assert_still_serving(&app, "a 100 KB header").await;

    // Past it: 431 before any handler runs.
    let resp = send(
        api_client()
            .get(app.url("/api/me"))
            .header("x-junk", "x".repeat(200 * 1024)),
        "200 KB header",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_still_serving(&app, "a 200 KB header").await;

    // More header fields than actix parses (96).
    let mut request = api_client().get(app.url("/api/me"));
    for i in 0..200 {
        request = request.header(format!("x-junk-{i}"), "x");
    }
    let resp = send(request, "200 header fields").await;
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_still_serving(&app, "200 header fields").await;
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404() {
    let app = spawn_app().await;

    for path in ["/api/does-not-exist", "/api/me/extra", "/api/token/%00"] {
        let resp = send(api_client().get(app.url(path)), path).await;
        assert_api_error(resp, StatusCode::NOT_FOUND, Some("not_found"), path).await;
        assert_still_serving(&app, path).await;
    }
}

#[tokio::test]
async fn traversal_and_nul_paths_get_404_or_400() {
    let app = spawn_app().await;
    let host = host_header(&app);

    for (target, expected) in [
        ("/static/../Cargo.toml", 404),
        ("/static/..%2FCargo.toml", 404),
        ("/static/%2e%2e/%2e%2e/Cargo.toml", 404),
        ("/static/..%5C..%5CCargo.toml", 404),
        ("/static/style.css%00", 404),
        ("/static/style.css%00.png", 404),
        ("/%00", 404),
        ("/api/me%00", 404),
        ("/login%00", 404),
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");

        let (status, answer) = raw_http(&app, request.as_bytes()).await;

        assert_eq!(status, expected, "{target}: {answer}");
        assert!(!answer.contains("[package]"), "{target} served Cargo.toml");
        assert_still_serving(&app, target).await;
    }

    // A raw NUL byte in the request line is not HTTP.
    let request = format!("GET /\0 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let (status, answer) = raw_http(&app, request.as_bytes()).await;
    assert_eq!(status, 400, "raw NUL: {answer}");
    assert_still_serving(&app, "a raw NUL in the path").await;

    // The real asset is still there.
    let resp = send(api_client().get(app.url("/static/style.css")), "css").await;
    assert_eq!(resp.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

/// `name` (at most 16 letters) with the letters whose bit is set in `i` upper-cased.
fn case_variant(name: &str, i: usize) -> String {
    name.chars()
        .enumerate()
        .map(|(pos, c)| {
            if i & (1 << pos) == 0 {
                c
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

#[tokio::test]
async fn concurrent_registrations_of_one_name_create_exactly_one_user() {
    let app = spawn_app_with(|s| {
        s.auth.registration = true;
        s.server.workers = Some(2);
    })
    .await;
    let client = api_client();

    let requests = (0..20).map(|i| {
        client
            .post(app.url("/api/users"))
            .json(&json!({"username": case_variant("racer", i), "password": PASSWORD}))
            .send()
    });
    let responses = join_all(requests).await;

    let mut created = 0;
    let mut taken = 0;
    let mut others = Vec::new();
    for resp in responses {
        let resp = resp.expect("request sent");
        let status = resp.status();
        let body = resp.text().await.expect("body");
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let body: Value = serde_json::from_str(&body).expect("JSON 409 body");
                assert_eq!(body["error"], "conflict", "{body}");
                taken += 1;
            }
            other => others.push(format!("{other}: {body}")),
        }
    }
    assert!(others.is_empty(), "unexpected answers: {others:#?}");
    assert_eq!((created, taken), (1, 19));
    let user = app.find_user("RACER").await.expect("the user exists");
    assert!(user.username.eq_ignore_ascii_case("racer"));
    let count = app
        .with_db(|c| gatehouse::db::users::list(c).expect("list").len())
        .await;
    assert_eq!(count, 2, "admin and one racer");
}

#[tokio::test]
async fn concurrent_password_and_refresh_grants_all_succeed() {
    let app = spawn_app_with(|s| s.server.workers = Some(2)).await;
    let users: Vec<String> = (0..5).map(|i| format!("user{i}")).collect();
    for user in &users {
        app.create_user(user, PASSWORD, false).await;
    }
    // Five refresh tokens per user, each to be used once below.
    let mut refresh_tokens = Vec::new();
    for user in &users {
        for _ in 0..5 {
            refresh_tokens.push(app.tokens_for(user, PASSWORD).await.1);
        }
    }

    let client = api_client();
    let requests = (0..50).map(|i| {
        let body = if i % 2 == 0 {
            json!({"grant_type": "password", "username": users[i / 2 % 5], "password": PASSWORD})
        } else {
            json!({"grant_type": "refresh_token", "refresh_token": refresh_tokens[i / 2]})
        };
        client.post(app.url("/api/token")).json(&body).send()
    });
    let responses = join_all(requests).await;

    let mut failures = Vec::new();
    let mut issued = std::collections::HashSet::new();
    for (i, resp) in responses.into_iter().enumerate() {
        let resp = resp.expect("request sent");
        let status = resp.status();
        let body = resp.text().await.expect("body");
        if status == StatusCode::OK {
            let body: Value = serde_json::from_str(&body).expect("JSON");
            issued.insert(body["refresh_token"].as_str().expect("refresh").to_string());
        } else {
            failures.push(format!("request {i}: {status}: {body}"));
        }
    }
    assert!(failures.is_empty(), "failed grants: {failures:#?}");
    assert_eq!(issued.len(), 50, "every grant got its own refresh token");
    assert_still_serving(&app, "50 concurrent grants").await;
}

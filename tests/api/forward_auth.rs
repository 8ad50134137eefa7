//! Forward-auth for reverse proxies (SPEC §12, issue 15): `/auth/request` and `/auth/forward`
//! asked as nginx, Traefik and Caddy ask them (from a trusted proxy, with the original request
//! in headers), the rules, the identity headers, bearer tokens, spoofed headers from untrusted
//! peers, `/login?rd=`, `session.cookie_domain`, and a reload that switches the rules.

use actix_session::storage::{SessionKey, SessionStore};
use actix_web::cookie::{Cookie, CookieJar};
use gatehouse::config::{AuthMode, ForwardAuthSettings, Settings};
use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, api_client, location, spawn_app_with};

const PASSWORD: &str = "correct horse battery";
const APP: &str = "https://app.example.com";

/// Rules as a file would hold them.
fn forward_auth(toml: &str) -> ForwardAuthSettings {
    Settings::from_toml_str(&format!("[forward_auth]\n{toml}"))
        .expect("valid rules")
        .forward_auth
}

const RULES: &str = "domains = [\"app.example.com\", \"*.apps.example.com\"]\n\
    default_policy = \"deny\"\n\
    [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/public/\"\npolicy = \"bypass\"\n\
    [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/admin\"\npolicy = \"roles\"\nroles = [\"admin\"]\n\
    [[forward_auth.rules]]\nhost = \"app.example.com\"\nmethods = [\"DELETE\"]\npolicy = \"deny\"\n\
    [[forward_auth.rules]]\nhost = \"app.example.com\"\npolicy = \"signed_in\"\n\
    [[forward_auth.rules]]\nhost = \"secure.apps.example.com\"\npolicy = \"signed_in\"\nmfa = true\n\
    [[forward_auth.rules]]\nhost = \"fresh.apps.example.com\"\npolicy = \"signed_in\"\nmax_age = \"1h\"\n\
    [[forward_auth.rules]]\nhost = \"*.apps.example.com\"\npolicy = \"signed_in\"\n";

/// An app behind a trusted proxy (this test, on loopback) with [`RULES`], and alice (a user)
/// and the bootstrap admin.
async fn app_behind_proxy(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.forward_auth = forward_auth(RULES);
        customize(s);
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    app
}

/// What nginx's `auth_request` sends: the original URL in `X-Original-URL`.
async fn nginx_asks(
    app: &TestApp,
    original: &str,
    cookie: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = api_client()
        .get(app.url("/auth/request"))
        .header("x-original-url", original)
        .header("x-original-method", "GET");
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// What Traefik's `forwardAuth` and Caddy's `forward_auth` send: `X-Forwarded-*`.
async fn traefik_asks(
    app: &TestApp,
    method: &str,
    host: &str,
    uri: &str,
    accept: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = api_client()
        .get(app.url("/auth/forward"))
        .header("x-forwarded-method", method)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .header(reqwest::header::ACCEPT, accept);
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    request.send().await.unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn signed_in(app: &TestApp, user: &str, password: &str) -> (Browser, String) {
    let browser = app.browser();
    let resp = browser.login(user, password).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = browser.cookie_header().expect("a session cookie");
    (browser, cookie)
}

/// The value of the session cookie alone.
fn session_cookie_value(app: &TestApp, cookie_header: &str) -> String {
    let name = format!("{}=", app.settings.session.cookie_name);
    cookie_header
        .split("; ")
        .find_map(|c| c.strip_prefix(&name))
        .expect("the session cookie")
        .to_string()
}

#[tokio::test]
async fn anonymous_requests_get_401_and_browsers_at_forward_are_sent_to_sign_in() {
    let app = app_behind_proxy(|_| {}).await;

    let resp = nginx_asks(&app, &format!("{APP}/dashboard?tab=1"), None, &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&resp, "remote-user"), None);

    let resp = traefik_asks(
        &app,
        "GET",
        "app.example.com",
        "/dashboard?tab=1",
        "text/html,application/xhtml+xml",
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        location(&resp),
        format!(
            "{}/login?rd=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1",
            app.settings.public_url()
        )
    );
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));

    // Not a browser: 401.
    let resp = traefik_asks(
        &app,
        "GET",
        "app.example.com",
        "/x",
        "application/json",
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A host outside forward_auth.domains is never redirected back to: 401, not 302.
    let resp = traefik_asks(&app, "GET", "other.example.org", "/", "text/html", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "default deny");
}

#[tokio::test]
async fn a_signed_in_session_gets_the_identity_and_remote_session_never_shows_the_cookie() {
    let app = app_behind_proxy(|_| {}).await;
    let (_, cookie) = signed_in(&app, "alice", PASSWORD).await;
    let (_, admin_cookie) = signed_in(&app, "admin", &app.admin_password).await;

    let resp = nginx_asks(&app, &format!("{APP}/"), Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "remote-user").as_deref(), Some("alice"));
    assert_eq!(header(&resp, "remote-name").as_deref(), Some("alice"));
    assert_eq!(header(&resp, "remote-groups").as_deref(), Some("user"));
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    let reference = header(&resp, "remote-session").expect("Remote-Session");
    let cookie_value = session_cookie_value(&app, &cookie);
    assert!(reference.len() >= 20, "{reference}");
    assert!(!cookie_value.contains(&reference) && !reference.contains(&cookie_value));
    let sids: Vec<String> = app
        .sessions_of(app.find_user("alice").await.unwrap().id)
        .await
        .into_iter()
        .flat_map(|s| {
            let sid = gatehouse::session_store::SessionMeta::from_state(&s.state).sid;
            [Some(s.id), sid]
        })
        .flatten()
        .collect();
    assert!(!sids.is_empty());
    for sid in sids {
        assert!(
            !reference.contains(&sid) && !sid.contains(&reference),
            "{sid}"
        );
    }
    // Stable for the session, different for another.
    let again = nginx_asks(&app, &format!("{APP}/x"), Some(&cookie), &[]).await;
    assert_eq!(header(&again, "remote-session"), Some(reference.clone()));
    let admin = nginx_asks(&app, &format!("{APP}/"), Some(&admin_cookie), &[]).await;
    assert_eq!(
        header(&admin, "remote-groups").as_deref(),
        Some("user,admin")
    );
    assert_ne!(header(&admin, "remote-session"), Some(reference));

    // Traefik's door with the same session.
    let resp = traefik_asks(
        &app,
        "GET",
        "x.apps.example.com",
        "/",
        "text/html",
        Some(&cookie),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "remote-user").as_deref(), Some("alice"));
}

#[tokio::test]
async fn rules_decide_first_match_first_with_methods_paths_roles_and_the_default() {
    let app = app_behind_proxy(|_| {}).await;
    let (_, alice) = signed_in(&app, "alice", PASSWORD).await;
    let (_, admin) = signed_in(&app, "admin", &app.admin_password).await;

    // bypass: anyone, no identity, even signed in.
    let resp = nginx_asks(&app, &format!("{APP}/public/logo.png"), None, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = nginx_asks(&app, &format!("{APP}/public/x"), Some(&alice), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "remote-user"), None);
    // roles: alice lacks admin, admin has it; a dot segment does not get around the rule.
    for path in ["/admin", "/admin/users", "/public/../admin", "/%61dmin"] {
        let resp = nginx_asks(&app, &format!("{APP}{path}"), Some(&alice), &[]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let resp = nginx_asks(&app, &format!("{APP}/admin"), Some(&admin), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = nginx_asks(&app, &format!("{APP}/admin"), None, &[]).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "anonymous: sign in first"
    );
    // methods: DELETE is denied, GET is not.
    let resp = traefik_asks(
        &app,
        "DELETE",
        "app.example.com",
        "/item/1",
        "*/*",
        Some(&admin),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = traefik_asks(
        &app,
        "GET",
        "app.example.com",
        "/item/1",
        "*/*",
        Some(&admin),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // No rule: the default policy (deny), for anyone.
    let resp = nginx_asks(&app, "https://unlisted.example.net/", Some(&admin), &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Denials are counted per rule host, the default under "other", never a raw header.
    let scrape = crate::ops::scrape(&app).await;
    let denied =
        |host: &str| scrape.value("gatehouse_forward_auth_denied_total", &[("host", host)]);
    assert_eq!(denied("app.example.com"), 5.0);
    assert_eq!(denied("other"), 1.0);
    assert_eq!(denied("unlisted.example.net"), 0.0);
}

#[tokio::test]
async fn headers_from_an_untrusted_peer_change_nothing() {
    // No trusted proxy: the test's requests come straight from a client.
    let app = app_behind_proxy(|s| s.server.trusted_proxies.clear()).await;
    // Judged as a request for Gatehouse itself (127.0.0.1, no rule): the default, deny.
    for extra in [
        vec![("x-original-url", "https://app.example.com/public/x")],
        vec![
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "/public/x"),
            ("x-forwarded-proto", "https"),
        ],
    ] {
        let mut request = api_client().get(app.url("/auth/request"));
        for (name, value) in &extra {
            request = request.header(*name, *value);
        }
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{extra:?}");
    }
    // And no browser is sent back to a host it named.
    let resp = traefik_asks(&app, "GET", "app.example.com", "/", "text/html", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&resp, "location"), None);
}

#[tokio::test]
async fn a_rule_with_mfa_needs_a_session_that_passed_a_second_factor() {
    let app = app_behind_proxy(|_| {}).await;
    app.create_user("bob", PASSWORD, false).await;
    let (secret, _) = crate::mfa::enrol(&app, "bob").await;
    let secure = "https://secure.apps.example.com/";
    let (browser, alice) = signed_in(&app, "alice", PASSWORD).await;

    // Password only: 401 at nginx's door, a browser at Traefik's is sent to sign in again.
    let resp = nginx_asks(&app, secure, Some(&alice), &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = traefik_asks(
        &app,
        "GET",
        "secure.apps.example.com",
        "/",
        "text/html",
        Some(&alice),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let login = location(&resp);
    assert!(
        login.ends_with("/login?rd=https%3A%2F%2Fsecure.apps.example.com%2F"),
        "{login}"
    );
    // The sign-in page does not bounce the signed-in browser back (no loop): it asks again.
    let resp = browser
        .get("/login?rd=https%3A%2F%2Fsecure.apps.example.com%2F")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("two-step verification"), "{page}");
    assert!(page.contains("secure.apps.example.com"));
    // Other apps need no second factor.
    let resp = nginx_asks(&app, "https://x.apps.example.com/", Some(&alice), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Bob signs in with his code, from that page, and is sent back to the app.
    let bob = app.browser();
    let token = bob.csrf("/login").await;
    let resp = bob
        .post_form(
            "/login",
            &[
                ("username", "bob"),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("next", "/"),
                ("rd", secure),
            ],
        )
        .await;
    assert_eq!(location(&resp), "/login/mfa");
    let resp = bob
        .submit(
            "/login/mfa",
            "/login/mfa",
            &[("code", &crate::mfa::code(&secret, 0))],
        )
        .await;
    assert_eq!(crate::helpers::signed_in_to(resp).await, secure);
    let cookie = bob.cookie_header().unwrap();
    let resp = nginx_asks(&app, secure, Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "remote-user").as_deref(), Some("bob"));
    // Signed in with both factors, /login?rd= goes straight to the app.
    let resp = bob
        .get("/login?rd=https%3A%2F%2Fsecure.apps.example.com%2F")
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), secure);
}

/// Moves the sign-in time of the session `cookie_header` names back by `by`, through the
/// store's own API (either store).
async fn age_sign_in(app: &TestApp, cookie_header: &str, by: chrono::Duration) {
    let name = app.settings.session.cookie_name.clone();
    let mut jar = CookieJar::new();
    // As the server reads it: percent-decoded.
    jar.add_original(
        Cookie::parse_encoded(format!(
            "{name}={}",
            session_cookie_value(app, cookie_header)
        ))
        .unwrap()
        .into_owned(),
    );
    let plain = jar
        .private(&app.state.session_key)
        .get(&name)
        .expect("a cookie of this app");
    let key = SessionKey::try_from(plain.value().to_string()).unwrap();
    let mut state = app.state.sessions.load(&key).await.unwrap().expect("live");
    for field in ["auth_at", "login_at"] {
        let at: i64 = serde_json::from_str(&state[field]).unwrap();
        let moved = at - by.num_microseconds().unwrap();
        state.insert(field.to_string(), moved.to_string());
    }
    let ttl = actix_web::cookie::time::Duration::minutes(30);
    app.state.sessions.update(key, state, &ttl).await.unwrap();
}

#[tokio::test]
async fn a_rule_with_max_age_needs_a_recent_sign_in() {
    let app = app_behind_proxy(|_| {}).await;
    let fresh = "https://fresh.apps.example.com/";
    let (_, cookie) = signed_in(&app, "alice", PASSWORD).await;
    let resp = nginx_asks(&app, fresh, Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);

    age_sign_in(&app, &cookie, chrono::Duration::minutes(61)).await;

    let resp = nginx_asks(&app, fresh, Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = traefik_asks(
        &app,
        "GET",
        "fresh.apps.example.com",
        "/",
        "text/html",
        Some(&cookie),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    // Still signed in for the apps without max_age.
    let resp = nginx_asks(&app, "https://x.apps.example.com/", Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// The idle expiry of alice's one session, as the store holds it.
async fn alice_session_expiry(app: &TestApp) -> chrono::NaiveDateTime {
    let alice = app.find_user("alice").await.unwrap();
    let sessions = app.sessions_of(alice.id).await;
    assert_eq!(sessions.len(), 1);
    sessions[0].expires_at
}

/// Forward-auth reads the session without actix-session (`session_store::peek`): it writes
/// nothing, but what a read causes still happens — the idle extension, and the end of a session
/// the session strategy no longer accepts, with the cookie's removal.
#[tokio::test]
async fn a_check_keeps_an_idle_session_alive_and_ends_one_past_its_lifetime() {
    let app = app_behind_proxy(|_| {}).await;
    let (_, cookie) = signed_in(&app, "alice", PASSWORD).await;
    let idle = chrono::Duration::from_std(app.settings.session.idle_timeout.0).unwrap();
    // The database store keeps the expiry to the microsecond; Redis keeps a TTL in seconds.
    let exact = app.settings.session.store == gatehouse::config::SessionStoreKind::Database;
    let written = alice_session_expiry(&app).await;

    // Checks right after sign-in write nothing, not even a cookie.
    for _ in 0..2 {
        let resp = nginx_asks(&app, &format!("{APP}/"), Some(&cookie), &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "set-cookie"), None);
    }
    if exact {
        assert_eq!(alice_session_expiry(&app).await, written);
    }

    // Someone who only uses the app behind the proxy stays signed in: as if the last write was
    // 95% of the idle timeout ago, the next check extends it.
    let alice = app.find_user("alice").await.unwrap();
    app.shift_sessions(alice.id, chrono::Duration::zero(), idle * 95 / 100)
        .await;
    let resp = nginx_asks(&app, &format!("{APP}/"), Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let extended = alice_session_expiry(&app).await;
    assert!(
        extended > chrono::Utc::now().naive_utc() + idle * 9 / 10,
        "not extended: {extended}"
    );

    // Signed in longer ago than `session.ttl`: the check refuses the session and ends it.
    let ttl = chrono::Duration::from_std(app.settings.session.ttl.0).unwrap();
    age_sign_in(&app, &cookie, ttl + chrono::Duration::minutes(1)).await;
    let resp = traefik_asks(
        &app,
        "GET",
        "app.example.com",
        "/",
        "text/html",
        Some(&cookie),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let removal = header(&resp, "set-cookie").expect("the session cookie removed");
    assert!(
        removal.starts_with(&format!("{}=;", app.settings.session.cookie_name)),
        "{removal}"
    );
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(app.sessions_of(alice.id).await.is_empty());
    let resp = nginx_asks(&app, &format!("{APP}/"), Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

/// A cookie that is not this server's (tampered, or sealed under another key) signs nobody
/// in, and nothing is written for it.
#[tokio::test]
async fn a_forged_session_cookie_is_anonymous() {
    let app = app_behind_proxy(|_| {}).await;
    let (_, cookie) = signed_in(&app, "alice", PASSWORD).await;
    let name = &app.settings.session.cookie_name;
    let value = session_cookie_value(&app, &cookie);
    let mut tampered = value.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // Before and after the real cookie was unsealed (and kept) by the instance.
    for round in ["before", "after"] {
        for forged in [tampered.as_str(), "not-a-sealed-cookie", ""] {
            let resp = nginx_asks(
                &app,
                &format!("{APP}/"),
                Some(&format!("{name}={forged}")),
                &[],
            )
            .await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{round}: {forged}");
            assert_eq!(header(&resp, "remote-user"), None);
            assert_eq!(header(&resp, "set-cookie"), None);
        }
        // The real one works.
        let resp = nginx_asks(&app, &format!("{APP}/"), Some(&cookie), &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{round}");
    }
}

#[tokio::test]
async fn a_signed_out_session_is_anonymous_though_its_cookie_was_checked_before() {
    let app = app_behind_proxy(|_| {}).await;
    let (browser, cookie) = signed_in(&app, "alice", PASSWORD).await;
    for _ in 0..2 {
        let resp = nginx_asks(&app, &format!("{APP}/"), Some(&cookie), &[]).await;
        assert_eq!(header(&resp, "remote-user").as_deref(), Some("alice"));
    }

    let resp = browser.submit("/", "/logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let resp = nginx_asks(&app, &format!("{APP}/"), Some(&cookie), &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&resp, "remote-user"), None);
    assert_eq!(header(&resp, "remote-session"), None);
}

#[tokio::test]
async fn bearer_tokens_are_credentials_when_the_token_api_is_on() {
    let app = app_behind_proxy(|_| {}).await;
    let (access, refresh) = app.tokens_for("alice", PASSWORD).await;
    let bearer = format!("Bearer {access}");

    let resp = nginx_asks(
        &app,
        &format!("{APP}/"),
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "remote-user").as_deref(), Some("alice"));
    let reference = header(&resp, "remote-session").unwrap();
    assert!(!access.contains(&reference) && !refresh.contains(&reference));
    // A bearer token never meets a rule that needs a second factor.
    let resp = nginx_asks(
        &app,
        "https://secure.apps.example.com/",
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A bad token signs nobody in.
    let resp = nginx_asks(
        &app,
        &format!("{APP}/"),
        None,
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // With the token API off, the bearer is not read.
    let app = app_behind_proxy(|s| s.auth.mode = AuthMode::Session).await;
    let resp = nginx_asks(
        &app,
        &format!("{APP}/"),
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_endpoints_exist_only_with_the_html_surface_and_take_any_method() {
    let app = app_behind_proxy(|s| s.auth.mode = AuthMode::Token).await;
    let resp = nginx_asks(&app, &format!("{APP}/public/x"), None, &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let app = app_behind_proxy(|_| {}).await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::HEAD,
        reqwest::Method::PUT,
    ] {
        let resp = api_client()
            .request(method.clone(), app.url("/auth/forward"))
            .header("x-forwarded-host", "app.example.com")
            .header("x-forwarded-uri", "/public/x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{method}");
    }
}

#[tokio::test]
async fn login_follows_rd_only_to_listed_domains() {
    let app = app_behind_proxy(|_| {}).await;
    let browser = app.browser();
    let page = browser
        .get("/login?rd=https%3A%2F%2Fapp.example.com%2Fdash%3Fa%3D1")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<strong>app.example.com</strong>"), "{page}");
    assert!(page.contains("name=\"rd\" value=\"https://app.example.com/dash?a=1\""));

    for bad in [
        "https://evil.example/",
        "//evil",
        "javascript:alert(1)",
        "https://app.example.com@evil.com/",
        "https://app.example.com\\@evil.com/",
        "https:\\\\evil.com",
        "http://app.example.com.evil.com/",
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let page = browser
            .get(&format!("/login?rd={encoded}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains("name=\"rd\""), "{bad}");
        let other = app.browser();
        let token2 = other.csrf("/login").await;
        let resp = other
            .post_form(
                "/login",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("csrf_token", &token2),
                    ("next", "/account"),
                    ("rd", bad),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/account", "{bad}");
    }

    // A listed one is followed after sign-in…
    let token = browser.csrf("/login").await;
    let resp = browser
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("next", "/"),
                ("rd", "https://app.example.com/dash?a=1"),
            ],
        )
        .await;
    assert_eq!(
        crate::helpers::signed_in_to(resp).await,
        "https://app.example.com/dash?a=1"
    );
    // …and straight away once signed in.
    let resp = browser
        .get("/login?rd=https%3A%2F%2Fx.apps.example.com%2F")
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "https://x.apps.example.com/");
    let resp = browser.get("/login?rd=https%3A%2F%2Fevil.example%2F").await;
    assert_eq!(location(&resp), "/");
}

#[tokio::test]
async fn a_reload_switches_the_rules_for_the_next_request() {
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.forward_auth = forward_auth("default_policy = \"bypass\"\n");
        s.config_file = Some(s.server.data_dir.join("gatehouse.toml"));
        std::fs::write(s.config_file.as_ref().unwrap(), s.to_redacted_toml()).unwrap();
    })
    .await;
    let resp = nginx_asks(&app, &format!("{APP}/"), None, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let mut next = (*app.state.config()).clone();
    next.forward_auth = forward_auth(
        "default_policy = \"bypass\"\n[[forward_auth.rules]]\nhost = \"app.example.com\"\npolicy = \"deny\"\n",
    );
    std::fs::write(next.config_file.as_ref().unwrap(), next.to_redacted_toml()).unwrap();
    let outcome = gatehouse::reload::reload(&app.state)
        .await
        .expect("reloaded");
    assert_eq!(outcome.applied, ["forward_auth.rules"]);

    let resp = nginx_asks(&app, &format!("{APP}/"), None, &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // An invalid rule is refused with its key, and the rules in force stay.
    let text = next
        .to_redacted_toml()
        .replace("policy = \"deny\"", "policy = \"roles\"");
    std::fs::write(next.config_file.as_ref().unwrap(), text).unwrap();
    let err = gatehouse::reload::reload(&app.state)
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("forward_auth.rules[0].roles"),
        "{err}"
    );
    let resp = nginx_asks(&app, &format!("{APP}/"), None, &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_cookie_domain_is_on_the_session_cookie_and_on_its_removal() {
    let app = spawn_app_with(|s| {
        s.server.public_url = Some("http://auth.example.test".into());
        s.session.cookie_domain = Some(".example.test".into());
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    let resp = browser.login("alice", PASSWORD).await;
    let name = format!("{}=", app.settings.session.cookie_name);
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&name))
        .expect("a session cookie");
    assert!(set.contains("Domain=example.test"), "{set}");
    let session = set.split(';').next().unwrap().to_string();

    let page = browser
        .get_with_cookie("/", &session)
        .await
        .text()
        .await
        .unwrap();
    let token = crate::helpers::csrf_in(&page).expect("the page's sign-out form");
    let resp = api_client()
        .post(app.url("/logout"))
        .header(reqwest::header::COOKIE, &session)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let removal = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&name))
        .expect("the session cookie removed");
    assert!(removal.contains("Domain=example.test"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
}

/// Chromium applies `form-action 'self'` to the redirects that follow a form: a sign-in that
/// goes on to another site (an `rd`) or to `/authorize` answers with a page that moves on by
/// meta refresh instead of a 303 chain, while a local destination keeps its 303.
#[tokio::test]
async fn a_sign_in_bound_for_another_site_moves_on_by_a_page_not_a_cross_origin_303() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.forward_auth.domains =
            vec![gatehouse::config::HostPattern::parse("app.example.com").unwrap()];
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;

    let browser = app.browser();
    let token = browser.csrf("/login").await;
    let resp = browser
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("next", "/"),
                ("rd", "https://app.example.com/a?b=1&c=2"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("location").is_none());
    let page = resp.text().await.unwrap();
    assert!(
        page.contains(r#"<meta http-equiv="refresh" content="0; url="#),
        "{page}"
    );
    assert!(
        page.contains("Continuing to <strong>app.example.com</strong>"),
        "{page}"
    );

    let local = app.browser();
    let resp = local.login_next("alice", PASSWORD, "/account").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");
}

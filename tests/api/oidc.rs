//! The OpenID Connect provider (SPEC §11), driven by a real relying party (the `openidconnect`
//! crate: discovery, PKCE, nonce, ID-token verification through the JWKS, userinfo, refresh)
//! and, for the error paths, by hand; the browser part by the cookie-keeping `Browser`
//! following each 303 itself.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{HeldRequest, TestApp, api_client, csrf_in, location, spawn_app};

const PASSWORD: &str = "correct horse battery";
pub(crate) const REDIRECT: &str = "http://localhost:8123/callback";

/// A registered client: id and secret (`None` for a public client).
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
}

/// Registers a client through the library (the CLI is tested on its own).
pub async fn register(app: &TestApp, public: bool, skip_consent: bool) -> Client {
    let registered = app
        .with_db(move |conn| {
            gatehouse::oidc::clients::register(
                conn,
                &gatehouse::oidc::clients::NewClient {
                    name: "Grafana <test>".into(),
                    redirect_uris: vec![REDIRECT.into()],
                    post_logout_uris: vec!["http://localhost:8123/bye".into()],
                    public,
                    skip_consent,
                },
            )
            .expect("client registered")
        })
        .await;
    // As `gatehouse client add` does: the ID-token key exists (and is published) before a
    // relying party reads the JWKS.
    let config = app.state.config();
    app.state
        .auth
        .keys
        .id_keys(&config)
        .await
        .expect("ID-token key");
    Client {
        id: registered.client_id,
        secret: registered.client_secret,
    }
}

/// The hidden fields of the form posting to `action` in a page, unescaped.
pub fn hidden_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form for {action}"));
    let html = &html[start..];
    let html = &html[..html.find("</form>").expect("form ends")];
    // Named and numeric character references, as the templates escape.
    let unescape = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            let end = rest.find(';').expect("reference ends");
            let name = &rest[1..end];
            let c = match name {
                "quot" => '"',
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "apos" => '\'',
                _ if name.starts_with("#x") => {
                    char::from_u32(u32::from_str_radix(&name[2..], 16).unwrap()).unwrap()
                }
                _ if name.starts_with('#') => char::from_u32(name[1..].parse().unwrap()).unwrap(),
                _ => panic!("unknown reference {name}"),
            };
            out.push(c);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    };
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[at + "<input type=\"hidden\" name=\"".len()..];
        let name_end = rest.find('"').expect("name ends");
        let name = rest[..name_end].to_string();
        let value_at = rest.find("value=\"").expect("value") + "value=\"".len();
        let value_end = rest[value_at..].find('"').expect("value ends");
        out.push((name, unescape(&rest[value_at..value_at + value_end])));
        rest = &rest[value_at + value_end..];
    }
    out
}

/// The value of a query parameter of a URL (or path with a query).
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Follows an authorization request in `browser` as a person would: sign in when asked
/// (`credentials`), allow on the consent page. Returns the final redirect to the client.
pub async fn authorize(
    browser: &crate::helpers::Browser,
    url: &str,
    credentials: Option<(&str, &str)>,
) -> String {
    let resp = browser.client.get(url).send().await.expect("authorize");
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "authorize answers 303"
    );
    let mut at = location(&resp);
    if at.starts_with("/login?") {
        let (user, password) = credentials.expect("a sign-in was asked for");
        let next = query_param(&at, "next").expect("next");
        assert!(next.starts_with("/authorize?"), "{next}");
        let resp = browser.login_next(user, password, &next).await;
        assert_eq!(
            crate::helpers::signed_in_to(resp).await,
            next,
            "the login sends the browser back"
        );
        let resp = browser.get(&next).await;
        if resp.status() == StatusCode::SEE_OTHER {
            return location(&resp);
        }
        at = consent(browser, resp, "allow").await;
    } else if !at.starts_with(REDIRECT) {
        panic!("unexpected redirect {at}");
    }
    at
}

/// Answers a consent page (a 200 response) with `decision`; returns the redirect.
pub async fn consent(
    browser: &crate::helpers::Browser,
    page: reqwest::Response,
    decision: &str,
) -> String {
    assert_eq!(page.status(), StatusCode::OK, "the consent page");
    assert_eq!(
        page.headers().get("x-frame-options").unwrap(),
        "DENY",
        "the consent page cannot be framed"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Grafana &") && !html.contains("Grafana <test>"),
        "names the client, escaped"
    );
    let mut form = hidden_fields(&html, "/authorize/consent");
    form.push(("decision".into(), decision.into()));
    let resp = browser
        .client
        .post(browser.url("/authorize/consent"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "consent answered");
    location(&resp)
}

pub(crate) fn oidc_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A hand-made authorization URL.
pub(crate) fn authorize_url(app: &TestApp, client: &Client, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st-123"),
        ("nonce", "n-456"),
    ];
    pairs.extend_from_slice(extra);
    format!(
        "{}/authorize?{}",
        app.address,
        serde_urlencoded::to_string(&pairs).unwrap()
    )
}

/// A PKCE pair (verifier, S256 challenge).
pub(crate) fn pkce() -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    (verifier.secret().clone(), challenge.as_str().to_string())
}

/// `POST /api/token` `authorization_code` with client_secret_post.
pub(crate) async fn exchange(
    app: &TestApp,
    client: &Client,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", client.id.as_str()),
    ];
    if let Some(secret) = &client.secret {
        form.push(("client_secret", secret));
    }
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    api_client()
        .post(app.url("/api/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// A signed-in browser and a code for `client` (with PKCE and `scope`).
async fn code_for(
    app: &TestApp,
    client: &Client,
    scope: &str,
) -> (crate::helpers::Browser, String, String) {
    let browser = app.browser();
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        app,
        client,
        &[
            ("scope", scope),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    // `scope` given twice would be refused: rebuild without the default.
    let url = url.replacen("scope=openid+profile&", "", 1);
    let back = authorize(&browser, &url, Some(("alice", PASSWORD))).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    (browser, code, verifier)
}

#[tokio::test]
async fn a_relying_party_signs_in_with_discovery_pkce_nonce_the_jwks_userinfo_and_refresh() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let registered = register(&app, false, false).await;
    let http = oidc_http();

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = app.browser();
    let back = authorize(&browser, url.as_str(), Some(("alice", PASSWORD))).await;

    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf_state.secret().as_str())
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.address.as_str())
    );
    let code = query_param(&back, "code").expect("code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), alice.id.to_string());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert!(claims.auth_time().is_some());
    let amr: Vec<String> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|a| a.as_str().to_string())
        .collect();
    assert_eq!(amr, vec!["pwd".to_string()]);
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual_hash, expected_hash);
    let header: Value = jwt_part(id_token.to_string().as_str(), 0);
    assert_eq!(
        header["alg"], "RS256",
        "oidc.id_token_algorithm defaults to RS256"
    );
    let access: Value = jwt_part(tokens.access_token().secret(), 1);
    assert_eq!(jwt_part(tokens.access_token().secret(), 0)["typ"], "at+jwt");
    assert_eq!(access["client_id"], registered.id.as_str());
    assert_eq!(access["aud"], registered.id.as_str());
    assert_eq!(access["scope"], "openid profile offline_access");

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), alice.id.to_string());
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("offline_access gives one"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let info: CoreUserInfoClaims = client
        .user_info(refreshed.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo with the refreshed token");
    assert_eq!(info.subject().as_str(), alice.id.to_string());
    // The session is an ordinary Gatehouse session.
    assert_eq!(app.sessions_of(alice.id).await.len(), 1);
}

pub(crate) fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(index).expect("part");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_discovery_document_lists_every_field_and_exists_only_in_mode_both() {
    let app = spawn_app().await;
    let doc: Value = api_client()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "scopes_supported",
        "response_types_supported",
        "grant_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "token_endpoint_auth_methods_supported",
        "code_challenge_methods_supported",
        "claims_supported",
    ] {
        assert!(doc.get(field).is_some(), "{field} missing");
    }
    assert_eq!(doc["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );

    for mode in [
        gatehouse::config::AuthMode::Session,
        gatehouse::config::AuthMode::Token,
    ] {
        let app = crate::helpers::spawn_app_with(|s| s.auth.mode = mode).await;
        for path in [
            "/.well-known/openid-configuration",
            "/userinfo",
            "/authorize",
        ] {
            let resp = api_client().get(app.url(path)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path} in {mode:?}");
        }
    }
}

#[tokio::test]
async fn an_unknown_client_or_an_unregistered_redirect_uri_is_an_error_page_never_a_redirect() {
    let app = spawn_app().await;
    let client = register(&app, false, false).await;
    let browser = app.browser();

    let unknown = Client {
        id: "no-such-client".into(),
        secret: None,
    };
    let resp = browser
        .client
        .get(authorize_url(&app, &unknown, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());

    for other in [
        "http://localhost:8123/callback/",
        "http://localhost:8123/callbackx",
        "https://evil.example/callback",
    ] {
        let url = authorize_url(&app, &client, &[]).replace(
            &serde_urlencoded::to_string([("redirect_uri", REDIRECT)]).unwrap(),
            &serde_urlencoded::to_string([("redirect_uri", other)]).unwrap(),
        );
        let resp = browser.client.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{other}");
        assert!(resp.headers().get("location").is_none(), "{other}");
        assert!(resp.text().await.unwrap().contains("has not registered"));
    }
}

#[tokio::test]
async fn prompt_none_without_a_session_answers_login_required_and_without_consent_consent_required()
{
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, false).await;
    let browser = app.browser();

    let resp = browser
        .client
        .get(authorize_url(&app, &client, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let at = location(&resp);
    assert!(at.starts_with(REDIRECT), "{at}");
    assert_eq!(query_param(&at, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&at, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&at, "iss").as_deref(),
        Some(app.address.as_str())
    );

    browser.login("alice", PASSWORD).await;
    let resp = browser
        .client
        .get(authorize_url(&app, &client, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let at = location(&resp);
    assert_eq!(
        query_param(&at, "error").as_deref(),
        Some("consent_required")
    );
}

#[tokio::test]
async fn consent_is_asked_once_and_deny_sends_access_denied() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let page = browser
        .client
        .get(authorize_url(&app, &client, &[]))
        .send()
        .await
        .unwrap();
    let denied = consent(&browser, page, "deny").await;
    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&denied, "state").as_deref(), Some("st-123"));

    let page = browser
        .client
        .get(authorize_url(&app, &client, &[]))
        .send()
        .await
        .unwrap();
    let allowed = consent(&browser, page, "allow").await;
    assert!(query_param(&allowed, "code").is_some());
    // Granted: the next request goes straight back with a code, even with prompt=none.
    let resp = browser
        .client
        .get(authorize_url(&app, &client, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert!(query_param(&location(&resp), "code").is_some());

    // The consent form without the session's CSRF token is refused.
    let page = browser
        .client
        .get(authorize_url(&app, &client, &[("prompt", "consent")]))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    let mut form: Vec<(String, String)> = hidden_fields(&html, "/authorize/consent")
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .collect();
    form.push(("decision".into(), "allow".into()));
    let resp = browser
        .client
        .post(browser.url("/authorize/consent"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// Opens the consent page of each of `urls` in `browser` (tabs), then allows them all at once.
async fn allow_all_at_once(
    browser: &crate::helpers::Browser,
    urls: &[String],
) -> Vec<reqwest::Response> {
    let mut forms = Vec::new();
    for url in urls {
        let page = browser.client.get(url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "a consent page for {url}");
        let mut form = hidden_fields(&page.text().await.unwrap(), "/authorize/consent");
        form.push(("decision".to_string(), "allow".to_string()));
        forms.push(form);
    }
    futures_util::future::join_all(forms.iter().map(|form| {
        browser
            .client
            .post(browser.url("/authorize/consent"))
            .form(form)
            .send()
    }))
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect()
}

/// Two tabs (or a double click) answering consent pages at once: every answer gets its code and
/// one grant row is left. The grant was written read-then-insert, so on PostgreSQL the loser of
/// the race hit the primary key and answered 500.
#[tokio::test]
async fn concurrent_consents_by_one_user_give_every_tab_its_code_and_one_grant() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let urls = vec![authorize_url(&app, &client, &[]); 6];
    for answer in allow_all_at_once(&browser, &urls).await {
        assert_eq!(
            answer.status(),
            StatusCode::SEE_OTHER,
            "every consent answered"
        );
        assert!(
            query_param(&location(&answer), "code").is_some(),
            "{}",
            location(&answer)
        );
    }
    let client_id = client.id.clone();
    let grants = app
        .with_db(move |conn| {
            use diesel::prelude::*;
            use gatehouse::db::schema::oidc_grants::dsl as g;
            g::oidc_grants
                .filter(g::client_id.eq(client_id))
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(grants, 1, "one grant row");
}

/// Tabs asking for different scopes, answered at once: the grant holds every scope consented
/// to. It was widened read-then-write, so on PostgreSQL one answer could overwrite another's
/// scopes with its own union of what it had read.
#[tokio::test]
async fn concurrent_consents_to_different_scopes_keep_every_scope() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, false).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    let urls: Vec<String> = ["openid offline_access", "openid profile"]
        .repeat(4)
        .into_iter()
        // `scope` given twice would be refused: rebuild without the default.
        .map(|scope| {
            authorize_url(&app, &client, &[("scope", scope)]).replacen(
                "scope=openid+profile&",
                "",
                1,
            )
        })
        .collect();
    for answer in allow_all_at_once(&browser, &urls).await {
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    }

    let client_id = client.id.clone();
    let scope = app
        .with_db(move |conn| {
            use diesel::prelude::*;
            use gatehouse::db::schema::oidc_grants::dsl as g;
            g::oidc_grants
                .filter(g::client_id.eq(client_id))
                .select(g::scope)
                .get_result::<String>(conn)
                .unwrap()
        })
        .await;
    let mut scopes: Vec<&str> = scope.split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["offline_access", "openid", "profile"], "{scope}");
}

/// A consent's widening held open between its read and its write while another request's
/// widening of the same grant commits: no scope is lost. The write was a plain update of what
/// was read, so on PostgreSQL the later writer dropped the other's scopes. (SQLite takes the
/// write lock when the transaction begins, so nothing can come between there: PostgreSQL only.)
#[tokio::test]
async fn a_consent_widened_while_another_is_written_keeps_both_scopes() {
    use diesel::connection::TransactionManager;
    use diesel::prelude::*;
    type Tm = <gatehouse::db::AnyConnection as Connection>::TransactionManager;
    use gatehouse::db::oidc_grants;
    use std::sync::mpsc;

    let app = spawn_app().await;
    if app.db.backend_name() != "postgres" {
        return;
    }
    let alice = app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, false).await;
    let (user_id, client_id) = (alice.id, client.id.clone());
    let now = chrono::Utc::now().naive_utc();
    app.with_db(move |c| oidc_grants::upsert(c, user_id, &client_id, "openid", now).unwrap())
        .await;

    let db = app.db.clone();
    let client_id = client.id.clone();
    let scope = tokio::task::spawn_blocking(move || {
        // Connections of their own: the pool is small, and one stays busy waiting.
        let connect = || db.connect_dedicated().unwrap();
        let (mut a, mut b, mut watch) = (connect(), connect(), connect());
        let pid_of_b: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
            "pg_backend_pid()",
        ))
        .get_result(&mut b)
        .unwrap();
        // A widens the grant and holds its transaction open.
        Tm::begin_transaction(&mut a).unwrap();
        oidc_grants::upsert(&mut a, user_id, &client_id, "openid profile", now).unwrap();
        // B reads the grant as committed ("openid") and waits for A's row lock to write.
        let (done, finished) = mpsc::channel();
        let b_client = client_id.clone();
        let writer = std::thread::spawn(move || {
            let result = gatehouse::db::write_transaction(&mut b, |c| {
                oidc_grants::upsert(c, user_id, &b_client, "openid offline_access", now)
            });
            done.send(()).unwrap();
            result
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let waiting: bool =
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_activity \
                     WHERE pid = {pid_of_b}), false)"
                )))
                .get_result(&mut watch)
                .unwrap();
            if waiting {
                break;
            }
            assert!(
                finished.try_recv().is_err(),
                "B wrote without waiting for A"
            );
            assert!(std::time::Instant::now() < deadline, "B never waited");
            std::thread::yield_now();
        }
        Tm::commit_transaction(&mut a).unwrap();
        writer.join().unwrap().unwrap();
        oidc_grants::find(&mut a, user_id, &client_id)
            .unwrap()
            .unwrap()
            .scope
    })
    .await
    .unwrap();

    let mut scopes: Vec<&str> = scope.split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["offline_access", "openid", "profile"], "{scope}");
}

#[tokio::test]
async fn max_age_zero_and_prompt_login_force_a_new_sign_in() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let sessions_before = app.sessions_of(alice.id).await.len();
    assert_eq!(sessions_before, 1);

    for extra in [("max_age", "0"), ("prompt", "login")] {
        let resp = browser
            .client
            .get(authorize_url(&app, &client, &[extra]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let at = location(&resp);
        assert!(at.starts_with("/login?next="), "{extra:?}: {at}");
        // Signing in again brings a code (no loop).
        let next = query_param(&at, "next").unwrap();
        let resp = browser.login_next("alice", PASSWORD, &next).await;
        let resp = browser.get(&crate::helpers::signed_in_to(resp).await).await;
        let back = location(&resp);
        assert!(query_param(&back, "code").is_some(), "{extra:?}: {back}");
        // The old session ended; the new sign-in is the only one.
        assert_eq!(app.sessions_of(alice.id).await.len(), 1);
    }
}

#[tokio::test]
async fn a_public_client_must_use_pkce_s256_and_plain_is_refused() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, true, true).await;
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;

    for extra in [
        vec![],
        vec![
            ("code_challenge", "a".repeat(43)),
            ("code_challenge_method", "plain".into()),
        ],
        vec![("code_challenge", "a".repeat(43))],
    ] {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = browser
            .client
            .get(authorize_url(&app, &client, &extra))
            .send()
            .await
            .unwrap();
        let at = location(&resp);
        assert_eq!(
            query_param(&at, "error").as_deref(),
            Some("invalid_request"),
            "{extra:?}"
        );
    }

    // With S256 the public client gets a code and exchanges it with its id alone.
    let (_, code, verifier) = code_for(&app, &client, "openid").await;
    let resp = exchange(&app, &client, &code, Some(&verifier)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    assert!(body["id_token"].is_string());
}

#[tokio::test]
async fn a_wrong_verifier_or_redirect_uri_is_invalid_grant() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;

    let (_, code, _) = code_for(&app, &client, "openid").await;
    let (other_verifier, _) = pkce();
    let resp = exchange(&app, &client, &code, Some(&other_verifier)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let resp = exchange(&app, &client, &code, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let (_, code, verifier) = code_for(&app, &client, "openid").await;
    let resp = api_client()
        .post(app.url("/api/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:8123/other"),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_deref().unwrap()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client_with_a_basic_challenge() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid").await;

    let wrong = Client {
        id: client.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let resp = exchange(&app, &wrong, &code, Some(&verifier)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers().get("www-authenticate").unwrap(),
        "Basic realm=\"gatehouse\""
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // client_secret_basic works whatever auth.basic says (off here), and the code was not
    // used up by the failed attempt.
    let resp = api_client()
        .post(app.url("/api/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn failed_client_authentication_is_throttled_per_client() {
    let app = crate::helpers::spawn_app_with(|s| s.lockout.max_failures = 3).await;
    let client = register(&app, false, true).await;
    let wrong = Client {
        id: client.id.clone(),
        secret: Some("wrong".into()),
    };
    for _ in 0..3 {
        let resp = exchange(&app, &wrong, "some-code", None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked now, even with the right secret.
    let resp = exchange(&app, &client, "some-code", None).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid offline_access").await;

    let first = exchange(&app, &client, &code, Some(&verifier)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let tokens: Value = first.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK);

    let again = exchange(&app, &client, &code, Some(&verifier)).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    assert_eq!(
        userinfo(&app, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refresh = api_client()
        .post(app.url("/api/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
    let metrics = api_client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gatehouse_oidc_events_total{event=\"code_replayed\"} 1"),
        "{metrics}"
    );
}

async fn userinfo(app: &TestApp, access: &str) -> reqwest::Response {
    api_client()
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_exchanges_of_one_code_give_exactly_one_token() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid").await;

    let attempts = (0..6).map(|_| exchange(&app, &client, &code, Some(&verifier)));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();

    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn a_token_request_held_open_while_its_code_is_used_is_refused() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid").await;

    let held = HeldRequest::open(
        &app,
        "/api/token",
        "x=y",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_deref().unwrap()),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    let meanwhile = exchange(&app, &client, &code, Some(&verifier)).await;
    assert_eq!(meanwhile.status(), StatusCode::OK);
    let access = meanwhile.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let late = held.finish().await;
    assert_eq!(late.status, 400);
    // The replay revoked what the first exchange issued.
    assert_eq!(
        userinfo(&app, &access).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_client_access_token_is_refused_at_gatehouse_own_api() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, true).await;
    let client = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid profile").await;
    let tokens: Value = exchange(&app, &client, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    for path in ["/api/me", "/api/users"] {
        let resp = api_client()
            .get(app.url(path))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"],
            "invalid_token",
            "{path}"
        );
    }
    // Gatehouse's own access token is no good at /userinfo either.
    let (own, _) = app.tokens_for("alice", PASSWORD).await;
    assert_eq!(
        userinfo(&app, &own).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The ID token is no access token.
    assert_eq!(
        userinfo(&app, tokens["id_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn introspect(app: &TestApp, client: &Client, token: &str) -> Value {
    let resp = api_client()
        .post(app.url("/api/token/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn introspection_says_active_until_the_user_signs_out_everywhere() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let api = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid offline_access").await;
    let tokens: Value = exchange(&app, &client, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let active = introspect(&app, &api, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], alice.id.to_string());
    assert_eq!(active["client_id"], client.id.as_str());
    assert_eq!(
        introspect(&app, &api, "garbage").await,
        serde_json::json!({"active": false})
    );

    // A public client cannot introspect; no credentials is invalid_client.
    let resp = api_client()
        .post(app.url("/api/token/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let (own, _) = app.tokens_for("alice", PASSWORD).await;
    let resp = api_client()
        .post(app.url("/api/logout-all"))
        .bearer_auth(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        introspect(&app, &api, access).await,
        serde_json::json!({"active": false})
    );
    // Sign-out everywhere revoked the client's refresh token too.
    let refresh = api_client()
        .post(app.url("/api/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_client_refresh_token_is_bound_to_its_client() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let other = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid offline_access").await;
    let tokens: Value = exchange(&app, &client, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // Without client authentication, and as another client: refused.
    let bare = app.refresh_grant(refresh).await;
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    let resp = api_client()
        .post(app.url("/api/token"))
        .basic_auth(&other.id, other.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Its own client refreshes (the refused attempts did not use the token up).
    let resp = api_client()
        .post(app.url("/api/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_part(body["access_token"].as_str().unwrap(), 1)["aud"],
        client.id.as_str()
    );
}

#[tokio::test]
async fn revoking_an_app_on_the_account_page_ends_its_tokens() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, false).await;
    let (browser, code, verifier) = code_for(&app, &client, "openid").await;
    let tokens: Value = exchange(&app, &client, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let page = browser.get("/account/apps").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Grafana &") && !html.contains("Grafana <test>"));
    let token = csrf_in(&html).unwrap();
    let resp = browser
        .post_form(
            &format!("/account/apps/{}/revoke", client.id),
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    assert_eq!(
        userinfo(&app, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Consent is asked again.
    let resp = browser
        .client
        .get(authorize_url(&app, &client, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(&location(&resp), "error").as_deref(),
        Some("consent_required")
    );
}

#[tokio::test]
async fn rp_initiated_logout_confirms_ends_the_session_and_redirects_only_to_a_registered_uri() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let (browser, code, verifier) = code_for(&app, &client, "openid").await;
    let tokens: Value = exchange(&app, &client, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();
    let hint = tokens["id_token"].as_str().unwrap();
    let query = serde_urlencoded::to_string([
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", "http://localhost:8123/bye"),
        ("state", "s1"),
    ])
    .unwrap();

    let page = browser.get(&format!("/oidc/logout?{query}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let form = hidden_fields(&html, "/oidc/logout");
    let resp = browser
        .client
        .post(browser.url("/oidc/logout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "http://localhost:8123/bye?state=s1");
    assert!(app.sessions_of(alice.id).await.is_empty());

    // An unregistered address is never followed: "signed out" is shown instead.
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let query = serde_urlencoded::to_string([
        ("client_id", client.id.as_str()),
        ("post_logout_redirect_uri", "https://evil.example/"),
    ])
    .unwrap();
    let html = browser
        .get(&format!("/oidc/logout?{query}"))
        .await
        .text()
        .await
        .unwrap();
    let resp = browser
        .client
        .post(browser.url("/oidc/logout"))
        .form(&hidden_fields(&html, "/oidc/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Signed out"));
}

#[tokio::test]
async fn the_cli_registers_lists_rotates_and_deletes_clients() {
    let app = spawn_app().await;

    let out = app.cli(
        &[
            "client",
            "add",
            "Grafana",
            "--redirect-uri",
            "https://grafana.example/login/generic_oauth",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = added["client_id"].as_str().unwrap().to_string();
    let secret = added["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43, "256 bits");
    // Stored hashed only.
    let stored = app
        .with_db({
            let id = id.clone();
            move |c| gatehouse::db::oidc_clients::find(c, &id).unwrap().unwrap()
        })
        .await;
    assert_ne!(stored.secret_hash.as_deref(), Some(secret.as_str()));
    // The ID-token key is in the key store before any sign-in needs it.
    let id_keys = app
        .with_db(|c| gatehouse::db::key_store::live(c, "id_token").unwrap())
        .await;
    assert_eq!(id_keys.len(), 1);
    assert_eq!(id_keys[0].algorithm, "RS256");

    let out = app.cli(&["client", "list", "--json"], None);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["client_id"], id.as_str());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));

    let out = app.cli(&["client", "rotate-secret", &id, "--json"], None);
    assert!(out.status.success());
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(rotated["client_secret"], secret.as_str());

    let bad = app.cli(
        &[
            "client",
            "add",
            "X",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(2), "a bad URI is a usage error");
    let missing = app.cli(&["client", "delete", "nope"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 1);

    let out = app.cli(&["client", "delete", &id], None);
    assert!(out.status.success());
    let out = app.cli(&["client", "list", "--json"], None);
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn admins_see_clients_and_their_users_and_delete_after_a_confirm_step() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let (_, code, verifier) = code_for(&app, &client, "openid").await;
    let tokens: Value = exchange(&app, &client, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap();
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;

    // Others are refused.
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;
    assert_eq!(
        alice.get("/admin/clients").await.status(),
        StatusCode::FORBIDDEN
    );

    let html = admin.get("/admin/clients").await.text().await.unwrap();
    assert!(html.contains(&client.id));
    assert!(html.contains(REDIRECT));
    let confirm = admin
        .get(&format!("/admin/clients/{}/delete", client.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(confirm.contains("Delete the client"));
    let token = csrf_in(&confirm).unwrap();
    let resp = admin
        .post_form(
            &format!("/admin/clients/{}/delete", client.id),
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        userinfo(&app, tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

/// The stored client row.
async fn client_row(app: &TestApp, id: &str) -> gatehouse::db::oidc_clients::ClientRow {
    let id = id.to_string();
    app.with_db(move |c| gatehouse::db::oidc_clients::find(c, &id).unwrap().unwrap())
        .await
}

#[tokio::test]
async fn admins_edit_a_clients_uris_and_a_removed_uri_stops_at_once() {
    // Arrange: a client with a code issued to its redirect URI and not yet exchanged.
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, true).await;
    let (_, pending_code, verifier) = code_for(&app, &client, "openid").await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let list = admin.get("/admin/clients").await.text().await.unwrap();
    let edit_path = format!("/admin/clients/{}/edit", client.id);
    assert!(
        list.contains(&format!("href=\"{edit_path}\"")),
        "an Edit link"
    );
    let page = admin.get(&edit_path).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(REDIRECT), "the form holds the current URIs");
    let token = csrf_in(&html).unwrap();

    // Act 1: an invalid edit (plain http to a public host) is refused by field; nothing changes.
    let refused = admin
        .post_form(
            &edit_path,
            &[
                ("csrf_token", token.as_str()),
                ("name", "Grafana"),
                ("redirect_uris", "http://grafana.example/cb"),
                ("post_logout_uris", ""),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"redirect_uris-error\""), "{html}");
    assert!(html.contains("must use https"));
    assert!(
        html.contains("http://grafana.example/cb"),
        "the form keeps what was typed"
    );
    assert_eq!(client_row(&app, &client.id).await.redirect_uris, REDIRECT);

    // Act 2: a valid edit replaces the URIs, renames, and turns the consent page back on.
    let new_uri = "https://grafana.example/login/generic_oauth";
    let saved = admin
        .post_form(
            &edit_path,
            &[
                ("csrf_token", token.as_str()),
                ("name", " Grafana (prod) "),
                ("redirect_uris", &format!("{new_uri}\r\n\r\n{new_uri}\r\n")),
                ("post_logout_uris", "https://grafana.example/\r\n"),
            ],
        )
        .await;

    // Assert
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/admin/clients");
    let row = client_row(&app, &client.id).await;
    assert_eq!(row.name, "Grafana (prod)");
    assert_eq!(row.redirect_uris, new_uri, "trimmed, duplicates dropped");
    assert_eq!(row.post_logout_uris, "https://grafana.example/");
    assert!(!row.skip_consent, "an unticked box turns trust off");
    assert!(
        admin
            .get("/admin/clients")
            .await
            .text()
            .await
            .unwrap()
            .contains("The client was saved.")
    );
    // The code issued to the removed URI is gone, and the URI is now an error page.
    let exchanged = exchange(&app, &client, &pending_code, Some(&verifier)).await;
    assert_eq!(exchanged.status(), StatusCode::BAD_REQUEST);
    let json: Value = exchanged.json().await.unwrap();
    assert_eq!(json["error"], "invalid_grant");
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let old = browser
        .client
        .get(authorize_url(&app, &client, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::BAD_REQUEST, "never a redirect");
    let with_new = authorize_url(&app, &client, &[]).replace(
        &serde_urlencoded::to_string([("redirect_uri", REDIRECT)]).unwrap(),
        &serde_urlencoded::to_string([("redirect_uri", new_uri)]).unwrap(),
    );
    let page = browser.client.get(&with_new).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the consent page is back");
}

#[tokio::test]
async fn a_client_edit_needs_an_admin_and_the_form_token() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = register(&app, false, false).await;
    let edit_path = format!("/admin/clients/{}/edit", client.id);
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let token = admin.csrf(&edit_path).await;
    let form = |token: &str| {
        vec![
            ("csrf_token".to_string(), token.to_string()),
            ("name".to_string(), "Renamed".to_string()),
            (
                "redirect_uris".to_string(),
                "https://x.example/cb".to_string(),
            ),
        ]
    };

    // Act + Assert
    assert_eq!(alice.get(&edit_path).await.status(), StatusCode::FORBIDDEN);
    let alice_token = alice.csrf("/account").await;
    let by_alice = alice
        .client
        .post(alice.url(&edit_path))
        .form(&form(&alice_token))
        .send()
        .await
        .unwrap();
    assert_eq!(by_alice.status(), StatusCode::FORBIDDEN);
    let no_token = admin
        .client
        .post(admin.url(&edit_path))
        .form(&form("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let unknown = admin
        .client
        .post(admin.url("/admin/clients/nope/edit"))
        .form(&form(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(client_row(&app, &client.id).await.name, "Grafana <test>");
}

#[tokio::test]
async fn a_client_edit_held_open_across_the_admins_demotion_changes_nothing() {
    // Arrange: a second admin holds an edit open.
    let app = spawn_app().await;
    let rogue = app.create_user("rogue", PASSWORD, true).await;
    let client = register(&app, false, false).await;
    let edit_path = format!("/admin/clients/{}/edit", client.id);
    let (admin, rogue_browser) = (app.browser(), app.browser());
    admin.login("admin", &app.admin_password).await;
    rogue_browser.login("rogue", PASSWORD).await;
    let token = rogue_browser.csrf(&edit_path).await;
    let held = HeldRequest::open(
        &app,
        &edit_path,
        &rogue_browser.cookie_header().unwrap(),
        &[
            ("csrf_token", &token),
            ("name", "Hijacked"),
            ("redirect_uris", "https://evil.example/cb"),
        ],
    )
    .await;

    // Act: the rogue admin is demoted, then the body ends.
    let demoted = admin
        .submit(
            "/admin",
            &format!("/admin/users/{}/revoke-admin", rogue.id),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::SEE_OTHER);
    let late = held.finish().await;

    // Assert: refused (the demotion also ended the rogue's sessions: sent to sign in).
    assert!(
        late.status == 403
            || late.header_values("location")
                == vec![format!(
                    "/login?next=%2Fadmin%2Fclients%2F{}%2Fedit",
                    client.id
                )],
        "{}",
        late.head
    );
    let row = client_row(&app, &client.id).await;
    assert_eq!(row.redirect_uris, REDIRECT);
    assert_eq!(row.name, "Grafana <test>");
}

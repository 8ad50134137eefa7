//! Issue 13 in a real browser: Debian's Chromium (headless, `webdriver::Driver`) signs a person
//! into a relying party — the `openidconnect` crate, with discovery, PKCE, nonce and the
//! JWKS — through Gatehouse's login page, the consent page and back to the client's callback,
//! which is a real HTTP listener on another port (another origin). This is what the `Browser`
//! of the other OIDC tests cannot show: that Chromium follows the pages' forms and redirects
//! under their Content-Security-Policy (`form-action`), cookies and meta refresh; the relying
//! party then reads userinfo and refreshes. Then a second
//! authorization goes straight back (consent remembered), and RP-initiated logout confirms and
//! lands on the registered post-logout URI.
//!
//! Screenshots of the consent page at desktop width and at 375 px go to
//! `$TMPDIR/gatehouse-oidc/`. Without `chromium` and `chromedriver` the test says so and passes;
//! with `GATEHOUSE_TEST_BROWSER=required` (CI) it fails instead.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::spawn_app;
use crate::oidc::{oidc_http, query_param};
use crate::webdriver::Driver;

const PASSWORD: &str = "correct horse battery";

/// The relying party's web server: answers every request with a small page naming its path,
/// so that the browser visibly lands there. Returns its origin (`http://localhost:PORT`).
async fn relying_party_site() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<!doctype html><title>Relying party</title><h1>Back at the app</h1>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://localhost:{port}")
}

/// Waits until the browser is at a URL starting with `prefix`; returns it.
async fn wait_for_url(driver: &Driver, prefix: &str) -> String {
    for _ in 0..300 {
        let url = driver.url().await;
        if url.starts_with(prefix) {
            return url;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    driver
        .fail(&format!(
            "never reached {prefix}; at {}",
            driver.url().await
        ))
        .await
}

#[tokio::test]
async fn a_person_signs_into_an_app_through_login_and_consent_in_chromium() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let shots = std::env::temp_dir().join("gatehouse-oidc");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let site = relying_party_site().await;
    let callback = format!("{site}/callback");
    let (uris, bye) = (vec![callback.clone()], format!("{site}/bye"));
    let logout_uris = vec![bye.clone()];
    let registered = app
        .with_db(move |conn| {
            gatehouse::oidc::clients::register(
                conn,
                &gatehouse::oidc::clients::NewClient {
                    name: "Wiki".into(),
                    redirect_uris: uris,
                    post_logout_uris: logout_uris,
                    public: false,
                    skip_consent: false,
                },
            )
            .expect("client registered")
        })
        .await;
    let config = app.state.config();
    app.state.auth.keys.id_keys(&config).await.expect("ID key");

    // The relying party discovers the provider and builds its authorization URL.
    let http = oidc_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        registered.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(callback.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // A person: the login page, then the consent page, then back at the app.
    driver.goto(url.as_str()).await;
    wait_for_url(
        &driver,
        &format!("{}/login?next=%2Fauthorize%3F", app.address),
    )
    .await;
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", PASSWORD).await;
    driver
        .click("form[action='/login'] button[type=submit]")
        .await;
    wait_for_url(&driver, &format!("{}/authorize?", app.address)).await;
    driver.find("button[value=allow]").await;
    assert!(
        driver
            .source()
            .await
            .contains("Allow Wiki to use your account?")
    );
    driver
        .screenshot(1280, &shots.join("consent-desktop.png"))
        .await;
    driver.screenshot(375, &shots.join("consent-375.png")).await;
    driver.click("button[value=allow]").await;
    let landed = wait_for_url(&driver, &callback).await;

    // The relying party checks state and iss, exchanges the code and verifies the ID token.
    assert_eq!(
        query_param(&landed, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(
        query_param(&landed, "iss").as_deref(),
        Some(app.address.as_str())
    );
    let code = query_param(&landed, "code").expect("a code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies");
    assert_eq!(claims.subject().as_str(), alice.id.to_string());
    // It reads userinfo, and refreshes with the refresh token `offline_access` gave.
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );

    // Again: signed in and consented, the browser goes straight back with a new code.
    let (again, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(PkceCodeChallenge::new_random_sha256().0)
        .url();
    driver.goto(again.as_str()).await;
    let landed = wait_for_url(&driver, &callback).await;
    assert!(query_param(&landed, "code").is_some(), "{landed}");

    // RP-initiated logout: a confirm page, then the registered post-logout URI.
    let logout = format!(
        "{}/oidc/logout?{}",
        app.address,
        serde_urlencoded::to_string([
            ("id_token_hint", id_token.to_string().as_str()),
            ("post_logout_redirect_uri", bye.as_str()),
            ("state", "bye-1"),
        ])
        .unwrap()
    );
    driver.goto(&logout).await;
    wait_for_url(&driver, &format!("{}/oidc/logout?", app.address)).await;
    assert!(driver.source().await.contains("Wiki asks to sign you out"));
    driver
        .click("form[action='/oidc/logout'] button[type=submit]")
        .await;
    let landed = wait_for_url(&driver, &bye).await;
    assert_eq!(query_param(&landed, "state").as_deref(), Some("bye-1"));
    assert!(
        app.sessions_of(alice.id).await.is_empty(),
        "the session ended"
    );

    // The admin's client pages, at both widths: the list, and the edit form with an error
    // tied to its field.
    let axe = crate::webdriver::axe_source();
    driver.goto(&app.url("/login")).await;
    driver.type_into("#username", "admin").await;
    driver.type_into("#password", &app.admin_password).await;
    driver
        .click("form[action='/login'] button[type=submit]")
        .await;
    driver.wait_for("/", "Signed in as admin").await;
    let edit = format!("/admin/clients/{}/edit", registered.client_id);
    for width in [1280, 375] {
        driver.set_width(width).await;
        driver.goto(&app.url("/admin/clients")).await;
        driver.wait_for("/admin/clients", "Edit…").await;
        crate::browser_pages::check_page(&driver, axe.as_deref(), "admin-clients", width).await;
        driver.goto(&app.url(&edit)).await;
        driver.wait_for(&edit, "Redirect URIs").await;
        driver
            .type_into("#redirect_uris", "\nhttp://wiki.example/cb")
            .await;
        driver
            .click("form[action$='/edit'] button[type=submit]")
            .await;
        driver.wait_for(&edit, "must use https").await;
        assert_eq!(
            driver.focused_id().await,
            "redirect_uris",
            "the error's field has the focus"
        );
        crate::browser_pages::check_page(&driver, axe.as_deref(), "admin-client-edit-error", width)
            .await;
    }
    driver.quit().await;
}

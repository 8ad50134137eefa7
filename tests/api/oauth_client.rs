//! A standard OAuth 2.0 client library (the `oauth2` crate) obtains and refreshes tokens with
//! the password grant against the real server.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ResourceOwnerPassword, ResourceOwnerUsername, TokenResponse, TokenUrl,
};

use crate::helpers::spawn_app;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn the_oauth2_crate_gets_and_refreshes_tokens_with_the_password_grant() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let client = BasicClient::new(ClientId::new("gatehouse-cli".into()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(app.url("/api/token")).unwrap());
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let first = client
        .exchange_password(
            &ResourceOwnerUsername::new("alice".into()),
            &ResourceOwnerPassword::new(PASSWORD.into()),
        )
        .request_async(&http)
        .await
        .expect("password grant");
    let refreshed = client
        .exchange_refresh_token(first.refresh_token().expect("a refresh token"))
        .request_async(&http)
        .await
        .expect("refresh grant");

    assert_eq!(
        app.me(refreshed.access_token().secret()).await.status(),
        200
    );
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        first.refresh_token().unwrap().secret()
    );
    assert!(refreshed.expires_in().is_some());
    // The first refresh token was used: presenting it again fails (and revokes the family).
    let reuse = client
        .exchange_refresh_token(first.refresh_token().unwrap())
        .request_async(&http)
        .await;
    assert!(reuse.is_err());

    // (The crate refuses to revoke over plain http, so revocation is tested in token.rs.)
}

//! Hostile bearer tokens at `GET /api/me` (SPEC §6, PITFALLS "jsonwebtoken"): forged, tampered,
//! algorithm-confused, expired, premature, mis-addressed, header games, oversized and stale
//! tokens are all refused with RFC 6750 `invalid_token`. Forgeries are signed with the app's own
//! key files, so each one differs from an accepted token (the positive controls) in one respect
//! only. The JWKS is checked against real tokens with an independent Ed25519 implementation.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse::auth::token::access::{password_marker, to_algorithm};
use gatehouse::config::TokenAlgorithm;
use gatehouse::domain::Password;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, api_client, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

// ---------------------------------------------------------------------------------------------
// HTTP helpers

async fn admin_access_token(app: &TestApp) -> String {
    app.tokens_for("admin", &app.admin_password).await.0
}

async fn jwks(app: &TestApp) -> Value {
    let resp = api_client()
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("JSON body")
}

/// Asserts `/api/me` accepts `token` for `username`; returns the body.
async fn assert_accepted(app: &TestApp, token: &str, username: &str) -> Value {
    let resp = app.me(token).await;
    let status = resp.status();
    let body = resp.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "token refused: {body}");
    let body: Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["username"], username, "{body}");
    assert_eq!(body["via"], "token", "{body}");
    assert!(body["id"].is_i64(), "{body}");
    assert!(body["roles"].is_array(), "{body}");
    body
}

/// Asserts `/api/me` refuses `token` exactly as RFC 6750 says: 401, `invalid_token` with
/// `description` (`"invalid"` or `"expired"`) in the body and in the Bearer challenge.
async fn assert_refused(app: &TestApp, token: &str, description: &str, case: &str) {
    let resp = app.me(token).await;
    let status = resp.status();
    let challenges: Vec<String> = resp
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().expect("ascii challenge").to_string())
        .collect();
    let body = resp.text().await.expect("body");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    let body: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{case}: not JSON ({e}): {body}"));
    assert_eq!(
        body,
        json!({ "error": "invalid_token", "error_description": description }),
        "{case}"
    );
    let bearer = challenges
        .iter()
        .find(|c| c.starts_with("Bearer "))
        .unwrap_or_else(|| panic!("{case}: no Bearer challenge in {challenges:?}"));
    assert!(
        bearer.starts_with("Bearer realm=\"gatehouse\""),
        "{case}: {bearer}"
    );
    assert!(
        bearer.contains("error=\"invalid_token\""),
        "{case}: {bearer}"
    );
    assert!(
        bearer.contains(&format!("error_description=\"{description}\"")),
        "{case}: {bearer}"
    );
}

async fn assert_invalid(app: &TestApp, token: &str, case: &str) {
    assert_refused(app, token, "invalid", case).await;
}

// ---------------------------------------------------------------------------------------------
// Forging helpers

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_else(|e| panic!("not base64url ({e}): {text}"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The three segments of a compact JWS.
fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts
        .try_into()
        .unwrap_or_else(|_| panic!("not three segments: {token}"))
}

fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&unb64(segment)).expect("JSON segment")
}

/// `base64url(header) . base64url(claims)`, the JWS signing input.
fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).expect("header JSON")),
        b64(&serde_json::to_vec(claims).expect("claims JSON"))
    )
}

/// Signs any header and claims with `key` under `alg`, whatever the header says.
fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = signing_input(header, claims);
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("signed");
    format!("{input}.{signature}")
}

/// The key the app signs with, opened from its key store.
fn server_signing_key(app: &TestApp) -> EncodingKey {
    use gatehouse::auth::token::keys::KeyMaterial;
    let key = app.stored_signing_keys().pop().expect("a signing key");
    match key.material {
        KeyMaterial::Secret(secret) => EncodingKey::from_secret(&secret),
        KeyMaterial::Pair { private_pem, .. } => {
            assert_eq!(key.algorithm, TokenAlgorithm::EdDSA);
            EncodingKey::from_ed_pem(&private_pem).expect("Ed25519 private key")
        }
    }
}

/// The public key the app verifies with, as PEM, from its key store.
fn server_public_pem(app: &TestApp) -> Vec<u8> {
    use gatehouse::auth::token::keys::KeyMaterial;
    match app
        .stored_signing_keys()
        .pop()
        .expect("a signing key")
        .material
    {
        KeyMaterial::Pair { public_pem, .. } => public_pem,
        KeyMaterial::Secret(_) => panic!("an HMAC key has no public key"),
    }
}

/// The app's `kid`, as found in the header of a real token.
async fn server_kid(app: &TestApp) -> String {
    jsonwebtoken::decode_header(admin_access_token(app).await)
        .expect("real header")
        .kid
        .expect("real tokens carry a kid")
}

/// A token under construction: header and claims as JSON, signed with `key` under `alg`.
/// Built by `forge`, it is exactly what the server itself would issue.
struct Forge {
    header: Value,
    claims: Value,
    key: EncodingKey,
    alg: Algorithm,
}

impl Forge {
    fn token(&self) -> String {
        sign_raw(&self.header, &self.claims, &self.key, self.alg)
    }

    fn header(&mut self) -> &mut Map<String, Value> {
        self.header.as_object_mut().expect("header object")
    }

    fn claims(&mut self) -> &mut Map<String, Value> {
        self.claims.as_object_mut().expect("claims object")
    }
}

/// A correct token for `username`, signed with the app's own key: the starting point of every
/// forgery, and accepted as it stands (see the positive controls).
async fn forge(app: &TestApp, username: &str) -> Forge {
    let user = app.find_user(username).await.expect("user exists");
    let alg = to_algorithm(app.settings.token.algorithm);
    // A live refresh-token family for `sid`, as a sign-in would start.
    let user_id = user.id;
    let sid = app
        .with_db(move |c| {
            gatehouse::auth::token::refresh::start_family(
                c,
                user_id,
                gatehouse::domain::clock::now(),
                std::time::Duration::from_secs(3600),
            )
            .expect("family started")
            .family_id
        })
        .await;
    let now = now();
    Forge {
        header: json!({ "alg": alg, "typ": "at+jwt", "kid": server_kid(app).await }),
        claims: json!({
            "iss": app.settings.issuer(),
            "aud": "gatehouse",
            "sub": user.id.to_string(),
            "exp": now + 600,
            "iat": now,
            "nbf": now,
            "jti": gatehouse::domain::random_token(16),
            "name": user.username,
            "roles": user.roles(),
            "pwd_at": password_marker(&user),
            "sid": sid,
        }),
        key: server_signing_key(app),
        alg,
    }
}

/// A fresh Ed25519 key pair the app has never seen: (private signing key, public key PEM).
fn foreign_ed25519_key() -> (EncodingKey, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (private, public) = (dir.path().join("k.pem"), dir.path().join("k.pub.pem"));
    gatehouse::auth::token::keys::generate_into(TokenAlgorithm::EdDSA, &private, Some(&public))
        .expect("foreign key generated");
    let private_pem = std::fs::read(&private).expect("foreign private key");
    (
        EncodingKey::from_ed_pem(&private_pem).expect("Ed25519 private key"),
        std::fs::read(&public).expect("foreign public key"),
    )
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn a_token_forged_with_the_server_key_header_and_claims_is_accepted() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    let admin = forge(&app, "admin").await.token();
    let alice = forge(&app, "alice").await.token();

    let body = assert_accepted(&app, &admin, "admin").await;
    assert_eq!(body["roles"], json!(["user", "admin"]));
    let body = assert_accepted(&app, &alice, "alice").await;
    assert_eq!(body["roles"], json!(["user"]));
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    for none in ["none", "None", "NONE"] {
        f.header().insert("alg".into(), json!(none));
        let token = format!("{}.", signing_input(&f.header, &f.claims));
        assert_invalid(&app, &token, &format!("alg {none}, empty signature")).await;
    }
}

#[tokio::test]
async fn a_real_token_with_a_tampered_payload_is_refused() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", PASSWORD, false).await;
    let (real, _) = app.tokens_for("bob", PASSWORD).await;
    assert_accepted(&app, &real, "bob").await;
    let admin = app.find_user("admin").await.expect("admin");
    let [header, payload, signature] = segments(&real);
    let claims = decode_segment(payload);
    assert_eq!(claims["sub"], bob.id.to_string());
    let tampered = |change: &dyn Fn(&mut Map<String, Value>)| {
        let mut claims = claims.clone();
        change(claims.as_object_mut().expect("claims object"));
        format!(
            "{header}.{}.{signature}",
            b64(&serde_json::to_vec(&claims).expect("JSON"))
        )
    };

    let renamed = tampered(&|c| {
        c.insert("name".into(), json!("admin"));
    });
    assert_invalid(&app, &renamed, "name changed").await;

    let promoted = tampered(&|c| {
        c.insert("roles".into(), json!(["user", "admin"]));
    });
    assert_invalid(&app, &promoted, "roles changed").await;

    // Everything the server checks besides the signature names the admin now.
    let impersonating = tampered(&|c| {
        c.insert("sub".into(), json!(admin.id.to_string()));
        c.insert("name".into(), json!("admin"));
        c.insert("pwd_at".into(), json!(password_marker(&admin)));
    });
    assert_invalid(&app, &impersonating, "sub changed to the admin").await;
}

#[tokio::test]
async fn a_token_signed_with_another_ed25519_key_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;
    let (foreign, _) = foreign_ed25519_key();

    f.key = foreign;

    assert_invalid(&app, &f.token(), "foreign Ed25519 key").await;
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_server_public_key_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;
    let public_pem = server_public_pem(&app);
    let raw_public = unb64(jwks(&app).await["keys"][0]["x"].as_str().expect("x"));
    assert_eq!(raw_public.len(), 32);
    f.header().insert("alg".into(), json!("HS256"));
    f.alg = Algorithm::HS256;

    for (what, secret) in [
        ("the public key PEM", public_pem.clone()),
        (
            "the public key PEM, trimmed",
            public_pem.trim_ascii().to_vec(),
        ),
        ("the raw public key", raw_public),
    ] {
        f.key = EncodingKey::from_secret(&secret);
        assert_invalid(&app, &f.token(), &format!("HS256 keyed with {what}")).await;
    }
}

#[tokio::test]
async fn a_token_expired_beyond_the_leeway_is_refused_as_expired() {
    let app = spawn_app().await;
    assert_eq!(app.settings.token.leeway.0.as_secs(), 30);
    let mut f = forge(&app, "admin").await;
    let now = now();
    f.claims().insert("iat".into(), json!(now - 1000));
    f.claims().insert("nbf".into(), json!(now - 1000));
    f.claims().insert("exp".into(), json!(now - 120));

    assert_refused(&app, &f.token(), "expired", "expired 120 s ago").await;

    // A forgery learns nothing from its expiry: the signature is checked first.
    let (foreign, _) = foreign_ed25519_key();
    f.key = foreign;
    assert_invalid(&app, &f.token(), "expired and badly signed").await;
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_accepted() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;
    let now = now();
    f.claims().insert("iat".into(), json!(now - 1000));
    f.claims().insert("nbf".into(), json!(now - 1000));
    f.claims().insert("exp".into(), json!(now - 5));

    assert_accepted(&app, &f.token(), "admin").await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    f.claims().insert("nbf".into(), json!(now() + 300));

    assert_invalid(&app, &f.token(), "nbf in 300 s").await;
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    f.claims().insert("iat".into(), json!(now() + 300));

    assert_invalid(&app, &f.token(), "iat in 300 s").await;
}

#[tokio::test]
async fn a_token_from_another_issuer_or_for_another_audience_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;
    let (iss, aud) = (f.claims["iss"].clone(), f.claims["aud"].clone());

    f.claims()
        .insert("iss".into(), json!("https://evil.example"));
    assert_invalid(&app, &f.token(), "wrong iss").await;

    f.claims().insert("iss".into(), iss);
    f.claims().insert("aud".into(), json!("someone-else"));
    assert_invalid(&app, &f.token(), "wrong aud").await;

    f.claims().insert("aud".into(), aud);
    assert_accepted(&app, &f.token(), "admin").await;
}

#[tokio::test]
async fn a_token_missing_a_required_claim_is_refused() {
    let app = spawn_app().await;
    let f = forge(&app, "admin").await;

    for claim in ["exp", "iat", "sub", "iss", "aud"] {
        let mut claims = f.claims.clone();
        claims.as_object_mut().expect("claims").remove(claim);
        let token = sign_raw(&f.header, &claims, &f.key, f.alg);
        assert_invalid(&app, &token, &format!("no {claim}")).await;
    }
}

#[tokio::test]
async fn a_token_whose_typ_is_not_at_jwt_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    for typ in ["JWT", "jwt", "at+jwt+x", ""] {
        f.header().insert("typ".into(), json!(typ));
        assert_invalid(&app, &f.token(), &format!("typ {typ:?}")).await;
    }
    f.header().remove("typ");
    assert_invalid(&app, &f.token(), "no typ").await;
}

#[tokio::test]
async fn a_refresh_token_presented_as_a_bearer_token_is_refused() {
    let app = spawn_app().await;

    let (_, refresh) = app.tokens_for("admin", &app.admin_password).await;

    assert_invalid(&app, &refresh, "refresh token as bearer").await;
}

#[tokio::test]
async fn a_token_with_an_unknown_or_path_like_kid_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    for kid in ["unknown-key", "../../etc/passwd", "", "/dev/null"] {
        f.header().insert("kid".into(), json!(kid));
        assert_invalid(&app, &f.token(), &format!("kid {kid:?}")).await;
    }
    f.header().remove("kid");
    assert_invalid(&app, &f.token(), "no kid").await;
}

#[tokio::test]
async fn a_token_pointing_to_a_remote_key_set_is_refused() {
    let app = spawn_app().await;
    let f = forge(&app, "admin").await;

    for (name, url) in [
        ("jku", "http://127.0.0.1:1/jwks"),
        ("x5u", "http://127.0.0.1:1/cert.pem"),
    ] {
        let mut header = f.header.clone();
        header[name] = json!(url);
        let token = sign_raw(&header, &f.claims, &f.key, f.alg);
        assert_invalid(&app, &token, &format!("{name} header")).await;
    }
}

#[tokio::test]
async fn a_token_carrying_its_own_key_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    // The server's own public key, so the header is the only thing wrong.
    let own = jwks(&app).await["keys"][0].clone();
    f.header().insert("jwk".into(), own);
    assert_invalid(&app, &f.token(), "jwk header with the server's key").await;

    // The classic attack: the attacker's key, and a signature that key makes.
    let (foreign, foreign_public_pem) = foreign_ed25519_key();
    let foreign_public =
        jsonwebtoken::DecodingKey::from_ed_pem(&foreign_public_pem).expect("Ed25519 public key");
    let jwk = jsonwebtoken::jwk::Jwk::from_decoding_key(&foreign_public, Some(Algorithm::EdDSA))
        .expect("JWK");
    f.header()
        .insert("jwk".into(), serde_json::to_value(jwk).expect("JWK JSON"));
    f.key = foreign;
    assert_invalid(&app, &f.token(), "jwk header with the attacker's key").await;
}

#[tokio::test]
async fn a_token_with_a_crit_header_is_refused() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    f.header().insert("crit".into(), json!(["exp"]));
    assert_invalid(&app, &f.token(), "crit [exp]").await;

    f.header()
        .insert("crit".into(), json!(["urn:example:must-understand"]));
    f.header()
        .insert("urn:example:must-understand".into(), json!(true));
    assert_invalid(&app, &f.token(), "crit with an unknown extension").await;
}

#[tokio::test]
async fn an_oversized_token_is_refused_even_when_correctly_signed() {
    let app = spawn_app().await;
    let mut f = forge(&app, "admin").await;

    // Just over MAX_TOKEN_BYTES (8 KiB), well under any HTTP header limit.
    f.claims().insert("pad".into(), json!("x".repeat(9 * 1024)));
    let token = f.token();
    assert!(token.len() > gatehouse::auth::token::access::MAX_TOKEN_BYTES);

    assert_invalid(&app, &token, "9 KiB token").await;
}

#[tokio::test]
async fn a_100_kb_bearer_token_is_refused_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let huge = "a".repeat(100 * 1024);

    let resp = app.me(&huge).await;

    assert!(
        resp.status().is_client_error(),
        "100 KB token: {}",
        resp.status()
    );
    let health = api_client()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_issued_before_a_password_change_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user("carol", PASSWORD, false).await;
    let (access, _) = app.tokens_for("carol", PASSWORD).await;
    assert_accepted(&app, &access, "carol").await;

    let stored = app
        .state
        .accounts
        .set_password(
            user.id,
            Password::new("a brand new password".into()),
            gatehouse::domain::PasswordPolicy {
                min_length: 10,
                min_score: 3,
            },
        )
        .await
        .expect("password stored");
    assert!(stored);

    assert_invalid(&app, &access, "token from before the password change").await;
    let (fresh, _) = app.tokens_for("carol", "a brand new password").await;
    assert_accepted(&app, &fresh, "carol").await;
}

#[tokio::test]
async fn a_disabled_users_token_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user("dave", PASSWORD, false).await;
    let (access, _) = app.tokens_for("dave", PASSWORD).await;
    assert_accepted(&app, &access, "dave").await;

    app.state
        .accounts
        .set_disabled(gatehouse::accounts::By::Operator, user.id, true)
        .await
        .expect("disabled");

    assert_invalid(&app, &access, "disabled user").await;
}

#[tokio::test]
async fn a_deleted_users_token_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user("erin", PASSWORD, false).await;
    let (access, _) = app.tokens_for("erin", PASSWORD).await;
    assert_accepted(&app, &access, "erin").await;

    let deleted = app
        .state
        .accounts
        .delete(gatehouse::accounts::By::Operator, user.id)
        .await
        .expect("deleted");

    assert!(deleted);
    assert_invalid(&app, &access, "deleted user").await;
}

/// Everything here is plain base64, JSON and ed25519-dalek: no jsonwebtoken, no gatehouse code.
#[tokio::test]
async fn the_jwks_key_verifies_real_tokens_with_an_independent_ed25519_implementation() {
    use ed25519_dalek::{Signature, VerifyingKey};

    let app = spawn_app().await;
    let admin = app.find_user("admin").await.expect("admin");
    let access = admin_access_token(&app).await;
    let set = jwks(&app).await;

    let keys = set["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1, "{set}");
    let jwk = &keys[0];
    assert_eq!(jwk["kty"], "OKP", "{jwk}");
    assert_eq!(jwk["crv"], "Ed25519", "{jwk}");
    assert_eq!(jwk["alg"], "EdDSA", "{jwk}");
    assert_eq!(jwk["use"], "sig", "{jwk}");
    assert!(
        jwk.get("d").is_none(),
        "the JWKS leaks the private key: {jwk}"
    );
    let kid = jwk["kid"].as_str().expect("kid");
    assert!(!kid.is_empty());

    let x: [u8; 32] = unb64(jwk["x"].as_str().expect("x"))
        .try_into()
        .expect("x is 32 bytes");
    // The JWK is the stored public key (SubjectPublicKeyInfo: 12-byte prefix + key).
    let pem = String::from_utf8(server_public_pem(&app)).expect("PEM text");
    let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(der_b64).expect("PEM body");
    assert_eq!(der.len(), 44);
    assert_eq!(der[12..], x);

    let [header_b64, payload_b64, signature_b64] = segments(&access);
    let header = decode_segment(header_b64);
    assert_eq!(header["alg"], "EdDSA", "{header}");
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["kid"], kid, "{header}");

    let key = VerifyingKey::from_bytes(&x).expect("valid Ed25519 point");
    let signature = Signature::from_slice(&unb64(signature_b64)).expect("64-byte signature");
    let message = format!("{header_b64}.{payload_b64}");
    key.verify_strict(message.as_bytes(), &signature)
        .expect("the JWKS key verifies the token");
    // The check can fail: the same signature over another payload does not verify.
    let mut altered = message.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert!(key.verify_strict(&altered, &signature).is_err());

    let claims = decode_segment(payload_b64);
    assert_eq!(claims["iss"], app.settings.issuer(), "{claims}");
    assert_eq!(claims["aud"], "gatehouse", "{claims}");
    assert_eq!(claims["sub"], admin.id.to_string(), "{claims}");
    assert_eq!(claims["name"], "admin", "{claims}");
    let (exp, iat) = (
        claims["exp"].as_i64().expect("exp"),
        claims["iat"].as_i64().expect("iat"),
    );
    assert!(exp > now(), "{claims}");
    assert_eq!(
        exp - iat,
        i64::try_from(app.settings.token.access_ttl.0.as_secs()).expect("ttl"),
        "{claims}"
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
}

#[tokio::test]
async fn with_hs256_the_jwks_is_empty_and_real_tokens_work() {
    let app = spawn_app_with(|s| s.token.algorithm = TokenAlgorithm::HS256).await;

    assert_eq!(jwks(&app).await, json!({ "keys": [] }));
    let access = admin_access_token(&app).await;
    let header = decode_segment(segments(&access)[0]);
    assert_eq!(header["alg"], "HS256", "{header}");
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_accepted(&app, &access, "admin").await;

    // The forging helpers work for HMAC too, and only with the app's secret.
    let mut f = forge(&app, "admin").await;
    assert_accepted(&app, &f.token(), "admin").await;
    f.key = EncodingKey::from_secret(&[7u8; 64]);
    assert_invalid(&app, &f.token(), "HS256 with another secret").await;
}

#[tokio::test]
async fn a_subject_not_in_canonical_decimal_form_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user("carol", PASSWORD, false).await;
    let mut f = forge(&app, "carol").await;
    assert_accepted(&app, &f.token(), "carol").await;

    for sub in [
        format!("+{}", user.id),
        format!("0{}", user.id),
        format!(" {}", user.id),
    ] {
        f.claims().insert("sub".into(), json!(sub));
        assert_invalid(&app, &f.token(), &format!("sub {sub:?}")).await;
    }
}

#[tokio::test]
async fn a_token_whose_family_is_unknown_or_missing_is_refused() {
    let app = spawn_app().await;
    app.create_user("dora", PASSWORD, false).await;
    let mut f = forge(&app, "dora").await;
    assert_accepted(&app, &f.token(), "dora").await;

    f.claims().insert("sid".into(), json!("no-such-family"));
    assert_invalid(&app, &f.token(), "unknown sid").await;
    f.claims().remove("sid");
    assert_invalid(&app, &f.token(), "no sid").await;
}

//! The key store (issue 10): signing keys and the cookie key live in the database, sealed
//! under the master secret, so a second instance needs only the database URL and that secret;
//! keys rotate without a client seeing a failure, and a retired key's tokens are refused within
//! `cache.max_staleness` everywhere. Runs on SQLite, and on PostgreSQL when the suite does.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use gatehouse::auth::token::store;
use gatehouse::config::{HumanDuration, Settings, TokenAlgorithm};
use gatehouse::db::changes::{self, Change};
use gatehouse::db::schema::key_store as ks;
use gatehouse::db::write_transaction;
use gatehouse::startup::Application;
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

use crate::caches::{PATIENCE, me, refused_within_bound, with_bound};
use crate::helpers::{Browser, TestApp, api_client, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

/// The `kid` in a token's header.
fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("a JWT")
        .kid
        .expect("a kid")
}

async fn jwks(app: &TestApp) -> (Vec<String>, String) {
    let resp = api_client()
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let set: Value = resp.json().await.unwrap();
    let kids = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    (kids, cache)
}

/// Polls `check` until it holds, failing after `PATIENCE`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < PATIENCE, "{what}: never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A data directory holding nothing but a copy of `app`'s master secret (mode 0600), as an
/// operator would give a new machine.
fn data_dir_with_master_of(app: &TestApp) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("master.key");
    std::fs::copy(app.settings.master_secret_file(), &copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

/// Another instance on `app`'s database, with its own data directory `dir`.
async fn instance_in(app: &TestApp, dir: &TempDir) -> TestApp {
    let mut settings = app.settings.clone();
    settings.server.data_dir = dir.path().to_path_buf();
    app.second_instance_with(settings).await
}

fn key_rows(app: &TestApp, purpose: &str) -> Vec<(String, String)> {
    let mut conn = app.db.get().unwrap();
    ks::table
        .filter(ks::purpose.eq(purpose))
        .select((ks::kid, ks::state))
        .order(ks::created_at.asc())
        .load(&mut *conn)
        .unwrap()
}

/// Moves every key's dates `by` into the past and records the key change, as if that much
/// time had passed for the key store.
fn time_passes(app: &TestApp, by: Duration) {
    let mut conn = app.db.get().unwrap();
    let by = chrono::Duration::from_std(by).unwrap();
    write_transaction(&mut conn, |conn| -> QueryResult<()> {
        let rows: Vec<(String, chrono::NaiveDateTime, chrono::NaiveDateTime)> = ks::table
            .select((ks::kid, ks::activates_at, ks::created_at))
            .load(conn)?;
        for (kid, activates_at, created_at) in rows {
            diesel::update(ks::table.find(kid))
                .set((
                    ks::activates_at.eq(activates_at - by),
                    ks::created_at.eq(created_at - by),
                ))
                .execute(conn)?;
        }
        changes::record(conn, &Change::Keys)
    })
    .unwrap();
}

fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(exit code, the one stderr line)` of a command expected to fail.
fn cli_err(app: &TestApp, args: &[&str]) -> (Option<i32>, String) {
    let out = app.cli(args, None);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    (out.status.code(), stderr)
}

fn keys_list(app: &TestApp) -> Vec<Value> {
    serde_json::from_str(&cli_ok(app, &["keys", "list", "--json"])).expect("JSON list")
}

#[tokio::test]
async fn a_second_instance_needs_only_the_database_url_and_the_master_secret() {
    // Arrange
    let a = spawn_app().await;
    let b_dir = data_dir_with_master_of(&a);
    let b = instance_in(&a, &b_dir).await;
    a.create_user("alice", PASSWORD, false).await;

    // Act
    let (from_a, _) = a.tokens_for("alice", PASSWORD).await;
    let (from_b, _) = b.tokens_for("alice", PASSWORD).await;
    let on_a = a.browser();
    on_a.login("alice", PASSWORD).await;
    let cookie = on_a.cookie_header().unwrap();

    // Assert: one key, tokens and cookies good on both.
    assert_eq!(kid(&from_a), kid(&from_b));
    assert_eq!(me(&b, &from_a).await, StatusCode::OK);
    assert_eq!(me(&a, &from_b).await, StatusCode::OK);
    let resp = Browser::new(&b.address).get_with_cookie("/", &cookie).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Signed in as alice"));
    assert_eq!(jwks(&a).await.0, jwks(&b).await.0);
    let files: Vec<String> = std::fs::read_dir(b_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["master.key"], "nothing but the master secret");
}

#[tokio::test]
async fn a_wrong_or_missing_master_secret_stops_start_up_naming_a_key_and_makes_none() {
    let a = spawn_app().await;
    let kids: Vec<String> = key_rows(&a, "access")
        .into_iter()
        .chain(key_rows(&a, "cookie"))
        .map(|(kid, _)| kid)
        .collect();
    let build = |dir: &TempDir| {
        let mut settings: Settings = a.settings.clone();
        settings.server.bind = "127.0.0.1:0".into();
        settings.server.data_dir = dir.path().to_path_buf();
        async move {
            match Application::build(settings).await {
                Ok(_) => panic!("started with the wrong master secret"),
                Err(e) => e.to_string(),
            }
        }
    };

    // A different secret.
    let wrong = tempfile::tempdir().unwrap();
    let path = wrong.path().join("master.key");
    std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = build(&wrong).await;
    assert!(err.contains("is sealed with master secret"), "{err}");
    assert!(kids.iter().any(|k| err.contains(k.as_str())), "{err}");

    // No secret at all: refused, and no new secret is made.
    let none = tempfile::tempdir().unwrap();
    let err = build(&none).await;
    assert!(err.contains("does not exist"), "{err}");
    assert!(kids.iter().any(|k| err.contains(k.as_str())), "{err}");
    assert!(!none.path().join("master.key").exists());

    let after: Vec<String> = key_rows(&a, "access")
        .into_iter()
        .chain(key_rows(&a, "cookie"))
        .map(|(kid, _)| kid)
        .collect();
    assert_eq!(after, kids, "no key was added");
}

#[tokio::test]
async fn a_tampered_sealed_key_is_refused_at_start_up_by_name() {
    // Arrange: one bit of the signing key's sealed bytes flipped in the database.
    let a = spawn_app().await;
    let (signing, _) = key_rows(&a, "access").pop().unwrap();
    {
        let mut conn = a.db.get().unwrap();
        let (mut sealed, with): (Vec<u8>, String) = ks::table
            .find(&signing)
            .select((ks::sealed, ks::sealed_with))
            .first(&mut *conn)
            .unwrap();
        *sealed.last_mut().unwrap() ^= 0x01;
        gatehouse::db::key_store::reseal(&mut conn, &signing, &sealed, &with).unwrap();
    }
    let mut settings = a.settings.clone();
    settings.server.bind = "127.0.0.1:0".into();

    // Act
    let err = match Application::build(settings).await {
        Ok(_) => panic!("started with a tampered key"),
        Err(e) => e.to_string(),
    };

    // Assert
    assert!(err.contains(&signing), "{err}");
    assert!(err.contains("altered"), "{err}");
}

#[tokio::test]
async fn a_rotation_breaks_no_client_and_the_old_key_leaves_once_its_tokens_expired() {
    // Arrange: two instances with warm caches, a token signed by the first key.
    let a = spawn_app_with(with_bound).await;
    let b_dir = data_dir_with_master_of(&a);
    let b = instance_in(&a, &b_dir).await;
    a.create_user("alice", PASSWORD, false).await;
    let (old_token, _) = a.tokens_for("alice", PASSWORD).await;
    let old_kid = kid(&old_token);
    for app in [&a, &b] {
        assert_eq!(me(app, &old_token).await, StatusCode::OK);
    }

    // Act
    let out = cli_ok(&a, &["keys", "rotate"]);

    // Assert: both instances publish both keys and sign with the new one.
    let new_kid = key_rows(&a, "access").pop().unwrap().0;
    assert_ne!(new_kid, old_kid);
    assert!(out.contains(&new_kid), "{out}");
    for app in [&a, &b] {
        eventually("the new key in the JWKS", || async {
            jwks(app).await.0.contains(&new_kid)
        })
        .await;
    }
    for app in [&a, &b] {
        let (kids, cache) = jwks(app).await;
        assert!(kids.contains(&old_kid), "{kids:?}");
        assert_eq!(cache, "public, max-age=0");
        let (fresh, _) = app.tokens_for("alice", PASSWORD).await;
        assert_eq!(kid(&fresh), new_kid);
        assert_eq!(me(&a, &fresh).await, StatusCode::OK);
        assert_eq!(me(&b, &fresh).await, StatusCode::OK);
        assert_eq!(me(app, &old_token).await, StatusCode::OK, "old token");
    }
    let listed = keys_list(&a);
    let state = |kid: &str| {
        listed
            .iter()
            .find(|k| k["kid"] == kid)
            .map(|k| (k["state"].clone(), k["signing"].clone()))
            .unwrap()
    };
    assert_eq!(state(&new_kid), (Value::from("active"), Value::from(true)));
    assert_eq!(state(&old_kid), (Value::from("active"), Value::from(false)));

    // Act: the new key has signed longer than access_ttl + leeway.
    let overlap = a.settings.token.access_ttl.0 + a.settings.token.leeway.0;
    time_passes(&a, overlap + Duration::from_secs(1));
    let ended = Instant::now();

    // Assert: the old key verifies no more and leaves the JWKS, everywhere.
    for app in [&a, &b] {
        refused_within_bound(ended, "a token of the replaced key", || async {
            me(app, &old_token).await == StatusCode::UNAUTHORIZED
        })
        .await;
        assert_eq!(jwks(app).await.0, std::slice::from_ref(&new_kid));
    }
    let listed = keys_list(&a);
    let old = listed
        .iter()
        .find(|k| k["kid"] == old_kid.as_str())
        .unwrap();
    assert_eq!(old["state"], "retired");
}

#[tokio::test]
async fn a_retired_key_stops_its_cached_tokens_on_every_instance_within_the_bound() {
    // Arrange
    let a = spawn_app_with(with_bound).await;
    let b_dir = data_dir_with_master_of(&a);
    let b = instance_in(&a, &b_dir).await;
    a.create_user("alice", PASSWORD, false).await;
    let (old_token, _) = a.tokens_for("alice", PASSWORD).await;
    let old_kid = kid(&old_token);
    for app in [&a, &b, &a, &b] {
        assert_eq!(me(app, &old_token).await, StatusCode::OK, "warm");
    }
    // Retiring the only key is refused.
    let (code, line) = cli_err(&a, &["keys", "retire", &old_kid]);
    assert_eq!(code, Some(1));
    assert!(line.contains("last active signing key"), "{line}");
    cli_ok(&a, &["keys", "rotate"]);

    // Act
    let out = cli_ok(&a, &["keys", "retire", &old_kid]);
    let retired = Instant::now();

    // Assert
    assert!(out.contains(&old_kid), "{out}");
    for app in [&a, &b] {
        refused_within_bound(retired, "a token of the retired key", || async {
            me(app, &old_token).await == StatusCode::UNAUTHORIZED
        })
        .await;
        assert!(!jwks(app).await.0.contains(&old_kid));
        let (fresh, _) = app.tokens_for("alice", PASSWORD).await;
        assert_ne!(kid(&fresh), old_kid);
        assert_eq!(me(app, &fresh).await, StatusCode::OK);
    }
    let (code, line) = cli_err(&a, &["keys", "retire", &old_kid]);
    assert_eq!(code, Some(1));
    assert!(line.contains("already retired"), "{line}");
    let (code, line) = cli_err(&a, &["keys", "retire", "no-such-kid"]);
    assert_eq!(code, Some(1));
    assert!(line.contains("no key"), "{line}");
    let cookie = key_rows(&a, "cookie").pop().unwrap().0;
    let (_, line) = cli_err(&a, &["keys", "retire", &cookie]);
    assert!(line.contains("cannot be retired"), "{line}");
}

#[tokio::test]
async fn due_rotations_asked_for_together_on_two_instances_add_one_key() {
    // Arrange: automatic rotation every hour; the signing key made two hours ago.
    let a = spawn_app_with(|s| s.token.rotate_every = Some(HumanDuration::hours(1))).await;
    let b = a.second_instance().await;
    let (first, _) = key_rows(&a, "access").pop().unwrap();
    time_passes(&a, Duration::from_secs(2 * 3600));

    // Act: both instances ask four times each, all at once (released together by a barrier,
    // each on its own connection).
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for app in [&a, &b] {
        for _ in 0..4 {
            let (state, barrier) = (app.state.clone(), barrier.clone());
            tasks.push(tokio::task::spawn_blocking(move || {
                let mut conn = state.db.get().unwrap();
                barrier.wait();
                store::rotate_if_due(&state.config(), &mut conn, state.auth.keys.master())
            }));
        }
    }
    let mut rotated = 0;
    for task in tasks {
        rotated += usize::from(task.await.unwrap().expect("rotation runs").is_some());
    }
    // (The instances' own maintenance may have made the rotation first: then none of these.)
    assert!(rotated <= 1, "{rotated} rotations");

    // Assert
    let rows = key_rows(&a, "access");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, first);
    // Tokens are signed with the new key once the instances have loaded it.
    a.create_user("alice", PASSWORD, false).await;
    let new_kid = rows[1].0.clone();
    for app in [&a, &b] {
        eventually("tokens signed by the rotated-in key", || async {
            kid(&app.tokens_for("alice", PASSWORD).await.0) == new_kid
        })
        .await;
    }
}

#[tokio::test]
async fn a_rotated_in_key_is_published_for_the_publish_delay_before_it_signs() {
    // Arrange
    let a = spawn_app_with(|s| {
        with_bound(s);
        s.token.key_publish_delay = HumanDuration::hours(1);
    })
    .await;
    a.create_user("alice", PASSWORD, false).await;
    let old_kid = kid(&a.tokens_for("alice", PASSWORD).await.0);

    // Act: a rotation with the app's settings (the CLI run here would not know the delay).
    let row = {
        let mut conn = a.db.get().unwrap();
        let master = store::open_master(&a.settings, &mut conn, false).unwrap();
        store::rotate(&a.settings, &mut conn, &master, TokenAlgorithm::ES256).unwrap()
    };

    // Assert
    assert_eq!(row.state, "next");
    eventually("the next key in the JWKS", || async {
        jwks(&a).await.0.contains(&row.kid)
    })
    .await;
    let (kids, cache) = jwks(&a).await;
    assert!(kids.contains(&old_kid));
    assert_eq!(cache, "public, max-age=3600");
    assert_eq!(kid(&a.tokens_for("alice", PASSWORD).await.0), old_kid);
    let listed = keys_list(&a);
    let next = listed
        .iter()
        .find(|k| k["kid"] == row.kid.as_str())
        .unwrap();
    assert_eq!(
        (next["state"].as_str(), next["algorithm"].as_str()),
        (Some("next"), Some("ES256"))
    );

    // Act: the delay has passed.
    time_passes(&a, Duration::from_secs(3600));

    // Assert
    eventually("tokens signed by the published key", || async {
        kid(&a.tokens_for("alice", PASSWORD).await.0) == row.kid
    })
    .await;
}

#[tokio::test]
async fn changing_token_algorithm_rotates_to_a_key_of_that_algorithm() {
    // Arrange
    let a = spawn_app_with(with_bound).await;
    a.create_user("alice", PASSWORD, false).await;
    let (eddsa, _) = a.tokens_for("alice", PASSWORD).await;
    let mut settings = a.settings.clone();
    settings.token.algorithm = TokenAlgorithm::HS256;

    // Act: an instance started with the new algorithm.
    let b = a.second_instance_with(settings).await;

    // Assert
    let (hs, _) = b.tokens_for("alice", PASSWORD).await;
    let header = jsonwebtoken::decode_header(&hs).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert_ne!(header.kid.as_deref(), Some(kid(&eddsa).as_str()));
    for app in [&a, &b] {
        assert_eq!(me(app, &eddsa).await, StatusCode::OK, "the EdDSA token");
        eventually("the HS256 token accepted", || async {
            me(app, &hs).await == StatusCode::OK
        })
        .await;
    }
    // The HMAC secret is never published; the EdDSA key still is.
    assert_eq!(jwks(&b).await.0, [kid(&eddsa)]);
    assert_eq!(key_rows(&a, "access").len(), 2);
}

#[tokio::test]
async fn legacy_key_files_are_imported_once_and_keep_their_kid() {
    // Arrange: key files of an installation from before the key store.
    let mut legacy_kid = String::new();
    let a = spawn_app_with(|s| {
        gatehouse::auth::token::keys::generate_into(
            TokenAlgorithm::EdDSA,
            &s.private_key_file(),
            Some(&s.public_key_file()),
        )
        .unwrap();
        let (_, material) = gatehouse::auth::token::keys::read_legacy(s)
            .unwrap()
            .unwrap();
        legacy_kid =
            gatehouse::auth::token::access::kid_of(TokenAlgorithm::EdDSA, &material).unwrap();
        let cookie = s.server.data_dir.join("session.key");
        std::fs::write(&cookie, [9u8; 64]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o600)).unwrap();
    })
    .await;
    a.create_user("alice", PASSWORD, false).await;

    // Assert: the files' key signs, under the kid it always had.
    assert_eq!(jwks(&a).await.0, [legacy_kid.clone()]);
    assert_eq!(kid(&a.tokens_for("alice", PASSWORD).await.0), legacy_kid);
    assert_eq!(key_rows(&a, "access").len(), 1);
    assert_eq!(key_rows(&a, "cookie").len(), 1);

    // Act: a restart and an explicit import find nothing new.
    let b = a.second_instance().await;
    let out = cli_ok(&b, &["keys", "import"]);

    // Assert
    assert!(out.contains("nothing to import"), "{out}");
    assert_eq!(key_rows(&b, "access").len(), 1);
    assert_eq!(key_rows(&b, "cookie").len(), 1);
}

#[tokio::test]
async fn reseal_moves_every_key_under_a_prepended_secret_and_the_old_one_can_go() {
    // Arrange: a token and a session, then a new first line in the master secret file.
    let a = spawn_app().await;
    a.create_user("alice", PASSWORD, false).await;
    let (token, _) = a.tokens_for("alice", PASSWORD).await;
    let browser = a.browser();
    browser.login("alice", PASSWORD).await;
    let cookie = browser.cookie_header().unwrap();
    let path = a.settings.master_secret_file();
    let old = std::fs::read_to_string(&path).unwrap();
    let new_line = "cd".repeat(32);
    std::fs::write(&path, format!("{new_line}\n{old}")).unwrap();

    // Act
    let out = cli_ok(&a, &["keys", "reseal"]);
    std::fs::write(&path, format!("{new_line}\n")).unwrap();
    let b = a.second_instance().await;

    // Assert
    assert!(out.contains("re-sealed 2 key(s)"), "{out}");
    assert_eq!(me(&b, &token).await, StatusCode::OK);
    let resp = Browser::new(&b.address).get_with_cookie("/", &cookie).await;
    assert!(resp.text().await.unwrap().contains("Signed in as alice"));
    let sealed_with: Vec<String> = keys_list(&b)
        .iter()
        .map(|k| k["sealed_with"].as_str().unwrap().to_string())
        .collect();
    assert!(
        sealed_with.windows(2).all(|w| w[0] == w[1]),
        "{sealed_with:?}"
    );
}

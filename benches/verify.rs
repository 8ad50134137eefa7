//! Micro-benchmarks of the bearer verify path (issue 9), for EdDSA (the default) and HS256.
//! `cargo bench --bench verify`.
//!
//! - `cold`: `JwtKeys::verify` (header checks, signature, claims), what a token costs the
//!   first time an instance sees it;
//! - `cached`: `AuthCaches::verify` on a token verified before (SHA-256 of the token, one
//!   cache lookup, the time rules and the key id checked again): every later request.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::auth::cache::AuthCaches;
use gatehouse::auth::token::access::{JwtKeys, OpenedKey, kid_of};
use gatehouse::auth::token::keys::KeyMaterial;
use gatehouse::config::{Settings, TokenAlgorithm};
use gatehouse::db::models::User;
use gatehouse::feed::Feed;
use gatehouse::metrics::Metrics;

/// A user like the one of the unit tests of `auth::token::access`.
fn user() -> User {
    let now = gatehouse::domain::clock::now();
    User {
        id: 7,
        username: "alice".into(),
        username_key: "alice".into(),
        password_hash: String::new(),
        is_admin: false,
        disabled: false,
        password_changed_at: now,
        last_login_at: None,
        created_at: now,
        updated_at: now,
        sessions_revoked_at: None,
        service: false,
    }
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for algorithm in [TokenAlgorithm::EdDSA, TokenAlgorithm::HS256] {
        // A fresh key, as the key store makes on a first start.
        let mut settings = Settings::default();
        settings.token.algorithm = algorithm;
        let material = KeyMaterial::generate(algorithm).expect("Failed to generate a key");
        let key = OpenedKey {
            kid: kid_of(algorithm, &material).expect("Failed to name the key"),
            algorithm,
            activates_at: 0,
            material,
        };
        let keys = JwtKeys::new(&settings, vec![key]).expect("Failed to load the signing key");
        let token = keys
            .issue(&user(), "family")
            .expect("Failed to issue a token")
            .token;
        assert!(
            keys.verify(&token).is_ok(),
            "{algorithm:?}: a fresh token fails"
        );

        group.bench_function(format!("{algorithm:?}/cold"), |b| {
            b.iter(|| keys.verify(black_box(&token)))
        });

        let feed = Feed::new(std::time::Duration::from_secs(1));
        let metrics = Metrics::new().expect("Failed to create the metrics");
        let caches = AuthCaches::new(&settings.cache, &feed, &metrics);
        caches
            .verify(&keys, &token)
            .expect("Failed to verify the token");
        group.bench_function(format!("{algorithm:?}/cached"), |b| {
            b.iter(|| caches.verify(&keys, black_box(&token)))
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);

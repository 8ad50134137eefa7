//! Micro-benchmarks of the bearer verify path (issue 9): `JwtKeys::verify` on a fresh token,
//! for EdDSA (the default) and HS256. `cargo bench --bench verify`.
//!
//! Only the cold verify is measured (header checks, signature, claims): the server has no
//! cache of verified tokens yet, so every bearer request pays this cost. When such a cache
//! lands, add its hit path here next to these.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::auth::token::access::JwtKeys;
use gatehouse::config::{Settings, TokenAlgorithm};
use gatehouse::db::models::User;

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
    }
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for algorithm in [TokenAlgorithm::EdDSA, TokenAlgorithm::HS256] {
        // Keys are generated into a temporary data dir, as on a first start.
        let dir = tempfile::tempdir().expect("Failed to create a temporary data dir");
        let mut settings = Settings::default();
        settings.server.data_dir = dir.path().to_path_buf();
        settings.token.algorithm = algorithm;
        let keys = JwtKeys::load(&settings).expect("Failed to load the signing keys");
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
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);

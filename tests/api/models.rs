//! Model-based tests of the repository: random sequences of operations run against the real
//! functions over a real database (a temporary SQLite file, or a fresh PostgreSQL schema when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set), and every outcome is compared with a plain in-memory
//! model of the rules (SPEC §6 refresh-token rotation, SPEC §8 lockout).

use std::collections::HashMap;

use std::time::Duration;

use gatehouse::accounts::By;
use gatehouse::accounts::{self, Accounts};
use gatehouse::auth::lockout::{Lockout, Refused, user_subject};
use gatehouse::auth::password::PasswordHasher;
use gatehouse::auth::token::refresh::{self as tokens, Rotation};
use gatehouse::config::{HumanDuration, LockoutSettings, Settings};
use gatehouse::db::{AnyConnection, Database};
use gatehouse::domain::Username;
use gatehouse::feed::Feed;
use gatehouse::http::client_ip::{ClientAddr, OpaqueHop};
use gatehouse::session_store::{AnyStore, Backend, DatabaseSessionStore};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use tempfile::TempDir;

use crate::helpers::TestDatabase;

/// Refresh-token lifetime: long enough that nothing expires inside a case.
const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Refresh tokens live an hour; families far longer than any case runs.
const POLICY: tokens::RefreshPolicy = tokens::RefreshPolicy {
    ttl: TOKEN_TTL,
    max_age: Duration::from_secs(90 * 86400),
};

/// Lock duration: long enough that no window or lock runs out inside a case.
const LOCK_MINUTES: u64 = 15;

/// A fresh database for one case; the fields keep the file (or schema) alive until dropped.
struct CaseDatabase {
    db: Database,
    _test_db: TestDatabase,
    _dir: TempDir,
}

impl CaseDatabase {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let test_db = TestDatabase::new(&dir);
        let db = Database::open(&test_db.url, 2).expect("test database opens");
        Self {
            db,
            _test_db: test_db,
            _dir: dir,
        }
    }

    fn conn(&self) -> impl std::ops::DerefMut<Target = AnyConnection> {
        self.db.get().expect("connection")
    }

    /// The account lifecycle over this database (the revocation seam, with the database
    /// session store), and a runtime to drive it from these synchronous tests.
    fn accounts(&self) -> (Accounts, tokio::runtime::Runtime) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let hasher = PasswordHasher::start(4, 1, 1).expect("hasher");
        let feed = Feed::new(std::time::Duration::from_secs(1));
        feed.trust_forever();
        let store = AnyStore::with_backend(
            Backend::Database(DatabaseSessionStore::new(
                self.db.clone(),
                std::time::Duration::from_secs(3600),
            )),
            &Settings::default(),
            &self.db,
            &feed,
            &gatehouse::metrics::Metrics::new().expect("metrics"),
        );
        let lockout = Lockout::new(&LockoutSettings::default());
        (
            Accounts::new(self.db.clone(), hasher, store, lockout, feed),
            runtime,
        )
    }
}

// ---- refresh-token rotation --------------------------------------------------------------------

const USERS: usize = 3;

#[derive(Debug, Clone)]
enum TokenOp {
    /// A fresh login: a token in a new family.
    Login(usize),
    /// Presents an issued token to the refresh grant.
    Refresh(Index),
    /// Revokes an issued token (RFC 7009).
    Revoke(Index),
    /// Signs the user out everywhere.
    RevokeAllForUser(usize),
    /// Disables the user (for good: nothing re-enables inside a case).
    Disable(usize),
    /// Presents and revokes a token that was never issued.
    Forged,
}

fn token_op() -> impl Strategy<Value = TokenOp> {
    prop_oneof![
        4 => (0..USERS).prop_map(TokenOp::Login),
        8 => any::<Index>().prop_map(TokenOp::Refresh),
        2 => any::<Index>().prop_map(TokenOp::Revoke),
        1 => (0..USERS).prop_map(TokenOp::RevokeAllForUser),
        1 => (0..USERS).prop_map(TokenOp::Disable),
        1 => Just(TokenOp::Forged),
    ]
}

/// A refresh token the model has seen issued.
struct Issued {
    value: String,
    family: usize,
    /// Presented once already. The current token of a family is its one unused token.
    used: bool,
}

struct Family {
    user: usize,
    revoked: bool,
}

/// What the rules say a presented token must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Rotated { user: usize },
    Invalid,
    Reused,
}

#[derive(Default)]
struct TokenModel {
    tokens: Vec<Issued>,
    families: Vec<Family>,
    disabled: [bool; USERS],
}

impl TokenModel {
    fn login(&mut self, user: usize, value: String) {
        self.families.push(Family {
            user,
            revoked: false,
        });
        self.tokens.push(Issued {
            value,
            family: self.families.len() - 1,
            used: false,
        });
    }

    /// Presents token `t`. On `Rotated` the caller records the new token with `rotated`.
    fn refresh(&mut self, t: usize) -> Expected {
        let family = self.tokens[t].family;
        if self.tokens[t].used {
            // Reuse: whatever else is true of the family, it is revoked now.
            self.families[family].revoked = true;
            return Expected::Reused;
        }
        if self.families[family].revoked {
            // A revoked token is refused without being marked used.
            return Expected::Invalid;
        }
        self.tokens[t].used = true;
        let user = self.families[family].user;
        if self.disabled[user] {
            // A token issued after the user was disabled: used up, and its family revoked.
            self.families[family].revoked = true;
            return Expected::Invalid;
        }
        Expected::Rotated { user }
    }

    fn rotated(&mut self, from: usize, value: String) {
        self.tokens.push(Issued {
            value,
            family: self.tokens[from].family,
            used: false,
        });
    }

    fn revoke(&mut self, t: usize) {
        let family = self.tokens[t].family;
        self.families[family].revoked = true;
    }

    fn revoke_all(&mut self, user: usize) {
        for family in self.families.iter_mut().filter(|f| f.user == user) {
            family.revoked = true;
        }
    }

    fn disable(&mut self, user: usize) {
        self.disabled[user] = true;
        self.revoke_all(user);
    }
}

fn describe(rotation: &Rotation) -> String {
    match rotation {
        Rotation::Rotated { user, .. } => format!("Rotated {{ user: {} }}", user.id),
        Rotation::Invalid => "Invalid".into(),
        Rotation::Reused => "Reused".into(),
    }
}

/// The token world under test: real users and a model of what they hold.
struct TokenWorld {
    case: CaseDatabase,
    accounts: Accounts,
    runtime: tokio::runtime::Runtime,
    user_ids: Vec<i64>,
    model: TokenModel,
}

impl TokenWorld {
    fn new() -> Self {
        let case = CaseDatabase::new();
        let user_ids = {
            let mut conn = case.conn();
            (0..USERS)
                .map(|i| {
                    let name = Username::parse(&format!("user{i}")).expect("valid name");
                    accounts::create_user(&mut conn, &name, "not-a-real-hash", false)
                        .expect("user created")
                        .id
                })
                .collect()
        };
        let (accounts, runtime) = case.accounts();
        Self {
            case,
            accounts,
            runtime,
            user_ids,
            model: TokenModel::default(),
        }
    }

    fn present(&mut self, t: usize, step: &str) -> Result<(), TestCaseError> {
        let expected = self.model.refresh(t);
        let presented = self.model.tokens[t].value.clone();
        let actual = tokens::rotate(&mut self.case.conn(), &presented, POLICY)
            .expect("rotate")
            .0;
        match (expected, &actual) {
            (
                Expected::Rotated { user },
                Rotation::Rotated {
                    user: row, issued, ..
                },
            ) => {
                prop_assert_eq!(
                    row.id,
                    self.user_ids[user],
                    "{}: rotated for the wrong user",
                    step
                );
                prop_assert!(
                    self.model.tokens.iter().all(|i| i.value != issued.token),
                    "{step}: the rotated token repeats an issued one"
                );
                self.model.rotated(t, issued.token.clone());
            }
            (Expected::Invalid, Rotation::Invalid) | (Expected::Reused, Rotation::Reused) => {}
            _ => {
                return Err(TestCaseError::fail(format!(
                    "{step}: token #{t} gave {}, the model expected {expected:?}",
                    describe(&actual)
                )));
            }
        }
        Ok(())
    }

    fn apply(&mut self, op: &TokenOp, step: &str) -> Result<(), TestCaseError> {
        match op {
            TokenOp::Login(user) => {
                let value = tokens::start_family(
                    &mut self.case.conn(),
                    self.user_ids[*user],
                    gatehouse::domain::clock::now(),
                    TOKEN_TTL,
                )
                .expect("start_family")
                .token;
                prop_assert!(
                    self.model.tokens.iter().all(|i| i.value != value),
                    "{step}: a new login repeats an issued token"
                );
                self.model.login(*user, value);
            }
            TokenOp::Refresh(index) if !self.model.tokens.is_empty() => {
                self.present(index.index(self.model.tokens.len()), step)?;
            }
            TokenOp::Revoke(index) if !self.model.tokens.is_empty() => {
                let t = index.index(self.model.tokens.len());
                let value = self.model.tokens[t].value.clone();
                self.runtime
                    .block_on(self.accounts.revoke_refresh_token(value))
                    .expect("revoke");
                self.model.revoke(t);
            }
            TokenOp::Refresh(_) | TokenOp::Revoke(_) => {}
            TokenOp::RevokeAllForUser(user) => {
                self.runtime
                    .block_on(
                        self.accounts
                            .sign_out_everywhere(By::Operator, self.user_ids[*user]),
                    )
                    .expect("sign_out_everywhere");
                self.model.revoke_all(*user);
            }
            TokenOp::Disable(user) => {
                let found = self
                    .runtime
                    .block_on(
                        self.accounts
                            .set_disabled(By::Operator, self.user_ids[*user], true),
                    )
                    .expect("set_disabled");
                prop_assert!(found, "{step}: the user to disable was not found");
                self.model.disable(*user);
            }
            TokenOp::Forged => {
                let forged = gatehouse::domain::random_token(32);
                let mut conn = self.case.conn();
                tokens::revoke(&mut conn, &forged).expect("revoke of an unknown token");
                let actual = tokens::rotate(&mut conn, &forged, POLICY)
                    .expect("rotate")
                    .0;
                prop_assert!(
                    matches!(actual, Rotation::Invalid),
                    "{step}: a forged token gave {}",
                    describe(&actual)
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn refresh_rotation_matches_the_model_for_any_sequence_of_logins_refreshes_and_revocations(
        ops in proptest::collection::vec(token_op(), 1..40)
    ) {
        // Arrange
        let mut world = TokenWorld::new();

        // Act and assert, step by step
        for (n, op) in ops.iter().enumerate() {
            world.apply(op, &format!("step {n} ({op:?})"))?;
        }

        // Assert: every token issued, presented once more in order, still agrees with the model
        // (this reads state the steps above may not have looked at).
        for t in 0..world.model.tokens.len() {
            world.present(t, &format!("final sweep, token #{t}"))?;
        }
    }
}

/// A fixed scenario that names the rules the model encodes, so that a change in them shows here
/// by name and not only as a shrunk sequence.
#[test]
fn a_reused_refresh_token_revokes_its_family_including_the_newer_token() {
    // Arrange
    let mut world = TokenWorld::new();
    world.apply(&TokenOp::Login(0), "login").expect("login");
    world.present(0, "first refresh").expect("rotates");

    // Act
    let reuse = tokens::rotate(&mut world.case.conn(), &world.model.tokens[0].value, POLICY)
        .expect("rotate")
        .0;
    let newer = tokens::rotate(&mut world.case.conn(), &world.model.tokens[1].value, POLICY)
        .expect("rotate")
        .0;

    // Assert
    assert!(
        matches!(reuse, Rotation::Reused),
        "reuse gave {}",
        describe(&reuse)
    );
    assert!(
        matches!(newer, Rotation::Invalid),
        "newer token gave {}",
        describe(&newer)
    );
}

#[test]
fn revoking_an_old_token_of_a_family_kills_its_current_token() {
    // Arrange
    let mut world = TokenWorld::new();
    world.apply(&TokenOp::Login(0), "login").expect("login");
    world.present(0, "first refresh").expect("rotates");

    // Act
    tokens::revoke(&mut world.case.conn(), &world.model.tokens[0].value).expect("revoke");
    let current = tokens::rotate(&mut world.case.conn(), &world.model.tokens[1].value, POLICY)
        .expect("rotate")
        .0;

    // Assert
    assert!(
        matches!(current, Rotation::Invalid),
        "current token gave {}",
        describe(&current)
    );
}

#[test]
fn tokens_of_a_disabled_user_no_longer_refresh() {
    // Arrange
    let mut world = TokenWorld::new();
    world.apply(&TokenOp::Login(0), "login").expect("login");
    world
        .apply(&TokenOp::Login(1), "bystander login")
        .expect("login");

    // Act
    world
        .runtime
        .block_on(
            world
                .accounts
                .set_disabled(By::Operator, world.user_ids[0], true),
        )
        .expect("disable");
    let disabled = tokens::rotate(&mut world.case.conn(), &world.model.tokens[0].value, POLICY)
        .expect("rotate")
        .0;
    let bystander = tokens::rotate(&mut world.case.conn(), &world.model.tokens[1].value, POLICY)
        .expect("rotate")
        .0;

    // Assert
    assert!(
        matches!(disabled, Rotation::Invalid),
        "disabled user's token gave {}",
        describe(&disabled)
    );
    assert!(
        matches!(bystander, Rotation::Rotated { ref user, .. } if user.id == world.user_ids[1]),
        "bystander's token gave {}",
        describe(&bystander)
    );
}

// ---- lockout -----------------------------------------------------------------------------------

/// Typed usernames: three spellings of one account, and two others.
const NAMES: [&str; 5] = ["alice", "Alice", "ALICE", "bob", "carol"];
/// Clients: two IPv4 addresses, two IPv6 addresses of one /64 (one counter, SPEC §8 per
/// client), one of another /64, and a forwarded hop that is not an address.
const IPS: [&str; 6] = [
    "198.51.100.1",
    "198.51.100.2",
    "2001:db8::1",
    "2001:db8::ffff:2",
    "2001:db8:0:1::1",
    "unknown",
];

#[derive(Debug, Clone)]
enum LockOp {
    /// A try that turns out wrong: reserved, and left counted.
    Failure {
        name: usize,
        ip: usize,
    },
    /// A try that turns out right: reserved, then given back.
    Success {
        name: usize,
        ip: usize,
    },
    Check {
        name: usize,
        ip: usize,
    },
}

fn lock_op() -> impl Strategy<Value = LockOp> {
    let (names, ips) = (0..NAMES.len(), 0..IPS.len());
    prop_oneof![
        5 => (names.clone(), ips.clone()).prop_map(|(name, ip)| LockOp::Failure { name, ip }),
        2 => (names.clone(), ips.clone()).prop_map(|(name, ip)| LockOp::Success { name, ip }),
        4 => (names, ips).prop_map(|(name, ip)| LockOp::Check { name, ip }),
    ]
}

/// Tries counted the way SPEC §8 states them: reserved before the check, refused while
/// locked, a success clearing the account's count and giving the address's try back.
struct LockModel {
    max_failures: u32,
    max_failures_per_ip: u32,
    /// Tries per account since its last success; "Alice" and "alice" are one account.
    user_tries: HashMap<String, u32>,
    /// Tries per address, less the successful ones.
    ip_tries: HashMap<String, u32>,
}

impl LockModel {
    fn account(name: &str) -> String {
        name.to_lowercase()
    }

    fn locked(&self, name: &str, ip: &str) -> bool {
        self.user_tries
            .get(&Self::account(name))
            .is_some_and(|n| *n >= self.max_failures)
            || self
                .ip_tries
                .get(ip)
                .is_some_and(|n| *n >= self.max_failures_per_ip)
    }

    /// Reserves a try: `None` when locked (nothing counted), else whether it set a lock.
    fn reserve(&mut self, name: &str, ip: &str) -> Option<bool> {
        if self.locked(name, ip) {
            return None;
        }
        let user = self.user_tries.entry(Self::account(name)).or_default();
        *user += 1;
        let user_locks = *user >= self.max_failures;
        let address = self.ip_tries.entry(ip.to_string()).or_default();
        *address += 1;
        Some(user_locks || *address >= self.max_failures_per_ip)
    }

    fn succeeded(&mut self, name: &str, ip: &str) {
        self.user_tries.remove(&Self::account(name));
        if let Some(n) = self.ip_tries.get_mut(ip) {
            *n = n.saturating_sub(1);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn lockout_matches_the_model_for_any_sequence_of_failures_successes_and_checks(
        max_failures in 1u32..=4,
        max_failures_per_ip in 1u32..=8,
        ops in proptest::collection::vec(lock_op(), 1..40),
    ) {
        // Arrange
        let case = CaseDatabase::new();
        let lockout = Lockout::new(&LockoutSettings {
            max_failures,
            max_failures_per_ip,
            duration: HumanDuration::minutes(LOCK_MINUTES),
            ..LockoutSettings::default()
        });
        let mut model = LockModel {
            max_failures,
            max_failures_per_ip,
            user_tries: HashMap::new(),
            ip_tries: HashMap::new(),
        };
        // Counters are kept per client key: an IPv6 client is its /64.
        let keys: Vec<String> = IPS
            .iter()
            .map(|ip| match ip.parse::<std::net::IpAddr>() {
                Ok(ip) => ClientAddr::Ip(ip),
                Err(_) => ClientAddr::Opaque(OpaqueHop::new(ip)),
            })
            .map(|client| client.lockout_key())
            .collect();
        let mut conn = case.conn();

        for (n, op) in ops.iter().enumerate() {
            match *op {
                LockOp::Failure { name, ip } | LockOp::Success { name, ip } => {
                    let subject = user_subject(NAMES[name]);
                    // Act
                    let reserved = match lockout.reserve(&mut conn, &subject, &keys[ip]) {
                        Ok(attempt) => Some(attempt.locks),
                        Err(Refused::Locked { .. }) => None,
                        Err(Refused::Db(e)) => panic!("reserve: {e}"),
                    };
                    // Assert
                    let expected = model.reserve(NAMES[name], &keys[ip]);
                    prop_assert_eq!(
                        reserved, expected,
                        "step {} ({:?}): the reservation (None = locked, Some(sets a lock))", n, op
                    );
                    if reserved.is_some() && matches!(op, LockOp::Success { .. }) {
                        lockout
                            .succeeded(&mut conn, &subject, &keys[ip])
                            .expect("succeeded");
                        model.succeeded(NAMES[name], &keys[ip]);
                    }
                }
                LockOp::Check { name, ip } => {
                    // Act
                    let retry = lockout
                        .retry_after(&mut conn, &user_subject(NAMES[name]), &keys[ip])
                        .expect("retry_after");
                    // Assert
                    prop_assert_eq!(
                        retry.is_some(),
                        model.locked(NAMES[name], &keys[ip]),
                        "step {} ({:?}): retry_after was {:?}", n, op, retry
                    );
                    if let Some(seconds) = retry {
                        prop_assert!(
                            (1..=LOCK_MINUTES * 60).contains(&seconds),
                            "step {n} ({op:?}): retry_after {seconds}s is outside the lock duration"
                        );
                    }
                }
            }
        }
    }
}

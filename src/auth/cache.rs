//! The caches behind [`super::Authenticator::resolve`]: verified access tokens, user state and
//! live refresh-token families, so that a warm instance answers "who is this?" from memory.
//!
//! - **Verified tokens** (`cache.tokens` entries), keyed by the SHA-256 of the whole token (a
//!   different token cannot land on a cached entry), holding the claims that verification
//!   proved and nothing revocation can change. An entry dies at the token's `exp` + leeway;
//!   a hit is checked again against the time rules and the key set, so the cache never
//!   accepts what verification would refuse.
//! - **User state** (`cache.users` entries): the [`UserState`] of a user id.
//! - **Live families**: a refresh-token family found live, with the time its sign-in was
//!   checked; a hit counts only while the user's revocation stamp is older than that check
//!   (every "end all of the user's credentials" stamps the user in the transaction that ends
//!   the families), and a family's own end arrives through the feed.
//!
//! User state and families are used only while the [`Feed`] is trusted, and dropped by the
//! changes it reports (see `crate::feed`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::config::CacheSettings;
use crate::db::changes::Change;
use crate::domain::UserState;
use crate::feed::{Feed, Listener};
use crate::metrics::{Lookups, Metrics};

use super::token::access::{AccessClaims, JwtKeys, TokenError};

/// Claims proven by one verification, kept until the token expires.
struct Verified {
    claims: Arc<AccessClaims>,
    kid: String,
    /// How long the entry may live from insertion (to `exp` + leeway).
    lives: Duration,
}

struct UntilExpiry;

impl Expiry<[u8; 32], Arc<Verified>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Arc<Verified>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.lives)
    }
}

/// The caches of the request path; cheap to clone.
#[derive(Clone)]
pub struct AuthCaches {
    tokens: Cache<[u8; 32], Arc<Verified>>,
    facts: Facts,
    feed: Feed,
    counted: Counted,
}

/// What the feed drops: user state and live families (the feed's listener; it holds no
/// feed, so that dropping the last handle of the feed ends its polling thread).
#[derive(Clone)]
struct Facts {
    users: Cache<i64, Arc<UserState>>,
    /// Family id → when its sign-in was checked (Unix microseconds).
    families: Cache<String, i64>,
}

#[derive(Clone)]
struct Counted {
    tokens: Lookups,
    users: Lookups,
    families: Lookups,
}

impl AuthCaches {
    /// Empty caches sized by `cache.*`, subscribed to `feed`.
    pub fn new(settings: &CacheSettings, feed: &Feed, metrics: &Metrics) -> Self {
        let caches = Self {
            tokens: Cache::builder()
                .max_capacity(settings.tokens)
                .expire_after(UntilExpiry)
                .build(),
            facts: Facts {
                // No idle expiry: it would cost a timestamp write on every read. The caps
                // bound memory; entries leave by eviction or by the feed.
                users: Cache::builder().max_capacity(settings.users).build(),
                families: Cache::builder().max_capacity(settings.users).build(),
            },
            feed: feed.clone(),
            counted: Counted {
                tokens: metrics.lookups("tokens"),
                users: metrics.lookups("users"),
                families: metrics.lookups("families"),
            },
        };
        feed.subscribe(Arc::new(caches.facts.clone()));
        caches
    }

    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// The claims of `token`: from the cache when it was verified here before (and still
    /// passes the time rules, with its key still in the key set), else verified now and
    /// cached when good.
    pub fn verify(&self, keys: &JwtKeys, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        let id: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.tokens.get(&id) {
            self.counted.tokens.hit.inc();
            if !keys.knows(&hit.kid) {
                self.tokens.invalidate(&id);
                return Err(TokenError::Invalid);
            }
            keys.check_times(&hit.claims)?;
            return Ok(hit.claims.clone());
        }
        self.counted.tokens.miss.inc();
        let (claims, kid) = keys.verify_with_kid(token)?;
        let claims = Arc::new(claims);
        let lives = Duration::from_secs(keys.remaining(&claims));
        if !lives.is_zero() {
            self.tokens.insert(
                id,
                Arc::new(Verified {
                    claims: claims.clone(),
                    kid,
                    lives,
                }),
            );
        }
        Ok(claims)
    }

    /// The cached state of a user, when the feed is trusted.
    pub fn user(&self, user_id: i64) -> Option<Arc<UserState>> {
        let hit = self
            .feed
            .trusted()
            .then(|| self.facts.users.get(&user_id))
            .flatten();
        count(&self.counted.users, hit.is_some());
        hit
    }

    /// Whether the cache knows the family as live for `user` (its sign-in checked after the
    /// user's last revocation), when the feed is trusted.
    pub fn family_live(&self, family_id: &str, user: &UserState) -> Option<bool> {
        let checked_at = self
            .feed
            .trusted()
            .then(|| self.facts.families.get(family_id))
            .flatten();
        count(&self.counted.families, checked_at.is_some());
        Some(user.session_current(Some(checked_at?)))
    }

    /// Caches what a load that began at `ticket` found (see `Feed::fill`).
    pub fn fill_user(&self, ticket: crate::feed::Ticket, user: &Arc<UserState>) {
        self.feed
            .fill(ticket, || self.facts.users.insert(user.id, user.clone()));
    }

    /// Caches a family found live, checked at `checked_at` (Unix microseconds).
    pub fn fill_family(&self, ticket: crate::feed::Ticket, family_id: &str, checked_at: i64) {
        self.feed.fill(ticket, || {
            self.facts
                .families
                .insert(family_id.to_string(), checked_at);
        });
    }
}

fn count(lookups: &Lookups, hit: bool) {
    if hit {
        lookups.hit.inc();
    } else {
        lookups.miss.inc();
    }
}

impl Listener for Facts {
    fn apply(&self, change: &Change) {
        match change {
            Change::UserRevoked { user_id } | Change::UserChanged { user_id } => {
                self.users.invalidate(user_id);
            }
            Change::Family { family_id, .. } => self.families.invalidate(family_id),
            Change::Session { .. } | Change::Keys => {}
        }
    }

    fn flush(&self) {
        self.users.invalidate_all();
        self.families.invalidate_all();
    }
}

//! The caches behind [`super::Authenticator::resolve`]: verified access tokens, user state and
//! live refresh-token families, so that a warm instance answers "who is this?" from memory.
//!
//! - **Verified tokens** (`cache.tokens` entries), keyed by the whole token (a lookup compares
//!   it byte for byte, so a different token cannot land on a cached entry), holding the claims
//!   that verification proved and nothing revocation can change. A hit is checked again against
//!   the time rules and the key set, so the cache never accepts what verification would
//!   refuse; an entry found expired is dropped then, and the cap bounds the ones never asked
//!   for again.
//! - **User state** (`cache.users` entries): the [`UserState`] of a user id.
//! - **Live families**: a refresh-token family found live, with the time its sign-in was
//!   checked; a hit counts only while the user's revocation stamp is older than that check
//!   (every "end all of the user's credentials" stamps the user in the transaction that ends
//!   the families), and a family's own end arrives through the feed.
//!
//! User state and families are used only while the [`Feed`] is trusted, and dropped by the
//! changes it reports (see `crate::feed`).
//!
//! The caches are `quick_cache`'s: a hit is a hash-table read with no bookkeeping queue (moka
//! records every read for its admission policy; replacing it took the bearer path's CPU time
//! above a bare handler from about 3.4 µs to 2.4 µs a request). Their capacity is
//! fixed when built, so new caps (a configuration reload of `cache.tokens` or `cache.users`)
//! put a new, empty set of caches in place ([`AuthCaches::resize`]): emptying a cache never
//! makes an answer wrong, only slower once.

use std::sync::Arc;

use arc_swap::ArcSwap;
use quick_cache::sync::Cache;

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
}

/// The caches of the request path; cheap to clone, and every clone shares the set in force.
#[derive(Clone)]
pub struct AuthCaches {
    /// The caches in force; the feed's listener holds the same cell, so it always drops
    /// entries from the set that requests use.
    current: Arc<ArcSwap<Caches>>,
    feed: Feed,
    counted: Counted,
}

/// One set of caches, of the caps it was built with.
struct Caches {
    tokens: Cache<Box<str>, Arc<Verified>>,
    /// User state and live families: what the feed drops.
    facts: Facts,
    /// `cache.tokens` and `cache.users` when built.
    caps: (u64, u64),
}

struct Facts {
    users: Cache<i64, Arc<UserState>>,
    /// Family id → when its sign-in was checked (Unix microseconds).
    families: Cache<String, i64>,
}

/// The feed's listener: drops what a change names from the caches in force. It holds the
/// cell, never the feed, so that dropping the last handle of the feed ends its polling thread.
struct InForce(Arc<ArcSwap<Caches>>);

#[derive(Clone)]
struct Counted {
    tokens: Lookups,
    users: Lookups,
    families: Lookups,
}

impl Caches {
    /// Empty caches of the caps of `settings`.
    fn new(settings: &CacheSettings) -> Self {
        Self {
            tokens: Cache::new(capacity(settings.tokens)),
            facts: Facts {
                // No idle expiry: the caps bound memory; entries leave by eviction or by the
                // feed.
                users: Cache::new(capacity(settings.users)),
                families: Cache::new(capacity(settings.users)),
            },
            caps: (settings.tokens, settings.users),
        }
    }
}

fn capacity(cap: u64) -> usize {
    usize::try_from(cap).unwrap_or(usize::MAX)
}

impl AuthCaches {
    /// Empty caches sized by `cache.*`, subscribed to `feed`.
    pub fn new(settings: &CacheSettings, feed: &Feed, metrics: &Metrics) -> Self {
        let current = Arc::new(ArcSwap::from_pointee(Caches::new(settings)));
        feed.subscribe(Arc::new(InForce(current.clone())));
        Self {
            current,
            feed: feed.clone(),
            counted: Counted {
                tokens: metrics.lookups("tokens"),
                users: metrics.lookups("users"),
                families: metrics.lookups("families"),
            },
        }
    }

    /// Puts empty caches of the caps of `settings` in place when `cache.tokens` or
    /// `cache.users` differ from the caps in force; returns whether it did.
    pub fn resize(&self, settings: &CacheSettings) -> bool {
        if self.current.load().caps == (settings.tokens, settings.users) {
            return false;
        }
        self.current.store(Arc::new(Caches::new(settings)));
        true
    }

    /// The caps in force (`cache.tokens`, `cache.users`).
    pub fn caps(&self) -> (u64, u64) {
        self.current.load().caps
    }

    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// The claims of `token`: from the cache when it was verified here before (and still
    /// passes the time rules, with its key still in the key set), else verified now and
    /// cached when good.
    pub fn verify(&self, keys: &JwtKeys, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        let caches = self.current.load();
        if let Some(hit) = caches.tokens.get(token) {
            self.counted.tokens.hit.inc();
            if !keys.knows(&hit.kid) {
                caches.tokens.remove(token);
                return Err(TokenError::Invalid);
            }
            if let Err(e) = keys.check_times(&hit.claims) {
                caches.tokens.remove(token);
                return Err(e);
            }
            return Ok(hit.claims.clone());
        }
        self.counted.tokens.miss.inc();
        let (claims, kid) = keys.verify_with_kid(token)?;
        let claims = Arc::new(claims);
        // Cached even in its last second (`exp` is whole seconds, so a token verified then has
        // no time "remaining" and yet is good until the second ends): a hit checks the time
        // rules again, and skipping those tokens made a token used in the second it was signed
        // with a one-second lifetime never come from the cache.
        caches.tokens.insert(
            token.into(),
            Arc::new(Verified {
                claims: claims.clone(),
                kid,
            }),
        );
        Ok(claims)
    }

    /// The cached state of a user, when the feed is trusted.
    pub fn user(&self, user_id: i64) -> Option<Arc<UserState>> {
        let hit = self
            .feed
            .trusted()
            .then(|| self.current.load().facts.users.get(&user_id))
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
            .then(|| self.current.load().facts.families.get(family_id))
            .flatten();
        count(&self.counted.families, checked_at.is_some());
        Some(user.session_current(Some(checked_at?)))
    }

    /// Caches what a load that began at `ticket` found (see `Feed::fill`).
    pub fn fill_user(&self, ticket: crate::feed::Ticket, user: &Arc<UserState>) {
        self.feed.fill(ticket, || {
            self.current
                .load()
                .facts
                .users
                .insert(user.id, user.clone());
        });
    }

    /// Caches a family found live, checked at `checked_at` (Unix microseconds).
    pub fn fill_family(&self, ticket: crate::feed::Ticket, family_id: &str, checked_at: i64) {
        self.feed.fill(ticket, || {
            self.current
                .load()
                .facts
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

impl Listener for InForce {
    fn apply(&self, change: &Change) {
        let facts = &self.0.load().facts;
        match change {
            Change::UserRevoked { user_id } | Change::UserChanged { user_id } => {
                facts.users.remove(user_id);
            }
            Change::Family { family_id, .. } => {
                facts.families.remove(family_id.as_str());
            }
            Change::Session { .. } | Change::Keys => {}
        }
    }

    fn flush(&self) {
        let facts = &self.0.load().facts;
        facts.users.clear();
        facts.families.clear();
    }
}

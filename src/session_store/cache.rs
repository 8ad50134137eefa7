//! Sessions in memory, in front of either store: a session read comes from memory after its
//! first load on an instance, and its idle expiry is written back at most once per
//! `session.idle_timeout / 10` instead of on every request.
//!
//! The cost of the coarse step: the store's expiry may lag the last request by up to a tenth of
//! the idle timeout, so an idle session ends between 0.9 and 1.0 × `idle_timeout` after its
//! last request. Entries are used only while the change feed is trusted; a session ended
//! anywhere (logout, "end this session") reaches every instance through the feed, and an
//! entry past its idle or absolute limit is never served (the store is asked again: another
//! instance may have pushed the expiry further).
//!
//! The cache is `quick_cache`'s, as the token and user caches are: a hit is a hash-table read,
//! with no record of the read for an admission policy (moka, used before, keeps one). The cap
//! (`cache.sessions`) is fixed when the cache is built: a reload that changes it puts a new,
//! empty cache in place ([`SessionCache::resize`]), which only costs store reads.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use quick_cache::sync::Cache;

use super::{LiveDuration, State};
use crate::db::changes::Change;
use crate::domain::clock::{micros, now};
use crate::feed::{Feed, Listener, Ticket};
use crate::metrics::Lookups;

/// A session as the store holds it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub state: State,
    /// Unix microseconds.
    pub created_at: i64,
    /// End of the idle timeout as last written to the store (Unix microseconds).
    pub expires_at: i64,
}

#[derive(Clone)]
pub struct SessionCache {
    /// The entries in force (stored id, the SHA-256 hex of the key → entry); the feed's
    /// listener holds the same cell, and every clone shares it.
    entries: Arc<ArcSwap<Entries>>,
    feed: Feed,
    /// `session.ttl` in force, shared with the store.
    absolute: LiveDuration,
    lookups: Lookups,
}

/// One cache of entries, of the cap it was built with.
struct Entries {
    cache: Cache<String, Arc<Entry>>,
    capacity: u64,
}

impl Entries {
    fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX)),
            capacity,
        }
    }
}

impl SessionCache {
    pub fn new(capacity: u64, absolute: LiveDuration, feed: &Feed, lookups: Lookups) -> Self {
        let entries = Arc::new(ArcSwap::from_pointee(Entries::new(capacity)));
        // The listener holds the entries only: a listener holding the feed would keep it (and
        // its polling thread) alive for ever.
        feed.subscribe(Arc::new(InForce(entries.clone())));
        Self {
            entries,
            feed: feed.clone(),
            absolute,
            lookups,
        }
    }

    /// Puts an empty cache of `capacity` entries in place when the cap in force differs;
    /// returns whether it did.
    pub fn resize(&self, capacity: u64) -> bool {
        if self.entries.load().capacity == capacity {
            return false;
        }
        self.entries.store(Arc::new(Entries::new(capacity)));
        true
    }

    /// The cap in force (`cache.sessions`).
    pub fn capacity(&self) -> u64 {
        self.entries.load().capacity
    }

    pub fn ticket(&self) -> Ticket {
        self.feed.ticket()
    }

    /// The entry of a live session, when the feed is trusted and it is within both limits
    /// (counted as a hit, else as a miss: the caller reads the store).
    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        let hit = self.peek(id);
        if hit.is_some() {
            self.lookups.hit.inc();
        } else {
            self.lookups.miss.inc();
        }
        hit
    }

    /// As [`SessionCache::get`], uncounted (for store writes that consult what is cached).
    pub fn peek(&self, id: &str) -> Option<Arc<Entry>> {
        if !self.feed.trusted() {
            return None;
        }
        let entry = self.entries.load().cache.get(id)?;
        let now = micros(now());
        let absolute = i64::try_from(self.absolute.get().as_micros()).unwrap_or(i64::MAX);
        (now < entry.expires_at && now < entry.created_at.saturating_add(absolute)).then_some(entry)
    }

    /// Caches what a store read or write that began at `ticket` found (see `Feed::fill`).
    ///
    /// When a change arrived meanwhile and the entry cannot be cached, an older entry of the
    /// session is dropped: it predates a store write (this request's own update), and serving
    /// it would undo that write for the next request here (a flash notice or a CSRF token
    /// lost, seen as a flaky browser test on PostgreSQL + Redis).
    pub fn fill(&self, ticket: Ticket, id: String, entry: Entry) {
        let mut filled = false;
        self.feed.fill(ticket, || {
            self.entries
                .load()
                .cache
                .insert(id.clone(), Arc::new(entry));
            filled = true;
        });
        if !filled {
            self.forget(&id);
        }
    }

    /// Whether the idle expiry of `entry` is recent enough that pushing it to `now + idle`
    /// can wait: it was written less than `idle / 10` ago.
    pub fn extension_can_wait(entry: &Entry, idle: Duration) -> bool {
        let idle = i64::try_from(idle.as_micros()).unwrap_or(i64::MAX);
        let step = idle / 10;
        entry.expires_at.saturating_sub(micros(now())) > idle.saturating_sub(step)
    }

    pub fn forget(&self, id: &str) {
        self.entries.load().cache.remove(id);
    }

    /// Drops every entry (after sessions were changed behind the store's back by a test hook).
    pub fn forget_all(&self) {
        self.entries.load().cache.clear();
    }
}

/// The feed's listener for the session cache: drops from the entries in force.
struct InForce(Arc<ArcSwap<Entries>>);

impl Listener for InForce {
    fn apply(&self, change: &Change) {
        // A revoked user's sessions fail on the user's revocation stamp (user state is
        // dropped by the same change); only a single session's end concerns this cache.
        if let Change::Session { id } = change {
            self.0.load().cache.remove(id);
        }
    }

    fn flush(&self) {
        self.0.load().cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_expiring_in(d: chrono::Duration) -> Entry {
        Entry {
            state: State::new(),
            created_at: micros(now()),
            expires_at: micros(now() + d),
        }
    }

    /// A cache of 10 sessions with a one-hour absolute limit, on `feed`.
    fn cache_on(feed: &Feed) -> SessionCache {
        let metrics = crate::metrics::Metrics::new().unwrap();
        SessionCache::new(
            10,
            LiveDuration::new(Duration::from_secs(3600)),
            feed,
            metrics.lookups("sessions"),
        )
    }

    #[test]
    fn the_idle_extension_waits_for_a_tenth_of_the_timeout() {
        let idle = Duration::from_secs(1800);
        // Written just now: expiry 30 minutes ahead.
        assert!(SessionCache::extension_can_wait(
            &entry_expiring_in(chrono::Duration::seconds(1799)),
            idle
        ));
        // Written 3 minutes and a bit ago: due.
        assert!(!SessionCache::extension_can_wait(
            &entry_expiring_in(chrono::Duration::seconds(1619)),
            idle
        ));
    }

    #[test]
    fn an_entry_is_not_served_past_its_idle_expiry_or_while_the_feed_is_untrusted() {
        let feed = Feed::new(Duration::from_secs(60));
        let cache = cache_on(&feed);
        cache.fill(
            cache.ticket(),
            "a".into(),
            entry_expiring_in(chrono::Duration::seconds(60)),
        );
        assert!(cache.get("a").is_none(), "untrusted: not even filled");
        feed.trust_forever();
        cache.fill(
            cache.ticket(),
            "a".into(),
            entry_expiring_in(chrono::Duration::seconds(60)),
        );
        cache.fill(
            cache.ticket(),
            "b".into(),
            entry_expiring_in(chrono::Duration::seconds(-1)),
        );
        assert!(cache.get("a").is_some());
        assert!(cache.get("b").is_none());
        feed.publish(&Change::Session { id: "a".into() });
        assert!(cache.get("a").is_none());
    }

    /// A store write whose entry could not be cached (a change arrived between its ticket and
    /// its fill) must not leave the session's older entry behind.
    #[test]
    fn a_refused_fill_drops_the_older_entry() {
        let feed = Feed::new(Duration::from_secs(60));
        feed.trust_forever();
        let cache = cache_on(&feed);
        let mut old = entry_expiring_in(chrono::Duration::seconds(60));
        old.state.insert("flash".into(), "\"none\"".into());
        cache.fill(cache.ticket(), "a".into(), old);
        assert!(cache.get("a").is_some());

        // A write of session "a" begins; another user's revocation arrives meanwhile.
        let ticket = cache.ticket();
        feed.publish(&Change::UserRevoked { user_id: 7 });
        let mut new = entry_expiring_in(chrono::Duration::seconds(60));
        new.state.insert("flash".into(), "\"deleted\"".into());
        cache.fill(ticket, "a".into(), new);

        assert!(
            cache.get("a").is_none(),
            "the entry from before the write is not served"
        );
    }
}

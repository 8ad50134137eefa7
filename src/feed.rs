//! The change feed as the caches see it: what this instance learns about revocations, and
//! whether it may still trust what it cached.
//!
//! Every cache of the request path (verified tokens, user state, live refresh-token families,
//! sessions) registers a [`Listener`]. A change made here is applied at once through
//! [`Feed::publish`], after its transaction committed; a change made elsewhere (another
//! instance, the CLI) is read from the `changes` table by a polling thread every
//! `cache.max_staleness / 4`.
//!
//! Why a polled table: it is the one mechanism that works on both backends and for the CLI
//! (a process without a listener), needs no Redis, and costs one indexed query per poll.
//! PostgreSQL's `LISTEN/NOTIFY` would still need a connection driven by a poll (diesel's
//! `notifications_iter` never waits) and loses notifications while disconnected, and Redis
//! pub/sub is fire-and-forget with no replay; both would need the table anyway to catch up.
//!
//! **Fail closed**: each successful poll extends trust to `poll start + max_staleness`. When
//! polls fail (or stall) past that, [`Feed::trusted`] turns false and callers go to the
//! database (or answer 503 when it is down); when polls resume after such a gap, every cache
//! is flushed before trust returns, since changes may have been missed.
//!
//! **No stale fill**: a cache loads from the database on a miss; a change applied between
//! that load and the insert would be undone by inserting. [`Feed::ticket`] before the load and
//! [`Feed::fill`] for the insert refuse the insert when any change was applied in between.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::{Duration, Instant};

use crate::db::changes::{self, Change, FeedEntry};
use crate::db::{AnyConnection, Database, DbError};

/// A cache that drops what a change names.
pub trait Listener: Send + Sync {
    /// Drops whatever `change` makes stale.
    fn apply(&self, change: &Change);
    /// Drops everything.
    fn flush(&self);
}

/// The instance's view of the change feed; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

struct Inner {
    max_staleness: Duration,
    /// The origin of the nanosecond clock below.
    origin: Instant,
    /// Cached facts may be used until this instant (nanoseconds since `origin`).
    trusted_until: AtomicU64,
    /// Changes applied so far; write-locked while one is applied, read-locked by a fill.
    applied: RwLock<u64>,
    listeners: RwLock<Vec<Arc<dyn Listener>>>,
}

/// The count of applied changes before a cache's database load (see [`Feed::fill`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl Feed {
    /// A feed that trusts nothing until [`Feed::start_polling`] (or [`Feed::trust_forever`])
    /// says otherwise.
    pub fn new(max_staleness: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_staleness,
                origin: Instant::now(),
                trusted_until: AtomicU64::new(0),
                applied: RwLock::new(0),
                listeners: RwLock::new(Vec::new()),
            }),
        }
    }

    /// For a process that serves no requests (the CLI): nothing it caches outlives it, and
    /// it sees its own changes through [`Feed::publish`].
    pub fn trust_forever(&self) {
        self.inner.trusted_until.store(u64::MAX, Ordering::Release);
    }

    pub fn subscribe(&self, listener: Arc<dyn Listener>) {
        write(&self.inner.listeners).push(listener);
    }

    /// Whether cached facts may be used now: the feed was read within `cache.max_staleness`.
    pub fn trusted(&self) -> bool {
        self.inner.now() < self.inner.trusted_until.load(Ordering::Acquire)
    }

    /// Applies a change committed by this process, at once (it is in the table too, for the
    /// other instances; reading it back later drops the same entries again, harmlessly).
    pub fn publish(&self, change: &Change) {
        let mut applied = write(&self.inner.applied);
        *applied += 1;
        for listener in read(&self.inner.listeners).iter() {
            listener.apply(change);
        }
    }

    /// Taken before a cache loads from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(*read(&self.inner.applied))
    }

    /// Runs `insert` (a cache insert) unless a change was applied since `ticket` was taken or
    /// the cache is not trusted; no change can be applied while it runs.
    pub fn fill(&self, ticket: Ticket, insert: impl FnOnce()) {
        let applied = read(&self.inner.applied);
        if *applied == ticket.0 && self.trusted() {
            insert();
        }
    }

    /// Starts the polling thread: reads the changes after the newest one now in the table,
    /// every `max_staleness / 4`, until the feed is dropped. Trusts the caches from now on.
    pub fn start_polling(&self, db: &Database) -> Result<(), DbError> {
        let mut conn = db.connect_dedicated()?;
        let started = self.inner.now();
        let last = changes::latest(&mut conn)?;
        self.inner.extend_trust(started);
        let interval = (self.inner.max_staleness / 4).max(Duration::from_millis(5));
        let weak = Arc::downgrade(&self.inner);
        let db = db.clone();
        std::thread::Builder::new()
            .name("change-feed".into())
            .spawn(move || poll_loop(&weak, &db, conn, last, interval))
            .map_err(|e| DbError::Setup(format!("cannot start the change-feed thread: {e}")))?;
        Ok(())
    }
}

impl Inner {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn extend_trust(&self, poll_started: u64) {
        let until = poll_started
            .saturating_add(u64::try_from(self.max_staleness.as_nanos()).unwrap_or(u64::MAX));
        self.trusted_until.fetch_max(until, Ordering::AcqRel);
    }

    /// Applies what one successful poll read; `gap` when changes may have been missed.
    fn apply_read(&self, entries: &[FeedEntry], gap: bool, poll_started: u64) {
        if gap || !entries.is_empty() {
            let mut applied = write(&self.applied);
            *applied += 1;
            let listeners = read(&self.listeners);
            let unknown = entries.iter().any(|(_, change)| change.is_none());
            if gap || unknown {
                for listener in listeners.iter() {
                    listener.flush();
                }
            } else {
                for change in entries.iter().filter_map(|(_, c)| c.as_ref()) {
                    for listener in listeners.iter() {
                        listener.apply(change);
                    }
                }
            }
        }
        self.extend_trust(poll_started);
    }
}

/// Reads every change after `last`, in pages.
fn read_after(conn: &mut AnyConnection, mut last: i64) -> Result<(Vec<FeedEntry>, i64), DbError> {
    const PAGE: i64 = 1000;
    let mut all = Vec::new();
    loop {
        let page = changes::after(conn, last, PAGE)?;
        let full = page.len() == usize::try_from(PAGE).unwrap_or(usize::MAX);
        if let Some((seq, _)) = page.last() {
            last = *seq;
        }
        all.extend(page);
        if !full {
            return Ok((all, last));
        }
    }
}

fn poll_loop(
    weak: &Weak<Inner>,
    db: &Database,
    conn: AnyConnection,
    mut last: i64,
    interval: Duration,
) {
    let mut conn = Some(conn);
    // Whether changes may have been missed since the last successful read.
    let mut gap = false;
    let mut last_success: Option<u64> = None;
    loop {
        std::thread::sleep(interval);
        let Some(inner) = weak.upgrade() else { return };
        let started = inner.now();
        if last_success.is_some_and(|at| {
            started.saturating_sub(at) > u64::try_from(inner.max_staleness.as_nanos()).unwrap_or(0)
        }) {
            // This thread was held up past the bound: trust lapsed meanwhile, and the
            // caches were not told what happened in between.
            gap = true;
        }
        let read = match conn.as_mut() {
            Some(c) => read_after(c, last),
            None => db
                .connect_dedicated()
                .and_then(|mut c| read_after(&mut c, last).map(|r| (r, c)))
                .map(|(r, c)| {
                    conn = Some(c);
                    r
                }),
        };
        match read {
            Ok((entries, newest)) => {
                if gap {
                    tracing::info!("change feed readable again; caches flushed");
                }
                inner.apply_read(&entries, gap, started);
                last = newest;
                gap = false;
                last_success = Some(started);
            }
            Err(e) => {
                if !gap {
                    tracing::warn!(error = %e, "cannot read the change feed; cached credentials stop being trusted after cache.max_staleness");
                }
                gap = true;
                conn = None;
            }
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl Listener for Seen {
        fn apply(&self, change: &Change) {
            self.0.lock().unwrap().push(format!("{change:?}"));
        }
        fn flush(&self) {
            self.0.lock().unwrap().push("flush".into());
        }
    }

    #[test]
    fn a_fill_after_a_published_change_is_refused() {
        let feed = Feed::new(Duration::from_secs(60));
        feed.trust_forever();
        let ticket = feed.ticket();
        feed.publish(&Change::UserRevoked { user_id: 1 });
        let mut inserted = false;
        feed.fill(ticket, || inserted = true);
        assert!(!inserted);
        let ticket = feed.ticket();
        feed.fill(ticket, || inserted = true);
        assert!(inserted);
    }

    #[test]
    fn nothing_is_trusted_or_filled_before_the_feed_was_read() {
        let feed = Feed::new(Duration::from_secs(60));
        assert!(!feed.trusted());
        let mut inserted = false;
        feed.fill(feed.ticket(), || inserted = true);
        assert!(!inserted);
    }

    #[test]
    fn a_gap_or_an_unknown_change_flushes_every_listener() {
        let feed = Feed::new(Duration::from_secs(60));
        let seen = Arc::new(Seen::default());
        feed.subscribe(seen.clone());
        let now = feed.inner.now();
        feed.inner
            .apply_read(&[(1, Some(Change::UserRevoked { user_id: 3 }))], false, now);
        assert!(feed.trusted());
        feed.inner.apply_read(&[(2, None)], false, now);
        feed.inner.apply_read(&[], true, now);
        assert_eq!(
            *seen.0.lock().unwrap(),
            ["UserRevoked { user_id: 3 }", "flush", "flush"]
        );
    }
}

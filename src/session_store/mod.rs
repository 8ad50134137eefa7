//! Server-side session stores for actix-session. Only the cookie and Redis stores ship with
//! actix-session; the cookie one cannot revoke a session and the Redis one cannot find a user's
//! sessions, so both stores here are ours: the database (default) and Redis.

pub mod cache;
pub mod database;
pub mod peek;
pub mod redis;
pub mod reference;
pub mod typed;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use self::cache::SessionCache;
use crate::db::changes::Change;
use crate::domain::clock::{micros, now};
use crate::feed::Feed;
use crate::metrics::Metrics;

pub use self::database::DatabaseSessionStore;
pub use self::redis::RedisSessionStore;
pub use self::typed::{SessionMeta, SignInFacts, TypedSession};

pub(crate) type State = HashMap<String, String>;

/// Where actix-identity keeps the signed-in user's id in the session state (its default
/// `id_key`); a test pins it by checking the stored user after a login.
const IDENTITY_KEY: &str = "actix_identity.user_id";

/// A key that names no stored session: what a write to an ended session gets instead of
/// resurrecting it (the browser's cookie then leads nowhere: signed out).
fn dead_key() -> Result<SessionKey, UpdateError> {
    SessionKey::try_from(crate::domain::random_token(32))
        .map_err(|e| UpdateError::Other(anyhow::anyhow!("{e}")))
}

/// The stored id of a session key: its SHA-256 in hex, so that a leaked store holds no cookie.
pub fn hash_key(key: &SessionKey) -> String {
    hex::encode(Sha256::digest(key.as_ref().as_bytes()))
}

fn user_id_of(state: &State) -> Option<i64> {
    let raw = state.get(IDENTITY_KEY)?;
    serde_json::from_str::<String>(raw).ok()?.parse().ok()
}

/// Session-state key set when the store could not be read. actix-session turns a load error
/// into a bare 500 before any handler runs; loading this marker instead lets the resolver
/// answer 503 in the shape of its surface (HTML page or JSON), counted and logged like any
/// other answer. Read through [`TypedSession::is_unavailable`].
const UNAVAILABLE_KEY: &str = "gatehouse.store_unavailable";

fn unavailable_state(e: &anyhow::Error) -> State {
    tracing::error!(error = ?e, "the session store cannot be read");
    HashMap::from([(UNAVAILABLE_KEY.to_string(), "true".to_string())])
}

/// A session lifetime in force (`session.ttl`, `session.idle_timeout`), shared by the store, its
/// backend and its cache (every clone): a reload sets it, and the next read or write of any
/// session follows it.
#[derive(Debug, Clone)]
pub struct LiveDuration(Arc<AtomicU64>);

impl LiveDuration {
    pub fn new(value: std::time::Duration) -> Self {
        Self(Arc::new(AtomicU64::new(Self::micros(value))))
    }

    fn micros(value: std::time::Duration) -> u64 {
        u64::try_from(value.as_micros()).unwrap_or(u64::MAX)
    }

    pub fn get(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, value: std::time::Duration) {
        self.0.store(Self::micros(value), Ordering::Relaxed);
    }

    /// As a chrono duration (for timestamp arithmetic).
    pub fn chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.get()).unwrap_or(chrono::Duration::MAX)
    }

    /// As the duration actix-session hands to a store (whole seconds).
    fn cookie(&self) -> CookieDuration {
        CookieDuration::seconds(i64::try_from(self.get().as_secs()).unwrap_or(i64::MAX))
    }
}

/// One live session of a user, as `/account` lists it.
pub struct SessionRecord {
    pub id: String,
    pub state: State,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// The configured store, behind the session cache.
#[derive(Clone)]
pub struct AnyStore {
    backend: Backend,
    cache: SessionCache,
    feed: Feed,
    /// Records the end of a session in the change feed.
    db: crate::db::Database,
    /// `session.idle_timeout` in force: the idle expiry written on every save and extension
    /// (whatever the middleware was built with), and a tenth of it is the extension's step.
    idle: LiveDuration,
    /// `session.ttl` in force, shared with the backend and the cache.
    absolute: LiveDuration,
}

#[derive(Clone)]
pub enum Backend {
    Database(DatabaseSessionStore),
    Redis(RedisSessionStore),
}

impl Backend {
    /// The backend's absolute limit, shared with it.
    fn absolute_ttl(&self) -> LiveDuration {
        match self {
            Self::Database(s) => s.absolute_ttl(),
            Self::Redis(s) => s.absolute_ttl(),
        }
    }
}

impl AnyStore {
    /// The store `session.store` names: the database's, or Redis under a prefix shared by the
    /// instances of one installation.
    pub async fn open(
        settings: &crate::config::Settings,
        db: &crate::db::Database,
        installation_id: &str,
        feed: &Feed,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        let backend = match (settings.session.store, &settings.session.redis_url) {
            (crate::config::SessionStoreKind::Redis, Some(url)) => Backend::Redis(
                RedisSessionStore::connect(
                    url,
                    format!("gatehouse:{installation_id}"),
                    settings.session.ttl.0,
                )
                .await
                .with_context(|| {
                    format!("cannot reach Redis at {}", crate::config::redact_url(url))
                })?,
            ),
            _ => Backend::Database(DatabaseSessionStore::new(
                db.clone(),
                settings.session.ttl.0,
            )),
        };
        Ok(Self::with_backend(backend, settings, db, feed, metrics))
    }

    /// A store over `backend`, with the cache of `cache.sessions`; the lifetimes of
    /// `settings.session` are in force from now on (the backend's included).
    pub fn with_backend(
        backend: Backend,
        settings: &crate::config::Settings,
        db: &crate::db::Database,
        feed: &Feed,
        metrics: &Metrics,
    ) -> Self {
        let absolute = backend.absolute_ttl();
        absolute.set(settings.session.ttl.0);
        Self {
            backend,
            cache: SessionCache::new(
                settings.cache.sessions,
                absolute.clone(),
                feed,
                metrics.lookups("sessions"),
            ),
            feed: feed.clone(),
            db: db.clone(),
            idle: LiveDuration::new(settings.session.idle_timeout.0),
            absolute,
        }
    }

    /// Puts `session.ttl` and `session.idle_timeout` in force for every session's next read
    /// and write, on every clone of this store.
    pub fn set_lifetimes(&self, ttl: std::time::Duration, idle_timeout: std::time::Duration) {
        self.absolute.set(ttl);
        self.idle.set(idle_timeout);
    }

    /// Puts an empty session cache of `capacity` entries in place when `cache.sessions`
    /// changed; returns whether it did.
    pub fn resize_cache(&self, capacity: u64) -> bool {
        self.cache.resize(capacity)
    }

    /// The session cache's cap in force.
    pub fn cache_capacity(&self) -> u64 {
        self.cache.capacity()
    }

    pub async fn list_for_user(&self, user_id: i64) -> anyhow::Result<Vec<SessionRecord>> {
        match &self.backend {
            Backend::Database(s) => s.list_for_user(user_id).await,
            Backend::Redis(s) => s.list_for_user(user_id).await,
        }
    }

    /// Moves a user's sessions back in time: signed in `created_by` earlier, idle expiry
    /// `expires_by` earlier. For tests of the idle and absolute limits, so that they need not
    /// wait out real time (and need not know how each store keeps its rows).
    #[doc(hidden)]
    pub async fn shift_user_sessions(
        &self,
        user_id: i64,
        created_by: chrono::Duration,
        expires_by: chrono::Duration,
    ) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Database(s) => s.shift_user_sessions(user_id, created_by, expires_by).await,
            Backend::Redis(s) => s.shift_user_sessions(user_id, created_by, expires_by).await,
        }?;
        // Changed behind this instance's back: what it cached is wrong now.
        self.cache.forget_all();
        Ok(())
    }

    /// Ends one session of the user; false when the user has no such session.
    pub async fn end_for_user(&self, user_id: i64, id: &str) -> anyhow::Result<bool> {
        let ended = match &self.backend {
            Backend::Database(s) => s.end_for_user(user_id, id).await?,
            Backend::Redis(s) => s.end_for_user(user_id, id).await?,
        };
        self.ended(id, ended).await?;
        Ok(ended)
    }

    /// After a session was deleted from the store (`deleted`) or found gone: this instance
    /// forgets it at once, and the others learn it from the feed. The database store records
    /// the change in the delete's own transaction; for Redis it is recorded here.
    async fn ended(&self, id: &str, deleted: bool) -> anyhow::Result<()> {
        self.cache.forget(id);
        if !deleted {
            return Ok(());
        }
        let change = Change::Session { id: id.to_string() };
        if let Backend::Redis(_) = self.backend {
            let recorded = change.clone();
            self.db
                .run(move |conn| {
                    crate::db::write_transaction(conn, |conn| {
                        crate::db::changes::record(conn, &recorded)
                    })
                    .map_err(crate::db::DbError::from)
                })
                .await?;
        }
        self.feed.publish(&change);
        Ok(())
    }

    /// Deletes what is left of a user's sessions after a revocation committed. The database
    /// store's rows went in the revocation's own transaction; Redis is cleaned here (the
    /// revocation time stamped on the user makes those sessions worthless either way). Only
    /// the revocation seam (`accounts`) calls this.
    pub async fn forget_revoked_user(&self, user_id: i64) -> anyhow::Result<usize> {
        match &self.backend {
            Backend::Database(_) => Ok(0),
            Backend::Redis(s) => s.delete_for_user(user_id).await,
        }
    }

    pub async fn purge_expired(&self) -> anyhow::Result<usize> {
        match &self.backend {
            Backend::Database(s) => Ok(s.purge_expired().await?),
            // Redis expires its keys itself.
            Backend::Redis(_) => Ok(0),
        }
    }

    /// Whether the store still holds the session of `key`: always a fresh read, never the
    /// cache. Writes decided by a session ask this after their body arrived, so a session
    /// ended on any instance a moment earlier does not act (reads may lag by
    /// `cache.max_staleness`; writes do not).
    pub async fn is_live(&self, key: &SessionKey) -> anyhow::Result<bool> {
        Ok(self.load_entry(key).await?.is_some())
    }

    /// Whether the store answers (for `/readyz`); the database store is checked with the database.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Database(_) => Ok(()),
            Backend::Redis(s) => Ok(s.ping().await?),
        }
    }

    /// Reads a session from the store (not the cache), caching what it finds.
    async fn load_entry(&self, key: &SessionKey) -> anyhow::Result<Option<Arc<cache::Entry>>> {
        self.load_entry_of(&hash_key(key)).await
    }

    /// [`AnyStore::load_entry`] by the stored id.
    async fn load_entry_of(&self, id: &str) -> anyhow::Result<Option<Arc<cache::Entry>>> {
        let ticket = self.cache.ticket();
        let entry = match &self.backend {
            Backend::Database(s) => s.load_entry(id).await?,
            Backend::Redis(s) => s.load_entry(id).await?,
        };
        Ok(entry.map(|entry| {
            let entry = Arc::new(entry);
            self.cache.fill(ticket, id.to_string(), (*entry).clone());
            entry
        }))
    }

    /// Pushes the idle expiry of the session of `key` (stored id `id`) to now + the idle
    /// timeout, unless `known` (what the cache holds of it) was extended less than a tenth of
    /// the timeout ago.
    async fn extend_idle(&self, key: &SessionKey, id: &str, known: Option<Arc<cache::Entry>>) {
        if known
            .as_ref()
            .is_some_and(|entry| SessionCache::extension_can_wait(entry, self.idle.get()))
        {
            return;
        }
        let ttl = &self.idle.cookie();
        let result = match &self.backend {
            Backend::Database(s) => s.update_ttl(key, ttl).await,
            Backend::Redis(s) => s.update_ttl(key, ttl).await,
        };
        match (result, known) {
            // The state peeked before the write may be older than one a concurrent request
            // of this session wrote meanwhile: dropped, not refilled (the next request reads
            // the store; this happens once per tenth of the idle timeout).
            (Ok(()), Some(_)) => self.cache.forget(id),
            (Ok(()), None) => {}
            // A missed idle extension is not worth failing the request for.
            (Err(e), _) => tracing::warn!(error = ?e, "could not extend a session"),
        }
    }
}

impl SessionStore for AnyStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        if let Some(hit) = self.cache.get(&hash_key(key)) {
            return Ok(Some(hit.state.clone()));
        }
        match self.load_entry(key).await {
            Ok(entry) => Ok(entry.map(|e| e.state.clone())),
            Err(e) => Ok(Some(unavailable_state(&e))),
        }
    }

    async fn save(&self, state: State, _: &CookieDuration) -> Result<SessionKey, SaveError> {
        // The middleware's TTL is the idle timeout it was built with; the one in force wins.
        let ttl = &self.idle.cookie();
        let ticket = self.cache.ticket();
        let created_at = micros(now());
        let key = match &self.backend {
            Backend::Database(s) => s.save(state.clone(), ttl).await,
            Backend::Redis(s) => s.save(state.clone(), ttl).await,
        }?;
        let entry = cache::Entry {
            state,
            created_at,
            expires_at: created_at.saturating_add(ttl.whole_microseconds() as i64),
        };
        self.cache.fill(ticket, hash_key(&key), entry);
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        _: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let ttl = &self.idle.cookie();
        if state.contains_key(UNAVAILABLE_KEY) {
            // Never write the marker over the real session: keep the key for when the store
            // is back.
            return Ok(key);
        }
        let id = hash_key(&key);
        let known = self.cache.peek(&id);
        let ticket = self.cache.ticket();
        let written_at = micros(now());
        let kept = match &self.backend {
            Backend::Database(s) => s.update(key, state.clone(), ttl).await,
            Backend::Redis(s) => s.update(key, state.clone(), ttl).await,
        }?;
        match known {
            Some(known) if hash_key(&kept) == id => self.cache.fill(
                ticket,
                id,
                cache::Entry {
                    state,
                    created_at: known.created_at,
                    expires_at: written_at.saturating_add(ttl.whole_microseconds() as i64),
                },
            ),
            _ => self.cache.forget(&id),
        }
        Ok(kept)
    }

    async fn update_ttl(&self, key: &SessionKey, _: &CookieDuration) -> anyhow::Result<()> {
        let id = hash_key(key);
        let known = self.cache.peek(&id);
        self.extend_idle(key, &id, known).await;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        let id = hash_key(key);
        let deleted = match &self.backend {
            Backend::Database(s) => s.delete_recorded(&id).await?,
            Backend::Redis(s) => s.delete_by_id(&id).await?,
        };
        self.ended(&id, deleted).await
    }
}

//! Server-side session stores for actix-session. Only the cookie and Redis stores ship with
//! actix-session; the cookie one cannot revoke a session and the Redis one cannot find a user's
//! sessions, so both stores here are ours: the database (default) and Redis.

pub mod database;
pub mod redis;
pub mod typed;

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

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
    Sha256::digest(key.as_ref().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

/// One live session of a user, as `/account` lists it.
pub struct SessionRecord {
    pub id: String,
    pub state: State,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// The configured store.
#[derive(Clone)]
pub enum AnyStore {
    Database(DatabaseSessionStore),
    Redis(RedisSessionStore),
}

impl AnyStore {
    /// The store `session.store` names: the database's, or Redis under a prefix shared by the
    /// instances of one installation.
    pub async fn open(
        settings: &crate::config::Settings,
        db: &crate::db::Database,
        installation_id: &str,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        match (settings.session.store, &settings.session.redis_url) {
            (crate::config::SessionStoreKind::Redis, Some(url)) => Ok(Self::Redis(
                RedisSessionStore::connect(
                    url,
                    format!("gatehouse:{installation_id}"),
                    settings.session.ttl.0,
                )
                .await
                .with_context(|| {
                    format!("cannot reach Redis at {}", crate::config::redact_url(url))
                })?,
            )),
            _ => Ok(Self::Database(DatabaseSessionStore::new(
                db.clone(),
                settings.session.ttl.0,
            ))),
        }
    }

    pub async fn list_for_user(&self, user_id: i64) -> anyhow::Result<Vec<SessionRecord>> {
        match self {
            Self::Database(s) => s.list_for_user(user_id).await,
            Self::Redis(s) => s.list_for_user(user_id).await,
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
        match self {
            Self::Database(s) => s.shift_user_sessions(user_id, created_by, expires_by).await,
            Self::Redis(s) => s.shift_user_sessions(user_id, created_by, expires_by).await,
        }
    }

    /// Ends one session of the user; false when the user has no such session.
    pub async fn end_for_user(&self, user_id: i64, id: &str) -> anyhow::Result<bool> {
        match self {
            Self::Database(s) => s.end_for_user(user_id, id).await,
            Self::Redis(s) => s.end_for_user(user_id, id).await,
        }
    }

    /// Deletes what is left of a user's sessions after a revocation committed. The database
    /// store's rows went in the revocation's own transaction; Redis is cleaned here (the
    /// revocation time stamped on the user makes those sessions worthless either way). Only
    /// the revocation seam (`accounts`) calls this.
    pub async fn forget_revoked_user(&self, user_id: i64) -> anyhow::Result<usize> {
        match self {
            Self::Database(_) => Ok(0),
            Self::Redis(s) => s.delete_for_user(user_id).await,
        }
    }

    pub async fn purge_expired(&self) -> anyhow::Result<usize> {
        match self {
            Self::Database(s) => Ok(s.purge_expired().await?),
            // Redis expires its keys itself.
            Self::Redis(_) => Ok(0),
        }
    }

    /// Whether the store still holds the session of `key` (a fresh read).
    pub async fn is_live(&self, key: &SessionKey) -> anyhow::Result<bool> {
        match self {
            Self::Database(s) => s.is_live(key).await,
            Self::Redis(s) => s.is_live(key).await,
        }
    }

    /// Whether the store answers (for `/readyz`); the database store is checked with the database.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self {
            Self::Database(_) => Ok(()),
            Self::Redis(s) => Ok(s.ping().await?),
        }
    }
}

impl SessionStore for AnyStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let loaded = match self {
            Self::Database(s) => s.load(key).await,
            Self::Redis(s) => s.load(key).await,
        };
        match loaded {
            Err(LoadError::Other(e)) => Ok(Some(unavailable_state(&e))),
            other => other,
        }
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        match self {
            Self::Database(s) => s.save(state, ttl).await,
            Self::Redis(s) => s.save(state, ttl).await,
        }
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        if state.contains_key(UNAVAILABLE_KEY) {
            // Never write the marker over the real session: keep the key for when the store
            // is back.
            return Ok(key);
        }
        match self {
            Self::Database(s) => s.update(key, state, ttl).await,
            Self::Redis(s) => s.update(key, state, ttl).await,
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &CookieDuration) -> anyhow::Result<()> {
        let result = match self {
            Self::Database(s) => s.update_ttl(key, ttl).await,
            Self::Redis(s) => s.update_ttl(key, ttl).await,
        };
        // A missed idle extension is not worth failing the request for.
        if let Err(e) = result {
            tracing::warn!(error = ?e, "could not extend a session");
        }
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        match self {
            Self::Database(s) => s.delete(key).await,
            Self::Redis(s) => s.delete(key).await,
        }
    }
}

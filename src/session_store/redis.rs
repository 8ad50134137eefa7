//! Sessions in Redis (`session.store = "redis"`), for instances behind a load balancer.
//!
//! Keys (all under a prefix shared by the instances of one installation):
//! - `{prefix}:s:{sha256(session key)}`: JSON `{user_id, created_at, state}`, expiring after
//!   `session.idle_timeout` (pushed forward on use, at most once per tenth of it) and never
//!   living past `session.ttl`;
//! - `{prefix}:u:{user_id}`: the set of that user's session ids, so that a user's sessions can
//!   be listed and ended (actix-session's own Redis store has no such index).

use std::time::Duration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::cache::Entry;
use super::{LiveDuration, SessionRecord, State, hash_key, user_id_of};
use crate::domain::clock::{from_micros, micros, now};
use crate::domain::random_token;

#[derive(Clone)]
pub struct RedisSessionStore {
    conn: ConnectionManager,
    prefix: String,
    /// `session.ttl` in force.
    absolute_ttl: LiveDuration,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    user_id: Option<i64>,
    /// Unix microseconds.
    created_at: i64,
    state: State,
}

impl RedisSessionStore {
    /// Connects (failing at once with the cause if Redis does not answer).
    pub async fn connect(
        url: &str,
        prefix: String,
        absolute_ttl: Duration,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        let store = Self {
            conn,
            prefix,
            absolute_ttl: LiveDuration::new(absolute_ttl),
        };
        store.ping().await?;
        Ok(store)
    }

    /// The absolute limit, shared (see `AnyStore::set_lifetimes`).
    pub(super) fn absolute_ttl(&self) -> LiveDuration {
        self.absolute_ttl.clone()
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}:s:{id}", self.prefix)
    }

    fn user_key(&self, user_id: i64) -> String {
        format!("{}:u:{user_id}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
    }

    /// Seconds a session may live from now: the idle timeout, cut at the absolute limit.
    fn expiry_secs(&self, created_at: i64, idle: &CookieDuration) -> Option<u64> {
        let end = from_micros(created_at).checked_add_signed(self.absolute_ttl.chrono());
        let left = end.map_or(i64::MAX, |end| (end - now()).num_seconds());
        let secs = idle.whole_seconds().min(left);
        u64::try_from(secs).ok().filter(|s| *s > 0)
    }

    async fn get(&self, id: &str) -> anyhow::Result<Option<Stored>> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.session_key(id))
            .query_async(&mut conn)
            .await?;
        self.live(raw)
    }

    /// A stored value, unless absent or past the absolute limit.
    fn live(&self, raw: Option<String>) -> anyhow::Result<Option<Stored>> {
        let Some(raw) = raw else { return Ok(None) };
        let stored: Stored = serde_json::from_str(&raw)?;
        let end = from_micros(stored.created_at).checked_add_signed(self.absolute_ttl.chrono());
        if end.is_some_and(|end| end <= now()) {
            return Ok(None);
        }
        Ok(Some(stored))
    }

    async fn put(&self, id: &str, stored: &Stored, idle: &CookieDuration) -> anyhow::Result<bool> {
        let Some(secs) = self.expiry_secs(stored.created_at, idle) else {
            return Ok(false);
        };
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.session_key(id))
            .arg(serde_json::to_string(stored)?)
            .arg("EX")
            .arg(secs)
            .ignore();
        if let Some(user_id) = stored.user_id {
            let index = self.user_key(user_id);
            let index_secs = self.absolute_ttl.chrono().num_seconds().max(1);
            pipe.cmd("SADD").arg(&index).arg(id).ignore();
            pipe.cmd("EXPIRE").arg(&index).arg(index_secs).ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(true)
    }

    /// Writes the state of an existing session only (`SET … XX`: a session deleted since it
    /// was read is not brought back); false when it is gone or past its absolute limit.
    async fn replace(
        &self,
        id: &str,
        stored: &Stored,
        idle: &CookieDuration,
    ) -> anyhow::Result<bool> {
        let Some(secs) = self.expiry_secs(stored.created_at, idle) else {
            return Ok(false);
        };
        let mut conn = self.conn.clone();
        let written: Option<String> = redis::cmd("SET")
            .arg(self.session_key(id))
            .arg(serde_json::to_string(stored)?)
            .arg("EX")
            .arg(secs)
            .arg("XX")
            .query_async(&mut conn)
            .await?;
        Ok(written.is_some())
    }

    /// A live session by stored id, as the session cache keeps it: the value and its
    /// remaining time to live, read together.
    pub async fn load_entry(&self, id: &str) -> anyhow::Result<Option<Entry>> {
        let mut conn = self.conn.clone();
        let (raw, pttl): (Option<String>, i64) = redis::pipe()
            .cmd("GET")
            .arg(self.session_key(id))
            .cmd("PTTL")
            .arg(self.session_key(id))
            .query_async(&mut conn)
            .await?;
        let Some(stored) = self.live(raw)?.filter(|_| pttl > 0) else {
            return Ok(None);
        };
        Ok(Some(Entry {
            state: stored.state,
            created_at: stored.created_at,
            expires_at: micros(now()).saturating_add(pttl.saturating_mul(1000)),
        }))
    }

    /// Deletes a session by stored id; false when there was none.
    pub async fn delete_by_id(&self, id: &str) -> anyhow::Result<bool> {
        let user_id = self.get(id).await?.and_then(|s| s.user_id);
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(self.session_key(id));
        if let Some(user_id) = user_id {
            pipe.cmd("SREM")
                .arg(self.user_key(user_id))
                .arg(id)
                .ignore();
        }
        let (deleted,): (i64,) = pipe.query_async(&mut conn).await?;
        Ok(deleted > 0)
    }

    async fn insert(&self, state: State, idle: &CookieDuration) -> anyhow::Result<SessionKey> {
        let key = SessionKey::try_from(random_token(32)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let stored = Stored {
            user_id: user_id_of(&state),
            created_at: micros(now()),
            state,
        };
        self.put(&hash_key(&key), &stored, idle).await?;
        Ok(key)
    }

    /// The live sessions of a user.
    pub async fn list_for_user(&self, user_id: i64) -> anyhow::Result<Vec<SessionRecord>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.user_key(user_id))
            .query_async(&mut conn)
            .await?;
        let mut records = Vec::new();
        for id in ids {
            let ttl: i64 = redis::cmd("TTL")
                .arg(self.session_key(&id))
                .query_async(&mut conn)
                .await?;
            match self.get(&id).await? {
                Some(stored) if stored.user_id == Some(user_id) && ttl > 0 => {
                    records.push(SessionRecord {
                        created_at: from_micros(stored.created_at),
                        expires_at: now() + chrono::Duration::seconds(ttl),
                        state: stored.state,
                        id,
                    });
                }
                _ => {
                    redis::cmd("SREM")
                        .arg(self.user_key(user_id))
                        .arg(&id)
                        .query_async::<()>(&mut conn)
                        .await?;
                }
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(records)
    }

    /// See `AnyStore::shift_user_sessions`.
    pub async fn shift_user_sessions(
        &self,
        user_id: i64,
        created_by: chrono::Duration,
        expires_by: chrono::Duration,
    ) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.user_key(user_id))
            .query_async(&mut conn)
            .await?;
        for id in ids {
            let key = self.session_key(&id);
            let Some(mut stored) = self.get(&id).await? else {
                continue;
            };
            let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await?;
            stored.created_at -= created_by.num_microseconds().unwrap_or(i64::MAX);
            let left = ttl - expires_by.num_seconds();
            if left <= 0 {
                redis::cmd("DEL")
                    .arg(&key)
                    .query_async::<()>(&mut conn)
                    .await?;
            } else {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(serde_json::to_string(&stored)?)
                    .arg("EX")
                    .arg(left)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Ends one session of a user; false when the user has no such session.
    pub async fn end_for_user(&self, user_id: i64, id: &str) -> anyhow::Result<bool> {
        let mut conn = self.conn.clone();
        let member: bool = redis::cmd("SISMEMBER")
            .arg(self.user_key(user_id))
            .arg(id)
            .query_async(&mut conn)
            .await?;
        if member {
            redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(self.session_key(id))
                .ignore()
                .cmd("SREM")
                .arg(self.user_key(user_id))
                .arg(id)
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(member)
    }

    /// Deletes every session of a user.
    pub async fn delete_for_user(&self, user_id: i64) -> anyhow::Result<usize> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.user_key(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for id in &ids {
            pipe.cmd("DEL").arg(self.session_key(id)).ignore();
        }
        pipe.cmd("DEL").arg(self.user_key(user_id)).ignore();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(ids.len())
    }
}

impl SessionStore for RedisSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        self.get(&hash_key(session_key))
            .await
            .map(|s| s.map(|s| s.state))
            .map_err(LoadError::Other)
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        self.insert(state, ttl).await.map_err(SaveError::Other)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let id = hash_key(&session_key);
        let existing = self.get(&id).await.map_err(UpdateError::Other)?;
        let Some(old) = existing else {
            // Ended (logout, revocation, expiry) while this request was in flight: never
            // written back; a key that names nothing signs the browser out.
            return super::dead_key();
        };
        let stored = Stored {
            user_id: user_id_of(&state),
            created_at: old.created_at,
            state,
        };
        match self
            .replace(&id, &stored, ttl)
            .await
            .map_err(UpdateError::Other)?
        {
            true => Ok(session_key),
            false => super::dead_key(),
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        let id = hash_key(session_key);
        if let Some(stored) = self.get(&id).await? {
            let mut conn = self.conn.clone();
            match self.expiry_secs(stored.created_at, ttl) {
                Some(secs) => {
                    redis::cmd("EXPIRE")
                        .arg(self.session_key(&id))
                        .arg(secs)
                        .query_async::<()>(&mut conn)
                        .await?
                }
                None => {
                    redis::cmd("DEL")
                        .arg(self.session_key(&id))
                        .query_async::<()>(&mut conn)
                        .await?
                }
            }
        }
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        self.delete_by_id(&hash_key(session_key)).await?;
        Ok(())
    }
}

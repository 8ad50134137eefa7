//! Sessions in the Diesel database (`session.store = "database"`).
//!
//! The cookie carries a random key; the table keeps only its SHA-256. Each row records the
//! signed-in user (for "log out everywhere"), its creation time (for the absolute `session.ttl`)
//! and its idle expiry (pushed forward by `update_ttl`, at most once per tenth of the idle
//! timeout: see `session_store::cache`).

use super::cache::Entry;
use super::{LiveDuration, SessionRecord, State, hash_key, user_id_of};
use crate::db::changes::{self, Change};
use crate::db::models::SessionRow;
use crate::db::{Database, DbError, sessions, write_transaction};
use crate::domain::clock::{micros, now};
use crate::domain::random_token;
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{Duration, NaiveDateTime};

#[derive(Clone)]
pub struct DatabaseSessionStore {
    db: Database,
    /// `session.ttl` in force.
    absolute_ttl: LiveDuration,
}

impl DatabaseSessionStore {
    pub fn new(db: Database, absolute_ttl: std::time::Duration) -> Self {
        Self {
            db,
            absolute_ttl: LiveDuration::new(absolute_ttl),
        }
    }

    /// The absolute limit, shared (see `AnyStore::set_lifetimes`).
    pub(super) fn absolute_ttl(&self) -> LiveDuration {
        self.absolute_ttl.clone()
    }

    fn created_after(&self, now: NaiveDateTime) -> NaiveDateTime {
        now.checked_sub_signed(self.absolute_ttl.chrono())
            .unwrap_or(NaiveDateTime::MIN)
    }

    /// Deletes rows past their idle or absolute limit; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, DbError> {
        let now = now();
        let created_before = self.created_after(now);
        self.db
            .run(move |conn| Ok(sessions::purge_expired(conn, now, created_before)?))
            .await
    }

    /// The live sessions of a user, newest first.
    pub async fn list_for_user(&self, user_id: i64) -> anyhow::Result<Vec<SessionRecord>> {
        let now = now();
        let created_after = self.created_after(now);
        let rows = self
            .db
            .run(move |conn| {
                Ok::<_, DbError>(sessions::list_for_user(conn, user_id, now, created_after)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| SessionRecord {
                state: serde_json::from_str(&row.state).unwrap_or_default(),
                id: row.id,
                created_at: row.created_at,
                expires_at: row.expires_at,
            })
            .collect())
    }

    /// See `AnyStore::shift_user_sessions`.
    pub async fn shift_user_sessions(
        &self,
        user_id: i64,
        created_by: Duration,
        expires_by: Duration,
    ) -> anyhow::Result<()> {
        self.db
            .run(move |conn| {
                Ok::<_, DbError>(sessions::shift_for_user(
                    conn, user_id, created_by, expires_by,
                )?)
            })
            .await?;
        Ok(())
    }

    /// Ends one session of a user (recording that in the change feed, in the same
    /// transaction); false when the user has no such session.
    pub async fn end_for_user(&self, user_id: i64, id: &str) -> anyhow::Result<bool> {
        let id = id.to_string();
        Ok(self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let deleted = sessions::delete_for_user_by_id(conn, user_id, &id)? == 1;
                    if deleted {
                        changes::record(conn, &Change::Session { id: id.clone() })?;
                    }
                    Ok::<_, DbError>(deleted)
                })
            })
            .await?)
    }

    /// Deletes a session by its stored id, recording that in the change feed in the same
    /// transaction; false when there was no such session.
    pub async fn delete_recorded(&self, id: &str) -> anyhow::Result<bool> {
        let id = id.to_string();
        Ok(self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let deleted = sessions::delete(conn, &id)? == 1;
                    if deleted {
                        changes::record(conn, &Change::Session { id: id.clone() })?;
                    }
                    Ok::<_, DbError>(deleted)
                })
            })
            .await?)
    }

    /// A live session by stored id, as the session cache keeps it.
    pub async fn load_entry(&self, id: &str) -> anyhow::Result<Option<Entry>> {
        let Some(row) = self.live_row(id).await? else {
            return Ok(None);
        };
        Ok(Some(Entry {
            state: serde_json::from_str(&row.state)?,
            created_at: micros(row.created_at),
            expires_at: micros(row.expires_at),
        }))
    }

    /// The row of a session not past its idle or absolute limit.
    async fn live_row(&self, id: &str) -> Result<Option<SessionRow>, DbError> {
        let id = id.to_string();
        let now = now();
        let created_after = self.created_after(now);
        self.db
            .run(move |conn| Ok(sessions::load_live(conn, &id, now, created_after)?))
            .await
    }

    async fn insert(&self, state: &State, ttl: &CookieDuration) -> anyhow::Result<SessionKey> {
        let key = SessionKey::try_from(random_token(32)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = now();
        let row = SessionRow {
            id: hash_key(&key),
            user_id: user_id_of(state),
            state: serde_json::to_string(state)?,
            created_at: now,
            expires_at: expiry(now, ttl),
        };
        self.db
            .run(move |conn| Ok::<_, DbError>(sessions::insert(conn, &row)?))
            .await?;
        Ok(key)
    }
}

fn expiry(now: NaiveDateTime, ttl: &CookieDuration) -> NaiveDateTime {
    now + Duration::seconds(ttl.whole_seconds())
}

impl SessionStore for DatabaseSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let row = self
            .live_row(&hash_key(session_key))
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        match row {
            None => Ok(None),
            Some(row) => serde_json::from_str(&row.state)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        self.insert(&state, ttl).await.map_err(SaveError::Other)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let id = hash_key(&session_key);
        let body =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let user_id = user_id_of(&state);
        let now = now();
        let expires_at = expiry(now, ttl);
        let updated = self
            .db
            .run(move |conn| {
                Ok::<_, DbError>(sessions::update_state(
                    conn, &id, &body, user_id, expires_at, now,
                )?)
            })
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        if updated == 1 {
            Ok(session_key)
        } else {
            // The session ended (logout, revocation, expiry) while this request was in
            // flight: never write its state back. A fresh key that names nothing replaces the
            // cookie, so the browser is signed out.
            super::dead_key()
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        let id = hash_key(session_key);
        let now = now();
        let expires_at = expiry(now, ttl);
        self.db
            .run(move |conn| Ok::<_, DbError>(sessions::touch(conn, &id, expires_at, now)?))
            .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let id = hash_key(session_key);
        self.db
            .run(move |conn| Ok::<_, DbError>(sessions::delete(conn, &id)?))
            .await?;
        Ok(())
    }
}

//! Row types. They never leave the server: responses and pages use view structs.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{refresh_tokens, sessions, users};

/// A row of `users`.
#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub username_key: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub password_changed_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Sessions signed in before this instant are revoked.
    pub sessions_revoked_at: Option<NaiveDateTime>,
    /// A service account: HTTP Basic with the password alone, second factor or not.
    pub service: bool,
}

impl std::fmt::Debug for User {
    // The hash stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("disabled", &self.disabled)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl User {
    /// What authorization needs to know (no password hash).
    pub fn state(&self) -> crate::domain::UserState {
        crate::domain::UserState {
            id: self.id,
            username: self.username.clone(),
            is_admin: self.is_admin,
            disabled: self.disabled,
            password_changed_at: self.password_changed_at,
            sessions_revoked_at: self.sessions_revoked_at,
            created_at: self.created_at,
        }
    }

    /// Role names as shown to clients.
    pub fn roles(&self) -> Vec<&'static str> {
        if self.is_admin {
            vec!["user", "admin"]
        } else {
            vec!["user"]
        }
    }
}

/// Values for a new user row.
#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
    pub disabled: bool,
    pub password_changed_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A row of `sessions`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: Option<i64>,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// A row of `refresh_tokens`; `token_hash` is the SHA-256 of the token, never the token.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: i64,
    pub token_hash: String,
    pub user_id: i64,
    pub family_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// When the sign-in that started the family checked its credentials.
    pub checked_at: Option<NaiveDateTime>,
    /// When the family started (see [`RefreshTokenRow::family_started_at`]).
    pub family_created_at: Option<NaiveDateTime>,
    /// When the family's sign-in completed (every factor); carried over by rotation.
    pub auth_time: Option<NaiveDateTime>,
}

impl RefreshTokenRow {
    /// When the family's sign-in completed: the access tokens' `auth_time`. Rows from before
    /// the column fall back to the sign-in check.
    pub fn family_auth_time(&self) -> NaiveDateTime {
        self.auth_time
            .or(self.checked_at)
            .unwrap_or(self.created_at)
    }

    /// When the token's family started: its first sign-in, the origin of
    /// `token.refresh_max_age`. A row without the column's value (written by an older binary
    /// during an upgrade) falls back to the family's sign-in check, then to its own creation.
    pub fn family_started_at(&self) -> NaiveDateTime {
        self.family_created_at
            .or(self.checked_at)
            .unwrap_or(self.created_at)
    }
}

/// Values for a new refresh token row.
#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub family_id: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub checked_at: NaiveDateTime,
    pub family_created_at: NaiveDateTime,
    pub auth_time: NaiveDateTime,
}

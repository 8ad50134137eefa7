//! What authorization needs to know about a user, and nothing more (no password hash): the
//! value the user-state cache holds and every authenticated request carries.

use chrono::NaiveDateTime;

use super::clock;

/// The facts about a user that decide whether a credential still stands and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
    /// When the password last changed: tokens carry it as `pwd_at`.
    pub password_changed_at: NaiveDateTime,
    /// Sessions signed in before this instant are revoked.
    pub sessions_revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl UserState {
    /// Role names as shown to clients.
    pub fn roles(&self) -> Vec<&'static str> {
        if self.is_admin {
            vec!["user", "admin"]
        } else {
            vec!["user"]
        }
    }

    /// The value of an access token's `pwd_at` for this user (Unix microseconds).
    pub fn password_marker(&self) -> i64 {
        clock::micros(self.password_changed_at)
    }

    /// Whether a session signed in at `login_at` (Unix microseconds) is still valid.
    pub fn session_current(&self, login_at: Option<i64>) -> bool {
        match self.sessions_revoked_at {
            None => true,
            Some(revoked) => login_at.is_some_and(|t| t >= clock::micros(revoked)),
        }
    }
}

//! `/admin`: user administration, for admins only.

pub mod get;
pub mod post;

use askama::Template;
use chrono::NaiveDateTime;

use super::Nav;
use crate::config::{AuthMode, Settings};
use crate::db::models::User;

/// What the admin page shows of a user.
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub locked: bool,
    pub is_self: bool,
    /// A service account (HTTP Basic with the password alone).
    pub service: bool,
    /// TOTP is on.
    pub mfa: bool,
    pub created_at: String,
    pub last_login_at: String,
}

fn show_time(t: Option<NaiveDateTime>) -> String {
    t.map_or_else(
        || "never".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

impl UserRow {
    pub fn new(user: &User, me: i64, locked: &[String], mfa: bool) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            is_admin: user.is_admin,
            disabled: user.disabled,
            locked: locked.contains(&user.username_key),
            is_self: user.id == me,
            service: user.service,
            mfa,
            created_at: show_time(Some(user.created_at)),
            last_login_at: show_time(user.last_login_at),
        }
    }
}

/// What the admin page shows of the running server's configuration.
pub struct ServerFacts {
    /// `auth.mode` in force.
    pub mode: &'static str,
    /// The configuration file, or "defaults and environment".
    pub source: String,
    /// When a reload last put a configuration in force, or "never".
    pub last_reload: String,
}

impl ServerFacts {
    pub fn of(config: &Settings, last_reload: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        Self {
            mode: match config.auth.mode {
                AuthMode::Session => "session",
                AuthMode::Token => "token",
                AuthMode::Both => "both",
            },
            source: config.source(),
            last_reload: last_reload.map_or_else(
                || "never".into(),
                |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    pub nav: Nav,
    pub users: Vec<UserRow>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub server: ServerFacts,
}

//! `/admin`: user administration, for admins only.
//!
//! - `GET /admin`: the overview (counts and a chart of sign-ins), the create-user form, the
//!   users and their actions, the server's configuration facts.
//! - `POST /admin/users`: create a user.
//! - `GET /admin/users/{id}/{action}`: the confirm page of a destructive action (works without
//!   JavaScript); `POST` to the same path acts — a destructive action only with the confirm
//!   page's `confirm=yes`, otherwise it shows the confirm page again.
//!
//! Every action goes through the same `Accounts` functions as the admin JSON API.

pub mod get;
pub mod overview;
pub mod post;

use askama::Template;
use chrono::NaiveDateTime;

use self::overview::Overview;
use super::Nav;
use crate::config::{AuthMode, Settings};
use crate::db::models::User;

/// What an admin can do to a user from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Disable,
    Enable,
    Delete,
    GrantAdmin,
    RevokeAdmin,
    /// End every session and refresh-token family of the user.
    Logout,
    /// Lift a lockout of the username.
    Unlock,
    /// Mark as a service account (HTTP Basic with the password alone).
    ServiceOn,
    ServiceOff,
    /// Remove every second factor (and end every session and refresh family).
    MfaReset,
    /// Issue a one-time password-reset link (and end every session and token).
    ResetLink,
}

impl Action {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "disable" => Self::Disable,
            "enable" => Self::Enable,
            "delete" => Self::Delete,
            "grant-admin" => Self::GrantAdmin,
            "revoke-admin" => Self::RevokeAdmin,
            "logout" => Self::Logout,
            "unlock" => Self::Unlock,
            "service-on" => Self::ServiceOn,
            "service-off" => Self::ServiceOff,
            "mfa-reset" => Self::MfaReset,
            "reset-link" => Self::ResetLink,
            _ => return None,
        })
    }

    pub fn slug(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Delete => "delete",
            Self::GrantAdmin => "grant-admin",
            Self::RevokeAdmin => "revoke-admin",
            Self::Logout => "logout",
            Self::Unlock => "unlock",
            Self::ServiceOn => "service-on",
            Self::ServiceOff => "service-off",
            Self::MfaReset => "mfa-reset",
            Self::ResetLink => "reset-link",
        }
    }

    /// Actions that end something or cannot be undone: they act only from their confirm page.
    pub fn destructive(self) -> bool {
        matches!(
            self,
            Self::Disable
                | Self::Delete
                | Self::RevokeAdmin
                | Self::Logout
                | Self::MfaReset
                | Self::ResetLink
        )
    }

    /// Actions an admin may not take against their own account here (it would lock them out
    /// or end their own sign-in).
    pub fn locks_out_self(self) -> bool {
        matches!(
            self,
            Self::Disable | Self::Delete | Self::RevokeAdmin | Self::MfaReset | Self::ResetLink
        )
    }

    /// The confirm page's heading and button.
    pub fn title(self) -> &'static str {
        match self {
            Self::Disable => "Disable",
            Self::Enable => "Enable",
            Self::Delete => "Delete",
            Self::GrantAdmin => "Make admin",
            Self::RevokeAdmin => "Revoke admin",
            Self::Logout => "Sign out everywhere",
            Self::Unlock => "Unlock",
            Self::ServiceOn => "Make service account",
            Self::ServiceOff => "Not a service account",
            Self::MfaReset => "Reset two-step verification",
            Self::ResetLink => "Issue a password-reset link",
        }
    }

    /// What the action will do, for the confirm page.
    pub fn consequence(self) -> &'static str {
        match self {
            Self::Disable => {
                "The user can no longer sign in, and every session, refresh token and access \
                 token of theirs ends now. You can enable the account again later."
            }
            Self::Delete => {
                "The account and everything issued to it (sessions, tokens, second factors) are \
                 deleted. This cannot be undone."
            }
            Self::RevokeAdmin => {
                "The user loses the admin role, and every session and token of theirs ends now."
            }
            Self::Logout => {
                "Every session, refresh token and access token of the user ends now; they can \
                 sign in again."
            }
            Self::MfaReset => {
                "Every second factor of the user (authenticator app, recovery codes, passkeys) \
                 is removed, and every session and token of theirs ends now."
            }
            Self::ResetLink => {
                "A one-time link to set a new password is shown to you once; it works for 30 \
                 minutes. Every session and token of the user ends now, and any earlier link \
                 stops working."
            }
            Self::Enable | Self::GrantAdmin | Self::Unlock | Self::ServiceOn | Self::ServiceOff => {
                ""
            }
        }
    }

    pub fn done(self) -> &'static str {
        match self {
            Self::Disable => "disabled; their sessions were ended",
            Self::Enable => "enabled",
            Self::Delete => "deleted",
            Self::GrantAdmin => "made an admin",
            Self::RevokeAdmin => "is no longer an admin",
            Self::Logout => "was signed out everywhere",
            Self::Unlock => "was unlocked",
            Self::ServiceOn => "is now a service account",
            Self::ServiceOff => "is no longer a service account",
            Self::MfaReset => "has no second factor any more; their sessions were ended",
            Self::ResetLink => "has a new password-reset link; their sessions were ended",
        }
    }
}

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

/// The create-user form as typed, with its problems by field.
#[derive(Default)]
pub struct CreateForm {
    pub username: String,
    pub admin: bool,
    pub service: bool,
    pub username_errors: Vec<String>,
    pub password_errors: Vec<String>,
    pub min_length: usize,
}

impl CreateForm {
    pub fn has_errors(&self) -> bool {
        !self.username_errors.is_empty() || !self.password_errors.is_empty()
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
    pub overview: Overview,
    pub create: CreateForm,
}

#[derive(Template)]
#[template(path = "admin_confirm.html")]
pub struct ConfirmPage {
    pub nav: Nav,
    pub user_id: i64,
    pub username: String,
    pub action: &'static str,
    pub title: &'static str,
    pub consequence: &'static str,
}

#[derive(Template)]
#[template(path = "admin_reset_link.html")]
pub struct ResetLinkPage {
    pub nav: Nav,
    pub username: String,
    pub reset_url: String,
    pub expires_at: String,
}

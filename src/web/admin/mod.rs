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
use crate::i18n::{Lang, key};

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

    /// The confirm page's button (and the action's name).
    pub fn title(self, lang: Lang) -> String {
        lang.t(match self {
            Self::Disable => key("admin-action-disable"),
            Self::Enable => key("admin-action-enable"),
            Self::Delete => key("admin-action-delete"),
            Self::GrantAdmin => key("admin-action-grant-admin"),
            Self::RevokeAdmin => key("admin-action-revoke-admin"),
            Self::Logout => key("admin-action-logout"),
            Self::Unlock => key("admin-action-unlock"),
            Self::ServiceOn => key("admin-action-service-on"),
            Self::ServiceOff => key("admin-action-service-off"),
            Self::MfaReset => key("admin-action-mfa-reset"),
            Self::ResetLink => key("admin-action-reset-link"),
        })
    }

    /// The confirm page's question ("Disable alice?").
    pub fn question(self, lang: Lang, username: &str) -> String {
        let key = match self {
            Self::Disable => key("admin-confirm-disable"),
            Self::Delete => key("admin-confirm-delete"),
            Self::RevokeAdmin => key("admin-confirm-revoke-admin"),
            Self::Logout => key("admin-confirm-logout"),
            Self::MfaReset => key("admin-confirm-mfa-reset"),
            Self::ResetLink => key("admin-confirm-reset-link"),
            Self::Enable | Self::GrantAdmin | Self::Unlock | Self::ServiceOn | Self::ServiceOff => {
                key("admin-confirm-other")
            }
        };
        lang.t_with(
            key,
            &[
                ("name", username.into()),
                ("action", self.title(lang).into()),
            ],
        )
    }

    /// What the action will do, for the confirm page.
    pub fn consequence(self, lang: Lang) -> String {
        match self {
            Self::Disable => lang.t("admin-consequence-disable"),
            Self::Delete => lang.t("admin-consequence-delete"),
            Self::RevokeAdmin => lang.t("admin-consequence-revoke-admin"),
            Self::Logout => lang.t("admin-consequence-logout"),
            Self::MfaReset => lang.t("admin-consequence-mfa-reset"),
            Self::ResetLink => lang.t("admin-consequence-reset-link"),
            Self::Enable | Self::GrantAdmin | Self::Unlock | Self::ServiceOn | Self::ServiceOff => {
                String::new()
            }
        }
    }

    /// The notice once done ("User alice enabled.").
    pub fn done(self, lang: Lang, username: &str) -> String {
        let key = match self {
            Self::Disable => key("admin-done-disable"),
            Self::Enable => key("admin-done-enable"),
            Self::Delete => key("admin-done-delete"),
            Self::GrantAdmin => key("admin-done-grant-admin"),
            Self::RevokeAdmin => key("admin-done-revoke-admin"),
            Self::Logout => key("admin-done-logout"),
            Self::Unlock => key("admin-done-unlock"),
            Self::ServiceOn => key("admin-done-service-on"),
            Self::ServiceOff => key("admin-done-service-off"),
            Self::MfaReset => key("admin-done-mfa-reset"),
            Self::ResetLink => key("admin-done-reset-link"),
        };
        lang.t_with(key, &[("name", username.into())])
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

fn show_time(t: Option<NaiveDateTime>, lang: Lang) -> String {
    t.map_or_else(|| lang.t("time-never"), |t| lang.datetime(t))
}

impl UserRow {
    pub fn new(user: &User, me: i64, locked: &[String], mfa: bool, lang: Lang) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            is_admin: user.is_admin,
            disabled: user.disabled,
            locked: locked.contains(&user.username_key),
            is_self: user.id == me,
            service: user.service,
            mfa,
            created_at: show_time(Some(user.created_at), lang),
            last_login_at: show_time(user.last_login_at, lang),
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
    pub fn of(
        config: &Settings,
        last_reload: Option<chrono::DateTime<chrono::Utc>>,
        lang: Lang,
    ) -> Self {
        Self {
            mode: match config.auth.mode {
                AuthMode::Session => "session",
                AuthMode::Token => "token",
                AuthMode::Both => "both",
            },
            source: config.config_file.as_ref().map_or_else(
                || lang.t("admin-server-defaults"),
                |p| p.display().to_string(),
            ),
            last_reload: last_reload.map_or_else(
                || lang.t("time-never"),
                |t| lang.datetime_seconds(t.naive_utc()),
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
    pub title: String,
    pub question: String,
    pub consequence: String,
}

#[derive(Template)]
#[template(path = "admin_reset_link.html")]
pub struct ResetLinkPage {
    pub nav: Nav,
    pub username: String,
    pub reset_url: String,
    pub expires_at: String,
}

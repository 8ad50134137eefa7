//! `/account`: the signed-in user's own settings and sessions.

pub mod get;
pub mod post;

use askama::Template;

use super::Nav;
use super::login::mfa::EnrolView;

/// What `/account` shows of two-step verification.
pub struct MfaView {
    /// TOTP is on.
    pub on: bool,
    pub recovery_left: i64,
    /// An enrolment waiting for its first code: the secret to scan or type.
    pub enrol: Option<EnrolView>,
    /// Changes need the current password (the sign-in is more than 10 minutes old).
    pub needs_password: bool,
}

/// What `/account` shows of one of the user's sessions.
pub struct SessionView {
    /// The stored id (a hash of the cookie's key, never the key itself).
    pub id: String,
    pub current: bool,
    pub user_agent: String,
    pub ip: String,
    pub started: String,
    pub last_active: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub nav: Nav,
    pub username: String,
    pub notice: Option<String>,
    pub errors: Vec<String>,
    pub min_length: usize,
    pub sessions: Vec<SessionView>,
    pub mfa: MfaView,
}

//! `/account`: the signed-in user's own settings and sessions.

pub mod get;
pub mod passkeys;
pub mod post;

use askama::Template;

use super::Nav;
use super::form_errors::FieldErrors;
use super::login::mfa::EnrolView;
use super::passkey::PasskeyView;

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

/// What `/account` shows of one registered passkey.
pub struct PasskeyRowView {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: String,
    /// Registered for username-less sign-in.
    pub discoverable: bool,
}

/// What `/account` shows of passkeys.
pub struct PasskeysView {
    pub rows: Vec<PasskeyRowView>,
    /// The relying party's origin, or why passkeys cannot be used here.
    pub server: PasskeyView,
    /// `auth.passkey_login`: new passkeys can also sign in without the password.
    pub passkey_login: bool,
}

/// What `/account` shows of one of the user's sessions.
pub struct SessionView {
    /// The stored id (a hash of the cookie's key, never the key itself).
    pub id: String,
    pub current: bool,
    /// The browser and OS, from its `User-Agent` ("Firefox 128 on Linux").
    pub device: String,
    pub ip: String,
    pub started: String,
    pub last_active: String,
}

/// What `/account` shows of one of the user's API sign-ins (a live refresh-token family).
pub struct FamilyView {
    /// The family id (the `sid` of its access tokens; not a credential).
    pub id: String,
    pub started: String,
    pub last_refreshed: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub nav: Nav,
    pub username: String,
    pub notice: Option<String>,
    pub errors: FieldErrors,
    pub min_length: usize,
    pub sessions: Vec<SessionView>,
    pub families: Vec<FamilyView>,
    pub mfa: MfaView,
    pub passkeys: PasskeysView,
}

//! Second factors (issue 11): what a correct password leads to, the factors a user has, and
//! their checks.
//!
//! A sign-in is complete when every factor passed. The password check of every door
//! (`auth::login`) tells what is left ([`NextStep`]); when something is, the sign-in is held
//! server-side as a *pending* sign-in (`second_step`), bound to the browser by a cookie or to
//! the API client by an `mfa_token`, and completed by one [`SecondFactor`]. Adding a kind of
//! factor (a passkey assertion, `SecondFactor::Passkey`) is one more variant of
//! [`SecondFactor`] and one more arm of [`verify_factor`]; the pending sign-in, its lockout
//! accounting and both doors stay as they are.
//!
//! The throttle: every code checked counts toward the username's and the address's lockout
//! before it is checked, like a password; only a completed sign-in clears the username's
//! count (a correct password alone gives its own reservation back and clears nothing).

pub mod recovery;
pub mod second_step;
pub mod totp;

use chrono::{Duration, NaiveDateTime};

use crate::auth::passkey::{self, Assertion};
use crate::auth::token::master::{MasterError, MasterSecrets};
use crate::config::RequireMfa;
use crate::db::models::User;
use crate::db::{AnyConnection, DbError, passkeys, recovery_codes, totp as totp_rows};
use crate::error::Failure;

use self::totp::TotpSecret;

/// How long a pending sign-in (the password checked, the second step not yet) is held.
pub const PENDING_LIFETIME: Duration = Duration::minutes(5);
/// How long a started TOTP enrolment can be confirmed.
pub const ENROLMENT_WINDOW: Duration = Duration::minutes(15);
/// How recent a sign-in must be for enrolling, removing a factor or regenerating recovery
/// codes without typing the password again.
pub const RECENT_SIGN_IN: Duration = Duration::minutes(10);

/// Where a password was typed: it decides what a correct one leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The HTML sign-in form.
    Form,
    /// The token endpoint's password grant (JSON or form).
    Token,
    /// HTTP Basic (on `/api/*`, or carrying the password grant): a service account completes
    /// with the password alone.
    Basic,
    /// The current password of a signed-in user (a password change, a factor change).
    Reauth,
}

/// What the password check asks about second factors: where the password came from and
/// `auth.require_mfa` in force.
#[derive(Debug, Clone, Copy)]
pub struct SignInPolicy {
    pub door: Door,
    pub require_mfa: RequireMfa,
}

impl SignInPolicy {
    pub fn new(door: Door, require_mfa: RequireMfa) -> Self {
        Self { door, require_mfa }
    }
}

/// What a correct password leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// The sign-in is complete.
    Done,
    /// The user has a second factor: the sign-in waits for it.
    SecondFactor,
    /// `auth.require_mfa` applies and the user has no factor: the sign-in waits for enrolment.
    Enrol,
}

/// What is left after a correct password for `user` (who `has_factor` or not).
pub fn next_step(user: &User, has_factor: bool, policy: SignInPolicy) -> NextStep {
    if policy.door == Door::Basic && user.service {
        NextStep::Done
    } else if has_factor {
        NextStep::SecondFactor
    } else if !user.service && policy.require_mfa.applies_to(user.is_admin) {
        NextStep::Enrol
    } else {
        NextStep::Done
    }
}

/// A second factor presented to complete a sign-in: one variant per kind.
#[derive(Clone)]
pub enum SecondFactor {
    /// A TOTP code as typed.
    Totp(String),
    /// A recovery code as typed.
    RecoveryCode(String),
    /// A passkey's answer to a challenge of the pending sign-in.
    Passkey(Box<Assertion>),
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Codes never reach a log.
        f.write_str(self.label())
    }
}

impl SecondFactor {
    /// Its name in metrics and audit lines (one of `metrics::FACTORS`).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Totp(_) => "totp",
            Self::RecoveryCode(_) => "recovery_code",
            Self::Passkey(_) => "passkey",
        }
    }

    /// The passkey ceremony this factor answers, if it is a passkey: a failed check burns it
    /// (the check's transaction rolled back).
    pub fn ceremony(&self) -> Option<&str> {
        match self {
            Self::Passkey(assertion) => Some(&assertion.ceremony),
            Self::Totp(_) | Self::RecoveryCode(_) => None,
        }
    }
}

/// The factors a user has, as `gatehouse user mfa` and `/account` show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Factors {
    /// TOTP confirmed and active.
    pub totp: bool,
    /// A TOTP enrolment started and not yet confirmed (within its window).
    pub totp_pending: bool,
    /// Unused recovery codes.
    pub recovery_left: i64,
    /// Registered passkeys.
    pub passkeys: i64,
}

impl Factors {
    /// Whether the user has a second factor (recovery codes alone are not one: they come
    /// with a factor and stand in for it).
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// The user's factors, read now (inside the caller's transaction if it has one).
pub fn factors(
    conn: &mut AnyConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<Factors, DbError> {
    let row = totp_rows::find(conn, user_id)?;
    Ok(Factors {
        totp: row.as_ref().is_some_and(|r| r.confirmed_at.is_some()),
        totp_pending: row
            .as_ref()
            .is_some_and(|r| r.confirmed_at.is_none() && r.created_at + ENROLMENT_WINDOW > now),
        recovery_left: recovery_codes::remaining(conn, user_id)?,
        passkeys: passkeys::count(conn, user_id)?,
    })
}

/// Whether the user has a second factor that a sign-in must pass (the one question the
/// password check asks; a new kind of factor answers here too).
pub fn has_second_factor(conn: &mut AnyConnection, user_id: i64) -> Result<bool, DbError> {
    Ok(totp_rows::is_active(conn, user_id)? || passkeys::count(conn, user_id)? > 0)
}

/// Why a factor could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// A sealed secret does not open (a missing master secret, a tampered row).
    #[error(transparent)]
    Master(#[from] MasterError),
}

impl From<diesel::result::Error> for FactorError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<FactorError> for Failure {
    fn from(e: FactorError) -> Self {
        match e {
            FactorError::Db(e) => e.into(),
            FactorError::Master(e) => {
                tracing::error!(error = %e, "a TOTP secret does not open");
                Failure::Unexpected(e.into())
            }
        }
    }
}

/// What a verified factor was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    Totp,
    /// A recovery code; `left` unused after this one.
    RecoveryCode {
        left: i64,
    },
    /// A passkey (its row id).
    Passkey {
        id: i64,
    },
}

/// Checks `factor` for `user_id` and uses it up, inside the caller's write transaction: a TOTP
/// code's time step becomes the last accepted one (only a later step is accepted after it), a
/// recovery code is marked used, a passkey's ceremony is deleted and its counter moved on.
/// `None` when it does not pass (a wrong, replayed or used code, an assertion that does not
/// verify, or no such factor). Every use is a single conditional UPDATE or DELETE, so of two
/// concurrent uses of one code or ceremony, on any instance, exactly one passes.
pub fn verify_factor(
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    user_id: i64,
    factor: &SecondFactor,
    now: NaiveDateTime,
) -> Result<Option<Used>, FactorError> {
    match factor {
        SecondFactor::Totp(typed) => {
            let Some(code) = totp::normalize(typed) else {
                return Ok(None);
            };
            let Some(row) = totp_rows::find(conn, user_id)? else {
                return Ok(None);
            };
            if row.confirmed_at.is_none() {
                return Ok(None);
            }
            let secret = TotpSecret::open(master, user_id, &row.sealed_with, &row.sealed)?;
            let Some(step) = secret.matching_step(&code, now.and_utc().timestamp(), row.last_step)
            else {
                return Ok(None);
            };
            let accepted = totp_rows::accept_step(conn, user_id, step, None)? == 1;
            Ok(accepted.then_some(Used::Totp))
        }
        SecondFactor::RecoveryCode(typed) => {
            let Some(canonical) = recovery::normalize(typed) else {
                return Ok(None);
            };
            let used =
                recovery_codes::use_code(conn, user_id, &recovery::hash(&canonical), now)? == 1;
            if !used {
                return Ok(None);
            }
            let left = recovery_codes::remaining(conn, user_id)?;
            Ok(Some(Used::RecoveryCode { left }))
        }
        SecondFactor::Passkey(assertion) => Ok(passkey::verify_second_factor(
            conn, user_id, assertion, now,
        )?
        .map(|id| Used::Passkey { id })),
    }
}

/// Confirms a pending TOTP enrolment of `user_id` with `typed`, inside the caller's write
/// transaction: the secret becomes active with the code's step as the last accepted one, and
/// a new set of recovery codes replaces any old one. Returns the codes to show once, or
/// `None` when the code does not match (or no enrolment is pending within its window).
pub fn confirm_totp(
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    user_id: i64,
    typed: &str,
    now: NaiveDateTime,
) -> Result<Option<Vec<String>>, FactorError> {
    let Some(code) = totp::normalize(typed) else {
        return Ok(None);
    };
    let Some(row) = totp_rows::find(conn, user_id)? else {
        return Ok(None);
    };
    if row.confirmed_at.is_some() || row.created_at + ENROLMENT_WINDOW <= now {
        return Ok(None);
    }
    let secret = TotpSecret::open(master, user_id, &row.sealed_with, &row.sealed)?;
    let Some(step) = secret.matching_step(&code, now.and_utc().timestamp(), row.last_step) else {
        return Ok(None);
    };
    if totp_rows::accept_step(conn, user_id, step, Some(now))? != 1 {
        return Ok(None);
    }
    let codes = recovery::generate();
    recovery_codes::replace(conn, user_id, &recovery::hashes(&codes), now)?;
    Ok(Some(codes))
}

/// Starts (or restarts) a TOTP enrolment for `user_id`, inside the caller's write
/// transaction: a new secret, sealed under the master secret. `None` when TOTP is already
/// active (it must be removed first).
pub fn start_totp(
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<Option<TotpSecret>, FactorError> {
    let secret = TotpSecret::generate();
    let sealed = secret.seal(master, user_id)?;
    let stored = totp_rows::start(conn, user_id, &sealed.bytes, &sealed.sealed_with, now)?;
    Ok((stored == 1).then_some(secret))
}

/// The pending (unconfirmed, within its window) TOTP secret of `user_id`, if any: what an
/// enrolment page shows again on reload.
pub fn pending_totp(
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<Option<TotpSecret>, FactorError> {
    match totp_rows::find(conn, user_id)? {
        Some(row) if row.confirmed_at.is_none() && row.created_at + ENROLMENT_WINDOW > now => {
            Ok(Some(TotpSecret::open(
                master,
                user_id,
                &row.sealed_with,
                &row.sealed,
            )?))
        }
        _ => Ok(None),
    }
}

/// Replaces the user's recovery codes with a new set (the old set is void); returns the new
/// codes, to show once.
pub fn regenerate_recovery_codes(
    conn: &mut AnyConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<Vec<String>, DbError> {
    let codes = recovery::generate();
    recovery_codes::replace(conn, user_id, &recovery::hashes(&codes), now)?;
    Ok(codes)
}

/// Removes the user's TOTP (pending or active) and recovery codes; returns whether there was
/// any. Passkeys stay: each is removed on its own.
pub fn remove_totp(conn: &mut AnyConnection, user_id: i64) -> Result<bool, DbError> {
    let totp = totp_rows::delete(conn, user_id)?;
    let codes = recovery_codes::delete_for_user(conn, user_id)?;
    Ok(totp + codes > 0)
}

/// Removes every second factor of the user (TOTP, recovery codes, passkeys): an
/// administrator's reset. Returns whether there was any.
pub fn remove_all(conn: &mut AnyConnection, user_id: i64) -> Result<bool, DbError> {
    let totp = remove_totp(conn, user_id)?;
    let keys = passkeys::delete_for_user(conn, user_id)?;
    Ok(totp || keys > 0)
}

/// Whether a sign-in that completed at `auth_time` (Unix microseconds) is recent enough for
/// account changes without the password at `now`.
pub fn recent(auth_time: Option<i64>, now: NaiveDateTime) -> bool {
    let limit = crate::domain::clock::micros(now - RECENT_SIGN_IN);
    auth_time.is_some_and(|t| t >= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(is_admin: bool, service: bool) -> User {
        let now = crate::domain::clock::now();
        User {
            id: 1,
            username: "u".into(),
            username_key: "u".into(),
            password_hash: String::new(),
            is_admin,
            disabled: false,
            password_changed_at: now,
            last_login_at: None,
            created_at: now,
            updated_at: now,
            sessions_revoked_at: None,
            service,
        }
    }

    #[test]
    fn what_a_correct_password_leads_to() {
        let policy = |door, require_mfa| SignInPolicy { door, require_mfa };
        let plain = user(false, false);
        let admin = user(true, false);
        let service = user(false, true);
        use Door::*;
        use NextStep::*;
        use RequireMfa as R;
        assert_eq!(next_step(&plain, false, policy(Form, R::None)), Done);
        assert_eq!(next_step(&plain, true, policy(Form, R::None)), SecondFactor);
        assert_eq!(
            next_step(&plain, true, policy(Basic, R::None)),
            SecondFactor
        );
        assert_eq!(next_step(&service, true, policy(Basic, R::None)), Done);
        assert_eq!(
            next_step(&service, true, policy(Token, R::None)),
            SecondFactor
        );
        assert_eq!(next_step(&plain, false, policy(Token, R::Admins)), Done);
        assert_eq!(next_step(&admin, false, policy(Token, R::Admins)), Enrol);
        assert_eq!(next_step(&plain, false, policy(Basic, R::All)), Enrol);
        assert_eq!(next_step(&service, false, policy(Form, R::All)), Done);
    }
}

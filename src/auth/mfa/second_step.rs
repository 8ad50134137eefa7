//! The second step of a sign-in, for both doors.
//!
//! After a correct password that leaves something to do ([`super::NextStep`]), the sign-in is
//! held in `pending_logins` for at most [`super::PENDING_LIFETIME`]: keyed by the SHA-256 of
//! 256 random bits that the browser keeps in a short-lived HttpOnly cookie (HTML) or the API
//! client gets as `mfa_token`, with the password check it stands for (its time and the
//! password it checked, so a password change or revocation meanwhile voids it).
//!
//! [`complete`] finishes it with one [`SecondFactor`], in this order:
//! 1. the pending sign-in is looked up; an unknown, expired or used one counts as a failed
//!    try (against its user when it is known, and the address);
//! 2. a try is reserved against the user's and the address's lockout (refused when locked);
//! 3. one write transaction checks and uses the factor, uses the pending sign-in up (a
//!    conditional UPDATE: exactly one of concurrent completions wins), re-reads the user, and
//!    runs the door's own step (the API starts its refresh family here); any miss rolls the
//!    whole of it back, so a code is never spent on a sign-in that does not happen;
//! 4. a completed sign-in clears the username's count; a wrong code stays counted.
//!
//! A passkey is one more [`SecondFactor`]: its assertion is checked in step 3 like a code
//! (its ceremony deleted in that transaction; a failed check burns it afterwards, so each
//! challenge gets one try).

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::{FactorError, PENDING_LIFETIME, SecondFactor, Used, confirm_totp, verify_factor};
use crate::auth::Authenticator;
use crate::auth::lockout::{Attempt, Refused, user_subject};
use crate::auth::login::Verified;
use crate::auth::token::master::MasterSecrets;
use crate::auth::token::refresh::HashedToken;
use crate::db::models::User;
use crate::db::pending_logins::{self, PendingRow};
use crate::db::{AnyConnection, DbError, users, write_transaction};
use crate::domain::clock::now;
use crate::domain::random_token;
use crate::error::Failure;

/// What a pending sign-in waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A second factor.
    SecondFactor,
    /// Enrolment of a first second factor (`auth.require_mfa`).
    Enrolment,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecondFactor => "second_factor",
            Self::Enrolment => "enrolment",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "second_factor" => Some(Self::SecondFactor),
            "enrolment" => Some(Self::Enrolment),
            _ => None,
        }
    }
}

/// Which door a pending sign-in belongs to: a browser's cookie never completes an API
/// sign-in, nor an `mfa_token` a browser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingDoor {
    Html,
    Api,
}

impl PendingDoor {
    fn as_str(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Api => "api",
        }
    }
}

/// A pending sign-in as found by its token.
#[derive(Debug, Clone)]
pub struct Pending {
    pub row: PendingRow,
    pub purpose: Purpose,
}

impl Pending {
    /// The stored key of the pending sign-in.
    pub fn hash(&self) -> &str {
        &self.row.token_hash
    }
}

/// What a presented token names.
#[derive(Debug)]
pub enum Found {
    /// Unused and unexpired.
    Live(Pending),
    /// Expired or used (kept a while after, so that it is counted against its user).
    Stale(PendingRow),
    /// No such pending sign-in of this door.
    Unknown,
}

/// Holds a checked password's sign-in for its second step; returns the token to hand out (the
/// cookie's value or the `mfa_token`). Only its SHA-256 is stored.
pub fn hold(
    conn: &mut AnyConnection,
    verified: &Verified,
    purpose: Purpose,
    door: PendingDoor,
    next_path: Option<String>,
) -> Result<String, DbError> {
    let token = random_token(32);
    let now = now();
    pending_logins::insert(
        conn,
        &PendingRow {
            token_hash: HashedToken::of(&token).as_str().to_string(),
            user_id: verified.user.id,
            purpose: purpose.as_str().into(),
            door: door.as_str().into(),
            next_path,
            checked_at: verified.checked_at,
            password_changed_at: verified.user.password_changed_at,
            created_at: now,
            expires_at: now + PENDING_LIFETIME,
            used_at: None,
        },
    )?;
    Ok(token)
}

/// Looks a presented token up for `door`.
pub fn find(
    conn: &mut AnyConnection,
    presented: &str,
    door: PendingDoor,
) -> Result<Found, DbError> {
    let hash = HashedToken::of(presented);
    let Some(row) = pending_logins::find(conn, hash.as_str())? else {
        return Ok(Found::Unknown);
    };
    if row.door != door.as_str() {
        return Ok(Found::Unknown);
    }
    let Some(purpose) = Purpose::parse(&row.purpose) else {
        return Ok(Found::Unknown);
    };
    if row.used_at.is_some() || row.expires_at <= now() {
        return Ok(Found::Stale(row));
    }
    Ok(Found::Live(Pending { row, purpose }))
}

/// Whether `fresh` (the user read again) still vouches for the pending sign-in's password
/// check: same password, enabled, no revocation since.
fn still_holds(row: &PendingRow, fresh: &User) -> bool {
    !fresh.disabled
        && fresh.password_changed_at == row.password_changed_at
        && fresh
            .sessions_revoked_at
            .is_none_or(|t| t <= row.checked_at)
}

/// How a completion ended.
#[derive(Debug)]
pub enum Completion<T> {
    /// Every factor passed: the sign-in is complete.
    Done(Box<Completed<T>>),
    /// The factor did not pass (wrong, replayed or used code): counted.
    WrongFactor,
    /// The token is unknown, expired or used, or the sign-in it held no longer stands (the
    /// password changed, the user was disabled or revoked): counted.
    Invalid,
    /// The pending sign-in waits for enrolment, not for a factor: not counted.
    EnrolFirst,
}

/// A completed sign-in.
#[derive(Debug)]
pub struct Completed<T> {
    /// The user as read in the completing transaction.
    pub user: User,
    /// When the password was checked: the sign-in's credentials date from then.
    pub checked_at: NaiveDateTime,
    /// Where the browser goes next (HTML).
    pub next_path: Option<String>,
    /// What the factor was.
    pub used: Used,
    /// What the door's own step made inside the transaction.
    pub value: T,
}

/// Why the completing transaction rolled back.
enum Abort {
    Wrong,
    Invalid,
    Failed(FactorError),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(FactorError::from(e))
    }
}

impl From<DbError> for Abort {
    fn from(e: DbError) -> Self {
        Self::Failed(FactorError::Db(e))
    }
}

impl From<FactorError> for Abort {
    fn from(e: FactorError) -> Self {
        Self::Failed(e)
    }
}

/// Counts and logs a failed second step.
async fn failed(
    auth: &Authenticator,
    what: &'static str,
    factor: &str,
    user_id: Option<i64>,
    ip: &str,
    attempt: Attempt,
) {
    if what == "wrong_factor" {
        auth.metrics
            .second_factor
            .with_label_values(&[factor, "failed"])
            .inc();
    }
    crate::auth::login::count_outcome(auth, false).await;
    tracing::info!(target: "audit", event = "second_factor_failed", reason = what, factor, user_id, ip);
    if attempt.locks {
        auth.metrics.lockouts.inc();
        tracing::warn!(target: "audit", event = "lockout", user_id, ip);
    }
}

/// Completes the pending sign-in of `presented` at `door` with `factor`, from the client
/// address `ip` (see the module's steps). `then` is the door's own step, run inside the
/// completing transaction with the fresh user and the pending sign-in.
pub async fn complete<T, F>(
    auth: &Authenticator,
    master: Arc<MasterSecrets>,
    presented: String,
    door: PendingDoor,
    factor: SecondFactor,
    ip: &str,
    then: F,
) -> Result<Completion<T>, Failure>
where
    T: Send + 'static,
    F: FnOnce(&mut AnyConnection, &User, &PendingRow) -> Result<T, DbError> + Send + 'static,
{
    let label = factor.label();
    let ceremony = factor.ceremony().map(str::to_string);
    let found = auth
        .db
        .run(move |conn| find(conn, &presented, door))
        .await
        .map_err(Failure::from)?;
    let (pending, user_id) = match found {
        Found::Live(pending) if pending.purpose == Purpose::Enrolment => {
            return Ok(Completion::EnrolFirst);
        }
        Found::Live(pending) => {
            let user_id = pending.row.user_id;
            (Some(pending), Some(user_id))
        }
        Found::Stale(row) => (None, Some(row.user_id)),
        Found::Unknown => (None, None),
    };
    let reserved = {
        let (parts, ip) = (AuthParts::of(auth), ip.to_string());
        auth.db
            .run(move |conn| parts.reserve(conn, user_id, &ip))
            .await
    };
    let (attempt, subject) = match reserved {
        Ok(r) => r,
        Err(Refused::Locked { retry_after }) => {
            tracing::info!(target: "audit", event = "second_factor_locked", user_id, ip);
            return Err(Failure::Locked { retry_after });
        }
        Err(Refused::Db(e)) => return Err(e.into()),
    };
    let Some(pending) = pending else {
        burn(auth, ceremony).await;
        failed(auth, "invalid_pending", label, user_id, ip, attempt).await;
        return Ok(Completion::Invalid);
    };
    let hash = pending.hash().to_string();
    let row = pending.row.clone();
    let outcome = auth
        .db
        .run(move |conn| {
            Ok::<_, DbError>(write_transaction(conn, |conn| -> Result<_, Abort> {
                let now = now();
                let used =
                    verify_factor(conn, &master, row.user_id, &factor, now)?.ok_or(Abort::Wrong)?;
                if pending_logins::use_once(conn, &hash, Purpose::SecondFactor.as_str(), now)? != 1
                {
                    return Err(Abort::Invalid);
                }
                let user = users::find(conn, row.user_id)?
                    .filter(|u| still_holds(&row, u))
                    .ok_or(Abort::Invalid)?;
                users::record_login(conn, user.id)?;
                let value = then(conn, &user, &row)?;
                Ok(Completed {
                    user,
                    checked_at: row.checked_at,
                    next_path: row.next_path.clone(),
                    used,
                    value,
                })
            }))
        })
        .await
        .map_err(Failure::from)?;
    match outcome {
        Ok(done) => {
            finish_ok(auth, subject.as_deref(), ip, label, &done.user, done.used).await?;
            Ok(Completion::Done(Box::new(done)))
        }
        Err(Abort::Wrong) => {
            burn(auth, ceremony).await;
            failed(auth, "wrong_factor", label, user_id, ip, attempt).await;
            Ok(Completion::WrongFactor)
        }
        Err(Abort::Invalid) => {
            burn(auth, ceremony).await;
            failed(auth, "invalid_pending", label, user_id, ip, attempt).await;
            Ok(Completion::Invalid)
        }
        Err(Abort::Failed(e)) => {
            give_back(auth, subject.as_deref(), ip).await;
            Err(e.into())
        }
    }
}

/// A passkey ceremony whose check failed is used up all the same (the check's transaction
/// rolled its deletion back): an assertion gets one try per challenge.
async fn burn(auth: &Authenticator, ceremony: Option<String>) {
    let Some(ceremony) = ceremony else {
        return;
    };
    let result = auth
        .db
        .run(move |conn| crate::auth::passkey::burn(conn, &ceremony))
        .await;
    if let Err(e) = result {
        tracing::warn!(error = ?e, "could not burn a passkey ceremony");
    }
}

/// What the blocking reservation needs of the authenticator: the throttle. A try is reserved
/// for the pending sign-in's user (when known) and the address; a stale or unknown token is
/// counted this way and left counted.
struct AuthParts {
    lockout: crate::auth::lockout::Lockout,
}

impl AuthParts {
    fn of(auth: &Authenticator) -> Self {
        Self {
            lockout: auth.lockout.clone(),
        }
    }

    fn reserve(
        &self,
        conn: &mut AnyConnection,
        user_id: Option<i64>,
        ip: &str,
    ) -> Result<(Attempt, Option<String>), Refused> {
        let subject = match user_id {
            Some(id) => users::find(conn, id)
                .map_err(DbError::from)?
                .map(|u| user_subject(&u.username)),
            None => None,
        };
        let attempt = match &subject {
            Some(subject) => self.lockout.reserve(conn, subject, ip)?,
            None => self.lockout.reserve_ip(conn, ip)?,
        };
        Ok((attempt, subject))
    }
}

/// A completed sign-in: the username's count is cleared and the address's try given back;
/// counted and audited.
async fn finish_ok(
    auth: &Authenticator,
    subject: Option<&str>,
    ip: &str,
    label: &'static str,
    user: &User,
    used: Used,
) -> Result<(), Failure> {
    if let Some(subject) = subject {
        let (lockout, subject, ip) = (auth.lockout.clone(), subject.to_string(), ip.to_string());
        auth.db
            .run(move |conn| lockout.succeeded(conn, &subject, &ip))
            .await
            .map_err(Failure::from)?;
    }
    auth.metrics
        .second_factor
        .with_label_values(&[label, "ok"])
        .inc();
    auth.metrics.logins.with_label_values(&["ok"]).inc();
    crate::auth::login::count_outcome(auth, true).await;
    match used {
        Used::RecoveryCode { left } => {
            auth.metrics.recovery_codes_used.inc();
            tracing::info!(target: "audit", event = "recovery_code_used", user_id = user.id, left, ip);
        }
        Used::Totp | Used::Passkey { .. } => {}
    }
    tracing::info!(target: "audit", event = "second_factor_ok", factor = label, user_id = user.id, ip);
    Ok(())
}

/// The check could not be made: the try is given back.
async fn give_back(auth: &Authenticator, subject: Option<&str>, ip: &str) {
    let (lockout, subject, ip) = (
        auth.lockout.clone(),
        subject.map(str::to_string),
        ip.to_string(),
    );
    let result = auth
        .db
        .run(move |conn| match &subject {
            Some(subject) => lockout.cancel(conn, subject, &ip),
            None => lockout.cancel_ip(conn, &ip),
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = ?e, "could not give a try back");
    }
}

/// How an enrolment step (`auth.require_mfa`) ended.
#[derive(Debug)]
pub enum Enrolled {
    /// TOTP is active and the sign-in complete (HTML): the recovery codes to show once.
    SignedIn(Box<Completed<Vec<String>>>),
    /// The code did not match the secret being enrolled: counted.
    WrongCode,
    /// The token is unknown, expired or used, or the sign-in no longer stands: counted.
    Invalid,
}

/// Completes a browser's enrolment step: the code confirms the TOTP secret being enrolled and,
/// being a valid second factor, completes the sign-in in the same transaction.
pub async fn complete_enrolment(
    auth: &Authenticator,
    master: Arc<MasterSecrets>,
    presented: String,
    code: String,
    ip: &str,
) -> Result<Enrolled, Failure> {
    let found = auth
        .db
        .run(move |conn| find(conn, &presented, PendingDoor::Html))
        .await
        .map_err(Failure::from)?;
    let (pending, user_id) = match found {
        Found::Live(p) if p.purpose == Purpose::Enrolment => {
            let id = p.row.user_id;
            (Some(p), Some(id))
        }
        Found::Live(p) => (None, Some(p.row.user_id)),
        Found::Stale(row) => (None, Some(row.user_id)),
        Found::Unknown => (None, None),
    };
    let parts = AuthParts::of(auth);
    let ip_owned = ip.to_string();
    let (attempt, subject) = match auth
        .db
        .run(move |conn| parts.reserve(conn, user_id, &ip_owned))
        .await
    {
        Ok(r) => r,
        Err(Refused::Locked { retry_after }) => return Err(Failure::Locked { retry_after }),
        Err(Refused::Db(e)) => return Err(e.into()),
    };
    let Some(pending) = pending else {
        failed(auth, "invalid_pending", "totp", user_id, ip, attempt).await;
        return Ok(Enrolled::Invalid);
    };
    let hash = pending.hash().to_string();
    let row = pending.row;
    let outcome = auth
        .db
        .run(move |conn| {
            Ok::<_, DbError>(write_transaction(conn, |conn| -> Result<_, Abort> {
                let now = now();
                let codes =
                    confirm_totp(conn, &master, row.user_id, &code, now)?.ok_or(Abort::Wrong)?;
                if pending_logins::use_once(conn, &hash, Purpose::Enrolment.as_str(), now)? != 1 {
                    return Err(Abort::Invalid);
                }
                let user = users::find(conn, row.user_id)?
                    .filter(|u| still_holds(&row, u))
                    .ok_or(Abort::Invalid)?;
                users::record_login(conn, user.id)?;
                Ok(Completed {
                    user,
                    checked_at: row.checked_at,
                    next_path: row.next_path.clone(),
                    used: Used::Totp,
                    value: codes,
                })
            }))
        })
        .await
        .map_err(Failure::from)?;
    match outcome {
        Ok(done) => {
            auth.metrics.mfa_enrolments.inc();
            tracing::info!(target: "audit", event = "totp_enrolled", user_id = done.user.id, ip);
            finish_ok(auth, subject.as_deref(), ip, "totp", &done.user, done.used).await?;
            Ok(Enrolled::SignedIn(Box::new(done)))
        }
        Err(Abort::Wrong) => {
            failed(auth, "wrong_factor", "totp", user_id, ip, attempt).await;
            Ok(Enrolled::WrongCode)
        }
        Err(Abort::Invalid) => {
            failed(auth, "invalid_pending", "totp", user_id, ip, attempt).await;
            Ok(Enrolled::Invalid)
        }
        Err(Abort::Failed(e)) => {
            give_back(auth, subject.as_deref(), ip).await;
            Err(e.into())
        }
    }
}

/// Gives a pending sign-in up (the browser chose to start over).
pub async fn abandon(auth: &Authenticator, presented: String) -> Result<(), Failure> {
    auth.db
        .run(move |conn| {
            pending_logins::delete(conn, HashedToken::of(&presented).as_str())
                .map(|_| ())
                .map_err(Failure::from)
        })
        .await
}

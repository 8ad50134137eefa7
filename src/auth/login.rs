//! The password check shared by every door (form, token endpoint, HTTP Basic, and the current
//! password of a password change).
//!
//! In order: the try is reserved against the username's and the address's limits (refused
//! when locked, before any bcrypt); the user row is read, and that instant is when the
//! credentials were checked; bcrypt runs on the hashing pool, against the dummy hash for an
//! unknown user and padded to one configured-cost hash when a stored hash is cheaper, so every
//! failure costs the same; a success re-reads the user in a transaction and counts as a failure
//! if the password changed or the user's credentials were revoked meanwhile; an upgrade of the
//! hash to the configured cost is a compare-and-swap on the hash just checked.
//!
//! A correct password completes the sign-in only when nothing is left ([`NextStep::Done`]):
//! then the username's count is cleared. When a second factor (or, under `auth.require_mfa`,
//! enrolment) is left, the password only gives its own reservation back: a correct password
//! alone never clears the count (or it would be an unlimited oracle for the second factor).

use chrono::NaiveDateTime;

use super::Authenticator;
use super::lockout::{Refused, user_subject};
use super::mfa::{NextStep, SignInPolicy, has_second_factor, next_step};
use crate::db::models::User;
use crate::db::{DbError, users, write_transaction};
use crate::domain::clock::now;
use crate::domain::{Password, Username};
use crate::error::Failure;

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled user: callers must not tell them apart.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Locked, busy, or the check could not be made.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// A user whose password was just checked.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The user as read before the check.
    pub user: User,
    /// When the user row was read for the check: credentials born of this sign-in (a
    /// session, a refresh family) date from then, so a revocation that commits while bcrypt
    /// runs still ends them.
    pub checked_at: NaiveDateTime,
    /// What is left of the sign-in after this password.
    pub next: NextStep,
}

impl Verified {
    /// Whether `fresh` (the user read again) still vouches for this check: same password,
    /// enabled, and no revocation since.
    pub fn still_holds(&self, fresh: &User) -> bool {
        !fresh.disabled
            && fresh.password_changed_at == self.user.password_changed_at
            && fresh
                .sessions_revoked_at
                .is_none_or(|t| t <= self.checked_at)
    }
}

/// Counts a completed sign-in (`succeeded`) or a failed attempt (a wrong password or second
/// factor, on any surface) in the hourly table the admin overview charts: one small write,
/// shared by every instance. Best effort: a failure is logged, and the sign-in goes on.
pub async fn count_outcome(auth: &Authenticator, succeeded: bool) {
    let at = now();
    if let Err(e) = auth
        .db
        .run(move |conn| {
            crate::db::sign_in_stats::record(conn, at, succeeded).map_err(DbError::from)
        })
        .await
    {
        tracing::warn!(error = ?e, "could not count a sign-in for the overview");
    }
}

/// A username as a log value: quoted and escaped, so it cannot pass for other fields.
fn shown(username: &str) -> String {
    format!("{:?}", username.chars().take(80).collect::<String>())
}

/// Checks a username and password from the client address `ip` (its lockout key), typed at
/// the door `policy` names.
#[tracing::instrument(skip_all, fields(username = %shown(username), ip))]
pub async fn check_password(
    auth: &Authenticator,
    username: &str,
    password: Password,
    ip: &str,
    policy: SignInPolicy,
) -> Result<Verified, LoginError> {
    let subject = user_subject(username);
    let key = Username::parse(username).ok().map(|name| name.key());
    let reserved = {
        let (lockout, subject, ip) = (auth.lockout.clone(), subject.clone(), ip.to_string());
        auth.db
            .run(move |conn| {
                let attempt = lockout.reserve(conn, &subject, &ip)?;
                let checked_at = now();
                let user = match key {
                    Some(key) => users::find_by_username(conn, &key).map_err(DbError::from)?,
                    None => None,
                };
                Ok::<_, Refused>((attempt, user, checked_at))
            })
            .await
    };
    let (attempt, user, checked_at) = match reserved {
        Ok(reserved) => reserved,
        Err(Refused::Locked { retry_after }) => {
            auth.metrics.logins.with_label_values(&["locked"]).inc();
            tracing::info!(target: "audit", event = "login_locked", username = %shown(username), ip);
            return Err(Failure::Locked { retry_after }.into());
        }
        Err(Refused::Db(e)) => return Err(Failure::from(e).into()),
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    // Always run bcrypt: unknown and disabled users take as long as a wrong password.
    auth.metrics.password_checks.inc();
    let matched = match auth.hasher.verify(password.clone(), hash.clone()).await {
        Ok(matched) => matched,
        Err(e) => {
            // Not checked at all: the try does not count.
            let (lockout, subject, ip) = (auth.lockout.clone(), subject.clone(), ip.to_string());
            if let Err(e) = auth
                .db
                .run(move |conn| lockout.cancel(conn, &subject, &ip))
                .await
            {
                tracing::warn!(error = ?e, "could not give a try back");
            }
            return Err(Failure::from(e).into());
        }
    };
    let verified = match user {
        Some(user) if matched && !user.disabled => {
            let verified = Verified {
                user,
                checked_at,
                next: NextStep::Done,
            };
            confirm(auth, verified, &subject, ip, policy).await?
        }
        _ => None,
    };
    let Some(verified) = verified else {
        if hash
            .as_deref()
            .is_some_and(|h| auth.hasher.cheaper_than_configured(h))
        {
            // A stored hash of a lower cost fails faster than the dummy hash of an unknown
            // user: pad it to one configured-cost check.
            auth.metrics.password_checks.inc();
            auth.hasher.pad(password).await.map_err(Failure::from)?;
        }
        auth.metrics.logins.with_label_values(&["failed"]).inc();
        count_outcome(auth, false).await;
        tracing::info!(target: "audit", event = "login_failed", username = %shown(username), ip);
        if attempt.locks {
            auth.metrics.lockouts.inc();
            tracing::warn!(target: "audit", event = "lockout", username = %shown(username), ip);
        }
        return Err(LoginError::InvalidCredentials);
    };
    upgrade_hash(auth, &verified.user, password).await;
    if verified.next == NextStep::Done {
        auth.metrics.logins.with_label_values(&["ok"]).inc();
        count_outcome(auth, true).await;
        tracing::info!(target: "audit", event = "login_ok", user_id = verified.user.id, username = %shown(&verified.user.username), ip);
    } else {
        tracing::info!(target: "audit", event = "password_ok_second_step", user_id = verified.user.id, username = %shown(&verified.user.username), next = ?verified.next, ip);
    }
    Ok(verified)
}

/// After a matching password: re-reads the user in a transaction and, if the check still
/// holds, tells what is left of the sign-in. A complete sign-in clears the username's count,
/// gives the address's try back and records the login; one that waits for a second step only
/// gives both tries back. `None` when the password changed or the user was disabled or
/// revoked while bcrypt ran.
async fn confirm(
    auth: &Authenticator,
    mut verified: Verified,
    subject: &str,
    ip: &str,
    policy: SignInPolicy,
) -> Result<Option<Verified>, Failure> {
    let (lockout, subject, ip) = (auth.lockout.clone(), subject.to_string(), ip.to_string());
    let id = verified.user.id;
    let holds = auth
        .db
        .run(move |conn| {
            let next = write_transaction(conn, |conn| -> Result<Option<NextStep>, DbError> {
                let Some(fresh) = users::find(conn, id)?.filter(|f| verified.still_holds(f)) else {
                    return Ok(None);
                };
                let next = next_step(&fresh, has_second_factor(conn, id)?, policy);
                if next == NextStep::Done {
                    users::record_login(conn, id)?;
                }
                Ok(Some(next))
            })?;
            match next {
                Some(NextStep::Done) => lockout.succeeded(conn, &subject, &ip)?,
                Some(_) => lockout.cancel(conn, &subject, &ip)?,
                None => {}
            }
            Ok::<_, Failure>(next.map(|next| {
                verified.next = next;
                verified
            }))
        })
        .await?;
    Ok(holds)
}

/// Re-hashes at the configured cost when the stored hash is cheaper. Best effort: a failed
/// upgrade must not fail the login, and the write only replaces the hash just checked (a
/// password changed meanwhile is never overwritten by the old one).
async fn upgrade_hash(auth: &Authenticator, user: &User, password: Password) {
    if !auth.hasher.needs_rehash(&user.password_hash) {
        return;
    }
    let new_hash = match auth.hasher.hash(password).await {
        Ok(hash) => hash,
        Err(e) => {
            tracing::warn!(error = ?e, "could not upgrade the password hash");
            return;
        }
    };
    let (id, old) = (user.id, user.password_hash.clone());
    if let Err(e) = auth
        .db
        .run(move |conn| {
            users::upgrade_password_hash(conn, id, &old, &new_hash).map_err(DbError::from)
        })
        .await
    {
        tracing::warn!(error = ?e, user_id = id, "could not store the upgraded password hash");
    }
}

//! Second-factor changes of an account, through the one revocation seam.
//!
//! - Enrolling TOTP (start, then confirm with a valid code) ends nothing.
//! - Removing a factor and regenerating recovery codes end the user's *other* sessions and
//!   refresh families (stamped in the transaction, recorded in the change feed like every
//!   revocation) while the credential that made the change stays valid: a session is carried
//!   over to a new id by its handler, a bearer token's family is carried over here (its sign-in
//!   counted as checked at the revocation instant, its `auth_time` unchanged).
//! - An administrator's (or operator's) reset removes every factor and ends every credential
//!   of the user: a reset answers a lost or stolen device, whose holder may be signed in.
//!
//! Enrolling, removing and regenerating need the current password or a sign-in within the
//! last 10 minutes ([`Reauth`]). Wrong codes count toward the lockout like passwords.

use super::{AccountError, Accounts, By, check_caller};
use crate::auth::lockout::{Attempt, Refused, user_subject};
use crate::auth::login::{LoginError, check_password};
use crate::auth::mfa::totp::TotpSecret;
use crate::auth::mfa::{self, Door, SignInPolicy};
use crate::auth::token::refresh::HashedToken;
use crate::auth::{Authenticated, Authenticator, Credential};
use crate::config::RequireMfa;
use crate::db::changes::Change;
use crate::db::pending_logins::{self, PendingRow};
use crate::db::{AnyConnection, DbError, refresh_tokens, sessions, users};
use crate::domain::Password;
use crate::domain::clock::{micros, now};
use crate::error::Failure;

/// Which of the caller's credentials outlives a change that ends the user's others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// The browser session (its handler carries it over to a new id).
    Session,
    /// The refresh-token family of the bearer token (`sid`).
    Family(String),
    /// Nothing to keep (HTTP Basic carries the password each time).
    Nothing,
}

impl Keep {
    /// What a caller's credential keeps.
    pub fn of(caller: &Authenticated) -> Self {
        match &caller.credential {
            Credential::Session { .. } => Self::Session,
            Credential::Bearer(claims) => Self::Family(claims.sid.clone()),
            Credential::Basic => Self::Nothing,
        }
    }
}

/// How the caller proves a recent sign-in: the current password, or when the sign-in
/// completed (Unix microseconds; within [`mfa::RECENT_SIGN_IN`] it is enough).
#[derive(Debug, Default)]
pub struct Reauth {
    pub password: Option<Password>,
    pub auth_time: Option<i64>,
}

impl Reauth {
    /// When the caller's sign-in completed: the session's sign-in (from its handler), a bearer
    /// token's `auth_time` claim, or now for HTTP Basic (the password came with the request).
    pub fn of(
        caller: &Authenticated,
        session_auth_at: Option<i64>,
        password: Option<Password>,
    ) -> Self {
        let auth_time = match &caller.credential {
            Credential::Session { login_at } => session_auth_at.or(Some(*login_at)),
            Credential::Bearer(claims) => claims.auth_time.map(|s| s.saturating_mul(1_000_000)),
            Credential::Basic => Some(micros(now())),
        };
        Self {
            password: password.filter(|p| !p.expose().is_empty()),
            auth_time,
        }
    }
}

/// Who enrols: a signed-in caller, or a sign-in held for enrolment (`auth.require_mfa`: the
/// `mfa_token` used as a bearer on `/api/account/totp*`).
#[derive(Debug, Clone)]
pub enum Enroller {
    Caller(Authenticated),
    Pending { token: String, user_id: i64 },
}

impl Enroller {
    pub fn user_id(&self) -> i64 {
        match self {
            Self::Caller(caller) => caller.user.id,
            Self::Pending { user_id, .. } => *user_id,
        }
    }
}

/// Ends every session and refresh family of the user but the one `keep` names, inside the
/// caller's transaction; returns the changes to record and publish (a carried-over family's
/// first, so that no instance meets the new stamp with the family's old check time).
pub(super) fn revoke_all_but(
    conn: &mut AnyConnection,
    user_id: i64,
    keep: &Keep,
) -> Result<Vec<Change>, DbError> {
    let at = now();
    match keep {
        Keep::Family(family) => refresh_tokens::revoke_for_user_except(conn, user_id, family, at)?,
        Keep::Session | Keep::Nothing => refresh_tokens::revoke_for_user(conn, user_id, at)?,
    };
    users::revoke_sessions_at(conn, user_id, at)?;
    sessions::delete_for_user(conn, user_id)?;
    pending_logins::delete_for_user(conn, user_id)?;
    let mut made = Vec::new();
    if let Keep::Family(family) = keep {
        refresh_tokens::carry_family_over(conn, family, at)?;
        made.push(Change::Family {
            family_id: family.clone(),
            user_id,
        });
    }
    made.push(Change::UserRevoked { user_id });
    Ok(made)
}

/// Inside a transaction: the enrolment's pending sign-in still stands (unused, unexpired, for
/// enrolment, its password unchanged and its user not revoked).
fn check_pending(conn: &mut AnyConnection, token: &str) -> Result<PendingRow, AccountError> {
    let row = pending_logins::find(conn, HashedToken::of(token).as_str())?
        .filter(|r| r.purpose == "enrolment" && r.used_at.is_none() && r.expires_at > now())
        .ok_or(AccountError::CallerRevoked)?;
    let holds = users::find(conn, row.user_id)?.is_some_and(|u| {
        !u.disabled
            && u.password_changed_at == row.password_changed_at
            && u.sessions_revoked_at.is_none_or(|t| t <= row.checked_at)
    });
    if !holds {
        return Err(AccountError::CallerRevoked);
    }
    Ok(row)
}

fn check_enroller(conn: &mut AnyConnection, enroller: &Enroller) -> Result<(), AccountError> {
    match enroller {
        Enroller::Caller(caller) => check_caller(conn, caller, false),
        Enroller::Pending { token, user_id } => {
            let row = check_pending(conn, token)?;
            if row.user_id != *user_id {
                return Err(AccountError::CallerRevoked);
            }
            Ok(())
        }
    }
}

fn factor_failure(e: mfa::FactorError) -> AccountError {
    AccountError::Failed(e.into())
}

/// A started enrolment: the secret to show (as text, URI and QR code).
pub struct Started {
    pub secret: TotpSecret,
}

impl Accounts {
    /// Passes when the caller signed in within the last 10 minutes, or typed the current
    /// password (checked like every password: counted against the lockout first).
    pub(super) async fn reauthenticate(
        &self,
        auth: &Authenticator,
        caller: &Authenticated,
        reauth: Reauth,
        ip: &str,
    ) -> Result<(), AccountError> {
        if mfa::recent(reauth.auth_time, now()) {
            return Ok(());
        }
        let Some(password) = reauth.password else {
            return Err(AccountError::ReauthRequired);
        };
        let policy = SignInPolicy::new(Door::Reauth, RequireMfa::None);
        match check_password(auth, &caller.user.username, password, ip, policy).await {
            Ok(verified) if verified.user.id == caller.user.id => Ok(()),
            Ok(_) | Err(LoginError::InvalidCredentials) => Err(AccountError::WrongPassword),
            Err(LoginError::Failed(failure)) => Err(failure.into()),
        }
    }

    /// Starts a TOTP enrolment (a new secret, pending until confirmed); refused while TOTP
    /// is active. A signed-in caller proves a recent sign-in first; a held enrolment sign-in
    /// has just checked the password.
    pub async fn start_totp(
        &self,
        auth: &Authenticator,
        enroller: Enroller,
        reauth: Reauth,
        ip: &str,
    ) -> Result<Started, AccountError> {
        if let Enroller::Caller(caller) = &enroller {
            self.reauthenticate(auth, caller, reauth, ip).await?;
        }
        let master = auth.keys.master_arc();
        let user_id = enroller.user_id();
        let secret = self
            .commit(move |conn| {
                check_enroller(conn, &enroller)?;
                let secret = mfa::start_totp(conn, &master, user_id, now())
                    .map_err(factor_failure)?
                    .ok_or(AccountError::AlreadyEnrolled)?;
                Ok((secret, None))
            })
            .await?;
        tracing::info!(target: "audit", event = "totp_enrolment_started", user_id);
        Ok(Started { secret })
    }

    /// The secret of a TOTP enrolment waiting for confirmation, if any (a page shown again).
    pub async fn pending_totp(
        &self,
        auth: &Authenticator,
        user_id: i64,
    ) -> Result<Option<TotpSecret>, AccountError> {
        let master = auth.keys.master_arc();
        self.db
            .run(move |conn| {
                mfa::pending_totp(conn, &master, user_id, now()).map_err(factor_failure)
            })
            .await
    }

    /// Confirms the pending TOTP enrolment with a code: TOTP becomes active and a new set of
    /// recovery codes is returned, to show once. The code counts toward the lockout like a
    /// password (reserved before the check, given back when right). A held enrolment sign-in
    /// then waits for its second step (a later code, or a recovery code).
    pub async fn confirm_totp(
        &self,
        auth: &Authenticator,
        enroller: Enroller,
        code: String,
        ip: &str,
    ) -> Result<Vec<String>, AccountError> {
        let user_id = enroller.user_id();
        let (subject, attempt) = self.reserve_code_try(user_id, ip).await?;
        let master = auth.keys.master_arc();
        let result = self
            .commit(move |conn| {
                check_enroller(conn, &enroller)?;
                let codes = mfa::confirm_totp(conn, &master, user_id, &code, now())
                    .map_err(factor_failure)?
                    .ok_or_else(|| {
                        if mfa::factors(conn, user_id, now()).is_ok_and(|f| f.totp_pending) {
                            AccountError::WrongCode
                        } else {
                            AccountError::NoEnrolment
                        }
                    })?;
                if let Enroller::Pending { token, .. } = &enroller
                    && pending_logins::enrolled(conn, HashedToken::of(token).as_str(), now())? != 1
                {
                    return Err(AccountError::CallerRevoked);
                }
                Ok((codes, None))
            })
            .await;
        match &result {
            Ok(_) => {
                self.give_code_try_back(&subject, ip).await;
                auth.metrics.mfa_enrolments.inc();
                tracing::info!(target: "audit", event = "totp_enrolled", user_id);
            }
            Err(AccountError::WrongCode) => {
                auth.metrics
                    .second_factor
                    .with_label_values(&["totp", "failed"])
                    .inc();
                tracing::info!(target: "audit", event = "second_factor_failed", reason = "wrong_factor", factor = "totp", user_id, ip);
                if attempt.locks {
                    auth.metrics.lockouts.inc();
                    tracing::warn!(target: "audit", event = "lockout", user_id, ip);
                }
            }
            Err(_) => self.give_code_try_back(&subject, ip).await,
        }
        result
    }

    /// Removes the caller's TOTP and recovery codes (passkeys stay; each is removed on its
    /// own), ending the user's other sessions and refresh families; the caller's credential
    /// (`keep`) stays valid.
    pub async fn remove_second_factors(
        &self,
        auth: &Authenticator,
        caller: &Authenticated,
        reauth: Reauth,
        ip: &str,
    ) -> Result<(), AccountError> {
        self.reauthenticate(auth, caller, reauth, ip).await?;
        let (caller, user_id) = (caller.clone(), caller.user.id);
        let keep = Keep::of(&caller);
        self.commit_all(move |conn| {
            check_caller(conn, &caller, false)?;
            if !mfa::remove_totp(conn, user_id)? {
                return Err(AccountError::NoFactor);
            }
            Ok(((), revoke_all_but(conn, user_id, &keep)?))
        })
        .await?;
        auth.metrics.mfa_removals.with_label_values(&["user"]).inc();
        tracing::info!(target: "audit", event = "second_factors_removed", user_id, by = "user");
        Ok(())
    }

    /// Replaces the caller's recovery codes with a new set (the old set is void), ending the
    /// user's other sessions and refresh families; returns the codes, to show once.
    pub async fn regenerate_recovery_codes(
        &self,
        auth: &Authenticator,
        caller: &Authenticated,
        reauth: Reauth,
        ip: &str,
    ) -> Result<Vec<String>, AccountError> {
        self.reauthenticate(auth, caller, reauth, ip).await?;
        let (caller, user_id) = (caller.clone(), caller.user.id);
        let keep = Keep::of(&caller);
        let codes = self
            .commit_all(move |conn| {
                check_caller(conn, &caller, false)?;
                if !mfa::factors(conn, user_id, now())?.any() {
                    return Err(AccountError::NoFactor);
                }
                let codes = mfa::regenerate_recovery_codes(conn, user_id, now())?;
                Ok((codes, revoke_all_but(conn, user_id, &keep)?))
            })
            .await?;
        tracing::info!(target: "audit", event = "recovery_codes_regenerated", user_id);
        Ok(codes)
    }

    /// An administrator's or operator's reset: every second factor of the user goes, and so
    /// does every session and refresh family. False when there is no such user.
    pub async fn reset_second_factors(
        &self,
        by: By<'_>,
        user_id: i64,
    ) -> Result<bool, AccountError> {
        let by = by.caller();
        let admin_id = by.as_ref().map(|c| c.user.id);
        let found = self
            .commit_all(move |conn| {
                let Some(_) = Self::authorize(conn, by.as_ref(), user_id)? else {
                    return Ok((false, Vec::new()));
                };
                mfa::remove_all(conn, user_id)?;
                Ok((true, revoke_all_but(conn, user_id, &Keep::Nothing)?))
            })
            .await?;
        if found {
            tracing::info!(target: "audit", event = "second_factors_reset", user_id, admin_id, by = "admin");
        }
        Ok(found)
    }

    /// Marks a user as a service account (HTTP Basic with the password alone) or not. False
    /// when there is no such user.
    pub async fn set_service(
        &self,
        by: By<'_>,
        user_id: i64,
        service: bool,
    ) -> Result<bool, AccountError> {
        let patch = super::UserPatch {
            service: Some(service),
            ..super::UserPatch::default()
        };
        Ok(self.update_user(by, user_id, patch).await?.is_some())
    }

    /// Reserves a code's try against the user's and the address's lockout.
    async fn reserve_code_try(
        &self,
        user_id: i64,
        ip: &str,
    ) -> Result<(Option<String>, Attempt), AccountError> {
        let (lockout, ip_owned) = (self.lockout.clone(), ip.to_string());
        let reserved = self
            .db
            .run(move |conn| {
                let subject = users::find(conn, user_id)
                    .map_err(DbError::from)?
                    .map(|u| user_subject(&u.username));
                let attempt = match &subject {
                    Some(subject) => lockout.reserve(conn, subject, &ip_owned)?,
                    None => lockout.reserve_ip(conn, &ip_owned)?,
                };
                Ok::<_, Refused>((subject, attempt))
            })
            .await;
        match reserved {
            Ok(reserved) => Ok(reserved),
            Err(Refused::Locked { retry_after }) => Err(Failure::Locked { retry_after }.into()),
            Err(Refused::Db(e)) => Err(e.into()),
        }
    }

    /// Gives a code's try back (it was right, or not checked at all): a code checked outside
    /// a sign-in clears nothing.
    async fn give_code_try_back(&self, subject: &Option<String>, ip: &str) {
        let (lockout, subject, ip) = (self.lockout.clone(), subject.clone(), ip.to_string());
        let result = self
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
}

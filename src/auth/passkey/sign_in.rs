//! A username-less sign-in with a passkey (`auth.passkey_login`): the first and only factor.
//!
//! A passkey that verified its user (a PIN, a fingerprint) and is bound to this origin is
//! phishing-resistant and two factors in itself, so its sign-in is complete. It is throttled
//! like a password: a try is reserved against the client address before the check (refused
//! while the address is locked) and stays counted when the check fails; a completed sign-in
//! gives the address's try back and clears the username's count, like any completed sign-in.
//! The username's own lock does not stop it: that lock answers password guessing, and
//! honouring it here would let anyone who fails passwords for a name keep its owner out.

use chrono::NaiveDateTime;

use super::{PasskeyError, Passkeys, SignInCheck, Started};
use crate::auth::Authenticator;
use crate::auth::lockout::{Refused, user_subject};
use crate::db::models::User;
use crate::db::write_transaction;
use crate::domain::clock::now;
use crate::error::Failure;

/// Why a sign-in could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Refused for a reason safe to show (counted when it was a check).
    #[error(transparent)]
    Refused(#[from] PasskeyError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// A completed sign-in.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    /// When the check passed: the sign-in's credentials date from then.
    pub checked_at: NaiveDateTime,
}

/// Starts a username-less sign-in for the client address `ip` (its lockout key).
pub async fn start(
    auth: &Authenticator,
    passkeys: std::sync::Arc<Passkeys>,
    ip: &str,
) -> Result<Started, SignInError> {
    passkeys.rp()?;
    let ip = ip.to_string();
    let started = auth
        .db
        .run(move |conn| {
            let rp = passkeys.rp()?;
            Ok::<_, PasskeyError>(super::start_sign_in(conn, rp, &ip, now()))
        })
        .await?;
    if let Err(PasskeyError::TooMany) = &started {
        auth.metrics.passkey_challenges_refused.inc();
    }
    Ok(started?)
}

/// Finishes the username-less sign-in `ceremony` with the browser's answer, from the client
/// address `ip` (see the module's notes on the throttle).
pub async fn finish(
    auth: &Authenticator,
    passkeys: std::sync::Arc<Passkeys>,
    ceremony: String,
    credential: String,
    ip: &str,
) -> Result<SignedIn, SignInError> {
    passkeys.rp()?;
    let attempt = {
        let (lockout, ip) = (auth.lockout.clone(), ip.to_string());
        auth.db.run(move |conn| lockout.reserve_ip(conn, &ip)).await
    };
    let attempt = match attempt {
        Ok(attempt) => attempt,
        Err(Refused::Locked { retry_after }) => {
            tracing::info!(target: "audit", event = "passkey_sign_in_locked", ip);
            return Err(Failure::Locked { retry_after }.into());
        }
        Err(Refused::Db(e)) => return Err(Failure::from(e).into()),
    };
    let checked = {
        let ceremony = ceremony.clone();
        auth.db
            .run(move |conn| {
                let rp = passkeys.rp().map_err(|_| {
                    crate::db::DbError::Corrupt("passkeys became unavailable".into())
                })?;
                let at = now();
                write_transaction(conn, |conn| {
                    super::finish_sign_in(conn, rp, &ceremony, &credential, at)
                })
                .map(|check| (check, at))
            })
            .await
    };
    let (check, checked_at) = match checked {
        Ok(found) => found,
        Err(e) => {
            let (lockout, ip) = (auth.lockout.clone(), ip.to_string());
            let _ = auth.db.run(move |conn| lockout.cancel_ip(conn, &ip)).await;
            return Err(Failure::from(e).into());
        }
    };
    match check {
        SignInCheck::Done { user, passkey_id } => {
            let (lockout, subject, ip_owned) = (
                auth.lockout.clone(),
                user_subject(&user.username),
                ip.to_string(),
            );
            auth.db
                .run(move |conn| lockout.succeeded(conn, &subject, &ip_owned))
                .await
                .map_err(Failure::from)?;
            auth.metrics
                .passkey_sign_ins
                .with_label_values(&["ok"])
                .inc();
            auth.metrics.logins.with_label_values(&["ok"]).inc();
            crate::auth::login::count_outcome(auth, true).await;
            tracing::info!(target: "audit", event = "passkey_sign_in_ok", user_id = user.id, passkey_id, ip);
            Ok(SignedIn { user, checked_at })
        }
        SignInCheck::Refused { error, user_id } => {
            auth.metrics
                .passkey_sign_ins
                .with_label_values(&["failed"])
                .inc();
            auth.metrics.logins.with_label_values(&["failed"]).inc();
            crate::auth::login::count_outcome(auth, false).await;
            tracing::info!(target: "audit", event = "passkey_sign_in_failed", reason = ?error, user_id, ip);
            if attempt.locks {
                auth.metrics.lockouts.inc();
                tracing::warn!(target: "audit", event = "lockout", ip);
            }
            Err(error.into())
        }
    }
}

//! The password check shared by every door (form, token endpoint, HTTP Basic): the lockout
//! check, the user look-up, bcrypt on the hashing pool, refusal of disabled users, counting of
//! failures, and the hash upgrade when the cost setting changed.

use super::Authenticator;
use super::lockout::user_subject;
use crate::db::models::User;
use crate::db::{DbError, users};
use crate::domain::{Password, Username};
use crate::error::Failure;
use crate::http::client_ip::ClientAddr;

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

enum Lookup {
    Locked(u64),
    Found(Option<User>),
}

/// Checks a username and password from client `ip`; on success returns the user.
#[tracing::instrument(skip(state, password))]
pub async fn check_password(
    state: &Authenticator,
    username: &str,
    password: Password,
    ip: ClientAddr,
) -> Result<User, LoginError> {
    let subject = user_subject(username);
    let lockout = state.lockout.clone();
    let key = Username::parse(username).ok().map(|name| name.key());
    let lookup = {
        let subject = subject.clone();
        state
            .db
            .run(move |conn| -> Result<Lookup, Failure> {
                if let Some(retry) = lockout.retry_after(conn, &subject, ip)? {
                    return Ok(Lookup::Locked(retry));
                }
                Ok(Lookup::Found(match key {
                    Some(key) => users::find_by_username(conn, &key)?,
                    None => None,
                }))
            })
            .await?
    };
    let user = match lookup {
        Lookup::Locked(retry_after) => {
            state.metrics.logins.with_label_values(&["locked"]).inc();
            tracing::info!(target: "audit", event = "login_locked", username = %username.escape_debug(), %ip);
            return Err(Failure::Locked { retry_after }.into());
        }
        Lookup::Found(user) => user,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    // Always run bcrypt: unknown and disabled users take as long as a wrong password.
    let matched = state
        .hasher
        .verify(password.clone(), hash)
        .await
        .map_err(Failure::from)?;
    let user = match user {
        Some(user) if matched && !user.disabled => user,
        _ => {
            let lockout = state.lockout.clone();
            let subject = subject.clone();
            let locked = state
                .db
                .run(move |conn| lockout.record_failure(conn, &subject, ip))
                .await
                .map_err(Failure::from)?;
            state.metrics.logins.with_label_values(&["failed"]).inc();
            tracing::info!(target: "audit", event = "login_failed", username = %username.escape_debug(), %ip);
            if locked {
                state.metrics.lockouts.inc();
                tracing::warn!(target: "audit", event = "lockout", username = %username.escape_debug(), %ip);
            }
            return Err(LoginError::InvalidCredentials);
        }
    };
    if state.hasher.needs_rehash(&user.password_hash) {
        // Best effort: a failed upgrade must not fail the login.
        match state.hasher.hash(password).await {
            Ok(new_hash) => {
                let id = user.id;
                if let Err(e) = state
                    .db
                    .run(move |conn| {
                        users::set_password_hash(conn, id, &new_hash, false).map_err(DbError::from)
                    })
                    .await
                {
                    tracing::warn!(error = ?e, user_id = id, "could not store the upgraded password hash");
                }
            }
            Err(e) => tracing::warn!(error = ?e, "could not upgrade the password hash"),
        }
    }
    let (id, lockout) = (user.id, state.lockout.clone());
    state
        .db
        .run(move |conn| -> Result<(), Failure> {
            lockout.record_success(conn, &subject)?;
            users::record_login(conn, id)?;
            Ok(())
        })
        .await?;
    state.metrics.logins.with_label_values(&["ok"]).inc();
    tracing::info!(target: "audit", event = "login_ok", user_id = user.id, username = %user.username, %ip);
    Ok(user)
}

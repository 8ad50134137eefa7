//! The password check shared by every way in: look the user up, verify on the hashing pool,
//! refuse disabled users, upgrade the hash when the cost setting changed.

use crate::auth::credentials::{Password, Username};
use crate::auth::password::{HashError, PasswordHasher};
use crate::db::models::User;
use crate::db::{Database, DbError, users};

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled user: callers must not tell them apart.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The hashing queue is full.
    #[error("too many logins at once")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for LoginError {
    fn from(e: DbError) -> Self {
        Self::Unexpected(e.into())
    }
}

impl From<HashError> for LoginError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy,
            other => Self::Unexpected(other.into()),
        }
    }
}

/// Checks a username and password; on success returns the user.
#[tracing::instrument(skip(db, hasher, password))]
pub async fn authenticate(
    db: &Database,
    hasher: &PasswordHasher,
    username: &str,
    password: Password,
) -> Result<User, LoginError> {
    let user = match Username::parse(username) {
        Ok(name) => {
            let key = name.key();
            db.run(move |conn| users::find_by_username(conn, &key).map_err(DbError::from))
                .await?
        }
        Err(_) => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    // Always run bcrypt: unknown and disabled users take as long as a wrong password.
    let matched = hasher.verify(password.clone(), hash).await?;
    let user = match user {
        Some(user) if matched && !user.disabled => user,
        _ => {
            tracing::info!(target: "audit", event = "login_failed", username = %username.escape_debug());
            return Err(LoginError::InvalidCredentials);
        }
    };
    if hasher.needs_rehash(&user.password_hash) {
        // Best effort: a failed upgrade must not fail the login.
        match hasher.hash(password).await {
            Ok(new_hash) => {
                let id = user.id;
                if let Err(e) = db
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
    let id = user.id;
    db.run(move |conn| users::record_login(conn, id).map_err(DbError::from))
        .await?;
    tracing::info!(target: "audit", event = "login_ok", user_id = user.id, username = %user.username);
    Ok(user)
}

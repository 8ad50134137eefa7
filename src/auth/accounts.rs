//! Account changes shared by the web pages, the CLI and (later) the API: creating users,
//! changing passwords, disabling and revoking. Revocation lives here in one place so that every
//! trigger ends the same set of credentials.

use crate::auth::credentials::{Password, Username};
use crate::auth::password::{HashError, PasswordHasher};
use crate::db::models::User;
use crate::db::users::CreateUserError;
use crate::db::{
    AnyConnection, Database, DbError, refresh_tokens, sessions, users, write_transaction,
};

/// Why an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Input that breaks the rules; every reason, ready to show.
    #[error("{}", .0.join(" "))]
    Invalid(Vec<String>),
    #[error("That username is taken.")]
    Taken,
    #[error("Current password is incorrect.")]
    WrongPassword,
    #[error("too many password operations at once")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for AccountError {
    fn from(e: DbError) -> Self {
        Self::Unexpected(e.into())
    }
}

impl From<HashError> for AccountError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy,
            other => Self::Unexpected(other.into()),
        }
    }
}

/// Checks a new username and password together, collecting every problem.
pub fn validate_new_account(
    username: &str,
    password: &Password,
    min_length: usize,
) -> Result<Username, AccountError> {
    let mut problems = Vec::new();
    let name = Username::parse(username).map_err(|p| problems.push(p)).ok();
    if let Err(mut p) = password.check_policy(min_length) {
        problems.append(&mut p);
    }
    match name {
        Some(name) if problems.is_empty() => Ok(name),
        _ => Err(AccountError::Invalid(problems)),
    }
}

/// Creates a user with an already computed hash.
pub fn create_user(
    conn: &mut AnyConnection,
    username: &Username,
    password_hash: &str,
    is_admin: bool,
) -> Result<User, AccountError> {
    users::create(conn, username, password_hash, is_admin).map_err(|e| match e {
        CreateUserError::Taken => AccountError::Taken,
        CreateUserError::Database(e) => AccountError::Unexpected(DbError::from(e).into()),
    })
}

/// Validates, hashes (on the hashing pool) and creates a user.
pub async fn register(
    db: &Database,
    hasher: &PasswordHasher,
    username: &str,
    password: Password,
    min_length: usize,
) -> Result<User, AccountError> {
    let name = validate_new_account(username, &password, min_length)?;
    let hash = hasher.hash(password).await?;
    let user = db
        .run(move |conn| create_user(conn, &name, &hash, false))
        .await?;
    tracing::info!(target: "audit", event = "user_registered", user_id = user.id, username = %user.username);
    Ok(user)
}

/// Ends every session and every refresh-token family of the user; returns how many database
/// sessions were deleted. Callers with a Redis store also call `AnyStore::delete_for_user`.
pub fn revoke_all(conn: &mut AnyConnection, user_id: i64) -> Result<usize, DbError> {
    refresh_tokens::revoke_for_user(conn, user_id, crate::db::users::now())?;
    // Stamped on the user, so that sessions in any store (Redis too) signed in earlier fail.
    users::revoke_sessions(conn, user_id)?;
    Ok(sessions::delete_for_user(conn, user_id)?)
}

/// Stores a new password hash and revokes every credential issued before it, atomically.
pub fn store_new_password(
    conn: &mut AnyConnection,
    user_id: i64,
    password_hash: &str,
) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        users::set_password_hash(conn, user_id, password_hash, true)?;
        revoke_all(conn, user_id)?;
        Ok(())
    })
}

/// Disables or enables a user; disabling revokes every credential.
pub fn set_disabled(
    conn: &mut AnyConnection,
    user_id: i64,
    disabled: bool,
) -> Result<bool, DbError> {
    write_transaction(conn, |conn| {
        let found = users::set_disabled(conn, user_id, disabled)? == 1;
        if found && disabled {
            revoke_all(conn, user_id)?;
        }
        Ok(found)
    })
}

/// Deletes a user and everything issued to them.
pub fn delete_user(conn: &mut AnyConnection, user_id: i64) -> Result<bool, DbError> {
    write_transaction(conn, |conn| {
        revoke_all(conn, user_id)?;
        Ok(users::delete(conn, user_id)? == 1)
    })
}

/// Checks the current password, then sets the new one and revokes all other credentials.
/// The caller renews its own session afterwards.
pub async fn change_password(
    db: &Database,
    hasher: &PasswordHasher,
    user: &User,
    current: Password,
    new: Password,
    min_length: usize,
) -> Result<(), AccountError> {
    if !hasher
        .verify(current, Some(user.password_hash.clone()))
        .await?
    {
        return Err(AccountError::WrongPassword);
    }
    new.check_policy(min_length)
        .map_err(AccountError::Invalid)?;
    let hash = hasher.hash(new).await?;
    let id = user.id;
    db.run(move |conn| store_new_password(conn, id, &hash))
        .await?;
    tracing::info!(target: "audit", event = "password_changed", user_id = id);
    Ok(())
}

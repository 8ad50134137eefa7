//! The account lifecycle, and the one revocation seam.
//!
//! Every change that ends credentials — password change, disable, delete, demotion, sign-out
//! everywhere (by the user or an admin), refresh-token revocation, each CLI `user` command —
//! goes through [`Accounts`]: it commits the database change in one transaction (refresh
//! families revoked, database sessions deleted, the user's revocation time stamped), then
//! [`Accounts::publish`]es the [`Revocation`]. Publishing is the only place that cleans the
//! session store up after a revocation; caches of verified credentials hook in there too.

use crate::auth::lockout;
use crate::auth::password::PasswordHasher;
use crate::auth::token::refresh;
use crate::db::models::User;
use crate::db::users::CreateUserError;
use crate::db::{
    AnyConnection, Database, DbError, refresh_tokens, sessions, users, write_transaction,
};
use crate::domain::clock::now;
use crate::domain::{Password, Username};
use crate::error::Failure;
use crate::session_store::AnyStore;

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
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<DbError> for AccountError {
    fn from(e: DbError) -> Self {
        Self::Failed(e.into())
    }
}

/// Credentials that ended, as published after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Every session, refresh-token family and access token of the user issued so far.
    User { user_id: i64 },
    /// One refresh-token family (RFC 7009 revocation).
    Family { family_id: String, user_id: i64 },
}

/// Account changes for every surface and the CLI; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    db: Database,
    hasher: PasswordHasher,
    sessions: AnyStore,
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

/// Creates a user with an already computed hash (start-up's first admin, tests).
pub fn create_user(
    conn: &mut AnyConnection,
    username: &Username,
    password_hash: &str,
    is_admin: bool,
) -> Result<User, AccountError> {
    users::create(conn, username, password_hash, is_admin).map_err(|e| match e {
        CreateUserError::Taken => AccountError::Taken,
        CreateUserError::Database(e) => AccountError::from(DbError::from(e)),
    })
}

/// Ends every session and refresh-token family of the user, inside the caller's transaction.
fn revoke_all(conn: &mut AnyConnection, user_id: i64) -> Result<(), DbError> {
    refresh_tokens::revoke_for_user(conn, user_id, now())?;
    // Stamped on the user, so that sessions in any store (Redis too) signed in earlier fail.
    users::revoke_sessions(conn, user_id)?;
    sessions::delete_for_user(conn, user_id)?;
    Ok(())
}

impl Accounts {
    pub fn new(db: Database, hasher: PasswordHasher, sessions: AnyStore) -> Self {
        Self {
            db,
            hasher,
            sessions,
        }
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Publishes a committed revocation: the session store forgets what the database no
    /// longer vouches for. Best effort: the revocation stamp on the user already makes those
    /// sessions worthless on every instance.
    async fn publish(&self, revocation: Revocation) {
        tracing::debug!(?revocation, "revocation published");
        if let Revocation::User { user_id } = revocation
            && let Err(e) = self.sessions.forget_revoked_user(user_id).await
        {
            tracing::warn!(error = ?e, user_id, "could not delete the user's sessions from the store");
        }
    }

    /// Runs `change` in one write transaction; when it reports a user whose credentials it
    /// ended, publishes that after the commit.
    async fn commit<T, F>(&self, change: F) -> Result<T, AccountError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<(T, Option<Revocation>), DbError> + Send + 'static,
        T: Send + 'static,
    {
        let (value, revocation) = self
            .db
            .run(move |conn| write_transaction(conn, change))
            .await?;
        if let Some(revocation) = revocation {
            self.publish(revocation).await;
        }
        Ok(value)
    }

    /// Validates, hashes (on the hashing pool) and creates a user.
    pub async fn register(
        &self,
        username: &str,
        password: Password,
        min_length: usize,
    ) -> Result<User, AccountError> {
        let name = validate_new_account(username, &password, min_length)?;
        self.create(name, password, false).await
    }

    /// Hashes (on the pool) and creates a user whose password already passed the policy.
    pub async fn create(
        &self,
        name: Username,
        password: Password,
        is_admin: bool,
    ) -> Result<User, AccountError> {
        let hash = self.hasher.hash(password).await.map_err(Failure::from)?;
        let user = self
            .db
            .run(move |conn| create_user(conn, &name, &hash, is_admin))
            .await?;
        tracing::info!(target: "audit", event = "user_created", user_id = user.id, username = %user.username, admin = is_admin);
        Ok(user)
    }

    /// Checks the current password, then sets the new one and revokes every credential of the
    /// user. The caller carries its own session over afterwards.
    pub async fn change_password(
        &self,
        user: &User,
        current: Password,
        new: Password,
        min_length: usize,
    ) -> Result<(), AccountError> {
        let matched = self
            .hasher
            .verify(current, Some(user.password_hash.clone()))
            .await
            .map_err(Failure::from)?;
        if !matched {
            return Err(AccountError::WrongPassword);
        }
        self.set_password(user.id, new, min_length).await?;
        Ok(())
    }

    /// Sets a new password (policy checked, hashed on the pool) and revokes every credential
    /// issued before it; false when there is no such user.
    pub async fn set_password(
        &self,
        user_id: i64,
        new: Password,
        min_length: usize,
    ) -> Result<bool, AccountError> {
        new.check_policy(min_length)
            .map_err(AccountError::Invalid)?;
        let hash = self.hasher.hash(new).await.map_err(Failure::from)?;
        let found = self
            .commit(move |conn| {
                let found = users::set_password_hash(conn, user_id, &hash, true)? == 1;
                if found {
                    revoke_all(conn, user_id)?;
                }
                Ok((found, found.then_some(Revocation::User { user_id })))
            })
            .await?;
        if found {
            tracing::info!(target: "audit", event = "password_changed", user_id);
        }
        Ok(found)
    }

    /// Disables (revoking every credential) or enables a user; false when there is no such user.
    pub async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<bool, AccountError> {
        self.commit(move |conn| {
            let found = users::set_disabled(conn, user_id, disabled)? == 1;
            let ends = found && disabled;
            if ends {
                revoke_all(conn, user_id)?;
            }
            Ok((found, ends.then_some(Revocation::User { user_id })))
        })
        .await
    }

    /// Grants or revokes the admin role; a demotion ends every credential of the user, since
    /// access tokens carry the roles they were issued with.
    pub async fn set_admin(&self, user_id: i64, is_admin: bool) -> Result<bool, AccountError> {
        self.commit(move |conn| {
            let found = users::set_admin(conn, user_id, is_admin)? == 1;
            let ends = found && !is_admin;
            if ends {
                revoke_all(conn, user_id)?;
            }
            Ok((found, ends.then_some(Revocation::User { user_id })))
        })
        .await
    }

    /// Deletes a user and everything issued to them; false when there is no such user.
    pub async fn delete(&self, user_id: i64) -> Result<bool, AccountError> {
        self.commit(move |conn| {
            revoke_all(conn, user_id)?;
            let found = users::delete(conn, user_id)? == 1;
            Ok((found, found.then_some(Revocation::User { user_id })))
        })
        .await
    }

    /// Ends every session and refresh-token family of the user (and so every access token
    /// issued from them).
    pub async fn sign_out_everywhere(&self, user_id: i64) -> Result<(), AccountError> {
        self.commit(move |conn| {
            revoke_all(conn, user_id)?;
            Ok(((), Some(Revocation::User { user_id })))
        })
        .await?;
        tracing::info!(target: "audit", event = "logout_all", user_id);
        Ok(())
    }

    /// Revokes the family of a presented refresh token (RFC 7009); unknown tokens are ignored.
    pub async fn revoke_refresh_token(&self, presented: String) -> Result<(), AccountError> {
        // `refresh::revoke` is its own write transaction.
        let ended = self
            .db
            .run(move |conn| refresh::revoke(conn, &presented))
            .await?;
        if let Some((family_id, user_id)) = ended {
            self.publish(Revocation::Family { family_id, user_id })
                .await;
        }
        Ok(())
    }

    /// Ends one of the user's own sessions (from `/account`); false when the user has no such
    /// session.
    pub async fn end_session(&self, user_id: i64, session_id: &str) -> Result<bool, AccountError> {
        self.sessions
            .end_for_user(user_id, session_id)
            .await
            .map_err(|e| AccountError::Failed(Failure::Unexpected(e)))
    }

    /// Lifts the lock and count of a username; false when it was not locked.
    pub async fn unlock(&self, username: String) -> Result<bool, AccountError> {
        Ok(self
            .db
            .run(move |conn| lockout::unlock_user(conn, &username))
            .await?)
    }
}

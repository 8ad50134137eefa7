//! Password-reset links, through the one revocation seam.
//!
//! An administrator (or the operator at the command line) issues a link for a user: every
//! session, refresh family and access token of the user ends at once, and any earlier link of
//! the user is replaced. The link carries 256 random bits; only their SHA-256 is stored. It
//! works once, for [`RESET_LIFETIME`]: setting the password marks it used by a compare-and-swap
//! in the same transaction that writes the hash, and ends every credential of the user again.

use chrono::NaiveDateTime;

use super::{AccountError, Accounts, By, revoke_all};
use crate::auth::lockout::Refused;
use crate::auth::token::refresh::HashedToken;
use crate::db::changes::Change;
use crate::db::password_resets::{self, ResetRow};
use crate::db::users;
use crate::domain::clock::now;
use crate::domain::{Password, PasswordPolicy, random_token};
use crate::error::Failure;

/// How long a reset link works.
pub const RESET_LIFETIME: chrono::Duration = chrono::Duration::minutes(30);

/// A link just issued: the token (shown once, never stored) and when it stops working.
pub struct IssuedReset {
    pub token: String,
    pub user_id: i64,
    pub username: String,
    pub expires_at: NaiveDateTime,
}

impl std::fmt::Debug for IssuedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedReset")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a reset link did not set a password.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Unknown, used, replaced or expired: the same answer for each, and nothing about the user.
    #[error(
        "This reset link is not valid: it was already used, replaced by a newer one, or has expired."
    )]
    Gone,
    /// The new password breaks the policy; every reason, ready to show.
    #[error("{}", .0.join(" "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<AccountError> for ResetError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(problems) => Self::Invalid(problems),
            // zxcvbn's verdict, warning and suggestions, each a sentence to show.
            AccountError::Guessable(feedback) => Self::Invalid(feedback.messages()),
            AccountError::Failed(f) => Self::Failed(f),
            other => Self::Failed(Failure::Unexpected(anyhow::anyhow!("{other}"))),
        }
    }
}

impl Accounts {
    /// Issues a reset link for `user_id` (`None`: no such user). Ends every credential of the
    /// user and replaces their earlier link, in one transaction.
    pub async fn issue_reset_link(
        &self,
        by: By<'_>,
        user_id: i64,
    ) -> Result<Option<IssuedReset>, AccountError> {
        let by_id = by.id();
        let caller = by.caller();
        let token = random_token(32);
        let hash = HashedToken::of(&token);
        let issued = self
            .commit(move |conn| {
                let Some(target) = Self::authorize(conn, caller.as_ref(), user_id)? else {
                    return Ok((None, None));
                };
                let created_at = now();
                let expires_at = created_at + RESET_LIFETIME;
                password_resets::replace(
                    conn,
                    &ResetRow {
                        token_hash: hash.as_str().to_string(),
                        user_id,
                        created_at,
                        expires_at,
                        used_at: None,
                    },
                )?;
                revoke_all(conn, user_id)?;
                Ok((
                    Some((target.username, expires_at)),
                    Some(Change::UserRevoked { user_id }),
                ))
            })
            .await?;
        let Some((username, expires_at)) = issued else {
            return Ok(None);
        };
        match by_id {
            Some(admin_id) => {
                tracing::info!(target: "audit", event = "password_reset_issued", user_id, by = admin_id);
            }
            None => {
                tracing::info!(target: "audit", event = "password_reset_issued", user_id, by = "operator");
            }
        }
        Ok(Some(IssuedReset {
            token,
            user_id,
            username,
            expires_at,
        }))
    }

    /// The user a live (unused, unexpired) link belongs to, for the reset form; `None`
    /// otherwise. Reads only.
    pub async fn reset_link_user(&self, token: &str) -> Result<Option<String>, AccountError> {
        let hash = HashedToken::of(token);
        let found = self
            .db
            .run(move |conn| -> Result<_, AccountError> {
                let Some(row) = password_resets::find(conn, hash.as_str())? else {
                    return Ok(None);
                };
                if row.used_at.is_some() || row.expires_at <= now() {
                    return Ok(None);
                }
                Ok(users::find(conn, row.user_id)?.map(|u| u.username))
            })
            .await?;
        Ok(found)
    }

    /// Sets a new password with a reset link from the client address `ip` (its lockout key):
    /// a refused link counts as a failed try of the address. The policy is checked and the
    /// hash computed (on the pool) first; then, in one transaction, the link is used by a
    /// compare-and-swap (unused and unexpired), the password written and every credential of
    /// the user ended.
    pub async fn reset_password(
        &self,
        token: &str,
        new: Password,
        policy: PasswordPolicy,
        ip: &str,
    ) -> Result<String, ResetError> {
        let (lockout, key) = (self.lockout.clone(), ip.to_string());
        match self
            .db
            .run(move |conn| lockout.reserve_ip(conn, &key))
            .await
        {
            Ok(_) => {}
            Err(Refused::Locked { retry_after }) => {
                return Err(Failure::Locked { retry_after }.into());
            }
            Err(Refused::Db(e)) => return Err(Failure::from(e).into()),
        }
        let result = self.reset_password_counted(token, new, policy).await;
        if !matches!(result, Err(ResetError::Gone)) {
            // Only a refused link is a guess; give the try back otherwise.
            let (lockout, key) = (self.lockout.clone(), ip.to_string());
            if let Err(e) = self.db.run(move |conn| lockout.cancel_ip(conn, &key)).await {
                tracing::warn!(error = ?e, "could not give a try back");
            }
        }
        result
    }

    async fn reset_password_counted(
        &self,
        token: &str,
        new: Password,
        policy: PasswordPolicy,
    ) -> Result<String, ResetError> {
        // Checked first, so that a dead link costs no bcrypt and a policy error is shown
        // only to the holder of a live one.
        let Some(username) = self.reset_link_user(token).await? else {
            return Err(ResetError::Gone);
        };
        self.check_new_password(&new, &username, policy).await?;
        let hash = self.hasher.hash(new).await.map_err(Failure::from)?;
        let token_hash = HashedToken::of(token);
        let user_id = self
            .commit(move |conn| {
                let Some(row) = password_resets::find(conn, token_hash.as_str())? else {
                    return Ok((None, None));
                };
                if password_resets::use_once(conn, token_hash.as_str(), now())? != 1 {
                    return Ok((None, None));
                }
                let user_id = row.user_id;
                if users::replace_password(conn, user_id, None, &hash)? != 1 {
                    return Ok((None, None));
                }
                revoke_all(conn, user_id)?;
                Ok((Some(user_id), Some(Change::UserRevoked { user_id })))
            })
            .await?;
        let Some(user_id) = user_id else {
            return Err(ResetError::Gone);
        };
        tracing::info!(target: "audit", event = "password_reset_used", user_id, by = "link");
        Ok(username)
    }
}

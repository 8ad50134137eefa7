//! The account lifecycle, and the one revocation seam.
//!
//! Every change that ends credentials — password change, disable, delete, demotion, sign-out
//! everywhere (by the user or an admin), refresh-token revocation, each CLI `user` command —
//! goes through [`Accounts`]: it commits the database change in one transaction (refresh
//! families revoked, database sessions deleted, the user's revocation time stamped, and the
//! [`Change`] recorded in the change feed for the other instances), then
//! [`Accounts::publish`]es it: this instance's caches drop what it names at once, and the
//! session store is cleaned up. Changes that alter what is cached about a user without ending
//! anything (promotion, re-enabling) go the same way.

mod mfa;
mod passkeys;
mod resets;

pub use self::mfa::{Enroller, Keep, Reauth, Started};
pub use self::resets::{IssuedReset, RESET_LIFETIME, ResetError};

use crate::auth::lockout::{self, Lockout, Refused};
use crate::auth::login::{LoginError, check_password};
use crate::auth::mfa::{Door, SignInPolicy};
use crate::auth::passkey::PasskeyError;
use crate::auth::password::{PasswordHasher, Refusal, StrengthFeedback, user_inputs};
use crate::auth::strategy::session::is_current;
use crate::auth::token::refresh::{self, Rotation};
use crate::auth::{Authenticated, Authenticator, Credential};
use crate::config::RequireMfa;
use crate::db::changes::{self, Change};
use crate::db::models::User;
use crate::db::users::CreateUserError;
use crate::db::{
    AnyConnection, Database, DbError, refresh_tokens, sessions, users, write_transaction,
};
use crate::domain::clock::now;
use crate::domain::{Password, PasswordPolicy, Username};
use crate::error::Failure;
use crate::feed::Feed;
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
    /// A new password below `password.min_score`, with zxcvbn's advice.
    #[error("{}", .0.messages().join(" "))]
    Guessable(StrengthFeedback),
    /// The new password is the current one (checked once the current one is verified).
    #[error("The new password must be different from the current one.")]
    SamePassword,
    /// The caller's own credential ended (or the caller was disabled) while the request was
    /// in flight: nothing was changed.
    #[error("Your sign-in has ended; sign in again.")]
    CallerRevoked,
    /// The caller is no longer an administrator: nothing was changed.
    #[error("You are no longer an administrator.")]
    NotAdmin,
    /// The change would leave no enabled administrator.
    #[error("The last enabled administrator cannot be disabled, demoted or deleted.")]
    LastAdmin,
    /// The change needs the current password (the sign-in is more than 10 minutes old).
    #[error("Enter your current password: your sign-in is more than 10 minutes old.")]
    ReauthRequired,
    /// A TOTP code that does not match (or was already used).
    #[error("The code is wrong or was already used.")]
    WrongCode,
    /// TOTP is already on: it must be removed before enrolling again.
    #[error("Two-factor authentication is already on; remove it first to enrol again.")]
    AlreadyEnrolled,
    /// No enrolment to confirm (never started, or started more than 15 minutes ago).
    #[error("No TOTP enrolment is waiting for confirmation; start again.")]
    NoEnrolment,
    /// The user has no second factor to remove or regenerate codes for.
    #[error("Two-factor authentication is not on.")]
    NoFactor,
    /// A passkey change refused for its input (the message says why).
    #[error(transparent)]
    Passkey(PasskeyError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<PasskeyError> for AccountError {
    fn from(e: PasskeyError) -> Self {
        match e {
            PasskeyError::Db(e) => Self::from(e),
            other => Self::Passkey(other),
        }
    }
}

impl From<DbError> for AccountError {
    fn from(e: DbError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        Self::from(DbError::from(e))
    }
}

/// Flags an administrator may change on a user (`PATCH /api/users/{id}`, the admin page);
/// `None` leaves a flag as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub admin: Option<bool>,
    #[serde(default)]
    pub service: Option<bool>,
}

impl UserPatch {
    /// Whether the patch changes nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl By<'_> {
    /// The administrator's user id, for audit lines (`None`: the operator).
    pub fn id(self) -> Option<i64> {
        match self {
            Self::Operator => None,
            Self::Admin(caller) => Some(caller.user.id),
        }
    }

    /// An owned copy of the caller, to move into a blocking transaction.
    fn caller(self) -> Option<Authenticated> {
        match self {
            Self::Operator => None,
            Self::Admin(caller) => Some(caller.clone()),
        }
    }
}

/// Account changes for every surface and the CLI; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    db: Database,
    hasher: PasswordHasher,
    sessions: AnyStore,
    lockout: Lockout,
    feed: Feed,
}

/// Who asks for an admin change: an operator at the command line, or an administrator whose
/// credential is checked again inside the change's transaction.
#[derive(Clone, Copy)]
pub enum By<'a> {
    Operator,
    Admin(&'a Authenticated),
}

/// Inside a write's transaction: whether the caller's credential still stands (the user
/// enabled, the session not revoked, the token's password and family current), and, with
/// `need_admin`, whether the caller is still an administrator. A request that was in flight
/// during a revocation fails here, whatever its extractor saw before the body arrived.
fn check_caller(
    conn: &mut AnyConnection,
    caller: &Authenticated,
    need_admin: bool,
) -> Result<(), AccountError> {
    if need_admin {
        users::lock_admin_changes(conn)?;
    }
    let Some(fresh) = users::find(conn, caller.user.id)? else {
        return Err(AccountError::CallerRevoked);
    };
    let fresh = fresh.state();
    let holds = !fresh.disabled
        && match &caller.credential {
            Credential::Session { login_at } => is_current(Some(*login_at), &fresh),
            Credential::Bearer(claims) => {
                claims.pwd_at == fresh.password_marker()
                    && refresh_tokens::family_live(conn, &claims.sid)?
            }
            Credential::Basic => true,
        };
    if !holds {
        return Err(AccountError::CallerRevoked);
    }
    if need_admin && !fresh.is_admin {
        return Err(AccountError::NotAdmin);
    }
    Ok(())
}

/// Inside a write's transaction: refuses a change that would leave no enabled administrator
/// when `target` is one of them.
fn keep_an_admin(conn: &mut AnyConnection, target: &User) -> Result<(), AccountError> {
    users::lock_admin_changes(conn)?;
    // Read again under the lock: the row read before it may be stale.
    let Some(target) = users::find(conn, target.id)? else {
        return Ok(());
    };
    if target.is_admin && !target.disabled && users::count_enabled_admins(conn)? <= 1 {
        return Err(AccountError::LastAdmin);
    }
    Ok(())
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

/// What changing a user's flags means for the caches: an end of every credential, or only new
/// facts.
fn user_change(user_id: i64, revoked: bool) -> Change {
    if revoked {
        Change::UserRevoked { user_id }
    } else {
        Change::UserChanged { user_id }
    }
}

impl Accounts {
    pub fn new(
        db: Database,
        hasher: PasswordHasher,
        sessions: AnyStore,
        lockout: Lockout,
        feed: Feed,
    ) -> Self {
        Self {
            db,
            hasher,
            sessions,
            lockout,
            feed,
        }
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Publishes a committed change: this instance's caches drop what it names (the other
    /// instances read it from the feed), and the session store forgets what the database no
    /// longer vouches for. The store clean-up is best effort: the revocation stamp on the user
    /// already makes those sessions worthless on every instance.
    async fn publish(&self, change: Change) {
        tracing::debug!(?change, "change published");
        self.feed.publish(&change);
        if let Change::UserRevoked { user_id } = change
            && let Err(e) = self.sessions.forget_revoked_user(user_id).await
        {
            tracing::warn!(error = ?e, user_id, "could not delete the user's sessions from the store");
        }
    }

    /// Publishes changes that another module committed (and recorded in the feed) in its own
    /// transaction: the OpenID Connect provider's code replays, grant revocations and client
    /// deletions end refresh-token families this way.
    pub async fn publish_all(&self, changes: Vec<Change>) {
        for change in changes {
            self.publish(change).await;
        }
    }

    /// Runs `change` in one write transaction; when it reports a [`Change`], records that in
    /// the feed inside the same transaction and publishes it after the commit.
    async fn commit<T, F>(&self, change: F) -> Result<T, AccountError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<(T, Option<Change>), AccountError> + Send + 'static,
        T: Send + 'static,
    {
        self.commit_all(move |conn| {
            change(conn).map(|(value, change)| (value, change.into_iter().collect()))
        })
        .await
    }

    /// As [`Accounts::commit`], for a change that reports several [`Change`]s: recorded and
    /// published in their order.
    async fn commit_all<T, F>(&self, change: F) -> Result<T, AccountError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<(T, Vec<Change>), AccountError> + Send + 'static,
        T: Send + 'static,
    {
        let (value, made) = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let (value, made) = change(conn)?;
                    for one in &made {
                        changes::record(conn, one)?;
                    }
                    Ok::<_, AccountError>((value, made))
                })
            })
            .await?;
        for one in made {
            self.publish(one).await;
        }
        Ok(value)
    }

    /// Self-service sign-up from the client address `ip` (its lockout key): counted against
    /// `lockout.max_registrations_per_ip` whatever the outcome (429 past it), then validated,
    /// hashed on the pool (a taken name too, so it costs the same) and created.
    pub async fn register(
        &self,
        username: &str,
        password: Password,
        policy: PasswordPolicy,
        ip: &str,
    ) -> Result<User, AccountError> {
        let (lockout, key) = (self.lockout.clone(), ip.to_string());
        match self
            .db
            .run(move |conn| lockout.reserve_registration(conn, &key))
            .await
        {
            Ok(()) => {}
            Err(Refused::Locked { retry_after }) => {
                tracing::info!(target: "audit", event = "registration_throttled", ip);
                return Err(Failure::Locked { retry_after }.into());
            }
            Err(Refused::Db(e)) => return Err(e.into()),
        }
        let name = validate_new_account(username, &password, policy.min_length)?;
        self.create(name, password, false, policy).await
    }

    /// Checks a new password against `policy` (length, then zxcvbn with the username as a
    /// likely guess; see `auth::password::check_new_password`) on the hashing pool. Every
    /// path that sets a password calls it; a page that sets one (password reset) can too.
    pub async fn check_new_password(
        &self,
        password: &Password,
        username: &str,
        policy: PasswordPolicy,
    ) -> Result<(), AccountError> {
        match self
            .hasher
            .check_new(password, policy, user_inputs(username))
            .await
            .map_err(Failure::from)?
        {
            Ok(()) => Ok(()),
            Err(Refusal::Invalid(problems)) => Err(AccountError::Invalid(problems)),
            Err(Refusal::Guessable(feedback)) => Err(AccountError::Guessable(feedback)),
        }
    }

    /// Checks the password against `policy`, hashes it (on the pool) and creates a user.
    pub async fn create(
        &self,
        name: Username,
        password: Password,
        is_admin: bool,
        policy: PasswordPolicy,
    ) -> Result<User, AccountError> {
        self.create_by(By::Operator, name, password, is_admin, false, policy)
            .await
    }

    /// As [`Accounts::create`], by an operator or an administrator (checked again inside the
    /// transaction), optionally as a service account.
    pub async fn create_by(
        &self,
        by: By<'_>,
        name: Username,
        password: Password,
        is_admin: bool,
        service: bool,
        policy: PasswordPolicy,
    ) -> Result<User, AccountError> {
        self.check_new_password(&password, name.as_str(), policy)
            .await?;
        let hash = self.hasher.hash(password).await.map_err(Failure::from)?;
        let by = by.caller();
        let user = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if let Some(caller) = &by {
                        check_caller(conn, caller, true)?;
                    }
                    let mut user = create_user(conn, &name, &hash, is_admin)?;
                    if service {
                        users::set_service(conn, user.id, true)?;
                        user.service = true;
                    }
                    Ok::<_, AccountError>(user)
                })
            })
            .await?;
        tracing::info!(target: "audit", event = "user_created", user_id = user.id, username = %user.username, admin = is_admin, service);
        Ok(user)
    }

    /// A signed-in user changes their own password. The current password goes through the
    /// password check of every door (counted against the lockout before bcrypt); then, in
    /// one transaction, the caller's credential is checked again and the new hash is written
    /// only if the password has not changed since the check; every credential of the user
    /// ends. The caller carries its own session over afterwards.
    pub async fn change_password(
        &self,
        auth: &Authenticator,
        caller: &Authenticated,
        current: Password,
        new: Password,
        policy: PasswordPolicy,
        ip: &str,
    ) -> Result<(), AccountError> {
        self.check_new_password(&new, &caller.user.username, policy)
            .await?;
        // Compared once the current password is verified: equal to it, the new one is the
        // password in force (and a wrong current password is still counted as one).
        let same = new.expose() == current.expose();
        let sign_in = SignInPolicy::new(Door::Reauth, RequireMfa::None);
        let verified = match check_password(auth, &caller.user.username, current, ip, sign_in).await
        {
            Ok(verified) if verified.user.id == caller.user.id => verified,
            Ok(_) | Err(LoginError::InvalidCredentials) => {
                return Err(AccountError::WrongPassword);
            }
            Err(LoginError::Failed(failure)) => return Err(failure.into()),
        };
        if same {
            return Err(AccountError::SamePassword);
        }
        let hash = self.hasher.hash(new).await.map_err(Failure::from)?;
        let (caller, user_id) = (caller.clone(), verified.user.id);
        let unchanged_since = verified.user.password_changed_at;
        self.commit(move |conn| {
            check_caller(conn, &caller, false)?;
            if users::replace_password(conn, user_id, Some(unchanged_since), &hash)? != 1 {
                // Changed by someone else since the check: the current password is not
                // the one that was typed any more.
                return Err(AccountError::WrongPassword);
            }
            revoke_all(conn, user_id)?;
            Ok(((), Some(Change::UserRevoked { user_id })))
        })
        .await?;
        tracing::info!(target: "audit", event = "password_changed", user_id);
        Ok(())
    }

    /// An operator sets a user's password (policy checked, hashed on the pool); every
    /// credential issued before it ends. False when there is no such user.
    pub async fn set_password(
        &self,
        user_id: i64,
        new: Password,
        policy: PasswordPolicy,
    ) -> Result<bool, AccountError> {
        let Some(user) = self
            .db
            .run(move |conn| users::find(conn, user_id).map_err(AccountError::from))
            .await?
        else {
            return Ok(false);
        };
        self.check_new_password(&new, &user.username, policy)
            .await?;
        let hash = self.hasher.hash(new).await.map_err(Failure::from)?;
        let found = self
            .commit(move |conn| {
                let found = users::replace_password(conn, user_id, None, &hash)? == 1;
                if found {
                    revoke_all(conn, user_id)?;
                }
                Ok((found, found.then_some(Change::UserRevoked { user_id })))
            })
            .await?;
        if found {
            tracing::info!(target: "audit", event = "password_changed", user_id);
        }
        Ok(found)
    }

    /// Checks the caller (when an admin) and loads the target, inside the transaction.
    fn authorize(
        conn: &mut AnyConnection,
        by: Option<&Authenticated>,
        user_id: i64,
    ) -> Result<Option<User>, AccountError> {
        if let Some(caller) = by {
            check_caller(conn, caller, true)?;
        }
        Ok(users::find(conn, user_id)?)
    }

    /// Changes a user's flags in one transaction (`None` leaves a flag as it is); `None` when
    /// there is no such user, else the user as stored afterwards. Disabling or demoting ends
    /// every credential of the user (access tokens carry the roles they were issued with) and
    /// is refused when it would leave no enabled administrator.
    pub async fn update_user(
        &self,
        by: By<'_>,
        user_id: i64,
        patch: UserPatch,
    ) -> Result<Option<User>, AccountError> {
        let caller = by.caller();
        let updated = self
            .commit(move |conn| {
                let Some(target) = Self::authorize(conn, caller.as_ref(), user_id)? else {
                    return Ok((None, None));
                };
                let revokes = patch.disabled == Some(true) || patch.admin == Some(false);
                if revokes {
                    keep_an_admin(conn, &target)?;
                }
                if let Some(disabled) = patch.disabled {
                    users::set_disabled(conn, user_id, disabled)?;
                }
                if let Some(is_admin) = patch.admin {
                    users::set_admin(conn, user_id, is_admin)?;
                }
                if let Some(service) = patch.service {
                    users::set_service(conn, user_id, service)?;
                }
                if revokes {
                    revoke_all(conn, user_id)?;
                }
                let user = users::find(conn, user_id)?;
                Ok((user, Some(user_change(user_id, revokes))))
            })
            .await?;
        if updated.is_some() {
            tracing::info!(target: "audit", event = "user_updated", user_id, by = ?by.id(), disabled = ?patch.disabled, admin = ?patch.admin, service = ?patch.service);
        }
        Ok(updated)
    }

    /// Disables (revoking every credential) or enables a user; false when there is no such user.
    pub async fn set_disabled(
        &self,
        by: By<'_>,
        user_id: i64,
        disabled: bool,
    ) -> Result<bool, AccountError> {
        let patch = UserPatch {
            disabled: Some(disabled),
            ..UserPatch::default()
        };
        Ok(self.update_user(by, user_id, patch).await?.is_some())
    }

    /// Grants or revokes the admin role; a demotion ends every credential of the user, since
    /// access tokens carry the roles they were issued with.
    pub async fn set_admin(
        &self,
        by: By<'_>,
        user_id: i64,
        is_admin: bool,
    ) -> Result<bool, AccountError> {
        let patch = UserPatch {
            admin: Some(is_admin),
            ..UserPatch::default()
        };
        Ok(self.update_user(by, user_id, patch).await?.is_some())
    }

    /// Deletes a user and everything issued to them; false when there is no such user.
    pub async fn delete(&self, by: By<'_>, user_id: i64) -> Result<bool, AccountError> {
        let caller = by.caller();
        let found = self
            .commit(move |conn| {
                let Some(target) = Self::authorize(conn, caller.as_ref(), user_id)? else {
                    return Ok((false, None));
                };
                keep_an_admin(conn, &target)?;
                revoke_all(conn, user_id)?;
                let found = users::delete(conn, user_id)? == 1;
                Ok((found, found.then_some(Change::UserRevoked { user_id })))
            })
            .await?;
        if found {
            tracing::info!(target: "audit", event = "user_deleted", user_id, by = ?by.id());
        }
        Ok(found)
    }

    /// Ends every session and refresh-token family of the user (and so every access token
    /// issued from them): the user's own choice (`By::Operator` stands for the user acting on
    /// themselves too), or an administrator's.
    pub async fn sign_out_everywhere(&self, by: By<'_>, user_id: i64) -> Result<(), AccountError> {
        let by = by.caller();
        self.commit(move |conn| {
            if let Some(caller) = &by {
                check_caller(conn, caller, true)?;
            }
            revoke_all(conn, user_id)?;
            Ok(((), Some(Change::UserRevoked { user_id })))
        })
        .await?;
        tracing::info!(target: "audit", event = "logout_all", user_id);
        Ok(())
    }

    /// Revokes the family of a presented refresh token (RFC 7009); unknown tokens are ignored.
    pub async fn revoke_refresh_token(&self, presented: String) -> Result<(), AccountError> {
        // `refresh::revoke` is its own write transaction, and records the change.
        let ended = self
            .db
            .run(move |conn| refresh::revoke(conn, &presented))
            .await?;
        if let Some(change) = ended {
            self.publish(change).await;
        }
        Ok(())
    }

    /// Uses a refresh token once (`refresh::rotate`, its own write transaction); a family it
    /// ends (reuse, or a user revoked since its sign-in) is published after the commit.
    pub async fn rotate_refresh_token(
        &self,
        presented: String,
        policy: refresh::RefreshPolicy,
    ) -> Result<Rotation, AccountError> {
        let (rotation, ended) = self
            .db
            .run(move |conn| refresh::rotate(conn, &presented, policy))
            .await?;
        if let Some(change) = ended {
            self.publish(change).await;
        }
        Ok(rotation)
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
    pub async fn unlock(&self, by: By<'_>, username: String) -> Result<bool, AccountError> {
        let by = by.caller();
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if let Some(caller) = &by {
                        check_caller(conn, caller, true)?;
                    }
                    Ok(lockout::unlock_user(conn, &username)?)
                })
            })
            .await
    }

    /// The user's live refresh-token families (API sign-ins), newest first: one row each, the
    /// family's current token.
    pub async fn refresh_families(
        &self,
        user_id: i64,
    ) -> Result<Vec<crate::db::models::RefreshTokenRow>, AccountError> {
        self.db
            .run(move |conn| {
                refresh_tokens::live_of_user(conn, user_id, now()).map_err(AccountError::from)
            })
            .await
    }

    /// Ends one of the user's own refresh-token families (and the access tokens issued from
    /// it); false when the user has no live family of that id.
    pub async fn revoke_own_family(
        &self,
        user_id: i64,
        family_id: String,
    ) -> Result<bool, AccountError> {
        let ended = self
            .db
            .run(move |conn| refresh::revoke_family_of_user(conn, user_id, &family_id))
            .await?;
        let found = ended.is_some();
        if let Some(change) = ended {
            self.publish(change).await;
        }
        Ok(found)
    }
}

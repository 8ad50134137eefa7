//! Passkey changes of an account: registering a named passkey, and removing one.
//!
//! Registering needs what enrolling TOTP needs (the current password or a sign-in within the
//! last 10 minutes) and ends nothing. Removing one needs the same and, like removing TOTP,
//! ends the user's *other* sessions and refresh families through the revocation seam (a
//! passkey that was lost or stolen may have signed someone in); the caller's credential stays.
//! Each write checks the caller again inside its transaction.

use super::mfa::{Keep, Reauth, revoke_all_but};
use super::{AccountError, Accounts, check_caller};
use crate::auth::passkey::{self, PasskeyError, Registered, Started};
use crate::auth::{Authenticated, Authenticator};
use crate::db::passkeys as rows;
use crate::domain::clock::now;

impl Accounts {
    /// Starts registering a passkey named `name` for the caller; `resident` asks the
    /// authenticator for a discoverable credential (`auth.passkey_login`). Returns the options
    /// for `navigator.credentials.create` and the ceremony id to send back.
    pub async fn start_passkey_registration(
        &self,
        auth: &Authenticator,
        caller: &Authenticated,
        reauth: Reauth,
        name: String,
        resident: bool,
        ip: &str,
    ) -> Result<Started, AccountError> {
        auth.passkeys.rp()?;
        passkey::parse_name(&name)?;
        self.reauthenticate(auth, caller, reauth, ip).await?;
        let (caller, passkeys) = (caller.clone(), auth.passkeys.clone());
        let started = self
            .commit(move |conn| {
                check_caller(conn, &caller, false)?;
                let user = crate::db::users::find(conn, caller.user.id)?
                    .ok_or(AccountError::CallerRevoked)?;
                let started = passkey::start_registration(
                    conn,
                    passkeys.rp()?,
                    &user,
                    &name,
                    resident,
                    now(),
                );
                Ok((started, None))
            })
            .await?;
        if let Err(PasskeyError::TooMany) = &started {
            auth.metrics.passkey_challenges_refused.inc();
        }
        Ok(started?)
    }

    /// Finishes the caller's registration `ceremony` with the browser's answer. The ceremony
    /// is used up whatever the outcome.
    pub async fn finish_passkey_registration(
        &self,
        auth: &Authenticator,
        caller: &Authenticated,
        ceremony: String,
        credential: String,
    ) -> Result<Registered, AccountError> {
        auth.passkeys.rp()?;
        let (caller, passkeys) = (caller.clone(), auth.passkeys.clone());
        let user_id = caller.user.id;
        let outcome = self
            .commit(move |conn| {
                check_caller(conn, &caller, false)?;
                let outcome = passkey::finish_registration(
                    conn,
                    passkeys.rp()?,
                    user_id,
                    &ceremony,
                    &credential,
                    now(),
                )?;
                Ok((outcome, None))
            })
            .await?;
        match &outcome {
            Ok(registered) => {
                auth.metrics.passkey_registrations.inc();
                tracing::info!(target: "audit", event = "passkey_registered", user_id, discoverable = registered.discoverable);
            }
            Err(e) => {
                tracing::info!(target: "audit", event = "passkey_registration_refused", reason = ?e, user_id);
            }
        }
        Ok(outcome?)
    }

    /// Removes the caller's passkey `id`, ending the user's other sessions and refresh
    /// families; returns its name.
    pub async fn remove_passkey(
        &self,
        auth: &Authenticator,
        caller: &Authenticated,
        id: i64,
        reauth: Reauth,
        ip: &str,
    ) -> Result<String, AccountError> {
        self.reauthenticate(auth, caller, reauth, ip).await?;
        let (caller, user_id) = (caller.clone(), caller.user.id);
        let keep = Keep::of(&caller);
        let name = self
            .commit_all(move |conn| {
                check_caller(conn, &caller, false)?;
                let row = rows::find(conn, user_id, id)?
                    .ok_or(AccountError::Passkey(PasskeyError::NotFound))?;
                if rows::delete(conn, user_id, id)? != 1 {
                    return Err(AccountError::Passkey(PasskeyError::NotFound));
                }
                Ok((row.name, revoke_all_but(conn, user_id, &keep)?))
            })
            .await?;
        auth.metrics.passkey_removals.inc();
        tracing::info!(target: "audit", event = "passkey_removed", user_id, passkey_id = id, by = "user");
        Ok(name)
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: i64) -> Result<Vec<passkey::PasskeyInfo>, AccountError> {
        self.db
            .run(move |conn| Ok(passkey::list(conn, user_id)?))
            .await
    }
}

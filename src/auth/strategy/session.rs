//! The session cookie (actix-session + actix-identity), with the HTML surface on.
//!
//! Valid when the store holds the session, its user exists and is enabled, and it signed in
//! after the user's last revocation (`sessions_revoked_at`: password change, sign-out
//! everywhere, disable). A session that fails is ended, and counts as no credentials: the
//! browser is simply signed out.

use actix_identity::Identity;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::{AuthStrategy, Verdict};
use crate::auth::{Authenticated, Authenticator, Credential, CredentialKind};
use crate::config::Settings;
use crate::db::models::User;
use crate::domain::clock;
use crate::error::Failure;
use crate::session_store::TypedSession;

pub struct SessionStrategy;

/// Whether a session signed in at `login_at` (Unix microseconds) is still valid for `user`.
pub fn is_current(login_at: Option<i64>, user: &User) -> bool {
    match user.sessions_revoked_at {
        None => true,
        Some(revoked) => login_at.is_some_and(|t| t >= clock::micros(revoked)),
    }
}

impl AuthStrategy for SessionStrategy {
    fn name(&self) -> &'static str {
        "session"
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::Session
    }

    fn enabled(&self, config: &Settings) -> bool {
        config.auth.mode.sessions()
    }

    fn present(&self, req: &HttpRequest) -> bool {
        Identity::extract(req).into_inner().is_ok()
    }

    fn verify<'a>(
        &'a self,
        req: &'a HttpRequest,
        auth: &'a Authenticator,
        _config: &'a Settings,
    ) -> LocalBoxFuture<'a, Verdict> {
        Box::pin(async move {
            let session = TypedSession::of(req);
            if session.is_unavailable() {
                return Verdict::Failed(Failure::Unavailable);
            }
            // No identity (no cookie, an expired or deleted session) means no credentials:
            // the store has already dropped whatever the cookie named.
            let Ok(identity) = Identity::extract(req).into_inner() else {
                return Verdict::Absent;
            };
            let Some(user_id) = identity.id().ok().and_then(|id| id.parse::<i64>().ok()) else {
                session.purge();
                return Verdict::Absent;
            };
            let user = match auth.load_user(user_id).await {
                Ok(user) => user,
                Err(failure) => return Verdict::Failed(failure),
            };
            let login_at = session.login_at();
            match user {
                Some(user) if !user.disabled && is_current(login_at, &user) => {
                    Verdict::Accepted(Box::new(Authenticated {
                        user,
                        credential: Credential::Session {
                            login_at: login_at.unwrap_or_default(),
                        },
                    }))
                }
                _ => {
                    session.purge();
                    Verdict::Absent
                }
            }
        })
    }

    fn challenge(&self, _refused: Option<&'static str>) -> Option<String> {
        None
    }
}

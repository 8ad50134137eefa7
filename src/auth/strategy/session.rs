//! The session cookie (actix-session + actix-identity), with the HTML surface on.
//!
//! Valid when the store holds the session, it signed in less than `session.ttl` ago, its user
//! exists and is enabled, and it signed in after the user's last revocation
//! (`sessions_revoked_at`: password change, sign-out everywhere, disable). A session that fails
//! is ended, and counts as no credentials: the browser is simply signed out.
//!
//! The session is actix-session's, or one read without it on forward-auth's routes
//! (`session_store::peek`); [`TypedSession`] reads both alike.
//!
//! actix-session loads the session when the request starts. For a request that may write
//! (any method but GET, HEAD, OPTIONS) the store is asked again when the credential is
//! resolved — after the body arrived — so a session ended while the request was held open
//! (logout, "end this session") does not act.

use actix_web::HttpRequest;
use futures_util::future::LocalBoxFuture;

use super::{AuthStrategy, Verdict};
use crate::auth::{Authenticated, Authenticator, Credential, CredentialKind};
use crate::config::Settings;
use crate::domain::{UserState, clock};
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::session_store::peek::cookie_session_key;

pub struct SessionStrategy;

/// Whether the store still holds the session the request's cookie names (read afresh).
async fn still_stored(
    req: &HttpRequest,
    auth: &Authenticator,
    config: &Settings,
) -> anyhow::Result<bool> {
    match cookie_session_key(req, &config.session.cookie_name, &auth.cookie_key) {
        Some(key) => auth.sessions.is_live(&key).await,
        None => Ok(false),
    }
}

/// Whether a session signed in at `login_at` (Unix microseconds) is still valid for `user`.
pub fn is_current(login_at: Option<i64>, user: &UserState) -> bool {
    user.session_current(login_at)
}

/// Whether a session signed in at `login_at` is within `session.ttl` (the value in force).
fn within_ttl(login_at: Option<i64>, config: &Settings) -> bool {
    let ttl = i64::try_from(config.session.ttl.0.as_micros()).unwrap_or(i64::MAX);
    login_at.is_some_and(|at| clock::micros(clock::now()) < at.saturating_add(ttl))
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
        TypedSession::of(req).identity().is_some()
    }

    fn verify<'a>(
        &'a self,
        req: &'a HttpRequest,
        auth: &'a Authenticator,
        config: &'a Settings,
    ) -> LocalBoxFuture<'a, Verdict> {
        Box::pin(async move {
            let session = TypedSession::of(req);
            if session.is_unavailable() {
                return Verdict::Failed(Failure::Unavailable);
            }
            // No identity (no cookie, an expired or deleted session) means no credentials:
            // the store has already dropped whatever the cookie named.
            let Some(identity) = session.identity() else {
                return Verdict::Absent;
            };
            let Ok(user_id) = identity.parse::<i64>() else {
                session.purge();
                return Verdict::Absent;
            };
            let user = match auth.user_state(user_id).await {
                Ok(user) => user,
                Err(failure) => return Verdict::Failed(failure),
            };
            let login_at = session.login_at();
            let current = within_ttl(login_at, config)
                && user
                    .as_ref()
                    .is_some_and(|u| !u.disabled && is_current(login_at, u));
            if current && !req.method().is_safe() {
                match still_stored(req, auth, config).await {
                    Ok(true) => {}
                    Ok(false) => {
                        session.purge();
                        return Verdict::Absent;
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "the session store cannot be read");
                        return Verdict::Failed(Failure::Unavailable);
                    }
                }
            }
            match user {
                Some(user) if current => Verdict::Accepted(Box::new(Authenticated {
                    user,
                    credential: Credential::Session {
                        login_at: login_at.unwrap_or_default(),
                    },
                })),
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

//! The session cookie (actix-session + actix-identity) as an authentication strategy.

use actix_identity::Identity;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::strategy::{AuthStrategy, Outcome, Principal, Rejection, Via};
use crate::startup::AppState;

pub struct SessionStrategy;

impl AuthStrategy for SessionStrategy {
    fn name(&self) -> &'static str {
        "session"
    }

    fn authenticate<'a>(
        &'a self,
        req: &'a HttpRequest,
        _state: &'a AppState,
    ) -> LocalBoxFuture<'a, Outcome> {
        Box::pin(async move {
            if let Ok(session) = actix_session::Session::extract(req).await
                && crate::session_store::is_unavailable(&session)
            {
                return Outcome::Rejected(Rejection::Unavailable);
            }
            // No identity (no cookie, an expired or deleted session) means no credentials:
            // the store has already dropped whatever the cookie named.
            let Ok(identity) = Identity::extract(req).await else {
                return Outcome::Absent;
            };
            let login_at = match actix_session::Session::extract(req).await {
                Ok(session) => login_at(&session),
                Err(_) => None,
            };
            match identity.id().ok().and_then(|id| id.parse::<i64>().ok()) {
                Some(user_id) => Outcome::Accepted(Box::new(Principal {
                    user_id,
                    via: Via::Session,
                    claims: None,
                    user: None,
                    login_at,
                })),
                None => {
                    identity.logout();
                    Outcome::Absent
                }
            }
        })
    }
}

/// Session key of the sign-in time (Unix microseconds), compared with the user's
/// `sessions_revoked_at`.
pub const LOGIN_AT_KEY: &str = "login_at";

/// Stamps the session as signed in now (at sign-in, and for the one session that survives a
/// revocation, such as the browser that changed the password).
pub fn stamp_login(session: &actix_session::Session) {
    let now = crate::db::users::now().and_utc().timestamp_micros();
    let _ = session.insert(LOGIN_AT_KEY, now);
}

/// Whether a session signed in at `login_at` is still valid for `user`.
pub fn is_current(login_at: Option<i64>, user: &crate::db::models::User) -> bool {
    match user.sessions_revoked_at {
        None => true,
        Some(revoked) => login_at.is_some_and(|t| t >= revoked.and_utc().timestamp_micros()),
    }
}

/// The sign-in time recorded in a session.
pub fn login_at(session: &actix_session::Session) -> Option<i64> {
    session.get::<i64>(LOGIN_AT_KEY).ok().flatten()
}

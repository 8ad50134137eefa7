//! The session cookie (actix-session + actix-identity) as an authentication strategy.

use actix_identity::Identity;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::strategy::{AuthStrategy, Outcome, Principal, Via};
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
            // No identity (no cookie, an expired or deleted session) means no credentials:
            // the store has already dropped whatever the cookie named.
            let Ok(identity) = Identity::extract(req).await else {
                return Outcome::Absent;
            };
            match identity.id().ok().and_then(|id| id.parse::<i64>().ok()) {
                Some(user_id) => Outcome::Accepted(Box::new(Principal {
                    user_id,
                    via: Via::Session,
                    claims: None,
                    user: None,
                })),
                None => {
                    identity.logout();
                    Outcome::Absent
                }
            }
        })
    }
}

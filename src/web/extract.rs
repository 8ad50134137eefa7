//! Who is signed in, for pages: the session cookie only (`AuthCheck::only_session`), resolved
//! by `auth` like every other surface. Anonymous visitors (and ended sessions) are sent to the
//! login form; a store that cannot be read gives 503.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::error::PageError;
use super::login::mfa::pending_token;
use crate::auth::{AuthCheck, AuthFailure, Authenticated};
use crate::state::AppState;

/// A signed-in, enabled user, loaded fresh for this request, and the session credential
/// (writes check it again inside their transaction).
pub struct SignedIn(pub Authenticated);

impl std::ops::Deref for SignedIn {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

/// The path and query of the request, for a `next` parameter.
fn requested_path(req: &HttpRequest) -> String {
    req.uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string())
}

impl SignedIn {
    /// Resolves the signed-in user now. Handlers that write call this after reading their
    /// form: actix polls a handler's extractors together, so an extractor would decide on the
    /// session as it stood when the head arrived, not when the body did.
    ///
    /// A browser whose sign-in waits for its second step (or, under `auth.require_mfa`, for
    /// enrolment) is sent there from every page until it is done or given up.
    pub async fn after_body(req: &HttpRequest) -> Result<Self, PageError> {
        match AppState::resolve(req, AuthCheck::only_session()).await {
            Ok(who) => Ok(SignedIn(who)),
            Err(AuthFailure::Failed(failure)) => Err(failure.into()),
            Err(AuthFailure::Missing { .. } | AuthFailure::Refused(_)) => {
                let pending = req
                    .app_data::<web::Data<AppState>>()
                    .is_some_and(|state| pending_token(req, state).is_some());
                if pending {
                    return Err(PageError::SecondStepPending);
                }
                Err(PageError::SignInRequired {
                    next: requested_path(req),
                })
            }
        }
    }
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Self::after_body(&req).await })
    }
}

/// A signed-in administrator; others get 403.
pub struct AdminUser(pub Authenticated);

impl std::ops::Deref for AdminUser {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

impl AdminUser {
    /// Resolves the signed-in administrator now (see [`SignedIn::after_body`]).
    pub async fn after_body(req: &HttpRequest) -> Result<Self, PageError> {
        let SignedIn(who) = SignedIn::after_body(req).await?;
        if who.user.is_admin {
            Ok(AdminUser(who))
        } else {
            Err(PageError::Forbidden)
        }
    }
}

impl FromRequest for AdminUser {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let SignedIn(who) = signed_in.await?;
            if who.user.is_admin {
                Ok(AdminUser(who))
            } else {
                Err(PageError::Forbidden)
            }
        })
    }
}

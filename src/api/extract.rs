//! Who is calling, for JSON handlers: every credential kind the configuration turns on
//! (`AuthCheck::any`), resolved by `auth`; failures become RFC 6750 answers.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use crate::auth::{AuthCheck, Authenticated};
use crate::state::AppState;

/// An authenticated caller whose user is enabled and whose credential is still good.
pub struct Caller(pub Authenticated);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Caller(AppState::resolve(&req, AuthCheck::any()).await?)) })
    }
}

/// A caller with the `admin` role; others get 403 `insufficient_scope`.
pub struct AdminCaller(pub Authenticated);

impl AdminCaller {
    /// Resolves the administrator now, after the body arrived (for writes: the extractor
    /// would decide on facts from when the head arrived).
    pub async fn after_body(req: &HttpRequest) -> Result<Self, ApiError> {
        let who = AppState::resolve(req, AuthCheck::any()).await?;
        if who.user.is_admin {
            Ok(AdminCaller(who))
        } else {
            Err(ApiError::InsufficientScope)
        }
    }
}

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let Caller(who) = caller.await?;
            if who.user.is_admin {
                Ok(AdminCaller(who))
            } else {
                Err(ApiError::InsufficientScope)
            }
        })
    }
}

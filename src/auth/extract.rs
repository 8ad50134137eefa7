//! Extractors for API handlers. `Principal` is who the credentials name; `CurrentUser` also
//! loads the user and refuses disabled or deleted users and tokens from before the user's
//! last password change. Both answer with RFC 6750 errors.

use actix_identity::Identity;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::jwt::{TokenError, password_marker};
use super::strategy::{Principal, Rejection, Via};
use crate::api::error::ApiError;
use crate::db::models::User;
use crate::db::{DbError, users};
use crate::startup::AppState;

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("AppState missing")))
}

fn rejection(why: Rejection, basic: bool) -> ApiError {
    match why {
        Rejection::Token(e) => ApiError::InvalidToken {
            description: match e {
                TokenError::Expired => "expired",
                TokenError::Invalid => "invalid",
            },
            basic,
        },
        Rejection::Basic => ApiError::InvalidBasic,
        Rejection::Busy => ApiError::Busy,
        Rejection::Locked { retry_after } => ApiError::Locked { retry_after },
        Rejection::Unavailable => ApiError::Unavailable,
        Rejection::Unexpected(e) => ApiError::Unexpected(e),
    }
}

async fn principal(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = state_of(req)?;
    let basic = state.auth.basic();
    match state.auth.authenticate(req, &state).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(ApiError::Unauthorized { basic }),
        Err(why) => Err(rejection(why, basic)),
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { principal(&req).await })
    }
}

/// An authenticated, enabled user with credentials still valid.
pub struct CurrentUser {
    pub user: User,
    pub via: Via,
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = principal(&req).await?;
            let state = state_of(&req)?;
            let basic = state.auth.basic();
            let user = match principal.user {
                Some(user) => Some(user),
                None => {
                    let id = principal.user_id;
                    state
                        .db
                        .run(move |conn| users::find(conn, id).map_err(DbError::from))
                        .await?
                }
            };
            let stale = || match principal.via {
                Via::Token => ApiError::InvalidToken {
                    description: "invalid",
                    basic,
                },
                Via::Basic => ApiError::InvalidBasic,
                Via::Session => ApiError::Unauthorized { basic },
            };
            let session_current = principal.via != Via::Session
                || user
                    .as_ref()
                    .is_some_and(|u| super::session::is_current(principal.login_at, u));
            let user = match user {
                Some(user) if !user.disabled && session_current => user,
                _ => {
                    if principal.via == Via::Session
                        && let Ok(identity) = Identity::extract(&req).await
                    {
                        identity.logout();
                    }
                    return Err(stale());
                }
            };
            if let Some(claims) = &principal.claims
                && claims.pwd_at != password_marker(&user)
            {
                return Err(stale());
            }
            Ok(CurrentUser {
                user,
                via: principal.via,
            })
        })
    }
}

/// A current user with the `admin` role; others get 403 `insufficient_scope`.
pub struct AdminPrincipal(pub CurrentUser);

impl FromRequest for AdminPrincipal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let current = current.await?;
            if current.user.is_admin {
                Ok(AdminPrincipal(current))
            } else {
                Err(ApiError::InsufficientScope)
            }
        })
    }
}

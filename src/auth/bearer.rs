//! Bearer access tokens in the `Authorization` header (RFC 6750 §2.1).

use actix_web::HttpRequest;
use futures_util::future::LocalBoxFuture;

use super::jwt::TokenError;
use super::strategy::{AuthStrategy, Outcome, Principal, Rejection, Via, authorization};
use crate::startup::AppState;

pub struct BearerStrategy;

/// The token of an `Authorization: Bearer …` header; `Some("")` for a bearer header without a
/// readable token (present but wrong: refused, not passed on to the next strategy).
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let (_, rest) = authorization(req, "bearer")?;
    Some(std::str::from_utf8(rest).map(str::trim).unwrap_or(""))
}

impl AuthStrategy for BearerStrategy {
    fn name(&self) -> &'static str {
        "bearer"
    }

    fn authenticate<'a>(
        &'a self,
        req: &'a HttpRequest,
        state: &'a AppState,
    ) -> LocalBoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Some(token) = bearer_token(req) else {
                return Outcome::Absent;
            };
            let Some(keys) = state.jwt.as_ref() else {
                return Outcome::Absent;
            };
            match keys.verify(token) {
                Ok(claims) => match claims.sub.parse::<i64>() {
                    Ok(user_id) => Outcome::Accepted(Box::new(Principal {
                        user_id,
                        via: Via::Token,
                        claims: Some(claims),
                        user: None,
                        login_at: None,
                    })),
                    Err(_) => Outcome::Rejected(Rejection::Token(TokenError::Invalid)),
                },
                Err(e) => Outcome::Rejected(Rejection::Token(e)),
            }
        })
    }
}

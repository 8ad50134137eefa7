//! `GET /api/me` and `POST /api/logout-all`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::error::ApiError;
use super::extract::Caller;
use crate::accounts::By;
use crate::auth::Credential;
use crate::auth::csrf::{self, CSRF_HEADER};
use crate::session_store::TypedSession;
use crate::state::AppState;

#[derive(Serialize)]
struct Me<'a> {
    id: i64,
    username: &'a str,
    roles: Vec<&'static str>,
    via: &'static str,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn me(Caller(who): Caller) -> HttpResponse {
    let user = &who.user;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Me {
            id: user.id,
            username: &user.username,
            roles: user.roles(),
            via: who.credential.kind().as_str(),
        })
}

/// Ends every session and refresh-token family of the caller. A caller signed in by session
/// cookie must send the session's CSRF token in `X-CSRF-Token` (SPEC §6): the cookie alone
/// rides along on cross-site requests.
#[tracing::instrument(skip_all)]
pub async fn logout_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(who): Caller,
    session: TypedSession,
) -> Result<HttpResponse, ApiError> {
    let by_session = matches!(who.credential, Credential::Session { .. });
    if by_session {
        let submitted = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        csrf::verify(&session, submitted).map_err(|_| ApiError::Csrf)?;
    }
    state
        .accounts
        .sign_out_everywhere(By::Operator, who.user.id)
        .await?;
    if by_session {
        session.purge();
    }
    Ok(HttpResponse::NoContent().finish())
}

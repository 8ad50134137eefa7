//! `GET /api/me` and `POST /api/logout-all`.

use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::error::ApiError;
use crate::auth::accounts;
use crate::auth::extract::CurrentUser;
use crate::auth::strategy::Via;
use crate::startup::AppState;

#[derive(Serialize)]
struct Me<'a> {
    id: i64,
    username: &'a str,
    roles: Vec<&'static str>,
    via: &'static str,
}

#[tracing::instrument(skip_all)]
pub async fn me(current: CurrentUser) -> HttpResponse {
    let user = &current.user;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Me {
            id: user.id,
            username: &user.username,
            roles: user.roles(),
            via: current.via.as_str(),
        })
}

/// Ends every session and refresh-token family of the caller.
#[tracing::instrument(skip_all)]
pub async fn logout_all(
    state: web::Data<AppState>,
    current: CurrentUser,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    let id = current.user.id;
    state
        .db
        .run(move |conn| accounts::revoke_all(conn, id))
        .await?;
    state.forget_sessions(id).await;
    if current.via == Via::Session {
        session.purge();
    }
    tracing::info!(target: "audit", event = "logout_all", user_id = id);
    Ok(HttpResponse::NoContent().finish())
}

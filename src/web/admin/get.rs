//! `GET /admin`: the list of users with their actions.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{AdminPage, UserRow};
use crate::db::models::User;
use crate::db::{DbError, login_failures, users};
use crate::error::PageError;
use crate::startup::AppState;
use crate::web::account::FLASH_KEY;
use crate::web::{AdminUser, Nav, render};

/// Renders the admin page for `admin` with the current list of users.
pub async fn page(
    state: &AppState,
    admin: &User,
    session: &Session,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let now = crate::db::users::now();
    let (all, locked) = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            Ok((users::list(conn)?, login_failures::locked_users(conn, now)?))
        })
        .await?;
    let notice = session.remove_as::<String>(FLASH_KEY).and_then(Result::ok);
    render(
        status,
        &AdminPage {
            nav: Nav::for_user(admin, session),
            users: all
                .iter()
                .map(|u| UserRow::new(u, admin.id, &locked))
                .collect(),
            notice,
            error,
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn admin(
    state: web::Data<AppState>,
    admin: AdminUser,
    session: Session,
) -> Result<HttpResponse, PageError> {
    page(&state, &admin.user, &session, StatusCode::OK, None).await
}

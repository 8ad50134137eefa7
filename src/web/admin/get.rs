//! `GET /admin`: the list of users with their actions, and the server's configuration facts
//! (mode, source, last reload).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{AdminPage, ServerFacts, UserRow};
use crate::db::{login_failures, passkeys, totp, users};
use crate::domain::UserState;
use crate::domain::clock::now;
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{AdminUser, Nav, render};

/// Renders the admin page for `admin` with the current list of users.
pub async fn page(
    state: &AppState,
    admin: &UserState,
    session: &TypedSession,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let now = now();
    let (all, locked, with_mfa) = state
        .db
        .run(move |conn| -> Result<_, Failure> {
            Ok((
                users::list(conn)?,
                login_failures::locked_users(conn, now)?,
                {
                    let mut ids = totp::active_user_ids(conn)?;
                    ids.extend(passkeys::user_ids(conn)?);
                    ids
                },
            ))
        })
        .await?;
    let notice = session.take_flash();
    render(
        status,
        &AdminPage {
            nav: Nav::for_user(admin, session),
            users: all
                .iter()
                .map(|u| UserRow::new(u, admin.id, &locked, with_mfa.contains(&u.id)))
                .collect(),
            notice,
            error,
            server: ServerFacts::of(&state.config(), state.reload.last()),
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn admin(
    state: web::Data<AppState>,
    admin: AdminUser,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    page(&state, &admin.user, &session, StatusCode::OK, None).await
}

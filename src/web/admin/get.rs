//! `GET /admin`: the overview, the create-user form, the list of users with their actions,
//! and the server's configuration facts (mode, source, last reload); `GET
//! /admin/users/{id}/{action}`: the confirm page of a destructive action.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::overview::Overview;
use super::{Action, AdminPage, ConfirmPage, CreateForm, ServerFacts, UserRow};
use crate::db::{login_failures, passkeys, sign_in_stats, totp, users};
use crate::domain::UserState;
use crate::domain::clock::now;
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::lang::lang_of;
use crate::web::{AdminUser, Nav, render};

/// Renders the admin page for `admin` with the current list of users.
pub async fn page(
    req: &HttpRequest,
    state: &AppState,
    admin: &UserState,
    session: &TypedSession,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    page_with_form(
        req,
        state,
        admin,
        session,
        status,
        error,
        CreateForm::default(),
    )
    .await
}

/// As [`page`], with the create-user form as typed (and its problems).
pub async fn page_with_form(
    req: &HttpRequest,
    state: &AppState,
    admin: &UserState,
    session: &TypedSession,
    status: StatusCode,
    error: Option<String>,
    mut create: CreateForm,
) -> Result<HttpResponse, PageError> {
    let now = now();
    let (all, locked, with_mfa, stats) = state
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
                sign_in_stats::since(conn, Overview::since(now))?,
            ))
        })
        .await?;
    let sessions = count_sessions(state, &all).await;
    let notice = session.take_flash();
    create.min_length = state.config().password.min_length;
    let lang = lang_of(req);
    render(
        status,
        &AdminPage {
            nav: Nav::for_user(req, admin, session),
            overview: Overview::of(&all, sessions, &stats, now),
            users: all
                .iter()
                .map(|u| UserRow::new(u, admin.id, &locked, with_mfa.contains(&u.id), lang))
                .collect(),
            notice,
            error,
            server: ServerFacts::of(&state.config(), state.reload.last(), lang),
            create,
        },
    )
}

/// Live browser sessions of every user, as `/account` lists them (either store); `None` when
/// the store did not answer.
async fn count_sessions(state: &AppState, all: &[crate::db::models::User]) -> Option<usize> {
    let mut total = 0;
    for user in all {
        match state.sessions.list_for_user(user.id).await {
            Ok(listed) => total += listed.len(),
            Err(e) => {
                tracing::warn!(error = ?e, "could not count sessions");
                return None;
            }
        }
    }
    Some(total)
}

#[tracing::instrument(skip_all)]
pub async fn admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    page(&req, &state, &admin.user, &session, StatusCode::OK, None).await
}

/// Renders the confirm page of `action` on the user `id` (404 when there is none).
pub async fn confirm_page(
    req: &HttpRequest,
    state: &AppState,
    admin: &UserState,
    session: &TypedSession,
    id: i64,
    action: Action,
) -> Result<HttpResponse, PageError> {
    let target = state
        .db
        .run(move |conn| users::find(conn, id).map_err(Failure::from))
        .await?
        .ok_or(PageError::NotFound)?;
    let lang = lang_of(req);
    render(
        StatusCode::OK,
        &ConfirmPage {
            nav: Nav::for_user(req, admin, session),
            user_id: target.id,
            question: action.question(lang, &target.username),
            username: target.username,
            action: action.slug(),
            title: action.title(lang),
            consequence: action.consequence(lang),
        },
    )
}

/// `GET /admin/users/{id}/{action}`: the confirm page of a destructive action; 404 for any
/// other action (they act directly).
#[tracing::instrument(skip_all)]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    session: TypedSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (raw_id, raw_action) = path.into_inner();
    let (Ok(id), Some(action)) = (raw_id.parse::<i64>(), Action::parse(&raw_action)) else {
        return Err(PageError::NotFound);
    };
    if !action.destructive() {
        return Err(PageError::NotFound);
    }
    if id == admin.user.id && action.locks_out_self() {
        return super::post::refuse_self(&req, &state, &admin, &session).await;
    }
    confirm_page(&req, &state, &admin.user, &session, id, action).await
}

//! `GET /account`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{AccountPage, FLASH_KEY, SessionView};
use crate::db::models::User;
use crate::error::PageError;
use crate::startup::AppState;
use crate::web::{Nav, SESSION_ID_KEY, SESSION_IP_KEY, SESSION_UA_KEY, SignedIn, render};

/// The user's live sessions, this one first.
pub async fn list_sessions(
    state: &AppState,
    user: &User,
    session: &Session,
) -> Result<Vec<SessionView>, PageError> {
    let idle = chrono::Duration::from_std(state.settings.session.idle_timeout.0)
        .unwrap_or(chrono::Duration::zero());
    let rows = state
        .sessions
        .list_for_user(user.id)
        .await
        .map_err(PageError::Unexpected)?;
    let mine = session.get::<String>(SESSION_ID_KEY).ok().flatten();
    let mut views: Vec<SessionView> = rows
        .into_iter()
        .filter(|row| {
            let login_at = row
                .state
                .get(crate::auth::session::LOGIN_AT_KEY)
                .and_then(|v| v.parse::<i64>().ok());
            crate::auth::session::is_current(login_at, user)
        })
        .map(|row| {
            let values = &row.state;
            let field = |key: &str| {
                values
                    .get(key)
                    .and_then(|v| serde_json::from_str::<String>(v).ok())
            };
            SessionView {
                current: mine.is_some() && field(SESSION_ID_KEY) == mine,
                user_agent: field(SESSION_UA_KEY).unwrap_or_else(|| "unknown".into()),
                ip: field(SESSION_IP_KEY).unwrap_or_else(|| "unknown".into()),
                started: row.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                last_active: (row.expires_at - idle)
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string(),
                id: row.id,
            }
        })
        .collect();
    views.sort_by_key(|v| !v.current);
    Ok(views)
}

/// Renders the account page.
pub async fn page(
    state: &AppState,
    user: &User,
    session: &Session,
    status: StatusCode,
    errors: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let notice = session.remove_as::<String>(FLASH_KEY).and_then(Result::ok);
    let sessions = list_sessions(state, user, session).await?;
    render(
        status,
        &AccountPage {
            nav: Nav::for_user(user, session),
            username: user.username.clone(),
            notice,
            errors,
            min_length: state.settings.password.min_length,
            sessions,
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn account(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: Session,
) -> Result<HttpResponse, PageError> {
    page(
        &state,
        &signed_in.user,
        &session,
        StatusCode::OK,
        Vec::new(),
    )
    .await
}

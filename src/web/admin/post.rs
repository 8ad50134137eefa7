//! `POST /admin/users/{id}/{action}`: disable, enable, delete, grant-admin, revoke-admin.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::{accounts, csrf, lockout};
use crate::db::{DbError, users};
use crate::error::PageError;
use crate::startup::AppState;
use crate::web::account::FLASH_KEY;
use crate::web::{AdminUser, see_other};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Disable,
    Enable,
    Delete,
    GrantAdmin,
    RevokeAdmin,
    /// End every session and refresh-token family of the user.
    Logout,
    /// Lift a lockout of the username.
    Unlock,
}

impl Action {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "disable" => Self::Disable,
            "enable" => Self::Enable,
            "delete" => Self::Delete,
            "grant-admin" => Self::GrantAdmin,
            "revoke-admin" => Self::RevokeAdmin,
            "logout" => Self::Logout,
            "unlock" => Self::Unlock,
            _ => return None,
        })
    }

    /// Actions an admin may not take against their own account (it would lock them out).
    fn locks_out_self(self) -> bool {
        matches!(self, Self::Disable | Self::Delete | Self::RevokeAdmin)
    }

    fn done(self) -> &'static str {
        match self {
            Self::Disable => "disabled; their sessions were ended",
            Self::Enable => "enabled",
            Self::Delete => "deleted",
            Self::GrantAdmin => "made an admin",
            Self::RevokeAdmin => "is no longer an admin",
            Self::Logout => "was signed out everywhere",
            Self::Unlock => "was unlocked",
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
}

#[tracing::instrument(skip_all, fields(target_user, action))]
pub async fn user_action(
    state: web::Data<AppState>,
    admin: AdminUser,
    session: Session,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, PageError> {
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let (raw_id, raw_action) = path.into_inner();
    let (Ok(id), Some(action)) = (raw_id.parse::<i64>(), Action::parse(&raw_action)) else {
        return Err(PageError::NotFound);
    };
    if id == admin.user.id && action.locks_out_self() {
        return super::get::page(
            &state,
            &admin.user,
            &session,
            StatusCode::CONFLICT,
            Some("You cannot disable, delete or demote your own account.".into()),
        )
        .await;
    }
    let target = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            let Some(user) = users::find(conn, id)? else {
                return Ok(None);
            };
            match action {
                Action::Disable => accounts::set_disabled(conn, id, true)?,
                Action::Enable => accounts::set_disabled(conn, id, false)?,
                Action::Delete => accounts::delete_user(conn, id)?,
                Action::GrantAdmin => users::set_admin(conn, id, true)? == 1,
                Action::RevokeAdmin => users::set_admin(conn, id, false)? == 1,
                Action::Logout => accounts::revoke_all(conn, id).map(|_| true)?,
                Action::Unlock => lockout::unlock_user(conn, &user.username)?,
            };
            Ok(Some(user.username))
        })
        .await?;
    let Some(username) = target else {
        return Err(PageError::NotFound);
    };
    if matches!(action, Action::Disable | Action::Delete | Action::Logout) {
        state.forget_sessions(id).await;
    }
    tracing::info!(target: "audit", event = "admin_action", admin_id = admin.user.id, user_id = id, action = ?action);
    let _ = session.insert(FLASH_KEY, format!("User {username} {}.", action.done()));
    Ok(see_other("/admin"))
}

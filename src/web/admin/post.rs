//! `POST /admin/users/{id}/{action}`: disable, enable, delete, grant-admin, revoke-admin,
//! logout, unlock, service-on, service-off, mfa-reset.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::accounts::{AccountError, By};
use crate::auth::csrf;
use crate::db::users;
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::account::post::account_failure;
use crate::web::error::PageError;
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
    /// Mark as a service account (HTTP Basic with the password alone).
    ServiceOn,
    ServiceOff,
    /// Remove every second factor (and end every session and refresh family).
    MfaReset,
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
            "service-on" => Self::ServiceOn,
            "service-off" => Self::ServiceOff,
            "mfa-reset" => Self::MfaReset,
            _ => return None,
        })
    }

    /// Actions an admin may not take against their own account (it would lock them out).
    fn locks_out_self(self) -> bool {
        matches!(
            self,
            Self::Disable | Self::Delete | Self::RevokeAdmin | Self::MfaReset
        )
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
            Self::ServiceOn => "is now a service account",
            Self::ServiceOff => "is no longer a service account",
            Self::MfaReset => "has no second factor any more; their sessions were ended",
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
}

#[tracing::instrument(skip_all, fields(target_user, action))]
/// The form is read before the caller is resolved, and each action checks the caller (still
/// enabled, still an admin, session not revoked) again inside its transaction.
pub async fn user_action(
    req: HttpRequest,
    form: web::Form<ActionForm>,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let admin = AdminUser::after_body(&req).await?;
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
            Some(
                "You cannot disable, delete or demote your own account, or reset its second \
                 factor here (use your account page)."
                    .into(),
            ),
        )
        .await;
    }
    let target = state
        .db
        .run(move |conn| users::find(conn, id).map_err(Failure::from))
        .await?;
    let Some(target) = target else {
        return Err(PageError::NotFound);
    };
    let (accounts, by) = (&state.accounts, By::Admin(&admin.0));
    let done = match action {
        Action::Disable => accounts.set_disabled(by, id, true).await,
        Action::Enable => accounts.set_disabled(by, id, false).await,
        Action::Delete => accounts.delete(by, id).await,
        Action::GrantAdmin => accounts.set_admin(by, id, true).await,
        Action::RevokeAdmin => accounts.set_admin(by, id, false).await,
        Action::Logout => accounts.sign_out_everywhere(by, id).await.map(|()| true),
        Action::Unlock => accounts.unlock(by, target.username.clone()).await,
        Action::ServiceOn => accounts.set_service(by, id, true).await,
        Action::ServiceOff => accounts.set_service(by, id, false).await,
        Action::MfaReset => {
            let reset = accounts.reset_second_factors(by, id).await;
            if reset.is_ok() {
                state
                    .metrics
                    .mfa_removals
                    .with_label_values(&["admin"])
                    .inc();
            }
            reset
        }
    };
    match done {
        Ok(_) => {}
        Err(AccountError::LastAdmin) => {
            return super::get::page(
                &state,
                &admin.user,
                &session,
                StatusCode::CONFLICT,
                Some(AccountError::LastAdmin.to_string()),
            )
            .await;
        }
        Err(other) => return Err(account_failure(other)),
    }
    tracing::info!(target: "audit", event = "admin_action", admin_id = admin.user.id, user_id = id, action = ?action);
    session.flash(format!("User {} {}.", target.username, action.done()));
    Ok(see_other("/admin"))
}

//! `POST /admin/users/{id}/{action}`: disable, enable, delete, grant-admin, revoke-admin,
//! logout, unlock, service-on, service-off, mfa-reset, reset-link; `POST /admin/users`:
//! create a user.
//!
//! A destructive action acts only when the form carries the confirm page's `confirm=yes`;
//! without it the confirm page is shown and nothing changes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{Action, CreateForm, ResetLinkPage};
use crate::accounts::{AccountError, By, validate_new_account};
use crate::auth::csrf;
use crate::db::users;
use crate::domain::{Password, Username};
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::account::post::account_failure;
use crate::web::error::PageError;
use crate::web::lang::lang_of;
use crate::web::messages;
use crate::web::{AdminUser, Nav, render, see_other};

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    /// `yes` from the confirm page; destructive actions need it.
    #[serde(default)]
    confirm: String,
}

/// The admin page again with 409: an admin may not lock themselves out from here.
pub async fn refuse_self(
    req: &HttpRequest,
    state: &AppState,
    admin: &AdminUser,
    session: &TypedSession,
) -> Result<HttpResponse, PageError> {
    super::get::page(
        req,
        state,
        &admin.user,
        session,
        StatusCode::CONFLICT,
        Some(lang_of(req).t("admin-refuse-self")),
    )
    .await
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
        return refuse_self(&req, &state, &admin, &session).await;
    }
    if action.destructive() && form.confirm != "yes" {
        // Not from the confirm page (a bare POST, an old form): ask first, change nothing.
        return super::get::confirm_page(&req, &state, &admin.user, &session, id, action).await;
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
        Action::ResetLink => {
            return match accounts.issue_reset_link(by, id).await {
                Ok(Some(issued)) => render(
                    StatusCode::OK,
                    &ResetLinkPage {
                        nav: Nav::for_user(&req, &admin.user, &session),
                        username: issued.username,
                        reset_url: crate::web::reset::reset_url(&state.config(), &issued.token),
                        expires_at: lang_of(&req).datetime(issued.expires_at),
                    },
                ),
                Ok(None) => Err(PageError::NotFound),
                Err(e) => Err(account_failure(e)),
            };
        }
    };
    match done {
        Ok(_) => {}
        Err(AccountError::LastAdmin) => {
            return super::get::page(
                &req,
                &state,
                &admin.user,
                &session,
                StatusCode::CONFLICT,
                Some(lang_of(&req).t("account-last-admin")),
            )
            .await;
        }
        Err(other) => return Err(account_failure(other)),
    }
    tracing::info!(target: "audit", event = "admin_action", admin_id = admin.user.id, user_id = id, action = ?action);
    session.flash(action.done(lang_of(&req), &target.username));
    Ok(see_other("/admin"))
}

#[derive(Deserialize)]
pub struct CreateUserForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// A checkbox: present (any value) when ticked.
    admin: Option<String>,
    service: Option<String>,
}

/// `POST /admin/users`: creates a user (303 to `/admin`); the form again with its problems
/// otherwise (422 invalid, 409 taken).
#[tracing::instrument(skip_all)]
pub async fn create_user(
    req: HttpRequest,
    form: web::Form<CreateUserForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let admin = AdminUser::after_body(&req).await?;
    let CreateUserForm {
        csrf_token,
        username,
        password,
        admin: make_admin,
        service,
    } = form.into_inner();
    csrf::verify(&session, &csrf_token).map_err(|_| PageError::Csrf)?;
    let (make_admin, service) = (make_admin.is_some(), service.is_some());
    let min_length = state.config().password.min_length;
    let password = Password::new(password);
    let mut typed = CreateForm {
        username: username.clone(),
        admin: make_admin,
        service,
        ..CreateForm::default()
    };
    let lang = lang_of(&req);
    let again = |typed: CreateForm, status: StatusCode| {
        let (req, state, admin, session) = (&req, &state, &admin, &session);
        async move {
            super::get::page_with_form(req, state, &admin.user, session, status, None, typed).await
        }
    };
    let name = match validate_new_account(&username, &password, min_length) {
        Ok(name) => name,
        Err(AccountError::Invalid(problems)) => {
            // The shared check gives every reason; the username's own go beside its field.
            let name_problem = Username::parse(&username).err();
            for p in problems {
                if name_problem.as_ref() == Some(&p) {
                    typed.username_errors.push(messages::rule(lang, &p));
                } else {
                    typed.password_errors.push(messages::rule(lang, &p));
                }
            }
            return again(typed, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(other) => return Err(account_failure(other)),
    };
    match state
        .accounts
        .create_by(
            By::Admin(&admin.0),
            name,
            password,
            make_admin,
            service,
            state.config().password.policy(),
        )
        .await
    {
        Ok(user) => {
            session.flash(lang.t_with("admin-done-create", &[("name", user.username.into())]));
            Ok(see_other("/admin"))
        }
        Err(AccountError::Taken) => {
            typed.username_errors.push(lang.t("register-taken"));
            again(typed, StatusCode::CONFLICT).await
        }
        Err(AccountError::Invalid(problems)) => {
            typed
                .password_errors
                .extend(messages::rules(lang, &problems));
            again(typed, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AccountError::Guessable(feedback)) => {
            typed
                .password_errors
                .extend(messages::strength(lang, &feedback));
            again(typed, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(other) => Err(account_failure(other)),
    }
}

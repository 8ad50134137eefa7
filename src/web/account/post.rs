//! `POST /account/password`, `/account/logout-all` and `/account/sessions/{id}/end`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::get::page;
use crate::accounts::{AccountError, By};
use crate::auth::csrf;
use crate::domain::Password;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{SignedIn, see_other};

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    /// Optional: when the form sends it, it must match.
    new_password_confirm: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

/// Change the password; every other session and refresh token of the user ends.
///
/// The session is resolved once the form has arrived, and the change checks it again inside
/// its transaction: a request held open across a revocation changes nothing.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    req: HttpRequest,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let caller = signed_in.0;
    let user = caller.user.clone();
    let refuse = |errors: Vec<String>| {
        page(
            &state,
            &user,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
    };
    if form
        .new_password_confirm
        .as_ref()
        .is_some_and(|c| *c != form.new_password)
    {
        return refuse(vec!["The two new passwords do not match.".into()]).await;
    }
    let result = state
        .accounts
        .change_password(
            &state.auth,
            &caller,
            Password::new(form.current_password),
            Password::new(form.new_password),
            state.config().password.min_length,
            &state.client_ip(&req).lockout_key(),
        )
        .await;
    match result {
        Ok(()) => {
            // Every session of the user is revoked, this one included: carry this browser
            // over to a new session id, signed in anew, so that it alone stays signed in.
            session.carry_over();
            session.flash("Your password was changed. Every other session has been signed out.");
            Ok(see_other("/account"))
        }
        Err(AccountError::WrongPassword) => {
            refuse(vec!["Current password is incorrect.".into()]).await
        }
        Err(AccountError::Invalid(problems)) => refuse(problems).await,
        Err(other) => Err(account_failure(other)),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// Ends every session (this one too) and refresh-token family of the user.
#[tracing::instrument(skip_all)]
pub async fn logout_everywhere(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    state
        .accounts
        .sign_out_everywhere(By::Operator, signed_in.user.id)
        .await
        .map_err(account_failure)?;
    session.purge();
    Ok(see_other("/login"))
}

/// Ends one of the user's own sessions.
#[tracing::instrument(skip_all)]
pub async fn end_session(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let target = path.into_inner();
    let user_id = signed_in.user.id;
    let listed = super::get::list_sessions(&state, &signed_in.user, &session).await?;
    let Some(view) = listed.into_iter().find(|v| v.id == target) else {
        return Err(PageError::NotFound);
    };
    state
        .accounts
        .end_session(user_id, &target)
        .await
        .map_err(account_failure)?;
    tracing::info!(target: "audit", event = "session_ended", user_id);
    if view.current {
        session.purge();
        return Ok(see_other("/login"));
    }
    session.flash("The session was signed out.");
    Ok(see_other("/account"))
}

/// An account change refused for a reason other than the form's input.
pub fn account_failure(e: AccountError) -> PageError {
    match e {
        AccountError::Failed(failure) => failure.into(),
        AccountError::CallerRevoked => PageError::SignInRequired {
            next: "/account".into(),
        },
        AccountError::NotAdmin => PageError::Forbidden,
        AccountError::LastAdmin => {
            PageError::Client(StatusCode::CONFLICT, AccountError::LastAdmin.to_string())
        }
        other @ (AccountError::Invalid(_)
        | AccountError::Taken
        | AccountError::WrongPassword
        | AccountError::ReauthRequired
        | AccountError::WrongCode
        | AccountError::NoEnrolment) => {
            PageError::Client(StatusCode::UNPROCESSABLE_ENTITY, other.to_string())
        }
        other @ (AccountError::AlreadyEnrolled | AccountError::NoFactor) => {
            PageError::Client(StatusCode::CONFLICT, other.to_string())
        }
    }
}

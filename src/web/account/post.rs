//! `POST /account/password`, `/account/logout-all` and `/account/sessions/{id}/end`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::get::page;
use crate::accounts::AccountError;
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
#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: TypedSession,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let user = signed_in.user;
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
            &user,
            Password::new(form.current_password),
            Password::new(form.new_password),
            state.config().password.min_length,
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
        Err(AccountError::Taken) => {
            Err(anyhow::anyhow!("a password change reported a taken name").into())
        }
        Err(AccountError::Failed(failure)) => Err(failure.into()),
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
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: TypedSession,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    state
        .accounts
        .sign_out_everywhere(signed_in.user.id)
        .await
        .map_err(account_failure)?;
    session.purge();
    Ok(see_other("/login"))
}

/// Ends one of the user's own sessions.
#[tracing::instrument(skip_all)]
pub async fn end_session(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: TypedSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
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

/// An account change that cannot fail on input (sign-out, session end) failed anyway.
fn account_failure(e: AccountError) -> PageError {
    match e {
        AccountError::Failed(failure) => failure.into(),
        other => anyhow::Error::new(other).into(),
    }
}

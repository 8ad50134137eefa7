//! `POST /account/password`: change the password; every other session of the user ends.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{AccountPage, FLASH_KEY};
use crate::auth::accounts::{self, AccountError};
use crate::auth::credentials::Password;
use crate::auth::csrf;
use crate::error::PageError;
use crate::startup::AppState;
use crate::web::{Nav, SignedIn, render, see_other};

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

#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: Session,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let user = signed_in.user;
    let min_length = state.settings.password.min_length;
    let form_again = |status: StatusCode, errors: Vec<String>| {
        render(
            status,
            &AccountPage {
                nav: Nav::for_user(&user, &session),
                username: user.username.clone(),
                notice: None,
                errors,
                min_length,
            },
        )
    };
    if form
        .new_password_confirm
        .as_ref()
        .is_some_and(|c| *c != form.new_password)
    {
        return form_again(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["The two new passwords do not match.".into()],
        );
    }
    let result = accounts::change_password(
        &state.db,
        &state.hasher,
        &user,
        Password::new(form.current_password),
        Password::new(form.new_password),
        min_length,
    )
    .await;
    match result {
        Ok(()) => {
            // Every session row of the user is gone, this one included: carry this browser
            // over to a new session id so that it alone stays signed in.
            session.renew();
            csrf::rotate(&session);
            let _ = session.insert(
                FLASH_KEY,
                "Your password was changed. Every other session has been signed out.",
            );
            Ok(see_other("/account"))
        }
        Err(AccountError::WrongPassword) => form_again(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["Current password is incorrect.".into()],
        ),
        Err(AccountError::Invalid(problems)) => {
            form_again(StatusCode::UNPROCESSABLE_ENTITY, problems)
        }
        Err(AccountError::Busy) => Err(PageError::Busy),
        Err(other) => Err(PageError::Unexpected(other.into())),
    }
}

//! `POST /reset/{token}`: sets the new password; the link is used up and every credential of
//! the user ends.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ResetDonePage, form_page, gone, plausible};
use crate::accounts::ResetError;
use crate::domain::Password;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{AnonymousForm, Nav, render};

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    csrf_token: String,
}

#[tracing::instrument(skip_all)]
pub async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, PageError> {
    let ResetForm {
        password,
        password_confirm,
        csrf_token,
    } = form.into_inner();
    if !AnonymousForm::verify(&req, &state, &csrf_token) {
        return Err(PageError::Csrf);
    }
    let token = path.into_inner();
    if !plausible(&token) {
        return Err(gone(&req));
    }
    if password != password_confirm {
        // Only the holder of a live link learns about the form.
        let Some(username) = state
            .accounts
            .reset_link_user(&token)
            .await
            .map_err(crate::web::account::post::account_failure)?
        else {
            return Err(gone(&req));
        };
        return form_page(
            &req,
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            username,
            vec![crate::web::lang::lang_of(&req).t("passwords-differ")],
        );
    }
    let policy = state.config().password.policy();
    let ip = state.client_ip(&req).lockout_key();
    match state
        .accounts
        .reset_password(&token, Password::new(password), policy, &ip)
        .await
    {
        Ok(username) => {
            let form = AnonymousForm::for_request(&req, &state);
            render(
                StatusCode::OK,
                &ResetDonePage {
                    nav: Nav::anonymous(&req, &form),
                    username,
                    html_sign_in: state.config().auth.mode.sessions(),
                },
            )
        }
        Err(ResetError::Gone) => Err(gone(&req)),
        Err(ResetError::Invalid(problems)) => {
            let username = state
                .accounts
                .reset_link_user(&token)
                .await
                .map_err(crate::web::account::post::account_failure)?
                .ok_or_else(|| gone(&req))?;
            form_page(
                &req,
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                token,
                username,
                crate::web::messages::rules(crate::web::lang::lang_of(&req), &problems),
            )
        }
        Err(ResetError::Failed(failure)) => Err(failure.into()),
    }
}

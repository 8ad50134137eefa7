//! `/reset/{token}`: setting a new password with a one-time link an administrator issued.
//!
//! Served in every mode (also `token`, where it is the only HTML page): it uses no session,
//! and stores nothing before the POST (its CSRF token is stateless, like the sign-in form's).
//! An unknown, used, replaced or expired link gets one answer (410), which says nothing about
//! the user.

pub mod get;
pub mod post;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::{AnonymousForm, Nav, render};
use crate::config::Settings;
use crate::state::AppState;
use crate::web::error::PageError;

/// The longest token looked up (issued ones are 43 characters).
const MAX_TOKEN_CHARS: usize = 128;

/// The link for `token`: `<public_url>/reset/<token>`.
pub fn reset_url(config: &Settings, token: &str) -> String {
    format!("{}/reset/{token}", config.public_url())
}

/// Whether `token` may name a link at all (longer input is refused without a lookup).
fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_CHARS
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub nav: Nav,
    pub token: String,
    pub username: String,
    pub errors: Vec<String>,
    pub min_length: usize,
}

#[derive(Template)]
#[template(path = "reset_done.html")]
pub struct ResetDonePage {
    pub nav: Nav,
    pub username: String,
    /// The HTML sign-in is on (`auth.mode` is `session` or `both`).
    pub html_sign_in: bool,
}

/// Renders the form for a live link, with `errors`; gives the browser its form cookie.
fn form_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    token: String,
    username: String,
    errors: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let form = AnonymousForm::for_request(req, state);
    let mut response = render(
        status,
        &ResetPage {
            nav: Nav::anonymous(req, &form),
            token,
            username,
            errors,
            min_length: state.config().password.min_length,
        },
    )?;
    form.attach(state, &mut response)?;
    Ok(response)
}

/// The one answer for a link that does not work.
fn gone(req: &HttpRequest) -> PageError {
    PageError::Client(
        StatusCode::GONE,
        crate::web::lang::lang_of(req).t("reset-gone"),
    )
}

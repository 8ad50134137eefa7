//! `/login`: the sign-in form, its second step (`/login/mfa`), and the passkey sign-ins
//! (`/login/passkey`, `/login/mfa/passkey`).

pub mod get;
pub mod mfa;
pub mod passkey;
pub mod post;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::passkey::PasskeyView;
use super::{AnonymousForm, Nav, SignedOut, render};
use crate::state::AppState;
use crate::web::error::PageError;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub nav: Nav,
    pub error: Option<String>,
    /// "You have been signed out." after a sign-out (see [`SignedOut`]).
    pub notice: Option<String>,
    pub username: String,
    pub next: String,
    /// The app (behind a reverse proxy) to go back to once signed in: a URL that
    /// `forward_auth.domains` allows, and its host, shown on the page.
    pub rd: Option<String>,
    pub app: Option<String>,
    pub registration: bool,
    /// "Sign in with a passkey" (`auth.passkey_login`), or why passkeys cannot be used here.
    pub passkey: Option<PasskeyView>,
}

/// Renders the sign-in form with `status` and an optional error, the typed username and
/// `next` kept; gives the browser its form cookie when it has none.
pub fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    username: String,
    next: String,
    rd: Option<String>,
) -> Result<HttpResponse, PageError> {
    let form = AnonymousForm::for_request(req, state);
    let config = state.config();
    // The notice is shown once, on the form the sign-out redirected to.
    let signed_out = (error.is_none() && req.method() == actix_web::http::Method::GET)
        .then(|| SignedOut::of(req, state))
        .flatten();
    let app = rd
        .as_deref()
        .and_then(|rd| url::Url::parse(rd).ok())
        .and_then(|url| url.host_str().map(str::to_string));
    let mut response = render(
        status,
        &LoginPage {
            nav: Nav::anonymous(req, &form),
            error,
            notice: signed_out.map(|n| n.message(crate::web::lang::lang_of(req))),
            username,
            next,
            rd,
            app,
            registration: config.auth.registration,
            passkey: config
                .auth
                .passkey_login
                .then(|| PasskeyView::of(&state.auth.passkeys, crate::web::lang::lang_of(req))),
        },
    )?;
    form.attach(state, &mut response)?;
    if signed_out.is_some() {
        SignedOut::clear(state, &mut response)?;
    }
    Ok(response)
}

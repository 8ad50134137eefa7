//! `POST /logout`: deletes the session from the store, so the old cookie no longer works.
//! `GET /logout`: a one-button page that asks for that POST (a link cannot sign anyone out).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{Nav, SignedIn, SignedOut, render, see_other};

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub nav: Nav,
}

/// The confirm page; an anonymous browser has nothing to sign out of and goes to the form.
#[tracing::instrument(skip_all)]
pub async fn confirm(
    req: actix_web::HttpRequest,
    signed_in: Option<SignedIn>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = signed_in else {
        return Ok(see_other("/login"));
    };
    render(
        StatusCode::OK,
        &LogoutPage {
            nav: Nav::for_user(&req, &signed_in.user, &session),
        },
    )
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

/// A missing or unreadable form is a missing CSRF token (403), like any forged request.
#[tracing::instrument(skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    session: TypedSession,
    form: Option<web::Form<LogoutForm>>,
) -> Result<HttpResponse, PageError> {
    let submitted = form.map(|f| f.into_inner().csrf_token).unwrap_or_default();
    csrf::verify(&session, &submitted).map_err(|_| PageError::Csrf)?;
    // Purges the whole session: the store row is deleted and the cookie removed.
    session.purge();
    SignedOut::Here.redirect(&state)
}

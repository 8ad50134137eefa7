//! `GET /`: `Signed in as NAME`, or 303 to the login form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::session_store::TypedSession;
use crate::web::error::PageError;
use crate::web::{Nav, SignedIn, render};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    username: String,
    is_admin: bool,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn home(
    req: HttpRequest,
    signed_in: SignedIn,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let user = signed_in.0.user;
    render(
        StatusCode::OK,
        &HomePage {
            nav: Nav::for_user(&req, &user, &session),
            username: user.username.clone(),
            is_admin: user.is_admin,
        },
    )
}

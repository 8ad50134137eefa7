//! `GET /account`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{AccountPage, FLASH_KEY};
use crate::error::PageError;
use crate::startup::AppState;
use crate::web::{Nav, SignedIn, render};

#[tracing::instrument(skip_all)]
pub async fn account(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: Session,
) -> Result<HttpResponse, PageError> {
    let notice = session.remove_as::<String>(FLASH_KEY).and_then(Result::ok);
    let user = signed_in.user;
    render(
        StatusCode::OK,
        &AccountPage {
            nav: Nav::for_user(&user, &session),
            username: user.username,
            notice,
            errors: Vec::new(),
            min_length: state.settings.password.min_length,
        },
    )
}

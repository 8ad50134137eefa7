//! `GET /register`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::RegisterPage;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{Nav, SignedIn, render, see_other};

#[tracing::instrument(skip_all)]
pub async fn register_form(
    state: web::Data<AppState>,
    session: TypedSession,
    signed_in: Option<SignedIn>,
) -> Result<HttpResponse, PageError> {
    if signed_in.is_some() {
        return Ok(see_other("/"));
    }
    render(
        StatusCode::OK,
        &RegisterPage {
            nav: Nav::anonymous(&session),
            errors: Vec::new(),
            username: String::new(),
            min_length: state.config().password.min_length,
        },
    )
}

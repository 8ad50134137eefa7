//! `GET /register`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::RegisterPage;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{AnonymousForm, Nav, SignedIn, render, see_other};

#[tracing::instrument(skip_all)]
pub async fn register_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: Option<SignedIn>,
) -> Result<HttpResponse, PageError> {
    if signed_in.is_some() {
        return Ok(see_other("/"));
    }
    let form = AnonymousForm::for_request(&req, &state);
    let mut response = render(
        StatusCode::OK,
        &RegisterPage {
            nav: Nav::anonymous(&req, &form),
            errors: crate::web::form_errors::FieldErrors::none(),
            username: String::new(),
            min_length: state.config().password.min_length,
        },
    )?;
    form.attach(&state, &mut response)?;
    Ok(response)
}

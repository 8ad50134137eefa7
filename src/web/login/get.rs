//! `GET /login[?next=/path]`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::LoginPage;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{Nav, SignedIn, render, safe_next, see_other};

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn login_form(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<LoginQuery>,
    signed_in: Option<SignedIn>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.next.as_deref().unwrap_or("/")).to_string();
    if signed_in.is_some() {
        return Ok(see_other(&next));
    }
    render(
        StatusCode::OK,
        &LoginPage {
            nav: Nav::anonymous(&session),
            error: None,
            username: String::new(),
            next,
            registration: state.config().auth.registration,
        },
    )
}

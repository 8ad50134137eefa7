//! `GET /login[?next=/path]`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::login_page;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{SignedIn, safe_next, see_other};

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[tracing::instrument(skip_all)]
/// Stores nothing: the form's CSRF token is stateless (see `AnonymousForm`).
pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
    signed_in: Option<SignedIn>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.next.as_deref().unwrap_or("/")).to_string();
    if signed_in.is_some() {
        return Ok(see_other(&next));
    }
    login_page(&req, &state, StatusCode::OK, None, String::new(), next)
}

//! `GET /reset/{token}`: the new-password form of a live link; 410 otherwise.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{form_page, gone, plausible};
use crate::state::AppState;
use crate::web::error::PageError;

#[tracing::instrument(skip_all)]
pub async fn reset_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    if !plausible(&token) {
        return Err(gone(&req));
    }
    let Some(username) = state
        .accounts
        .reset_link_user(&token)
        .await
        .map_err(crate::web::account::post::account_failure)?
    else {
        return Err(gone(&req));
    };
    form_page(&req, &state, StatusCode::OK, token, username, Vec::new())
}

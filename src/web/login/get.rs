//! `GET /login[?next=/path][&rd=<app URL>]`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::login_page;
use crate::forward_auth::handler::missing_for;
use crate::forward_auth::rules::StepUp;
use crate::http::redirect::safe_rd;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{SignedIn, safe_next, see_other};

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    /// Forward-auth: the app to go back to, followed only to `forward_auth.domains`.
    rd: Option<String>,
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
    let config = state.config();
    let rd = query
        .rd
        .as_deref()
        .and_then(|rd| safe_rd(rd, &config.forward_auth));
    let lang = crate::web::lang::lang_of(&req);
    let mut error = None;
    if let Some(who) = &signed_in {
        let Some(rd) = &rd else {
            return Ok(see_other(&next));
        };
        // Signed in already: straight back to the app, unless its rule needs a second factor
        // or a fresher sign-in than this session's (then the form, to sign in again).
        match missing_for(&req, &config, who, rd) {
            None => return Ok(see_other(rd)),
            Some(StepUp::SecondFactor) => {
                error = Some(lang.t("login-app-needs-mfa"));
            }
            Some(StepUp::MaxAge) => {
                error = Some(lang.t("login-app-needs-recent"));
            }
        }
    }
    login_page(&req, &state, StatusCode::OK, error, String::new(), next, rd)
}

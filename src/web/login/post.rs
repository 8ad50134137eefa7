//! `POST /login`: checks the form, signs the user in with a fresh session id, or, for a user
//! with a second factor (or who must enrol one), holds the sign-in for its second step
//! (`/login/mfa`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::login_page;
use super::mfa::set_pending_cookie;
use crate::auth::login::{LoginError, check_password};
use crate::auth::mfa::second_step::{self, PendingDoor, Purpose};
use crate::auth::mfa::{Door, NextStep, SignInPolicy};
use crate::domain::Password;
use crate::error::Failure;
use crate::http::redirect::safe_rd;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::{AnonymousForm, Nav, continue_to, safe_next, see_other, start_session};

/// Every field defaults to empty so that a missing one is judged (CSRF first), not a parse error.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    next: String,
    /// An app behind a reverse proxy to go back to (forward-auth), if `forward_auth.domains`
    /// allows it.
    #[serde(default)]
    rd: String,
}

#[tracing::instrument(skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let LoginForm {
        username,
        password,
        csrf_token,
        next,
        rd,
    } = form.into_inner();
    let next = safe_next(&next).to_string();
    let rd = safe_rd(&rd, &state.config().forward_auth);
    let lang = crate::web::lang::lang_of(&req);
    let form_again = |status: StatusCode, error: &str| {
        login_page(
            &req,
            &state,
            status,
            Some(error.to_string()),
            username.clone(),
            next.clone(),
            rd.clone(),
        )
    };
    if !AnonymousForm::verify(&req, &state, &csrf_token) {
        return form_again(StatusCode::FORBIDDEN, &lang.t("login-form-expired"));
    }
    let ip = state.client_ip(&req).lockout_key();
    let policy = SignInPolicy::new(Door::Form, state.config().auth.require_mfa);
    match check_password(&state.auth, &username, Password::new(password), &ip, policy).await {
        Ok(verified) if verified.next != NextStep::Done => {
            // The password is right; the sign-in waits for its second step, held server-side
            // and bound to this browser by a cookie of its own. No session yet.
            let purpose = if verified.next == NextStep::Enrol {
                Purpose::Enrolment
            } else {
                Purpose::SecondFactor
            };
            // The held sign-in carries where it leads: the app's URL, checked again against
            // the domains in force when it completes, or the local path.
            let held_next = rd.clone().unwrap_or_else(|| next.clone());
            let token = state
                .db
                .run(move |conn| {
                    second_step::hold(conn, &verified, purpose, PendingDoor::Html, Some(held_next))
                        .map_err(Failure::from)
                })
                .await?;
            let mut response = see_other("/login/mfa");
            set_pending_cookie(&state, &mut response, &token)?;
            Ok(response)
        }
        Ok(verified) => {
            // Renews the session id: an id planted before sign-in is worthless after it.
            start_session(&req, &state, &session, &verified.user, verified.checked_at)?;
            continue_to(
                rd.as_deref().unwrap_or(&next),
                Nav::signed_in(&req, &verified.user, &session),
            )
        }
        Err(LoginError::InvalidCredentials) => {
            form_again(StatusCode::UNAUTHORIZED, &lang.t("login-invalid"))
        }
        Err(LoginError::Failed(Failure::Locked { retry_after })) => {
            let mut response = form_again(
                StatusCode::TOO_MANY_REQUESTS,
                &lang.t_with("login-locked", &[("wait", lang.wait(retry_after).into())]),
            )?;
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after),
            );
            Ok(response)
        }
        Err(LoginError::Failed(failure)) => Err(failure.into()),
    }
}

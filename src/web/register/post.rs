//! `POST /register`: creates the account and signs it in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::RegisterPage;
use crate::accounts::AccountError;
use crate::auth::mfa::second_step::{self, PendingDoor, Purpose};
use crate::domain::{Password, Username};
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::form_errors::FieldErrors;
use crate::web::{AnonymousForm, Nav, render, see_other, start_session};

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// Optional: when the form sends it, it must match.
    password_confirm: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

#[tracing::instrument(skip_all)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, PageError> {
    let RegisterForm {
        username,
        password,
        password_confirm,
        csrf_token,
    } = form.into_inner();
    if !AnonymousForm::verify(&req, &state, &csrf_token) {
        return Err(PageError::Csrf);
    }
    let policy = state.config().password.policy();
    let min_length = policy.min_length;
    let anonymous = AnonymousForm::for_request(&req, &state);
    let lang = crate::web::lang::lang_of(&req);
    let form_again = |status: StatusCode, errors: FieldErrors| {
        render(
            status,
            &RegisterPage {
                nav: Nav::anonymous(&req, &anonymous),
                errors,
                username: username.clone(),
                min_length,
            },
        )
    };
    if password_confirm.is_some_and(|c| c != password) {
        return form_again(
            StatusCode::UNPROCESSABLE_ENTITY,
            FieldErrors::field("password_confirm", lang.t("passwords-differ")),
        );
    }
    let result = state
        .accounts
        .register(
            &username,
            Password::new(password),
            policy,
            &state.client_ip(&req).lockout_key(),
        )
        .await;
    match result {
        Ok(user) if state.config().auth.require_mfa.applies_to(user.is_admin) => {
            // `auth.require_mfa`: no session before a second factor is enrolled.
            let verified = crate::auth::login::Verified {
                user,
                checked_at: crate::domain::clock::now(),
                next: crate::auth::mfa::NextStep::Enrol,
            };
            let token = state
                .db
                .run(move |conn| {
                    second_step::hold(
                        conn,
                        &verified,
                        Purpose::Enrolment,
                        PendingDoor::Html,
                        Some("/".into()),
                    )
                    .map_err(crate::error::Failure::from)
                })
                .await?;
            let mut response = see_other("/login/mfa");
            crate::web::login::mfa::set_pending_cookie(&state, &mut response, &token)?;
            Ok(response)
        }
        Ok(user) => {
            start_session(&req, &state, &session, &user, crate::domain::clock::now())?;
            Ok(see_other("/"))
        }
        Err(AccountError::Invalid(problems)) => {
            // The username's problem is the one its own check gives; the rest are the
            // password's.
            let name_problem = Username::parse(&username).err();
            let mut errors = FieldErrors::none();
            for problem in problems {
                let field = if name_problem.as_ref() == Some(&problem) {
                    "username"
                } else {
                    "password"
                };
                errors.add(field, crate::web::messages::rule(lang, &problem));
            }
            form_again(StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
        Err(AccountError::Guessable(feedback)) => {
            let mut errors = FieldErrors::none();
            for message in crate::web::messages::strength(lang, &feedback) {
                errors.add("password", message);
            }
            form_again(StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
        Err(AccountError::Taken) => form_again(
            StatusCode::CONFLICT,
            FieldErrors::field("username", lang.t("register-taken")),
        ),
        Err(
            other @ (AccountError::WrongPassword
            | AccountError::SamePassword
            | AccountError::CallerRevoked
            | AccountError::NotAdmin
            | AccountError::LastAdmin
            | AccountError::ReauthRequired
            | AccountError::WrongCode
            | AccountError::AlreadyEnrolled
            | AccountError::NoEnrolment
            | AccountError::NoFactor
            | AccountError::Passkey(_)),
        ) => Err(anyhow::Error::new(other).context("registration").into()),
        Err(AccountError::Failed(failure)) => Err(failure.into()),
    }
}

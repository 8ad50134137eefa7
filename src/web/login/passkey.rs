//! The passkey sign-ins of the HTML surface:
//!
//! - `POST /login/mfa/passkey/options` and `POST /login/mfa/passkey`: a passkey as the second
//!   step of a held sign-in (its challenge allows the user's passkeys, and belongs to the
//!   pending sign-in this browser's cookie names);
//! - `POST /login/passkey/options` and `POST /login/passkey` (`auth.passkey_login`): a
//!   username-less sign-in with a discoverable credential, complete on its own.
//!
//! The options endpoints answer JSON to `static/passkeys.js`; the browser's answer comes back
//! as a form, and the answer to that is a page, as for the other sign-in forms.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::login_page;
use super::mfa::{complete, pending_token, step_page};
use crate::auth::mfa::SecondFactor;
use crate::auth::mfa::second_step::{self, Found, PendingDoor, Purpose};
use crate::auth::passkey::sign_in::{self, SignInError};
use crate::auth::passkey::{self, Assertion, PasskeyError};
use crate::auth::token::refresh::HashedToken;
use crate::domain::clock::now;
use crate::error::Failure;
use crate::http::redirect::safe_rd;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::lang::lang_of;
use crate::web::messages;
use crate::web::passkey::{
    CeremonyForm, check_origin, failure_answer, json_error, options_answer, status_of,
};
use crate::web::{AnonymousForm, Nav, continue_to, safe_next, see_other, start_session};

/// An options request: the anonymous form's CSRF token.
#[derive(Deserialize)]
pub struct OptionsForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /login/mfa/passkey/options`: a challenge for the pending sign-in's passkeys.
#[tracing::instrument(skip_all)]
pub async fn second_step_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<OptionsForm>,
) -> Result<HttpResponse, PageError> {
    let lang = lang_of(&req);
    if !AnonymousForm::verify(&req, &state, &form.csrf_token) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            &lang.t("passkey-form-expired"),
        ));
    }
    if let Err(e) = check_origin(&req, &state.auth.passkeys) {
        return options_answer(lang, Err(e));
    }
    let Some(token) = pending_token(&req, &state) else {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            &lang.t("passkey-sign-in-expired"),
        ));
    };
    let passkeys = state.auth.passkeys.clone();
    let started = state
        .db
        .run(move |conn| {
            let found = second_step::find(conn, &token, PendingDoor::Html)?;
            let Found::Live(pending) = found else {
                return Ok(Err(PasskeyError::Expired));
            };
            if pending.purpose != Purpose::SecondFactor {
                return Ok(Err(PasskeyError::NoPasskey));
            }
            let rp = passkeys.rp()?;
            let user_id = pending.row.user_id;
            let hash = pending.hash().to_string();
            Ok::<_, PasskeyError>(crate::db::write_transaction(conn, |conn| {
                passkey::start_second_factor(conn, rp, user_id, &hash, now())
            }))
        })
        .await;
    match started {
        Ok(Err(PasskeyError::Expired)) => Ok(json_error(
            StatusCode::BAD_REQUEST,
            &lang.t("passkey-sign-in-expired"),
        )),
        Ok(started) => {
            if let Err(PasskeyError::TooMany) = &started {
                state.metrics.passkey_challenges_refused.inc();
            }
            options_answer(lang, started)
        }
        Err(e) => options_answer(lang, Err(e)),
    }
}

/// `POST /login/mfa/passkey`: completes the held sign-in with the passkey's answer.
#[tracing::instrument(skip_all)]
pub async fn second_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<CeremonyForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    if !AnonymousForm::verify(&req, &state, &form.csrf_token) {
        return step_page(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            Some(lang_of(&req).t("passkey-form-expired")),
        )
        .await;
    }
    let Some(token) = pending_token(&req, &state) else {
        return Ok(see_other("/login"));
    };
    let (ceremony, credential) = match form
        .parts()
        .and_then(|parts| check_origin(&req, &state.auth.passkeys).map(|()| parts))
    {
        Ok(parts) => parts,
        Err(e) => {
            let message = messages::passkey(lang_of(&req), &e);
            return step_page(&req, &state, status_of(&e), Some(message)).await;
        }
    };
    let ip = state.client_ip(&req).lockout_key();
    let factor = SecondFactor::Passkey(Box::new(Assertion {
        ceremony,
        credential,
        pending_hash: HashedToken::of(&token).as_str().to_string(),
        rp: state.auth.passkeys.clone(),
    }));
    complete(
        &req,
        &state,
        &session,
        token,
        factor,
        &ip,
        &lang_of(&req).t("passkey-did-not-verify"),
    )
    .await
}

/// `POST /login/passkey/options` (`auth.passkey_login`): a challenge for a username-less
/// sign-in; the one thing an anonymous visitor can make the server store (5 minutes, at most
/// `MAX_OUTSTANDING` per client address, then 429).
#[tracing::instrument(skip_all)]
pub async fn sign_in_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<OptionsForm>,
) -> Result<HttpResponse, PageError> {
    let lang = lang_of(&req);
    if !AnonymousForm::verify(&req, &state, &form.csrf_token) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            &lang.t("passkey-form-expired"),
        ));
    }
    if let Err(e) = check_origin(&req, &state.auth.passkeys) {
        return options_answer(lang, Err(e));
    }
    let ip = state.client_ip(&req).lockout_key();
    match sign_in::start(&state.auth, state.auth.passkeys.clone(), &ip).await {
        Ok(started) => options_answer(lang, Ok(started)),
        Err(SignInError::Refused(e)) => {
            if let PasskeyError::TooMany = e {
                tracing::info!(target: "audit", event = "passkey_challenges_refused", ip);
            }
            options_answer(lang, Err(e))
        }
        Err(SignInError::Failed(failure)) => failure_answer(lang, failure),
    }
}

/// `POST /login/passkey` (`auth.passkey_login`): signs the browser in with the passkey's
/// answer (a fresh session id, as after a password).
#[tracing::instrument(skip_all)]
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<CeremonyForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let next = safe_next(&form.next).to_string();
    let rd = safe_rd(&form.rd, &state.config().forward_auth);
    let lang = lang_of(&req);
    let again = |status: StatusCode, message: String| {
        login_page(
            &req,
            &state,
            status,
            Some(message),
            String::new(),
            next.clone(),
            rd.clone(),
        )
    };
    if !AnonymousForm::verify(&req, &state, &form.csrf_token) {
        return again(StatusCode::FORBIDDEN, lang.t("passkey-form-expired"));
    }
    let (ceremony, credential) = match form
        .parts()
        .and_then(|parts| check_origin(&req, &state.auth.passkeys).map(|()| parts))
    {
        Ok(parts) => parts,
        Err(e) => return again(status_of(&e), messages::passkey(lang, &e)),
    };
    let ip = state.client_ip(&req).lockout_key();
    match sign_in::finish(
        &state.auth,
        state.auth.passkeys.clone(),
        ceremony,
        credential,
        &ip,
    )
    .await
    {
        Ok(signed) => {
            // Renews the session id: an id planted before sign-in is worthless after it.
            start_session(&req, &state, &session, &signed.user, signed.checked_at)?;
            // A passkey that verified its user: two factors in itself.
            session.record_methods(&["hwk", "user", "mfa"]);
            continue_to(
                rd.as_deref().unwrap_or(&next),
                Nav::signed_in(&req, &signed.user, &session),
            )
        }
        Err(SignInError::Refused(PasskeyError::Db(e))) => Err(Failure::from(e).into()),
        Err(SignInError::Refused(e)) => again(status_of(&e), messages::passkey(lang, &e)),
        Err(SignInError::Failed(Failure::Locked { retry_after })) => {
            let mut response = again(
                StatusCode::TOO_MANY_REQUESTS,
                lang.t_with("login-locked", &[("wait", lang.wait(retry_after).into())]),
            )?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            Ok(response)
        }
        Err(SignInError::Failed(other)) => Err(other.into()),
    }
}

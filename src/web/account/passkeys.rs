//! Passkeys on `/account`: `POST /account/passkeys/options` (starts a registration; JSON for
//! `static/passkeys.js`), `POST /account/passkeys` (the authenticator's answer, as a form),
//! and `GET|POST /account/passkeys/{id}/remove` (a confirm page, then the removal).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::get::page;
use super::post::account_failure;
use crate::accounts::{AccountError, Reauth};
use crate::auth::csrf;
use crate::auth::mfa;
use crate::auth::passkey::PasskeyError;
use crate::domain::Password;
use crate::domain::clock::now;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::lang::lang_of;
use crate::web::messages;
use crate::web::passkey::{
    CeremonyForm, check_origin, failure_answer, json_error, options_answer, status_of,
};
use crate::web::{Nav, SignedIn, render, see_other};

/// A registration's start: the name, and the current password when the sign-in is old.
#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /account/passkeys/options`: starts registering a named passkey (needs the password
/// or a sign-in within the last 10 minutes, like enrolling TOTP).
#[tracing::instrument(skip_all)]
pub async fn options(
    req: HttpRequest,
    form: web::Form<StartForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let lang = lang_of(&req);
    let signed_in = match SignedIn::after_body(&req).await {
        Ok(signed_in) => signed_in,
        Err(PageError::Failed(failure)) => return failure_answer(lang, failure),
        Err(_) => {
            return Ok(json_error(
                StatusCode::UNAUTHORIZED,
                &lang.t("passkey-sign-in-ended"),
            ));
        }
    };
    let form = form.into_inner();
    if csrf::verify(&session, &form.csrf_token).is_err() {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            &lang.t("passkey-form-expired"),
        ));
    }
    if let Err(e) = check_origin(&req, &state.auth.passkeys) {
        return options_answer(lang, Err(e));
    }
    let caller = signed_in.0;
    let password =
        (!form.current_password.is_empty()).then(|| Password::new(form.current_password));
    let reauth = Reauth::of(&caller, session.auth_at(), password);
    let ip = state.client_ip(&req).lockout_key();
    let resident = state.config().auth.passkey_login;
    match state
        .accounts
        .start_passkey_registration(&state.auth, &caller, reauth, form.name, resident, &ip)
        .await
    {
        Ok(started) => options_answer(lang, Ok(started)),
        Err(AccountError::Passkey(e)) => options_answer(lang, Err(e)),
        Err(e @ (AccountError::WrongPassword | AccountError::ReauthRequired)) => Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &messages::account_sentence(lang, &e),
        )),
        Err(AccountError::CallerRevoked) => Ok(json_error(
            StatusCode::UNAUTHORIZED,
            &lang.t("passkey-sign-in-ended"),
        )),
        Err(AccountError::Failed(failure)) => failure_answer(lang, failure),
        Err(other) => Err(account_failure(other)),
    }
}

/// `POST /account/passkeys`: stores the passkey the authenticator just made.
#[tracing::instrument(skip_all)]
pub async fn register(
    req: HttpRequest,
    form: web::Form<CeremonyForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let caller = signed_in.0;
    let lang = lang_of(&req);
    let refuse = |e: PasskeyError| {
        let (status, message) = (status_of(&e), messages::passkey(lang, &e));
        let (req, state, user, session) = (&req, &state, &caller.user, &session);
        async move { page(req, state, user, session, status, vec![message]).await }
    };
    let (ceremony, credential) = match form
        .parts()
        .and_then(|parts| check_origin(&req, &state.auth.passkeys).map(|()| parts))
    {
        Ok(parts) => parts,
        Err(e) => return refuse(e).await,
    };
    match state
        .accounts
        .finish_passkey_registration(&state.auth, &caller, ceremony, credential)
        .await
    {
        Ok(registered) => {
            session.flash(if registered.discoverable {
                lang.t_with("passkey-added-login", &[("name", registered.name.into())])
            } else {
                lang.t_with("passkey-added", &[("name", registered.name.into())])
            });
            Ok(see_other("/account#passkeys"))
        }
        Err(AccountError::Passkey(e)) => refuse(e).await,
        Err(other) => Err(account_failure(other)),
    }
}

/// The confirm page of a removal.
#[derive(Template)]
#[template(path = "passkey_remove.html")]
pub struct RemovePage {
    pub nav: Nav,
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: String,
    pub needs_password: bool,
    pub error: Option<String>,
}

fn passkey_id(path: &str) -> Result<i64, PageError> {
    path.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(PageError::NotFound)
}

async fn remove_page(
    req: &HttpRequest,
    state: &AppState,
    signed_in: &SignedIn,
    session: &TypedSession,
    id: i64,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let user_id = signed_in.user.id;
    let found = state
        .accounts
        .passkeys(user_id)
        .await
        .map_err(account_failure)?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or(PageError::NotFound)?;
    let lang = lang_of(req);
    render(
        status,
        &RemovePage {
            nav: Nav::for_user(req, &signed_in.user, session),
            id,
            name: found.name,
            added: lang.datetime(found.created_at),
            last_used: found
                .last_used_at
                .map_or_else(|| lang.t("time-never"), |t| lang.datetime(t)),
            needs_password: !mfa::recent(session.auth_at(), now()),
            error,
        },
    )
}

/// `GET /account/passkeys/{id}/remove`: asks to confirm.
#[tracing::instrument(skip_all)]
pub async fn confirm_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = passkey_id(&path)?;
    remove_page(&req, &state, &signed_in, &session, id, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /account/passkeys/{id}/remove`: removes the passkey; every other session and refresh
/// family of the user ends, this browser is carried over.
#[tracing::instrument(skip_all)]
pub async fn remove(
    req: HttpRequest,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let id = passkey_id(&path)?;
    let password =
        (!form.current_password.is_empty()).then(|| Password::new(form.current_password));
    let reauth = Reauth::of(&signed_in.0, session.auth_at(), password);
    let ip = state.client_ip(&req).lockout_key();
    match state
        .accounts
        .remove_passkey(&state.auth, &signed_in.0, id, reauth, &ip)
        .await
    {
        Ok(name) => {
            session.carry_over();
            session.flash(lang_of(&req).t_with("passkey-removed", &[("name", name.into())]));
            Ok(see_other("/account#passkeys"))
        }
        Err(e @ (AccountError::WrongPassword | AccountError::ReauthRequired)) => {
            remove_page(
                &req,
                &state,
                &signed_in,
                &session,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(messages::account_sentence(lang_of(&req), &e)),
            )
            .await
        }
        Err(AccountError::Passkey(PasskeyError::NotFound)) => Err(PageError::NotFound),
        Err(other) => Err(account_failure(other)),
    }
}

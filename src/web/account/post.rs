//! `POST /account/password`, `/account/logout-all`, `/account/sessions/{id}/end`, and the
//! second factor: `/account/totp` (start), `/account/totp/confirm`, `/account/totp/remove`,
//! `/account/recovery-codes`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::get::page;
use crate::accounts::{AccountError, By, Enroller, Reauth};
use crate::auth::csrf;
use crate::domain::Password;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::form_errors::FieldErrors;
use crate::web::lang::lang_of;
use crate::web::messages;
use crate::web::{SignedIn, SignedOut, see_other};

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    /// Optional: when the form sends it, it must match.
    new_password_confirm: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

/// Change the password; every other session and refresh token of the user ends.
///
/// The session is resolved once the form has arrived, and the change checks it again inside
/// its transaction: a request held open across a revocation changes nothing.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    req: HttpRequest,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let caller = signed_in.0;
    let user = caller.user.clone();
    let lang = lang_of(&req);
    let refuse = |errors: FieldErrors| {
        page(
            &req,
            &state,
            &user,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
    };
    if form
        .new_password_confirm
        .as_ref()
        .is_some_and(|c| *c != form.new_password)
    {
        return refuse(FieldErrors::field(
            "new_password_confirm",
            lang.t("new-passwords-differ"),
        ))
        .await;
    }
    let result = state
        .accounts
        .change_password(
            &state.auth,
            &caller,
            Password::new(form.current_password),
            Password::new(form.new_password),
            state.config().password.policy(),
            &state.client_ip(&req).lockout_key(),
        )
        .await;
    match result {
        Ok(()) => {
            // Every session of the user is revoked, this one included: carry this browser
            // over to a new session id, signed in anew, so that it alone stays signed in.
            session.carry_over();
            session.flash(lang.t("account-password-changed"));
            Ok(see_other("/account"))
        }
        Err(AccountError::WrongPassword) => {
            refuse(FieldErrors::field(
                "current_password",
                lang.t("current-password-wrong"),
            ))
            .await
        }
        Err(AccountError::Invalid(problems)) => {
            let mut errors = FieldErrors::none();
            for problem in messages::rules(lang, &problems) {
                errors.add("new_password", problem);
            }
            refuse(errors).await
        }
        // zxcvbn's verdict, warning and suggestions, one sentence each, under the field.
        Err(AccountError::Guessable(feedback)) => {
            let mut errors = FieldErrors::none();
            for message in messages::strength(lang, &feedback) {
                errors.add("new_password", message);
            }
            refuse(errors).await
        }
        Err(AccountError::SamePassword) => {
            refuse(FieldErrors::field(
                "new_password",
                lang.t("account-same-password"),
            ))
            .await
        }
        Err(other) => Err(account_failure(other)),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// Ends every session (this one too) and refresh-token family of the user.
#[tracing::instrument(skip_all)]
pub async fn logout_everywhere(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    state
        .accounts
        .sign_out_everywhere(By::Operator, signed_in.user.id)
        .await
        .map_err(account_failure)?;
    session.purge();
    SignedOut::Everywhere.redirect(&state)
}

/// Ends one of the user's own sessions.
#[tracing::instrument(skip_all)]
pub async fn end_session(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let target = path.into_inner();
    let user_id = signed_in.user.id;
    let listed =
        super::get::list_sessions(&state, &signed_in.user, &session, lang_of(&req)).await?;
    let Some(view) = listed.into_iter().find(|v| v.id == target) else {
        return Err(PageError::NotFound);
    };
    state
        .accounts
        .end_session(user_id, &target)
        .await
        .map_err(account_failure)?;
    tracing::info!(target: "audit", event = "session_ended", user_id);
    if view.current {
        session.purge();
        return SignedOut::Here.redirect(&state);
    }
    session.flash(lang_of(&req).t("account-session-ended"));
    Ok(see_other("/account"))
}

/// Ends one of the user's API sign-ins (a refresh-token family, and the access tokens issued
/// from it).
#[tracing::instrument(skip_all)]
pub async fn revoke_family(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let found = state
        .accounts
        .revoke_own_family(signed_in.user.id, path.into_inner())
        .await
        .map_err(account_failure)?;
    if !found {
        return Err(PageError::NotFound);
    }
    session.flash(lang_of(&req).t("account-token-revoked"));
    Ok(see_other("/account"))
}

/// An account change refused for a reason other than the form's input.
pub fn account_failure(e: AccountError) -> PageError {
    match e {
        AccountError::Failed(failure) => failure.into(),
        AccountError::CallerRevoked => PageError::SignInRequired {
            next: "/account".into(),
        },
        AccountError::NotAdmin => PageError::Forbidden,
        AccountError::LastAdmin => {
            PageError::Account(StatusCode::CONFLICT, AccountError::LastAdmin)
        }
        other @ (AccountError::Invalid(_)
        | AccountError::Guessable(_)
        | AccountError::SamePassword
        | AccountError::Taken
        | AccountError::WrongPassword
        | AccountError::ReauthRequired
        | AccountError::WrongCode
        | AccountError::NoEnrolment) => PageError::Account(StatusCode::UNPROCESSABLE_ENTITY, other),
        other @ (AccountError::AlreadyEnrolled | AccountError::NoFactor) => {
            PageError::Account(StatusCode::CONFLICT, other)
        }
        AccountError::Passkey(e) => {
            let status = crate::web::passkey::status_of(&e);
            PageError::Account(status, AccountError::Passkey(e))
        }
    }
}

#[derive(Deserialize)]
pub struct FactorForm {
    #[serde(default)]
    csrf_token: String,
    /// Needed when the sign-in is more than 10 minutes old.
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    code: String,
}

/// The current password typed in a factor form, if any.
fn typed_password(form: &FactorForm) -> Option<Password> {
    (!form.current_password.is_empty()).then(|| Password::new(form.current_password.clone()))
}

/// Shows recovery codes once.
fn codes_page(
    req: &HttpRequest,
    caller: &crate::auth::Authenticated,
    session: &TypedSession,
    title_key: &str,
    codes: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let nav = crate::web::Nav::for_user(req, &caller.user, session);
    crate::web::render(
        StatusCode::OK,
        &crate::web::login::mfa::RecoveryCodesPage {
            title: nav.lang.t(title_key),
            message: nav.t("recovery-codes-save-replaces"),
            nav,
            codes,
            continue_to: "/account".into(),
        },
    )
}

/// A factor change refused for its input: the account page again, with the reason.
async fn refuse_factor(
    req: &HttpRequest,
    state: &AppState,
    caller: &crate::auth::Authenticated,
    session: &TypedSession,
    e: AccountError,
) -> Result<HttpResponse, PageError> {
    let status = match e {
        AccountError::WrongPassword
        | AccountError::ReauthRequired
        | AccountError::WrongCode
        | AccountError::NoEnrolment => StatusCode::UNPROCESSABLE_ENTITY,
        AccountError::AlreadyEnrolled | AccountError::NoFactor => StatusCode::CONFLICT,
        other => return Err(account_failure(other)),
    };
    let problems = messages::account(lang_of(req), &e);
    page(req, state, &caller.user, session, status, problems).await
}

/// `POST /account/totp`: starts a TOTP enrolment; the page then shows the QR code.
#[tracing::instrument(skip_all)]
pub async fn start_totp(
    req: HttpRequest,
    form: web::Form<FactorForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let caller = signed_in.0;
    let reauth = Reauth::of(&caller, session.auth_at(), typed_password(&form));
    let ip = state.client_ip(&req).lockout_key();
    match state
        .accounts
        .start_totp(&state.auth, Enroller::Caller(caller.clone()), reauth, &ip)
        .await
    {
        Ok(_) => {
            page(
                &req,
                &state,
                &caller.user,
                &session,
                StatusCode::OK,
                Vec::new(),
            )
            .await
        }
        Err(e) => refuse_factor(&req, &state, &caller, &session, e).await,
    }
}

/// `POST /account/totp/confirm`: a valid code turns TOTP on; the recovery codes are shown once.
#[tracing::instrument(skip_all)]
pub async fn confirm_totp(
    req: HttpRequest,
    form: web::Form<FactorForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let caller = signed_in.0;
    let ip = state.client_ip(&req).lockout_key();
    match state
        .accounts
        .confirm_totp(
            &state.auth,
            Enroller::Caller(caller.clone()),
            form.code,
            &ip,
        )
        .await
    {
        Ok(codes) => codes_page(&req, &caller, &session, "mfa-enrolled-title", codes),
        Err(e) => refuse_factor(&req, &state, &caller, &session, e).await,
    }
}

/// `POST /account/totp/remove`: turns TOTP off (recovery codes go too); every other session
/// and refresh family of the user ends, this browser is carried over.
#[tracing::instrument(skip_all)]
pub async fn remove_totp(
    req: HttpRequest,
    form: web::Form<FactorForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let caller = signed_in.0;
    let reauth = Reauth::of(&caller, session.auth_at(), typed_password(&form));
    let ip = state.client_ip(&req).lockout_key();
    match state
        .accounts
        .remove_second_factors(&state.auth, &caller, reauth, &ip)
        .await
    {
        Ok(()) => {
            session.carry_over();
            session.flash(lang_of(&req).t("account-mfa-removed"));
            Ok(see_other("/account"))
        }
        Err(e) => refuse_factor(&req, &state, &caller, &session, e).await,
    }
}

/// `POST /account/recovery-codes`: a new set of recovery codes (the old set is void); every
/// other session and refresh family of the user ends, this browser is carried over.
#[tracing::instrument(skip_all)]
pub async fn regenerate_codes(
    req: HttpRequest,
    form: web::Form<FactorForm>,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let signed_in = SignedIn::after_body(&req).await?;
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let caller = signed_in.0;
    let reauth = Reauth::of(&caller, session.auth_at(), typed_password(&form));
    let ip = state.client_ip(&req).lockout_key();
    match state
        .accounts
        .regenerate_recovery_codes(&state.auth, &caller, reauth, &ip)
        .await
    {
        Ok(codes) => {
            session.carry_over();
            codes_page(&req, &caller, &session, "recovery-codes-new-title", codes)
        }
        Err(e) => refuse_factor(&req, &state, &caller, &session, e).await,
    }
}

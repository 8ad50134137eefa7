//! `/login/mfa`: the second step of a sign-in (a TOTP code, a passkey — see `passkey` — or a
//! recovery code), or, under `auth.require_mfa`, the enrolment that must come first.
//!
//! The first step's success is held server-side (`auth::mfa::second_step`) for at most five
//! minutes; this browser holds the key to it in a short-lived, HttpOnly, SameSite=Lax cookie
//! of its own, so the held sign-in binds to this browser. No session exists until every factor
//! passed: then one is created with a fresh id, as after a one-step sign-in.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts::{Enroller, Reauth};
use crate::auth::mfa::second_step::{self, Completion, Enrolled, Found, PendingDoor, Purpose};
use crate::auth::mfa::totp::qr_svg;
use crate::auth::mfa::{self as factors, PENDING_LIFETIME, SecondFactor, Used};
use crate::error::Failure;
use crate::http::redirect::after_sign_in;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::passkey::PasskeyView;
use crate::web::{AnonymousForm, Nav, continue_to, render, see_other, start_session};

/// The second step's page: the user's factors (a passkey, a code, a recovery code), or the
/// enrolment of a TOTP secret.
#[derive(Template)]
#[template(path = "login_mfa.html")]
pub struct SecondStepPage {
    pub nav: Nav,
    pub error: Option<String>,
    /// Enrolment (`auth.require_mfa`) rather than a code.
    pub enrol: Option<EnrolView>,
    /// The user has TOTP: the code form.
    pub totp: bool,
    /// The user has a passkey: the passkey button (or why passkeys cannot be used here).
    pub passkey: Option<PasskeyView>,
    /// Recovery codes are offered (the user has TOTP, or unused codes).
    pub recovery: bool,
}

/// What the enrolment form shows of the secret being enrolled.
pub struct EnrolView {
    /// Inline SVG, built from numbers only.
    pub qr: String,
    pub secret: String,
    pub uri: String,
}

/// Recovery codes, shown once (after enrolment or regeneration), or how many are left after
/// one was used.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub nav: Nav,
    pub title: String,
    pub message: String,
    pub codes: Vec<String>,
    pub continue_to: String,
}

/// The name of the cookie that holds this browser's pending sign-in.
pub fn pending_cookie_name(state: &AppState) -> String {
    format!("{}_mfa", state.config().session.cookie_name)
}

/// The pending sign-in token this browser carries, if any.
pub fn pending_token(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&pending_cookie_name(state))
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

/// Gives the browser the key to its pending sign-in.
pub fn set_pending_cookie(
    state: &AppState,
    response: &mut HttpResponse,
    token: &str,
) -> Result<(), PageError> {
    let cookie = Cookie::build(pending_cookie_name(state), token.to_string())
        .path("/")
        .http_only(true)
        .secure(state.config().cookie_secure())
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(PENDING_LIFETIME.num_seconds()))
        .finish();
    response
        .add_cookie(&cookie)
        .map_err(|e| anyhow::anyhow!("setting the pending sign-in cookie: {e}"))?;
    Ok(())
}

/// Removes the pending sign-in cookie.
fn clear_pending_cookie(state: &AppState, response: &mut HttpResponse) -> Result<(), PageError> {
    let mut cookie = Cookie::build(pending_cookie_name(state), "")
        .path("/")
        .http_only(true)
        .secure(state.config().cookie_secure())
        .same_site(SameSite::Lax)
        .finish();
    cookie.make_removal();
    response
        .add_cookie(&cookie)
        .map_err(|e| anyhow::anyhow!("clearing the pending sign-in cookie: {e}"))?;
    Ok(())
}

/// Back to the sign-in form, the pending sign-in forgotten.
fn start_over(state: &AppState) -> Result<HttpResponse, PageError> {
    let mut response = see_other("/login");
    clear_pending_cookie(state, &mut response)?;
    Ok(response)
}

/// The enrolment view of the secret waiting for confirmation, made now if there is none.
async fn enrol_view(
    lang: crate::i18n::Lang,
    state: &AppState,
    token: &str,
    user_id: i64,
    username: &str,
) -> Result<EnrolView, PageError> {
    let secret = match state
        .accounts
        .pending_totp(&state.auth, user_id)
        .await
        .map_err(crate::web::account::post::account_failure)?
    {
        Some(secret) => secret,
        None => {
            let enroller = Enroller::Pending {
                token: token.to_string(),
                user_id,
            };
            let ip = String::new();
            state
                .accounts
                .start_totp(&state.auth, enroller, Reauth::default(), &ip)
                .await
                .map_err(crate::web::account::post::account_failure)?
                .secret
        }
    };
    let uri = secret.otpauth_uri(&issuer_name(state), username);
    Ok(EnrolView {
        qr: qr_svg(&uri, &lang.t("totp-qr-title")).unwrap_or_default(),
        secret: secret.base32(),
        uri,
    })
}

/// The issuer authenticator apps show, for this server.
pub fn issuer_name(state: &AppState) -> String {
    crate::auth::mfa::totp::issuer(&state.config().public_url())
}

/// Renders the step page for the pending sign-in `token` names.
pub(super) async fn step_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let Some(token) = pending_token(req, state) else {
        return Ok(see_other("/login"));
    };
    let lookup = token.clone();
    let found = state
        .db
        .run(move |conn| second_step::find(conn, &lookup, PendingDoor::Html).map_err(Failure::from))
        .await?;
    let Found::Live(pending) = found else {
        return start_over(state);
    };
    let user_id = pending.row.user_id;
    let enrol = if pending.purpose == Purpose::Enrolment {
        let user = state
            .auth
            .user_state(user_id)
            .await?
            .ok_or(PageError::NotFound)?;
        Some(
            enrol_view(
                crate::web::lang::lang_of(req),
                state,
                &token,
                user_id,
                &user.username,
            )
            .await?,
        )
    } else {
        None
    };
    let has = state
        .db
        .run(move |conn| {
            factors::factors(conn, user_id, crate::domain::clock::now()).map_err(Failure::from)
        })
        .await?;
    let form = AnonymousForm::for_request(req, state);
    let mut response = render(
        status,
        &SecondStepPage {
            nav: Nav::anonymous(req, &form),
            error,
            enrol,
            totp: has.totp,
            passkey: (has.passkeys > 0)
                .then(|| PasskeyView::of(&state.auth.passkeys, crate::web::lang::lang_of(req))),
            recovery: has.totp || has.recovery_left > 0,
        },
    )?;
    form.attach(state, &mut response)?;
    Ok(response)
}

#[tracing::instrument(skip_all)]
pub async fn second_step_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    step_page(&req, &state, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct SecondStepForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
    #[serde(default)]
    csrf_token: String,
}

/// A locked username or address: the page again, 429 with `Retry-After`.
pub(super) async fn locked(
    req: &HttpRequest,
    state: &AppState,
    retry_after: u64,
) -> Result<HttpResponse, PageError> {
    let lang = crate::web::lang::lang_of(req);
    let message = lang.t_with("mfa-too-many", &[("wait", lang.wait(retry_after).into())]);
    let mut response = step_page(req, state, StatusCode::TOO_MANY_REQUESTS, Some(message)).await?;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    Ok(response)
}

/// Signs the browser in after every factor passed (a new session id, as after a one-step
/// sign-in); returns the page frame of the signed-in user.
fn sign_in(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    user: &crate::db::models::User,
    checked_at: chrono::NaiveDateTime,
) -> Result<Nav, PageError> {
    start_session(req, state, session, user, checked_at)?;
    Ok(Nav::signed_in(req, user, session))
}

/// The pending sign-in is over: its cookie goes.
fn done(state: &AppState, mut response: HttpResponse) -> Result<HttpResponse, PageError> {
    clear_pending_cookie(state, &mut response)?;
    Ok(response)
}

#[tracing::instrument(skip_all)]
pub async fn second_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<SecondStepForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    if !AnonymousForm::verify(&req, &state, &form.csrf_token) {
        return step_page(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            Some(crate::web::lang::lang_of(&req).t("login-form-expired")),
        )
        .await;
    }
    let Some(token) = pending_token(&req, &state) else {
        return Ok(see_other("/login"));
    };
    let ip = state.client_ip(&req).lockout_key();
    let lookup = token.clone();
    let found = state
        .db
        .run(move |conn| second_step::find(conn, &lookup, PendingDoor::Html).map_err(Failure::from))
        .await?;
    if let Found::Live(pending) = &found
        && pending.purpose == Purpose::Enrolment
    {
        let master = state.auth.keys.master_arc();
        return match second_step::complete_enrolment(&state.auth, master, token, form.code, &ip)
            .await
        {
            Ok(Enrolled::SignedIn(signed)) => {
                let next = after_sign_in(
                    signed.next_path.as_deref().unwrap_or("/"),
                    &state.config().forward_auth,
                );
                let nav = sign_in(&req, &state, &session, &signed.user, signed.checked_at)?;
                session.record_methods(&["pwd", "otp", "mfa"]);
                let page = RecoveryCodesPage {
                    title: nav.t("mfa-enrolled-title"),
                    message: nav.t("recovery-codes-save"),
                    nav,
                    codes: signed.value.clone(),
                    continue_to: next,
                };
                done(&state, render(StatusCode::OK, &page)?)
            }
            Ok(Enrolled::WrongCode) => {
                step_page(
                    &req,
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(crate::web::lang::lang_of(&req).t("mfa-code-wrong-enrol")),
                )
                .await
            }
            Ok(Enrolled::Invalid) => start_over(&state),
            Err(Failure::Locked { retry_after }) => locked(&req, &state, retry_after).await,
            Err(other) => Err(other.into()),
        };
    }
    let factor = if !form.recovery_code.trim().is_empty() {
        SecondFactor::RecoveryCode(form.recovery_code)
    } else {
        SecondFactor::Totp(form.code)
    };
    complete(
        &req,
        &state,
        &session,
        token,
        factor,
        &ip,
        &crate::web::lang::lang_of(&req).t("mfa-code-wrong"),
    )
    .await
}

/// The page a second step's completion leads to: signed in (to `next`, or the recovery-code
/// notice), the step again with `wrong` for a factor that did not pass, or back to the sign-in
/// form when the pending sign-in is gone.
/// Completes the held sign-in named by `token` with `factor`, and answers with the next page:
/// what the code and the passkey second steps share.
pub(super) async fn complete(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    token: String,
    factor: SecondFactor,
    ip: &str,
    wrong: &str,
) -> Result<HttpResponse, PageError> {
    let completion = second_step::complete(
        &state.auth,
        state.auth.keys.master_arc(),
        token,
        PendingDoor::Html,
        factor,
        ip,
        |_, _, _| Ok(()),
    )
    .await;
    answer(req, state, session, completion, wrong).await
}

pub(super) async fn answer(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    completion: Result<Completion<()>, Failure>,
    wrong: &str,
) -> Result<HttpResponse, PageError> {
    match completion {
        Ok(Completion::Done(signed)) => {
            let next = after_sign_in(
                signed.next_path.as_deref().unwrap_or("/"),
                &state.config().forward_auth,
            );
            let nav = sign_in(req, state, session, &signed.user, signed.checked_at)?;
            session.record_methods(match signed.used {
                Used::Passkey { .. } => &["pwd", "hwk", "mfa"],
                Used::Totp | Used::RecoveryCode { .. } => &["pwd", "otp", "mfa"],
            });
            let response = match signed.used {
                Used::RecoveryCode { left } => render(
                    StatusCode::OK,
                    &RecoveryCodesPage {
                        title: nav.t("mfa-recovery-signed-in-title"),
                        message: nav.t1("mfa-recovery-used-up", "count", left),
                        nav,
                        codes: Vec::new(),
                        continue_to: next,
                    },
                )?,
                Used::Totp | Used::Passkey { .. } => continue_to(&next, nav)?,
            };
            done(state, response)
        }
        Ok(Completion::WrongFactor) => {
            step_page(
                req,
                state,
                StatusCode::UNAUTHORIZED,
                Some(wrong.to_string()),
            )
            .await
        }
        Ok(Completion::Invalid | Completion::EnrolFirst) => start_over(state),
        Err(Failure::Locked { retry_after }) => locked(req, state, retry_after).await,
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf_token: String,
}

/// Gives the pending sign-in up: back to the sign-in form.
#[tracing::instrument(skip_all)]
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CancelForm>,
) -> Result<HttpResponse, PageError> {
    if !AnonymousForm::verify(&req, &state, &form.csrf_token) {
        return Err(PageError::Csrf);
    }
    if let Some(token) = pending_token(&req, &state) {
        second_step::abandon(&state.auth, token).await?;
    }
    start_over(&state)
}

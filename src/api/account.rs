//! `/api/account/totp*`: API clients manage their own TOTP (SPEC §6).
//!
//! - `POST /api/account/totp` `{"password"?}` → 200 `{"secret","otpauth_uri"}`: starts an
//!   enrolment (not active until confirmed); the password is needed when the caller's
//!   `auth_time` is over 10 minutes old.
//! - `POST /api/account/totp/confirm` `{"code"}` → 200 `{"recovery_codes":[…]}`: TOTP is on.
//! - `DELETE /api/account/totp` `{"password"?}` → 204: TOTP and recovery codes removed; the
//!   user's other sessions and refresh families end, the caller's credential stays.
//! - `POST /api/account/totp/recovery-codes` `{"password"?}` → 200 `{"recovery_codes":[…]}`:
//!   a new set (the old one is void); the user's other sessions and families end.
//!
//! Callers: a bearer token, or a session with its CSRF token in `X-CSRF-Token`; and, for the
//! first two, the `mfa_token` of an `mfa_enrollment_required` answer used as a bearer token
//! (`auth.require_mfa`): it works nowhere else.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body::{parse_fields, read_body};
use super::error::ApiError;
use crate::accounts::{Enroller, Reauth};
use crate::auth::csrf::{self, CSRF_HEADER};
use crate::auth::mfa::second_step::{self, Found, PendingDoor, Purpose};
use crate::auth::strategy::REALM;
use crate::auth::strategy::bearer::bearer_token;
use crate::auth::{AuthCheck, Authenticated, Credential};
use crate::domain::Password;
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;

#[derive(Serialize)]
struct StartedView {
    secret: String,
    otpauth_uri: String,
}

#[derive(Serialize)]
struct CodesView {
    recovery_codes: Vec<String>,
}

/// An opaque bearer token (no dots: not a JWT) is an `mfa_token`.
fn opaque_bearer(req: &HttpRequest) -> Option<&str> {
    bearer_token(req).filter(|t| !t.is_empty() && !t.contains('.'))
}

fn invalid_token() -> ApiError {
    ApiError::InvalidToken {
        description: "invalid",
        challenges: vec![format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"invalid\""
        )],
    }
}

/// The signed-in caller (CSRF checked for a session).
async fn signed_in_caller(
    req: &HttpRequest,
    session: &TypedSession,
) -> Result<Authenticated, ApiError> {
    let who = AppState::resolve(req, AuthCheck::any()).await?;
    if matches!(who.credential, Credential::Session { .. }) {
        let submitted = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        csrf::verify(session, submitted).map_err(|_| ApiError::Csrf)?;
    }
    Ok(who)
}

/// Who enrols: a held enrolment sign-in (its `mfa_token` as a bearer token), or a signed-in
/// caller.
async fn enroller(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
) -> Result<Enroller, ApiError> {
    if let Some(token) = opaque_bearer(req) {
        let token = token.to_string();
        let lookup = token.clone();
        let found = state
            .db
            .run(move |conn| {
                second_step::find(conn, &lookup, PendingDoor::Api).map_err(Failure::from)
            })
            .await?;
        return match found {
            Found::Live(pending) if pending.purpose == Purpose::Enrolment => {
                Ok(Enroller::Pending {
                    token,
                    user_id: pending.row.user_id,
                })
            }
            _ => Err(invalid_token()),
        };
    }
    Ok(Enroller::Caller(signed_in_caller(req, session).await?))
}

/// The caller of a change that needs a signed-in user (an `mfa_token` is refused here).
async fn caller(req: &HttpRequest, session: &TypedSession) -> Result<Authenticated, ApiError> {
    if opaque_bearer(req).is_some() {
        return Err(invalid_token());
    }
    signed_in_caller(req, session).await
}

/// The optional `password` of a body (JSON, form, or none at all).
async fn password_field(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<Option<Password>, ApiError> {
    let (kind, body) = read_body(req, payload, state.config().max_body()).await?;
    let mut fields = parse_fields(kind, &body, &["password"])?;
    Ok(fields.remove("password").map(Password::new))
}

fn json_no_store(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `POST /api/account/totp`.
#[tracing::instrument(skip_all)]
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The body first: who is calling is decided on facts from after it arrived.
    let password = password_field(&req, &state, payload).await?;
    let enroller = enroller(&req, &state, &session).await?;
    let reauth = match &enroller {
        Enroller::Caller(who) => Reauth::of(who, session.auth_at(), password),
        Enroller::Pending { .. } => Reauth::default(),
    };
    let username = match &enroller {
        Enroller::Caller(who) => who.user.username.clone(),
        Enroller::Pending { user_id, .. } => state
            .auth
            .user_state(*user_id)
            .await?
            .map(|u| u.username.clone())
            .ok_or_else(invalid_token)?,
    };
    let ip = state.client_ip(&req).lockout_key();
    let started = state
        .accounts
        .start_totp(&state.auth, enroller, reauth, &ip)
        .await?;
    let issuer = crate::auth::mfa::totp::issuer(&state.config().public_url());
    Ok(json_no_store(StartedView {
        secret: started.secret.base32(),
        otpauth_uri: started.secret.otpauth_uri(&issuer, &username),
    }))
}

/// `POST /api/account/totp/confirm`.
#[tracing::instrument(skip_all)]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (kind, body) = read_body(&req, payload, state.config().max_body()).await?;
    let mut fields = parse_fields(kind, &body, &["code"])?;
    let code = fields
        .remove("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("code is required".into()))?;
    let enroller = enroller(&req, &state, &session).await?;
    let ip = state.client_ip(&req).lockout_key();
    let codes = state
        .accounts
        .confirm_totp(&state.auth, enroller, code, &ip)
        .await?;
    Ok(json_no_store(CodesView {
        recovery_codes: codes,
    }))
}

/// `DELETE /api/account/totp`.
#[tracing::instrument(skip_all)]
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let password = password_field(&req, &state, payload).await?;
    let who = caller(&req, &session).await?;
    let reauth = Reauth::of(&who, session.auth_at(), password);
    let ip = state.client_ip(&req).lockout_key();
    state
        .accounts
        .remove_second_factors(&state.auth, &who, reauth, &ip)
        .await?;
    if matches!(who.credential, Credential::Session { .. }) {
        // Every session of the user was revoked, this one included: carry it over.
        session.carry_over();
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/account/totp/recovery-codes`.
#[tracing::instrument(skip_all)]
pub async fn regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let password = password_field(&req, &state, payload).await?;
    let who = caller(&req, &session).await?;
    let reauth = Reauth::of(&who, session.auth_at(), password);
    let ip = state.client_ip(&req).lockout_key();
    let codes = state
        .accounts
        .regenerate_recovery_codes(&state.auth, &who, reauth, &ip)
        .await?;
    if matches!(who.credential, Credential::Session { .. }) {
        session.carry_over();
    }
    Ok(json_no_store(CodesView {
        recovery_codes: codes,
    }))
}

//! `POST /api/token`: the password grant (JSON, form or HTTP Basic), the refresh grant, and
//! the second step of a sign-in: `urn:gatehouse:mfa-otp` and `urn:gatehouse:mfa-recovery`
//! complete what a password grant answered with `mfa_required` (its `mfa_token`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body::{BodyKind, parse_fields, read_body};
use super::error::ApiError;
use crate::auth::login::{Verified, check_password};
use crate::auth::mfa::second_step::{self, Completion, PendingDoor, Purpose};
use crate::auth::mfa::{Door, NextStep, SecondFactor, SignInPolicy};
use crate::auth::strategy::basic::{basic_header, parse_basic};
use crate::auth::token::refresh::{self, Issued, Rotation};
use crate::config::Settings;
use crate::db::models::User;
use crate::domain::Password;
use crate::error::Failure;
use crate::state::AppState;
use crate::telemetry::quoted;

const FIELDS: &[&str] = &[
    "grant_type",
    "username",
    "password",
    "refresh_token",
    "mfa_token",
    "otp",
    "recovery_code",
];

/// Completes an `mfa_required` sign-in with a TOTP code (`mfa_token`, `otp`).
pub const GRANT_MFA_OTP: &str = "urn:gatehouse:mfa-otp";
/// Completes an `mfa_required` sign-in with a recovery code (`mfa_token`, `recovery_code`).
pub const GRANT_MFA_RECOVERY: &str = "urn:gatehouse:mfa-recovery";

/// RFC 6749 §5.1.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
}

#[tracing::instrument(skip_all, fields(grant_type))]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let (kind, body) = read_body(&req, payload, config.max_body()).await?;
    token_body(req, state, kind, &body).await
}

/// The token endpoint for a body already read (the OpenID Connect provider reads it first, to
/// take the grants that are its own, and hands every other one here).
pub async fn token_body(
    req: HttpRequest,
    state: web::Data<AppState>,
    kind: BodyKind,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let mut fields = parse_fields(kind, body, FIELDS)?;
    let grant = fields.remove("grant_type");
    tracing::Span::current().record(
        "grant_type",
        tracing::field::display(quoted(grant.as_deref().unwrap_or("password"))),
    );
    let verified = match grant.as_deref() {
        None | Some("password") => password_grant(&req, &state, &config, fields).await?,
        Some("refresh_token") => {
            let presented = fields
                .remove("refresh_token")
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError::InvalidRequest("refresh_token is required".into()))?;
            return refresh_grant(&state, &config, presented).await;
        }
        Some(GRANT_MFA_OTP) => {
            let otp = required(&mut fields, "otp")?;
            return second_factor_grant(&req, &state, &config, fields, SecondFactor::Totp(otp))
                .await;
        }
        Some(GRANT_MFA_RECOVERY) => {
            let code = required(&mut fields, "recovery_code")?;
            let factor = SecondFactor::RecoveryCode(code);
            return second_factor_grant(&req, &state, &config, fields, factor).await;
        }
        Some(_) => return Err(ApiError::UnsupportedGrantType),
    };
    match verified.next {
        NextStep::Done => {}
        NextStep::SecondFactor | NextStep::Enrol => {
            // The password is right; the sign-in waits for its second step (or enrolment).
            let purpose = if verified.next == NextStep::Enrol {
                Purpose::Enrolment
            } else {
                Purpose::SecondFactor
            };
            let (token, totp) = state
                .db
                .run(move |conn| {
                    let token =
                        second_step::hold(conn, &verified, purpose, PendingDoor::Api, None)?;
                    // A user whose only second factor is a passkey cannot complete here (the
                    // token API checks codes, not WebAuthn): the description says so.
                    let totp = crate::db::totp::is_active(conn, verified.user.id)?;
                    Ok::<_, crate::db::DbError>((token, totp))
                })
                .await
                .map_err(Failure::from)?;
            return Err(ApiError::MfaRequired {
                mfa_token: token,
                enrollment: purpose == Purpose::Enrolment,
                passkey_only: purpose == Purpose::SecondFactor && !totp,
            });
        }
    }
    // The family is born in one transaction that re-reads the user: a password change or
    // revocation that committed while bcrypt ran refuses it, as a failed login.
    let refresh_ttl = config.token.refresh_ttl.0;
    let user = verified.user.clone();
    let auth_time = verified.checked_at;
    let issued = state
        .db
        .run(move |conn| {
            refresh::start_family_for(conn, &verified, refresh_ttl).map_err(Failure::from)
        })
        .await?
        .ok_or(ApiError::InvalidCredentials {
            basic: config.auth.basic,
        })?;
    respond(&state, &user, issued, auth_time).await
}

/// A non-empty string field, else 400 `invalid_request` naming it.
fn required(
    fields: &mut std::collections::HashMap<String, String>,
    name: &'static str,
) -> Result<String, ApiError> {
    fields
        .remove(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest(format!("{name} is required")))
}

/// `urn:gatehouse:mfa-otp` / `urn:gatehouse:mfa-recovery`: completes the sign-in held by
/// `mfa_token` with `factor`; the refresh family is born in the completing transaction.
async fn second_factor_grant(
    req: &HttpRequest,
    state: &AppState,
    config: &Settings,
    mut fields: std::collections::HashMap<String, String>,
    factor: SecondFactor,
) -> Result<HttpResponse, ApiError> {
    let presented = required(&mut fields, "mfa_token")?;
    let ip = state.client_ip(req).lockout_key();
    let refresh_ttl = config.token.refresh_ttl.0;
    let completion = second_step::complete(
        &state.auth,
        state.auth.keys.master_arc(),
        presented,
        PendingDoor::Api,
        factor,
        &ip,
        move |conn, user, pending| {
            // The family dates from the password check, like a one-step sign-in's.
            let at = pending.checked_at;
            refresh::start_family_at(conn, user.id, at, at, refresh_ttl)
        },
    )
    .await?;
    match completion {
        Completion::Done(done) => {
            let auth_time = done.checked_at;
            respond(state, &done.user, done.value, auth_time).await
        }
        Completion::WrongFactor => Err(ApiError::InvalidGrant(
            "the code is wrong or was already used",
        )),
        Completion::Invalid => Err(ApiError::InvalidGrant(
            "the mfa_token is invalid, expired or already used; sign in again",
        )),
        Completion::EnrolFirst => Err(ApiError::InvalidGrant(
            "this mfa_token is for enrolment: enrol TOTP at /api/account/totp first",
        )),
    }
}

async fn password_grant(
    req: &HttpRequest,
    state: &AppState,
    config: &Settings,
    mut fields: std::collections::HashMap<String, String>,
) -> Result<Verified, ApiError> {
    let basic_on = config.auth.basic;
    let mut door = Door::Token;
    let (username, password) = match (fields.remove("username"), fields.remove("password")) {
        (Some(u), Some(p)) => (u, Password::new(p)),
        (None, None) if basic_on && basic_header(req).is_some() => {
            let value = basic_header(req).unwrap_or_default();
            door = Door::Basic;
            parse_basic(value)
                .map_err(|_| ApiError::InvalidRequest("malformed Basic credentials".into()))?
        }
        _ => {
            return Err(ApiError::InvalidRequest(
                "username and password are required".into(),
            ));
        }
    };
    let ip = state.client_ip(req).lockout_key();
    let policy = SignInPolicy::new(door, config.auth.require_mfa);
    check_password(&state.auth, &username, password, &ip, policy)
        .await
        .map_err(|e| ApiError::from_login(e, basic_on))
}

async fn refresh_grant(
    state: &AppState,
    config: &Settings,
    presented: String,
) -> Result<HttpResponse, ApiError> {
    let policy = refresh::RefreshPolicy::of(&config.token);
    let rotation = state
        .accounts
        .rotate_refresh_token(presented, policy)
        .await?;
    match rotation {
        Rotation::Rotated {
            user,
            issued,
            auth_time,
        } => respond(state, &user, issued, auth_time).await,
        Rotation::Reused => {
            state.metrics.refresh_reuse.inc();
            Err(ApiError::InvalidGrant(
                "the refresh token is invalid, expired or revoked",
            ))
        }
        Rotation::Invalid => Err(ApiError::InvalidGrant(
            "the refresh token is invalid, expired or revoked",
        )),
    }
}

async fn respond(
    state: &AppState,
    user: &User,
    issued: Issued,
    auth_time: chrono::NaiveDateTime,
) -> Result<HttpResponse, ApiError> {
    let keys = state.auth.keys.current().await?;
    let access = keys
        .issue_at(
            user,
            &issued.family_id,
            Some(auth_time.and_utc().timestamp()),
        )
        .map_err(|e| anyhow::anyhow!("signing an access token: {e}"))?;
    state.metrics.tokens_issued.inc();
    tracing::info!(target: "audit", event = "tokens_issued", user_id = user.id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            refresh_token: issued.token,
        }))
}

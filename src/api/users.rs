//! The admin JSON API (SPEC §6): `POST /api/users` (admins: create a user, whatever
//! `auth.registration` says; anyone else: self-service registration, with
//! `auth.registration`), `GET /api/users` (the list of users), `PATCH /api/users/{id}`
//! (disabled, admin, service), `DELETE /api/users/{id}`, `POST /api/users/{id}/logout` (sign
//! out everywhere), `POST /api/users/{id}/password-reset` (a one-time reset link),
//! `POST /api/users/{id}/unlock` and `DELETE /api/users/{id}/mfa` (reset second factors).
//!
//! Admins call with a bearer token, or a session and its CSRF token in `X-CSRF-Token`. Each
//! write resolves the caller after the body arrived, and `Accounts` checks it again inside the
//! write's transaction; the admin page goes through the same `Accounts` functions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body::{parse_fields, read_body};
use super::error::ApiError;
use super::extract::AdminCaller;
use crate::accounts::{By, UserPatch, validate_new_account};
use crate::auth::csrf::{self, CSRF_HEADER};
use crate::auth::{AuthCheck, Authenticated, Credential};
use crate::db::models::User;
use crate::db::users;
use crate::domain::Password;
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;

#[derive(Serialize)]
struct Created {
    id: i64,
    username: String,
}

/// A session admin's write needs the session's CSRF token (the cookie alone rides along on
/// cross-site requests).
fn check_session_csrf(
    req: &HttpRequest,
    who: &Authenticated,
    session: &TypedSession,
) -> Result<(), ApiError> {
    if matches!(who.credential, Credential::Session { .. }) {
        let submitted = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        csrf::verify(session, submitted).map_err(|_| ApiError::Csrf)?;
    }
    Ok(())
}

/// A JSON boolean field: absent is `false`; anything but `true`/`false` is refused.
fn flag(body: &[u8], kind: super::body::BodyKind, name: &str) -> Result<bool, ApiError> {
    match kind {
        super::body::BodyKind::Json => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|_| ApiError::InvalidRequest("the body is not valid JSON".into()))?;
            match value.get(name) {
                None | Some(serde_json::Value::Null) => Ok(false),
                Some(serde_json::Value::Bool(b)) => Ok(*b),
                Some(_) => Err(ApiError::InvalidRequest(format!(
                    "{name} must be true or false"
                ))),
            }
        }
        super::body::BodyKind::Form => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|_| ApiError::InvalidRequest("the form could not be read".into()))?;
            match pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
            {
                None => Ok(false),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(_) => Err(ApiError::InvalidRequest(format!(
                    "{name} must be true or false"
                ))),
            }
        }
        super::body::BodyKind::Empty => Ok(false),
    }
}

#[derive(Serialize)]
struct CreatedByAdmin {
    id: i64,
    username: String,
    roles: Vec<&'static str>,
    service: bool,
}

#[tracing::instrument(skip_all)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let (kind, body) = read_body(&req, payload, config.max_body()).await?;
    let mut fields = parse_fields(kind, &body, &["username", "password"])?;
    let username = fields.remove("username").unwrap_or_default();
    let password = Password::new(fields.remove("password").unwrap_or_default());
    // An administrator creates users whatever `auth.registration` says; any other caller
    // counts as an anonymous registration.
    if let Ok(admin) = AppState::resolve(&req, AuthCheck::any()).await
        && admin.user.is_admin
    {
        check_session_csrf(&req, &admin, &session)?;
        let (is_admin, service) = (flag(&body, kind, "admin")?, flag(&body, kind, "service")?);
        let name = validate_new_account(&username, &password, config.password.min_length)?;
        let user = state
            .accounts
            .create_by(
                By::Admin(&admin),
                name,
                password,
                is_admin,
                service,
                config.password.policy(),
            )
            .await?;
        return Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/users/{}", user.id)))
            .json(CreatedByAdmin {
                id: user.id,
                roles: user.roles(),
                username: user.username,
                service: user.service,
            }));
    }
    if !config.auth.registration {
        return Err(ApiError::NotFound);
    }
    let user = state
        .accounts
        .register(
            &username,
            password,
            config.password.policy(),
            &state.client_ip(&req).lockout_key(),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/me"))
        .json(Created {
            id: user.id,
            username: user.username,
        }))
}

/// A user as the admin API shows it (the list's items, and the answer to a `PATCH`).
#[derive(Serialize)]
struct Listed {
    id: i64,
    username: String,
    roles: Vec<&'static str>,
    disabled: bool,
    service: bool,
}

impl Listed {
    fn of(u: User) -> Self {
        Self {
            id: u.id,
            roles: u.roles(),
            username: u.username,
            disabled: u.disabled,
            service: u.service,
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    _admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let all = state
        .db
        .run(|conn| users::list(conn).map_err(Failure::from))
        .await?;
    let listed: Vec<Listed> = all.into_iter().map(Listed::of).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(listed))
}

/// The `{id}` of the path; a malformed one names no user (404).
fn user_id(path: web::Path<String>) -> Result<i64, ApiError> {
    path.into_inner()
        .parse::<i64>()
        .map_err(|_| ApiError::NotFound)
}

/// The administrator of a write (resolved now, after the body), with the session's CSRF
/// token checked for a session caller.
async fn admin_write(req: &HttpRequest, session: &TypedSession) -> Result<AdminCaller, ApiError> {
    let admin = AdminCaller::after_body(req).await?;
    check_session_csrf(req, &admin.0, session)?;
    Ok(admin)
}

/// The user `id`, or 404.
async fn existing_user(state: &AppState, id: i64) -> Result<User, ApiError> {
    state
        .db
        .run(move |conn| users::find(conn, id).map_err(Failure::from))
        .await?
        .ok_or(ApiError::NotFound)
}

/// `PATCH /api/users/{id}` `{"disabled"?, "admin"?, "service"?}`: 200 with the user as
/// stored afterwards; 400 for an empty body, unknown fields or values that are not booleans;
/// 409 when it would leave no enabled administrator.
#[tracing::instrument(skip_all)]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (kind, body) = read_body(&req, payload, state.config().max_body()).await?;
    let admin = admin_write(&req, &session).await?;
    let id = user_id(path)?;
    let patch: UserPatch = match kind {
        super::body::BodyKind::Empty => {
            return Err(ApiError::InvalidRequest(
                "send a JSON object with any of disabled, admin, service (true or false)".into(),
            ));
        }
        super::body::BodyKind::Form => {
            return Err(ApiError::UnsupportedMediaType("send application/json"));
        }
        super::body::BodyKind::Json => {
            let refused = |e: &dyn std::fmt::Display| {
                ApiError::InvalidRequest(format!(
                    "the body must be a JSON object with any of disabled, admin, service (true \
                     or false): {e}"
                ))
            };
            // An object only: serde would also read a struct from an array.
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| refused(&e))?;
            if !value.is_object() {
                return Err(refused(&"not an object"));
            }
            serde_json::from_value(value).map_err(|e| refused(&e))?
        }
    };
    if patch.is_empty() {
        return Err(ApiError::InvalidRequest(
            "nothing to change: give any of disabled, admin, service (true or false)".into(),
        ));
    }
    let user = state
        .accounts
        .update_user(By::Admin(&admin.0), id, patch)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Listed::of(user)))
}

/// `DELETE /api/users/{id}`: 204; 409 for the last enabled administrator.
#[tracing::instrument(skip_all)]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = admin_write(&req, &session).await?;
    let id = user_id(path)?;
    if !state.accounts.delete(By::Admin(&admin.0), id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/users/{id}/logout`: ends every session, refresh family and access token of the
/// user; 204.
#[tracing::instrument(skip_all)]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = admin_write(&req, &session).await?;
    let id = user_id(path)?;
    existing_user(&state, id).await?;
    state
        .accounts
        .sign_out_everywhere(By::Admin(&admin.0), id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize)]
struct ResetLink {
    reset_url: String,
    /// RFC 3339, UTC.
    expires_at: String,
}

/// `POST /api/users/{id}/password-reset`: a one-time link, valid 30 minutes; every session and
/// token of the user ends now. 200 `{"reset_url","expires_at"}`.
#[tracing::instrument(skip_all)]
pub async fn password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = admin_write(&req, &session).await?;
    let id = user_id(path)?;
    let issued = state
        .accounts
        .issue_reset_link(By::Admin(&admin.0), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ResetLink {
            reset_url: crate::web::reset::reset_url(&state.config(), &issued.token),
            expires_at: issued
                .expires_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }))
}

/// `POST /api/users/{id}/unlock`: lifts a lockout of the username (204 whether or not it was
/// locked).
#[tracing::instrument(skip_all)]
pub async fn unlock(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = admin_write(&req, &session).await?;
    let id = user_id(path)?;
    let target = existing_user(&state, id).await?;
    state
        .accounts
        .unlock(By::Admin(&admin.0), target.username)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/users/{id}/mfa`: removes every second factor of the user and ends their
/// sessions and refresh families; 204, or 404 for no such user.
#[tracing::instrument(skip_all)]
pub async fn reset_mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = admin_write(&req, &session).await?;
    let id = user_id(path)?;
    if !state
        .accounts
        .reset_second_factors(By::Admin(&admin.0), id)
        .await?
    {
        return Err(ApiError::NotFound);
    }
    state
        .metrics
        .mfa_removals
        .with_label_values(&["admin"])
        .inc();
    Ok(HttpResponse::NoContent().finish())
}

//! `POST /api/users` (admins: create a user, whatever `auth.registration` says; anyone else:
//! self-service registration, with `auth.registration`), `GET /api/users` (admins: the list
//! of users) and `DELETE /api/users/{id}/mfa` (admins: reset a user's second factors).
//!
//! Admins call with a bearer token, or a session and its CSRF token in `X-CSRF-Token`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body::{parse_fields, read_body};
use super::error::ApiError;
use super::extract::AdminCaller;
use crate::accounts::{By, validate_new_account};
use crate::auth::csrf::{self, CSRF_HEADER};
use crate::auth::{AuthCheck, Authenticated, Credential};
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

#[derive(Serialize)]
struct Listed {
    id: i64,
    username: String,
    roles: Vec<&'static str>,
    disabled: bool,
    service: bool,
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
    let listed: Vec<Listed> = all
        .into_iter()
        .map(|u| Listed {
            id: u.id,
            roles: u.roles(),
            username: u.username,
            disabled: u.disabled,
            service: u.service,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(listed))
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
    let admin = AdminCaller::after_body(&req).await?;
    check_session_csrf(&req, &admin.0, &session)?;
    let id = path
        .into_inner()
        .parse::<i64>()
        .map_err(|_| ApiError::NotFound)?;
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

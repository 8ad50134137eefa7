//! `POST /api/users` (self-service registration, with `auth.registration`) and `GET /api/users`
//! (admins: the list of users).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body::{parse_fields, read_body};
use super::error::ApiError;
use super::extract::AdminCaller;
use crate::db::users;
use crate::domain::Password;
use crate::error::Failure;
use crate::state::AppState;

#[derive(Serialize)]
struct Created {
    id: i64,
    username: String,
}

#[tracing::instrument(skip_all)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let (kind, body) = read_body(&req, payload, config.max_body()).await?;
    let mut fields = parse_fields(kind, &body, &["username", "password"])?;
    let username = fields.remove("username").unwrap_or_default();
    let password = Password::new(fields.remove("password").unwrap_or_default());
    let user = state
        .accounts
        .register(
            &username,
            password,
            config.password.min_length,
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
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(listed))
}

//! `POST /api/token`: the password grant (JSON, form or HTTP Basic) and the refresh grant.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body::{parse_fields, read_body};
use super::error::ApiError;
use crate::auth::login::{Verified, check_password};
use crate::auth::strategy::basic::{basic_header, parse_basic};
use crate::auth::token::refresh::{self, Issued, Rotation};
use crate::config::Settings;
use crate::db::models::User;
use crate::domain::Password;
use crate::error::Failure;
use crate::state::AppState;
use crate::telemetry::quoted;

const FIELDS: &[&str] = &["grant_type", "username", "password", "refresh_token"];

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
    let mut fields = parse_fields(kind, &body, FIELDS)?;
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
        Some(_) => return Err(ApiError::UnsupportedGrantType),
    };
    // The family is born in one transaction that re-reads the user: a password change or
    // revocation that committed while bcrypt ran refuses it, as a failed login.
    let refresh_ttl = config.token.refresh_ttl.0;
    let user = verified.user.clone();
    let issued = state
        .db
        .run(move |conn| {
            refresh::start_family_for(conn, &verified, refresh_ttl).map_err(Failure::from)
        })
        .await?
        .ok_or(ApiError::InvalidCredentials {
            basic: config.auth.basic,
        })?;
    respond(&state, &user, issued).await
}

async fn password_grant(
    req: &HttpRequest,
    state: &AppState,
    config: &Settings,
    mut fields: std::collections::HashMap<String, String>,
) -> Result<Verified, ApiError> {
    let basic_on = config.auth.basic;
    let (username, password) = match (fields.remove("username"), fields.remove("password")) {
        (Some(u), Some(p)) => (u, Password::new(p)),
        (None, None) if basic_on && basic_header(req).is_some() => {
            let value = basic_header(req).unwrap_or_default();
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
    check_password(&state.auth, &username, password, &ip)
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
        Rotation::Rotated { user, issued } => respond(state, &user, issued).await,
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

async fn respond(state: &AppState, user: &User, issued: Issued) -> Result<HttpResponse, ApiError> {
    let keys = state.auth.keys.current().await?;
    let access = keys
        .issue(user, &issued.family_id)
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

//! `GET|POST /userinfo` (OpenID Connect Core §5.3): the bearer is an access token issued to a
//! client by this provider; errors are RFC 6750's.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::has_scope;
use crate::api::error::ApiError;
use crate::auth::strategy::REALM;
use crate::state::AppState;

/// The bearer token of the `Authorization` header.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn challenge(status: StatusCode, error: Option<(&str, &str)>) -> HttpResponse {
    let mut value = format!("Bearer realm=\"{REALM}\"");
    let body = match error {
        Some((code, description)) => {
            value.push_str(&format!(
                ", error=\"{code}\", error_description=\"{description}\""
            ));
            json!({ "error": code, "error_description": description })
        }
        None => json!({ "error": "unauthorized", "error_description": "authentication required" }),
    };
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, value))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[tracing::instrument(skip_all)]
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = bearer(&req) else {
        return Ok(challenge(StatusCode::UNAUTHORIZED, None));
    };
    let Some((claims, user)) = super::token::client_token(&state, token).await? else {
        return Ok(challenge(
            StatusCode::UNAUTHORIZED,
            Some(("invalid_token", "invalid")),
        ));
    };
    if !has_scope(&claims.scope, "openid") {
        return Ok(challenge(
            StatusCode::FORBIDDEN,
            Some(("insufficient_scope", "the token lacks the openid scope")),
        ));
    }
    let mut body = json!({ "sub": claims.sub });
    if has_scope(&claims.scope, "profile") {
        body["preferred_username"] = json!(user.username);
        body["name"] = json!(user.username);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

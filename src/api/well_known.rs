//! `/.well-known/jwks.json` and `/.well-known/oauth-authorization-server` (RFC 8414).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::ApiError;
use crate::state::AppState;

pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.auth.keys.current().await?;
    // A relying party that caches the set this long still sees a rotated-in key before it
    // signs (`token.key_publish_delay`).
    let max_age = state.current_config().token.key_publish_delay.0.as_secs();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={max_age}")))
        .json({
            // The ID-token keys (OpenID Connect) are published beside the access-token keys.
            let mut set = keys.jwks();
            set.keys.extend(state.auth.keys.id_jwt().jwks().keys);
            set
        }))
}

pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let config = state.config();
    let base = config.public_url();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({
            "issuer": config.issuer(),
            "token_endpoint": format!("{base}/api/token"),
            "revocation_endpoint": format!("{base}/api/token/revoke"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "grant_types_supported": [
                "password",
                "refresh_token",
                super::token::GRANT_MFA_OTP,
                super::token::GRANT_MFA_RECOVERY,
            ],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
        }))
}

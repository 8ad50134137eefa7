//! `POST /api/token/revoke` (RFC 7009): revokes a refresh token's family; 200 even for
//! unknown tokens, so the answer reveals nothing.

use actix_web::{HttpRequest, HttpResponse, web};

use super::body::{parse_fields, read_body};
use super::error::ApiError;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (kind, body) = read_body(&req, payload, state.config().max_body()).await?;
    let mut fields = parse_fields(kind, &body, &["token", "token_type_hint"])?;
    let token = fields
        .remove("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("token is required".into()))?;
    state.accounts.revoke_refresh_token(token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .finish())
}

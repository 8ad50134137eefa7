//! `GET /static/*`: assets compiled into the binary, so it runs from any directory.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::web::error::PageError;

const STYLE_CSS: &str = include_str!("../../static/style.css");
/// The passkey ceremonies of `/account`, `/login` and `/login/mfa` (no inline scripts: the
/// CSP allows scripts from this origin only).
const PASSKEYS_JS: &str = include_str!("../../static/passkeys.js");

pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, PageError> {
    let (body, content_type) = match path.as_str() {
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        "passkeys.js" => (PASSKEYS_JS, "text/javascript; charset=utf-8"),
        _ => return Err(PageError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}

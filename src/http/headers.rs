//! Security headers on every response (SPEC §5).

use actix_web::middleware::DefaultHeaders;

/// `Strict-Transport-Security` value: one year, as browsers' preload lists expect at least.
const HSTS: &str = "max-age=31536000";

/// The headers every response carries; `Strict-Transport-Security` too when the server is
/// reached over https (`https`: whether `Settings::public_url` is https); browsers ignore it
/// over plain http.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
             img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"));
    if https {
        headers.add(("Strict-Transport-Security", HSTS))
    } else {
        headers
    }
}

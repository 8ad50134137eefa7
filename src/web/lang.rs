//! The language of a page (README "Languages"): the `lang` cookie when it names one of ours,
//! else the best match of `Accept-Language` (q-values honoured), else
//! `server.default_language`. The middleware decides it once per request, marks HTML answers
//! `Vary: Accept-Language, Cookie`, and writes the HTML error pages in it; `GET /lang` is the
//! switcher every page shows.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::PageError;
use super::{safe_next, see_other};
use crate::i18n::Lang;
use crate::state::AppState;

/// The cookie that holds a browser's choice; not tied to the session, so it survives sign-out
/// and works signed out.
pub const COOKIE: &str = "lang";

/// How long the choice is kept (a year, renewed by each switch).
const COOKIE_DAYS: i64 = 365;

/// The language of this request (decided by [`negotiate`], or now for a request it did not
/// see).
pub fn lang_of(req: &HttpRequest) -> Lang {
    if let Some(lang) = req.extensions().get::<Lang>() {
        return *lang;
    }
    let default = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.config().server.default_lang())
        .unwrap_or_default();
    choose(
        req.cookie(COOKIE).as_ref().map(|c| c.value()),
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        default,
    )
}

/// The cookie's language if it is one of ours, else the header's best match, else `default`.
pub fn choose(cookie: Option<&str>, accept_language: Option<&str>, default: Lang) -> Lang {
    cookie
        .and_then(Lang::from_code)
        .or_else(|| accept_language.and_then(Lang::from_accept_language))
        .unwrap_or(default)
}

/// Middleware of the HTML scope: decides the language once, then marks HTML answers as
/// depending on the header and the cookie (a shared cache must not hand a Korean page to an
/// English reader), and writes an error page ([`PageError`]) in the language.
pub async fn negotiate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let lang = lang_of(req.request());
    let here = return_path(req.request());
    req.extensions_mut().insert(lang);
    let res = next.call(req).await?.map_into_boxed_body();
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let localised = res
        .response()
        .error()
        .and_then(|e| e.as_error::<PageError>())
        .filter(|_| is_html)
        .map(|e| e.page_body(lang, &here));
    let mut res = match localised {
        Some(body) => res.map_body(|_, _| BoxBody::new(body)),
        None => res,
    };
    if is_html {
        res.headers_mut().append(
            header::VARY,
            HeaderValue::from_static("Accept-Language, Cookie"),
        );
    }
    Ok(res)
}

/// An error page in the request's language, for an answer made outside the HTML scope (the
/// 404 of a path no route serves).
pub fn error_page(req: &HttpRequest, error: &PageError) -> HttpResponse {
    use actix_web::ResponseError;
    let body = error.page_body(lang_of(req), &return_path(req));
    let mut response = error.error_response().set_body(BoxBody::new(body));
    response.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    response
}

#[derive(Deserialize)]
pub struct SwitchQuery {
    #[serde(default)]
    set: String,
    #[serde(default)]
    next: String,
}

/// `GET /lang?set=ko&next=/path`: remembers the language in the `lang` cookie and goes back to
/// the page (a local path only, as after sign-in).
///
/// GET, not POST with a CSRF token: the cookie is a display preference, stored nowhere on the
/// server and tied to no account, so a forged switch can do no more than show our pages in
/// another of our languages, which the page itself undoes in one click (Keycloak's
/// `kc_locale` and MediaWiki's `uselang` are GET parameters for the same reason). A GET form
/// works on every page without a token, error pages and signed-out pages included; the answer
/// is `no-store`, so no cache keeps it.
pub async fn switch(
    state: web::Data<AppState>,
    query: web::Query<SwitchQuery>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(&query.next);
    let mut response = see_other(next);
    if let Some(lang) = Lang::from_code(&query.set) {
        let cookie = Cookie::build(COOKIE, lang.code())
            .path("/")
            .http_only(true)
            .secure(state.config().cookie_secure())
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::days(COOKIE_DAYS))
            .finish();
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("setting the language cookie: {e}"))?;
    }
    Ok(response)
}

/// Where the switcher goes back to: this page for a GET; after a form was posted, the page
/// that shows that form (a POST path may have no GET), else the start page.
pub fn return_path(req: &HttpRequest) -> String {
    if req.method() == actix_web::http::Method::GET {
        return req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string());
    }
    let path = req.path();
    if matches!(path, "/login" | "/login/mfa" | "/register") || path.starts_with("/reset/") {
        return path.to_string();
    }
    for page in ["/account", "/admin"] {
        if path.starts_with(page) {
            return page.to_string();
        }
    }
    "/".to_string()
}

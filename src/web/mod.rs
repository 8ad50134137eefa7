//! The HTML surface (SPEC §5): one folder per page, `get.rs` / `post.rs` inside. Pages ask
//! `auth` who is signed in (through the extractors of `extract`) and translate a failure into a
//! redirect to the login form or an error page; they decide nothing themselves.

pub mod account;
pub mod admin;
pub mod assets;
pub mod error;
pub mod extract;
pub mod home;
pub mod login;
pub mod logout;
pub mod register;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use self::error::PageError;
use crate::db::models::User;
use crate::session_store::{SignInFacts, TypedSession};
use crate::state::AppState;

pub use self::extract::{AdminUser, SignedIn};
pub use crate::http::redirect::safe_next;

/// What the page frame (`base.html`) shows: who is signed in, and the token for its forms.
pub struct Nav {
    pub username: Option<String>,
    pub is_admin: bool,
    pub csrf_token: String,
}

impl Nav {
    pub fn anonymous(session: &TypedSession) -> Self {
        Self {
            username: None,
            is_admin: false,
            csrf_token: session.csrf_token(),
        }
    }

    pub fn for_user(user: &User, session: &TypedSession) -> Self {
        Self {
            username: Some(user.username.clone()),
            is_admin: user.is_admin,
            csrf_token: session.csrf_token(),
        }
    }
}

/// Renders a page with `status`; dynamic pages are never cached.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page
        .render()
        .map_err(|e| anyhow::Error::new(e).context("rendering a template"))?;
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// 303 See Other to a local path.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// "N minutes" or "N seconds", for people.
pub fn human_wait(seconds: u64) -> String {
    if seconds >= 120 {
        format!("{} minutes", seconds.div_ceil(60))
    } else {
        format!("{seconds} seconds")
    }
}

/// Signs `user` in on this browser (a new session id, CSRF token and sign-in time), recording
/// the browser and address `/account` lists.
pub fn start_session(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    user: &User,
    checked_at: chrono::NaiveDateTime,
) -> Result<(), PageError> {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    session.sign_in(
        req,
        user.id,
        checked_at,
        SignInFacts {
            user_agent,
            ip: state.client_ip(req).to_string(),
        },
    )?;
    Ok(())
}

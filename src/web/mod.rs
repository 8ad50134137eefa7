//! The HTML surface (SPEC §5): one folder per page, `get.rs` / `post.rs` inside.

pub mod account;
pub mod admin;
pub mod assets;
pub mod home;
pub mod login;
pub mod logout;
pub mod register;

use actix_identity::Identity;
use actix_session::Session;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;

use crate::auth::csrf;
use crate::db::models::User;
use crate::db::{DbError, users};
use crate::error::PageError;
use crate::startup::AppState;

/// What the page frame (`base.html`) shows: who is signed in, and the token for its forms.
pub struct Nav {
    pub username: Option<String>,
    pub is_admin: bool,
    pub csrf_token: String,
}

impl Nav {
    pub fn anonymous(session: &Session) -> Self {
        Self {
            username: None,
            is_admin: false,
            csrf_token: csrf::token(session),
        }
    }

    pub fn for_user(user: &User, session: &Session) -> Self {
        Self {
            username: Some(user.username.clone()),
            is_admin: user.is_admin,
            csrf_token: csrf::token(session),
        }
    }
}

/// Renders a page with `status`; dynamic pages are never cached.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(|e| {
        PageError::Unexpected(anyhow::Error::new(e).context("rendering a template"))
    })?;
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

/// `next` if it is a path on this site, else `/`. Refuses `//host` and `/\host` (which browsers
/// treat as another host), and any control character or space (browsers strip tabs and
/// newlines, turning `/\t/host` into `//host`).
pub fn safe_next(next: &str) -> &str {
    let bytes = next.as_bytes();
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if local { next } else { "/" }
}

/// The path and query of the request, for a `next` parameter.
fn requested_path(req: &HttpRequest) -> String {
    req.uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string())
}

/// A signed-in, enabled user, loaded fresh from the database for this request. Anonymous
/// visitors are sent to the login form; a session whose user was disabled or deleted is ended.
pub struct SignedIn {
    pub user: User,
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let sign_in = || PageError::SignInRequired {
                next: requested_path(&req),
            };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| PageError::Unexpected(anyhow::anyhow!("AppState missing")))?
                .clone();
            if let Ok(session) = Session::extract(&req).await
                && crate::session_store::is_unavailable(&session)
            {
                return Err(PageError::Unavailable);
            }
            let Ok(identity) = Identity::extract(&req).await else {
                return Err(sign_in());
            };
            let Some(id) = identity.id().ok().and_then(|id| id.parse::<i64>().ok()) else {
                identity.logout();
                return Err(sign_in());
            };
            let user = state
                .db
                .run(move |conn| users::find(conn, id).map_err(DbError::from))
                .await?;
            let login_at = Session::extract(&req)
                .await
                .ok()
                .and_then(|s| crate::auth::session::login_at(&s));
            match user {
                Some(user)
                    if !user.disabled && crate::auth::session::is_current(login_at, &user) =>
                {
                    Ok(SignedIn { user })
                }
                _ => {
                    identity.logout();
                    Err(sign_in())
                }
            }
        })
    }
}

/// A signed-in administrator; others get 403.
pub struct AdminUser {
    pub user: User,
}

impl FromRequest for AdminUser {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let SignedIn { user } = signed_in.await?;
            if user.is_admin {
                Ok(AdminUser { user })
            } else {
                Err(PageError::Forbidden)
            }
        })
    }
}

/// Session keys holding what `/account` shows about a session.
pub const SESSION_ID_KEY: &str = "sid";
pub const SESSION_UA_KEY: &str = "meta.ua";
pub const SESSION_IP_KEY: &str = "meta.ip";

/// Signs `user` in on this browser: a new session id (fixation-safe), a new CSRF token, and
/// the facts `/account` lists about the session.
pub fn start_session(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user: &User,
) -> Result<(), PageError> {
    use actix_web::HttpMessage;
    Identity::login(&req.extensions(), user.id.to_string())
        .map_err(|e| PageError::Unexpected(anyhow::anyhow!("{e}")))?;
    csrf::rotate(session);
    crate::auth::session::stamp_login(session);
    let user_agent: String = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .chars()
        .take(200)
        .collect();
    let _ = session.insert(SESSION_ID_KEY, crate::auth::random_token(12));
    let _ = session.insert(SESSION_UA_KEY, user_agent);
    let _ = session.insert(SESSION_IP_KEY, state.client_ip(req).to_string());
    Ok(())
}

/// Routes of the HTML surface.
pub fn configure(cfg: &mut web::ServiceConfig, registration: bool) {
    cfg.route("/", web::get().to(home::get::home))
        .route("/login", web::get().to(login::get::login_form))
        .route("/login", web::post().to(login::post::login))
        .route("/logout", web::post().to(logout::logout))
        .route("/account", web::get().to(account::get::account))
        .route(
            "/account/password",
            web::post().to(account::post::change_password),
        )
        .route(
            "/account/logout-all",
            web::post().to(account::post::logout_everywhere),
        )
        .route(
            "/account/sessions/{id}/end",
            web::post().to(account::post::end_session),
        )
        .route("/admin", web::get().to(admin::get::admin))
        .route(
            "/admin/users/{id}/{action}",
            web::post().to(admin::post::user_action),
        );
    if registration {
        cfg.route("/register", web::get().to(register::get::register_form))
            .route("/register", web::post().to(register::post::register));
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        for bad in [
            "//evil",
            "https://evil",
            "/\\evil",
            "/\t/evil",
            "evil",
            "",
            "/ok\n",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        assert_eq!(safe_next("/account?x=1"), "/account?x=1");
    }
}

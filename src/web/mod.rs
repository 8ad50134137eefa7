//! The HTML surface (SPEC §5): one folder per page, `get.rs` / `post.rs` inside. Pages ask
//! `auth` who is signed in (through the extractors of `extract`) and translate a failure into a
//! redirect to the login form or an error page; they decide nothing themselves.

pub mod account;
pub mod admin;
pub mod assets;
pub mod device;
pub mod error;
pub mod extract;
pub mod form_errors;
pub mod home;
pub mod lang;
pub mod login;
pub mod logout;
pub mod messages;
pub mod passkey;
pub mod register;
pub mod reset;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use self::error::PageError;
use crate::auth::csrf;
use crate::db::models::User;
use crate::domain::UserState;
use crate::i18n::{Lang, ToArg};
use crate::session_store::{SignInFacts, TypedSession};
use crate::state::AppState;

pub use self::extract::{AdminUser, SignedIn};
pub use crate::http::redirect::safe_next;

/// What the page frame (`base.html`) shows: who is signed in, the token for its forms, the
/// page's language (every template reads its text through [`Nav::t`]) and where the language
/// switcher goes back to.
pub struct Nav {
    pub username: Option<String>,
    pub is_admin: bool,
    pub csrf_token: String,
    pub lang: Lang,
    pub here: String,
}

impl Nav {
    /// The frame of an anonymous form, with its stateless token.
    pub fn anonymous(req: &HttpRequest, form: &AnonymousForm) -> Self {
        Self {
            username: None,
            is_admin: false,
            csrf_token: form.token.clone(),
            lang: lang::lang_of(req),
            here: lang::return_path(req),
        }
    }

    /// The frame of a page shown right after `user` signed in on this browser.
    pub fn signed_in(req: &HttpRequest, user: &User, session: &TypedSession) -> Self {
        Self {
            username: Some(user.username.clone()),
            is_admin: user.is_admin,
            csrf_token: session.csrf_token(),
            lang: lang::lang_of(req),
            here: lang::return_path(req),
        }
    }

    pub fn for_user(req: &HttpRequest, user: &UserState, session: &TypedSession) -> Self {
        Self {
            username: Some(user.username.clone()),
            is_admin: user.is_admin,
            csrf_token: session.csrf_token(),
            lang: lang::lang_of(req),
            here: lang::return_path(req),
        }
    }

    /// The frame of a page for no one in particular (the error pages).
    pub fn bare(lang: Lang, here: &str) -> Self {
        Self {
            username: None,
            is_admin: false,
            csrf_token: String::new(),
            lang,
            here: here.to_string(),
        }
    }

    /// The message `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// The message `key` with one argument (`{ $name }`; a number chooses the plural form).
    pub fn t1(&self, key: &str, name: &str, value: impl ToArg) -> String {
        self.lang.t_with(key, &[(name, value.to_arg())])
    }

    /// The message `key` with two arguments.
    pub fn t2(
        &self,
        key: &str,
        name: &str,
        value: impl ToArg,
        name2: &str,
        value2: impl ToArg,
    ) -> String {
        self.lang
            .t_with(key, &[(name, value.to_arg()), (name2, value2.to_arg())])
    }

    /// The languages the switcher offers: code, own name, and whether it is this page's.
    pub fn languages(&self) -> Vec<(&'static str, String, bool)> {
        Lang::all()
            .map(|l| (l.code(), l.t("language-name"), l == self.lang))
            .collect()
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

/// What the sign-in page says to a browser that has just signed out. The notice travels in a
/// short-lived cookie of its own (not the session, which is gone by then), so the redirect stays
/// a plain `303 /login`; the cookie names one of these fixed notices and carries nothing else,
/// so a forged one can only show one of these sentences. Hand-written: flash-message crates
/// (actix-web-flash-messages) need a session or a signing key for what is a fixed enum here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedOut {
    /// "Sign out" on this browser.
    Here,
    /// "Sign out everywhere", or this browser's own session ended from `/account`.
    Everywhere,
}

impl SignedOut {
    fn code(self) -> &'static str {
        match self {
            Self::Here => "signed-out",
            Self::Everywhere => "signed-out-everywhere",
        }
    }

    /// The notice a browser's cookie names, if any.
    pub fn of(req: &HttpRequest, state: &AppState) -> Option<Self> {
        let cookie = req.cookie(&notice_cookie_name(state))?;
        [Self::Here, Self::Everywhere]
            .into_iter()
            .find(|n| n.code() == cookie.value())
    }

    /// The sentence the sign-in page shows.
    pub fn message(self, lang: Lang) -> String {
        match self {
            Self::Here => lang.t("notice-signed-out"),
            Self::Everywhere => lang.t("notice-signed-out-everywhere"),
        }
    }

    /// `303 /login` carrying this notice.
    pub fn redirect(self, state: &AppState) -> Result<HttpResponse, PageError> {
        let mut response = see_other("/login");
        let cookie = notice_cookie(state, self.code().to_string(), CookieDuration::seconds(60));
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("setting the notice cookie: {e}"))?;
        Ok(response)
    }

    /// Removes the notice cookie once the page has shown it.
    pub fn clear(state: &AppState, response: &mut HttpResponse) -> Result<(), PageError> {
        let cookie = notice_cookie(state, String::new(), CookieDuration::ZERO);
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("clearing the notice cookie: {e}"))?;
        Ok(())
    }
}

fn notice_cookie_name(state: &AppState) -> String {
    format!("{}_notice", state.config().session.cookie_name)
}

fn notice_cookie(state: &AppState, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(notice_cookie_name(state), value)
        .path("/login")
        .http_only(true)
        .secure(state.config().cookie_secure())
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

#[derive(Template)]
#[template(path = "continue.html")]
struct ContinuePage<'a> {
    nav: Nav,
    destination: &'a str,
    shown: &'a str,
}

/// Where a sign-in form sends the browser once it is signed in. A page of this site: 303 there.
/// Another site (a forward-auth `rd`), or `/authorize` (which may redirect on to an OpenID
/// Connect client at once): a page that moves on by `<meta http-equiv="refresh">`. Chromium
/// applies the CSP `form-action 'self'` to every redirect that follows a form submission, so a
/// 303 chain from the sign-in POST to another origin would be blocked; the refresh starts a
/// new navigation, which `form-action` does not govern. `destination` was checked by the
/// caller (`safe_next`, `safe_rd`).
pub fn continue_to(destination: &str, nav: Nav) -> Result<HttpResponse, PageError> {
    let local = destination.starts_with('/') && !destination.starts_with("/authorize");
    if local {
        return Ok(see_other(destination));
    }
    // The host for people (`https://app.example.com/x` gives `app.example.com`); `/authorize…`
    // is shown as it is.
    let host = url::Url::parse(destination)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    render(
        StatusCode::OK,
        &ContinuePage {
            nav,
            destination,
            shown: host.as_deref().unwrap_or(destination),
        },
    )
}

/// The stateless CSRF token of an anonymous form (sign-in, sign-up): nothing is stored on the
/// server until someone signs in. The nonce lives in a short-lived cookie of its own.
pub struct AnonymousForm {
    nonce: String,
    token: String,
    /// Whether the browser lacks the nonce cookie and must be given it.
    fresh: bool,
}

/// How long an anonymous form's nonce cookie lives.
const ANONYMOUS_FORM_SECS: i64 = 3600;

fn form_cookie_name(state: &AppState) -> String {
    format!("{}_form", state.config().session.cookie_name)
}

impl AnonymousForm {
    /// The browser's nonce (from its cookie), or a new one.
    pub fn for_request(req: &HttpRequest, state: &AppState) -> Self {
        let existing = req
            .cookie(&form_cookie_name(state))
            .map(|c| c.value().to_string())
            .filter(|v| (20..=64).contains(&v.len()));
        let (nonce, fresh) = match existing {
            Some(nonce) => (nonce, false),
            None => (crate::domain::random_token(24), true),
        };
        let token = csrf::anonymous_token(state.session_key.signing(), &nonce);
        Self {
            nonce,
            token,
            fresh,
        }
    }

    /// Whether `submitted` is the token of the nonce the request's cookie carries.
    pub fn verify(req: &HttpRequest, state: &AppState, submitted: &str) -> bool {
        let cookie = req.cookie(&form_cookie_name(state));
        csrf::verify_anonymous(
            state.session_key.signing(),
            cookie.as_ref().map(|c| c.value()),
            submitted,
        )
        .is_ok()
    }

    /// Gives the browser the nonce cookie when it had none.
    pub fn attach(&self, state: &AppState, response: &mut HttpResponse) -> Result<(), PageError> {
        if !self.fresh {
            return Ok(());
        }
        let cookie = Cookie::build(form_cookie_name(state), self.nonce.clone())
            .path("/")
            .http_only(true)
            .secure(state.config().cookie_secure())
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(ANONYMOUS_FORM_SECS))
            .finish();
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("setting the form cookie: {e}"))?;
        Ok(())
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

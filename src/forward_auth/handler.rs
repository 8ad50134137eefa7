//! `/auth/request` (nginx `auth_request`) and `/auth/forward` (Traefik `forwardAuth`, Caddy
//! `forward_auth`), SPEC §12. Both answer any method: nginx's subrequest and the proxies'
//! own requests are GETs, and the original method travels in a header.
//!
//! Who is calling is resolved like on every other surface (`Authenticator::resolve`), with the
//! session cookie or a bearer token (never HTTP Basic: that header belongs to the app behind
//! the proxy): on a warm instance from the session and user caches, without a database trip.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::original::Original;
use super::rules::{self, Caller, StepUp, Verdict};
use crate::auth::{AuthCheck, AuthFailure, Authenticated, Credential};
use crate::config::Settings;
use crate::domain::clock;
use crate::error::Failure;
use crate::http::redirect::safe_rd;
use crate::session_store::TypedSession;
use crate::session_store::peek::removal_cookie;
use crate::session_store::reference::Reference;
use crate::state::AppState;
use crate::telemetry::quoted;

/// The identity headers of an allowed request.
pub const REMOTE_USER: &str = "remote-user";
pub const REMOTE_NAME: &str = "remote-name";
pub const REMOTE_GROUPS: &str = "remote-groups";
pub const REMOTE_SESSION: &str = "remote-session";

/// Which endpoint was asked: they differ only in what an anonymous browser gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// `/auth/request`: 401, and nginx's `error_page 401` sends the browser to sign in.
    Request,
    /// `/auth/forward`: a browser (`Accept: text/html`) gets 302 to the sign-in page.
    Forward,
}

/// `/auth/request`.
pub async fn request(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    check(&req, &state, Door::Request).await
}

/// `/auth/forward`.
pub async fn forward(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    check(&req, &state, Door::Forward).await
}

async fn check(req: &HttpRequest, state: &AppState, door: Door) -> HttpResponse {
    let config = state.config();
    let original = Original::of(req, &config);
    let rule = rules::applied(&config.forward_auth, &original);
    let mut session = None;
    let who = if rules::needs_caller(rule.policy) {
        // The session cookie, unless a header credential decides the request.
        if !state.auth.has_header_credentials(req, &config) {
            session = state
                .sessions
                .peek_request(req, &config, &state.session_cookies)
                .await;
        }
        match state
            .auth
            .resolve(req, &config, AuthCheck::session_or_bearer())
            .await
        {
            Ok(who) => Some(who),
            // Refused credentials (a bad bearer token) sign nobody in.
            Err(AuthFailure::Missing { .. } | AuthFailure::Refused(_)) => None,
            Err(AuthFailure::Failed(failure)) => return failed(&failure),
        }
    } else {
        None
    };
    let mut response = answer(req, state, &config, door, &original, &rule, who.as_ref());
    if let Some(session) = session
        && state.sessions.settle(&session).await
        && let Ok(value) = HeaderValue::from_str(&removal_cookie(&config).to_string())
    {
        // The session strategy ended the session: a proxy may hand this answer on to the
        // browser.
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The answer for `who` (if anyone) asking under `rule`.
fn answer(
    req: &HttpRequest,
    state: &AppState,
    config: &Settings,
    door: Door,
    original: &Original,
    rule: &rules::Applied<'_>,
    who: Option<&Authenticated>,
) -> HttpResponse {
    let facts = who.map(|who| Facts::of(req, who));
    let roles = who.map(|who| who.user.roles()).unwrap_or_default();
    let caller = facts.as_ref().map(|facts| Caller {
        roles: &roles,
        second_factor: facts.second_factor,
        signed_in_ago: facts.signed_in_ago,
    });
    let verdict = rules::judge(rule, caller.as_ref());
    let metrics = &state.metrics.forward_auth_results;
    match verdict {
        Verdict::Allow => {
            metrics.allowed.inc();
            match (who, &facts) {
                (Some(who), Some(facts)) => allowed(state, who, facts),
                // `judge` allows only a caller.
                _ => plain(StatusCode::UNAUTHORIZED, "sign-in required"),
            }
        }
        Verdict::Bypass => {
            metrics.bypass.inc();
            plain(StatusCode::OK, "bypass")
        }
        Verdict::Deny(reason) => {
            metrics.denied.inc();
            state
                .metrics
                .forward_auth_denied
                .with_label_values(&[rule.label])
                .inc();
            tracing::info!(
                target: "audit",
                event = "forward_auth_denied",
                host = %quoted(&original.host),
                method = %quoted(&original.method),
                path = %quoted(&original.path),
                rule = %quoted(rule.label),
                reason = reason.as_str(),
                user = who.map(|w| w.user.id),
            );
            plain(StatusCode::FORBIDDEN, "forbidden")
        }
        Verdict::SignIn => {
            metrics.anonymous.inc();
            sign_in(req, config, door, original, None)
        }
        Verdict::StepUp(step) => {
            metrics.anonymous.inc();
            tracing::info!(
                target: "audit",
                event = "forward_auth_step_up",
                host = %quoted(&original.host),
                rule = %quoted(rule.label),
                needs = step.as_str(),
                user = who.map(|w| w.user.id),
            );
            sign_in(req, config, door, original, Some(step))
        }
    }
}

/// What the rules need to know of the caller's credential, and the opaque session reference.
struct Facts {
    second_factor: bool,
    signed_in_ago: Option<Duration>,
    /// What `Remote-Session` names, MACed before it leaves.
    reference: Reference,
}

impl Facts {
    fn of(req: &HttpRequest, who: &Authenticated) -> Self {
        let now = clock::micros(clock::now());
        let ago = |at_micros: i64| {
            u64::try_from(now.saturating_sub(at_micros))
                .ok()
                .map(Duration::from_micros)
        };
        match &who.credential {
            Credential::Session { login_at } => {
                let session = TypedSession::of(req);
                Self {
                    second_factor: session.second_factor_done(),
                    signed_in_ago: ago(session.auth_at().unwrap_or(*login_at)),
                    reference: Reference::Session(session.sid().unwrap_or_default()),
                }
            }
            // A token records when its sign-in was made (`auth_time`), not how: it never
            // meets a rule that needs a second factor.
            Credential::Bearer(claims) => Self {
                second_factor: false,
                signed_in_ago: claims
                    .auth_time
                    .and_then(|secs| ago(secs.saturating_mul(1_000_000))),
                reference: Reference::Family(claims.sid.clone()),
            },
            Credential::Basic => Self {
                second_factor: false,
                signed_in_ago: None,
                reference: Reference::None,
            },
        }
    }
}

/// 200 with the identity headers.
fn allowed(state: &AppState, who: &Authenticated, facts: &Facts) -> HttpResponse {
    let mut response = plain(StatusCode::OK, "ok");
    let headers = response.headers_mut();
    let roles = who.user.roles().join(",");
    for (name, value) in [
        (REMOTE_USER, who.user.username.as_str()),
        // Users have no display name apart from their username.
        (REMOTE_NAME, who.user.username.as_str()),
        (REMOTE_GROUPS, roles.as_str()),
    ] {
        // Usernames are letters, digits and `._-@` (SPEC §8): always a valid header value.
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::HeaderName::from_static(name), value);
        }
    }
    if let Some(value) = state.remote_sessions.value(&facts.reference) {
        headers.insert(header::HeaderName::from_static(REMOTE_SESSION), value);
    }
    response
}

/// Nobody (or not enough) signed in: a browser at `/auth/forward` is sent to sign in and back,
/// when the original URL is one `rd` may lead to; everyone else gets 401.
fn sign_in(
    req: &HttpRequest,
    config: &Settings,
    door: Door,
    original: &Original,
    step: Option<StepUp>,
) -> HttpResponse {
    let rd = original
        .url
        .as_ref()
        .and_then(|url| safe_rd(url.as_str(), &config.forward_auth));
    let login = rd.as_deref().map(|rd| {
        let encoded: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        format!("{}/login?rd={encoded}", config.public_url())
    });
    match login {
        Some(login) if door == Door::Forward && accepts_html(req) => HttpResponse::Found()
            .insert_header((header::LOCATION, login))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        _ => {
            let mut response = plain(
                StatusCode::UNAUTHORIZED,
                match step {
                    None => "sign-in required",
                    Some(StepUp::SecondFactor) => "second factor required",
                    Some(StepUp::MaxAge) => "a more recent sign-in required",
                },
            );
            // For nginx, which cannot percent-encode a URL itself: the sign-in URL with the
            // original URL encoded, which its `error_page 401 =302` sends the browser to.
            if let Some(login) = login
                && let Ok(value) = header::HeaderValue::from_str(&login)
            {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
    }
}

/// Whether the client takes HTML (a browser navigating).
fn accepts_html(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// A store or database that does not answer: 503 (the proxy shows its error page).
fn failed(failure: &Failure) -> HttpResponse {
    match failure {
        Failure::Unexpected(e) => {
            tracing::error!(error = ?e, "forward-auth check failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
        _ => {
            let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::error::BUSY_RETRY_AFTER_SECS),
            );
            response
        }
    }
}

/// A short text answer, never cached.
fn plain(status: StatusCode, body: &'static str) -> HttpResponse {
    // Static header values: a `&str` is checked and copied into a new value on every answer.
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ))
        .body(body)
}

/// What a browser signed in as `who` still lacks to reach `rd` under the rules in force (a
/// second factor, a fresher sign-in), or `None`: `/login?rd=` then sends it straight there
/// (a denial is the app's answer to give, not a reason to sign in again).
pub fn missing_for(
    req: &HttpRequest,
    config: &Settings,
    who: &Authenticated,
    rd: &str,
) -> Option<StepUp> {
    let original = Original::from_url("GET", rd);
    let rule = rules::applied(&config.forward_auth, &original);
    let facts = Facts::of(req, who);
    let roles = who.user.roles();
    let caller = Caller {
        roles: &roles,
        second_factor: facts.second_factor,
        signed_in_ago: facts.signed_in_ago,
    };
    match rules::judge(&rule, Some(&caller)) {
        Verdict::StepUp(step) => Some(step),
        _ => None,
    }
}

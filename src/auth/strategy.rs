//! The `AuthStrategy` trait and the chain built from `auth.mode` and `auth.basic` (SPEC §7).
//!
//! The first strategy that recognises its credentials decides: it accepts them or rejects
//! them, and rejected credentials are never passed on to the next strategy. Adding a strategy
//! is a new file plus one line in [`AuthChain::from_settings`].

use actix_web::HttpRequest;
use futures_util::future::LocalBoxFuture;

use super::jwt::{AccessClaims, TokenError};
use crate::config::Settings;
use crate::db::models::User;
use crate::startup::AppState;

/// How a request was authenticated (`via` in `/api/me`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    Token,
    Basic,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Token => "token",
            Self::Basic => "basic",
        }
    }
}

/// Who a request's credentials name, before (or, for Basic, after) loading the user.
///
/// As an extractor it proves only that the credentials verify: it does not see a user disabled,
/// deleted or with a newer password since the token was issued. Handlers acting for a user take
/// `CurrentUser` (or `AdminPrincipal`), which check all of that.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub via: Via,
    /// The verified claims, for bearer tokens.
    pub claims: Option<AccessClaims>,
    /// The user, when the strategy had to load it anyway (Basic).
    pub user: Option<User>,
    /// For sessions: when the session signed in (Unix microseconds).
    pub login_at: Option<i64>,
}

/// Why present credentials were refused.
#[derive(Debug)]
pub enum Rejection {
    Token(TokenError),
    Basic,
    /// The password hashing queue is full.
    Busy,
    /// Too many failed logins for the username or client IP.
    Locked {
        retry_after: u64,
    },
    /// The session store could not be read.
    Unavailable,
    Unexpected(anyhow::Error),
}

/// The verdict of one strategy on one request.
pub enum Outcome {
    /// This strategy's credentials are not in the request: ask the next one.
    Absent,
    Accepted(Box<Principal>),
    Rejected(Rejection),
}

/// One way of authenticating a request.
pub trait AuthStrategy: Send + Sync {
    fn name(&self) -> &'static str;

    fn authenticate<'a>(
        &'a self,
        req: &'a HttpRequest,
        state: &'a AppState,
    ) -> LocalBoxFuture<'a, Outcome>;
}

/// The raw `Authorization` header when its scheme is `scheme` (compared without case), split
/// as (whole value, what follows the scheme).
pub fn authorization<'a>(req: &'a HttpRequest, scheme: &str) -> Option<(&'a [u8], &'a [u8])> {
    let raw = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .as_bytes();
    let end = raw.iter().position(|b| *b == b' ').unwrap_or(raw.len());
    raw[..end]
        .eq_ignore_ascii_case(scheme.as_bytes())
        .then(|| (raw, &raw[end..]))
}

/// The strategies in the order they are asked.
pub struct AuthChain {
    strategies: Vec<Box<dyn AuthStrategy>>,
    basic: bool,
}

impl AuthChain {
    /// Header-borne credentials first, then the session cookie.
    pub fn from_settings(settings: &Settings) -> Self {
        let mut strategies: Vec<Box<dyn AuthStrategy>> = Vec::new();
        if settings.auth.mode.tokens() {
            strategies.push(Box::new(super::bearer::BearerStrategy));
        }
        if settings.auth.basic {
            strategies.push(Box::new(super::basic::BasicStrategy));
        }
        if settings.auth.mode.sessions() {
            strategies.push(Box::new(super::session::SessionStrategy));
        }
        Self {
            strategies,
            basic: settings.auth.basic,
        }
    }

    /// Whether HTTP Basic is among the strategies (it then joins the challenges).
    pub fn basic(&self) -> bool {
        self.basic
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.strategies.iter().map(|s| s.name()).collect()
    }

    /// Asks each strategy in turn; `None` when no credentials were presented at all.
    pub async fn authenticate(
        &self,
        req: &HttpRequest,
        state: &AppState,
    ) -> Result<Option<Principal>, Rejection> {
        for strategy in &self.strategies {
            match strategy.authenticate(req, state).await {
                Outcome::Absent => continue,
                Outcome::Accepted(principal) => return Ok(Some(*principal)),
                Outcome::Rejected(why) => return Err(why),
            }
        }
        Ok(None)
    }
}

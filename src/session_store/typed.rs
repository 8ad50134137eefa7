//! `TypedSession`: the one owner of every key in a browser session (in the manner of
//! zero-to-production's `TypedSession`). Nothing else names a session key; `/account` reads
//! stored sessions through [`SessionMeta::from_state`].
//!
//! A session is actix-session's (every route with its middleware), or one read without it
//! ([`PeekedSession`], forward-auth), which answers the same reads and takes no writes.

use std::rc::Rc;

use actix_identity::Identity;
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use chrono::NaiveDateTime;
use futures_util::future::{Ready, ready};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::peek::PeekedSession;
use super::{IDENTITY_KEY, State, UNAVAILABLE_KEY};
use crate::domain::{clock, random_token};

/// The form's CSRF token (random, compared in constant time by `auth::csrf`).
const CSRF_KEY: &str = "csrf";
/// When the session signed in (Unix microseconds), compared with the user's revocation stamp.
const LOGIN_AT_KEY: &str = "login_at";
/// When the browser's sign-in completed (Unix microseconds): kept when the session is carried
/// over to a new id, so account changes that need a recent sign-in read the real one.
const AUTH_AT_KEY: &str = "auth_at";
/// A random, public id of the session, so `/account` can tell "this session" apart.
const SID_KEY: &str = "sid";
const USER_AGENT_KEY: &str = "meta.ua";
const IP_KEY: &str = "meta.ip";
/// How the sign-in was made (RFC 8176 `amr` values: `pwd`, `otp`, `hwk`, `user`, `mfa`).
const AMR_KEY: &str = "amr";
/// A one-time notice shown on the next page.
const FLASH_KEY: &str = "flash";

/// The longest user agent kept.
const MAX_USER_AGENT_CHARS: usize = 200;

/// A browser session with typed accessors.
#[derive(Clone)]
pub struct TypedSession(Backing);

#[derive(Clone)]
enum Backing {
    Live(Session),
    Peeked(Rc<PeekedSession>),
}

/// What a sign-in records about the browser, for `/account`.
pub struct SignInFacts {
    pub user_agent: String,
    pub ip: String,
}

impl TypedSession {
    /// The request's session: the one read for it without actix-session when there is one,
    /// else actix-session's.
    pub fn of(req: &HttpRequest) -> Self {
        let peeked = req.extensions().get::<Rc<PeekedSession>>().cloned();
        match peeked {
            Some(peeked) => Self(Backing::Peeked(peeked)),
            None => Self(Backing::Live(req.get_session())),
        }
    }

    /// The session of a route with actix-session; `None` for a read-only one, whose writes
    /// are logged as the programming error they are and dropped (never stored, so a CSRF
    /// token made there matches nothing).
    fn live(&self, key: &str) -> Option<&Session> {
        match &self.0 {
            Backing::Live(session) => Some(session),
            Backing::Peeked(_) => {
                tracing::error!(key, "a read-only session cannot be written");
                None
            }
        }
    }

    /// Values are strings and numbers, which always serialize; a failure would only mean a
    /// key left unset, so it is logged rather than failing the request.
    fn set(&self, key: &str, value: impl Serialize) {
        if let Some(session) = self.live(key)
            && let Err(e) = session.insert(key, value)
        {
            tracing::warn!(error = %e, key, "could not write a session value");
        }
    }

    fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match &self.0 {
            Backing::Live(session) => session.get::<T>(key).ok().flatten(),
            Backing::Peeked(peeked) => serde_json::from_str(peeked.value(key)?).ok(),
        }
    }

    /// Whether the store could not be read for this request.
    pub fn is_unavailable(&self) -> bool {
        match &self.0 {
            Backing::Live(session) => session.contains_key(UNAVAILABLE_KEY),
            Backing::Peeked(peeked) => peeked.is_unavailable(),
        }
    }

    /// The signed-in user's id as actix-identity stored it (`Identity::id`), read here so that
    /// a read-only session answers it too; `None` when nobody signed in.
    pub fn identity(&self) -> Option<String> {
        self.get(IDENTITY_KEY)
    }

    /// The session's CSRF token, created on first use.
    pub fn csrf_token(&self) -> String {
        self.get::<String>(CSRF_KEY)
            .unwrap_or_else(|| self.rotate_csrf())
    }

    /// The stored CSRF token, if any (never creates one).
    pub fn stored_csrf_token(&self) -> Option<String> {
        self.get(CSRF_KEY)
    }

    /// Replaces the CSRF token (after sign-in, so a token seen before it is worthless).
    pub fn rotate_csrf(&self) -> String {
        let fresh = random_token(32);
        self.set(CSRF_KEY, &fresh);
        fresh
    }

    /// When this session signed in (Unix microseconds).
    pub fn login_at(&self) -> Option<i64> {
        self.get(LOGIN_AT_KEY)
    }

    /// When the browser's sign-in completed (Unix microseconds): `auth_time` of the session.
    pub fn auth_at(&self) -> Option<i64> {
        self.get(AUTH_AT_KEY).or_else(|| self.login_at())
    }

    /// The session's public id.
    pub fn sid(&self) -> Option<String> {
        self.get(SID_KEY)
    }

    /// Signs `user_id` in on this browser: a new session id (fixation-safe, by actix-identity),
    /// a new CSRF token, the sign-in time and the facts `/account` lists.
    /// `checked_at` is when the password was checked: a revocation after it ends the session,
    /// even one that commits while the sign-in is still in flight.
    pub fn sign_in(
        &self,
        req: &HttpRequest,
        user_id: i64,
        checked_at: NaiveDateTime,
        facts: SignInFacts,
    ) -> anyhow::Result<()> {
        Identity::login(&req.extensions(), user_id.to_string())
            .map_err(|e| anyhow::anyhow!("cannot sign the session in: {e}"))?;
        self.rotate_csrf();
        self.set(LOGIN_AT_KEY, clock::micros(checked_at));
        self.set(AUTH_AT_KEY, clock::micros(checked_at));
        let user_agent: String = facts
            .user_agent
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        self.set(SID_KEY, random_token(12));
        // A password until the caller says otherwise (`record_methods`).
        self.set(AMR_KEY, ["pwd"]);
        self.set(USER_AGENT_KEY, user_agent);
        self.set(IP_KEY, facts.ip);
        Ok(())
    }

    /// Records how the sign-in just made was completed (RFC 8176 `amr` values), replacing the
    /// `pwd` that [`TypedSession::sign_in`] assumes: a second factor adds `mfa`.
    pub fn record_methods(&self, methods: &[&str]) {
        self.set(AMR_KEY, methods);
    }

    /// How the sign-in was made (RFC 8176 `amr` values); empty for a session from before
    /// they were recorded.
    pub fn methods(&self) -> Vec<String> {
        self.get(AMR_KEY).unwrap_or_default()
    }

    /// Whether the sign-in completed a second factor (or a passkey that verified its user,
    /// two factors in itself).
    pub fn second_factor_done(&self) -> bool {
        self.methods().iter().any(|m| m == "mfa")
    }

    /// Keeps this browser signed in after a revocation of every session of its user (the
    /// browser that changed the password or a second factor): a new session id, CSRF token
    /// and sign-in time (its `auth_at` stays).
    pub fn carry_over(&self) {
        if let Some(session) = self.live("(renew)") {
            session.renew();
        }
        self.rotate_csrf();
        self.stamp_login();
    }

    fn stamp_login(&self) {
        self.set(LOGIN_AT_KEY, clock::micros(clock::now()));
    }

    /// Leaves a one-time notice for the next page.
    pub fn flash(&self, notice: impl Into<String>) {
        self.set(FLASH_KEY, notice.into());
    }

    /// Takes the one-time notice, if any.
    pub fn take_flash(&self) -> Option<String> {
        self.live(FLASH_KEY)?
            .remove_as::<String>(FLASH_KEY)
            .and_then(Result::ok)
    }

    /// Ends the session: the store deletes it and the cookie is removed.
    pub fn purge(&self) {
        match &self.0 {
            Backing::Live(session) => session.purge(),
            Backing::Peeked(peeked) => peeked.purge(),
        }
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(req)))
    }
}

/// What a stored session says about itself (for `/account`'s list).
#[derive(Debug, Clone, Default)]
pub struct SessionMeta {
    pub sid: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub login_at: Option<i64>,
}

impl SessionMeta {
    /// Reads actix-session's stored state (each value JSON-encoded).
    pub fn from_state(state: &State) -> Self {
        fn field<T: DeserializeOwned>(state: &State, key: &str) -> Option<T> {
            state.get(key).and_then(|v| serde_json::from_str(v).ok())
        }
        Self {
            sid: field(state, SID_KEY),
            user_agent: field(state, USER_AGENT_KEY),
            ip: field(state, IP_KEY),
            login_at: field(state, LOGIN_AT_KEY),
        }
    }
}

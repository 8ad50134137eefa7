//! Authentication decisions: "who is this request, and is that credential still good?"
//!
//! [`Authenticator::resolve`] is the one answer, for every surface. It asks the strategies of
//! [`chain::AuthChain`] in order; each strategy owns its credential kind, its validity rule
//! (signature and claims, session revocation stamp, password and lockout) and its
//! `WWW-Authenticate` challenge. The HTML surface turns a failure into a redirect to the login
//! form, the JSON surface into 401 with the challenges: neither decides anything itself.
//!
//! Below the strategies: the password check shared by every door (`login`), the bcrypt pool
//! (`password`), failed-login counting (`lockout`), CSRF tokens (`csrf`) and tokens
//! (`token::{access, keys, refresh}`).

pub mod cache;
pub mod chain;
pub mod csrf;
pub mod lockout;
pub mod login;
pub mod mfa;
pub mod passkey;
pub mod password;
pub mod strategy;
pub mod token;

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::cookie::Key;

use crate::config::Settings;
use crate::db::{Database, refresh_tokens, users};
use crate::domain::UserState;
use crate::domain::clock;
use crate::error::Failure;
use crate::metrics::Metrics;
use crate::session_store::AnyStore;

use self::cache::AuthCaches;
use self::chain::AuthChain;
use self::lockout::Lockout;
use self::password::PasswordHasher;
use self::token::access::AccessClaims;
use self::token::store::KeyStore;

/// A request whose credentials were verified and whose user is enabled and current.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: Arc<UserState>,
    pub credential: Credential,
}

/// The credential a request was authenticated by, one variant per strategy.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The session cookie; `login_at` is when the session signed in (Unix microseconds).
    Session { login_at: i64 },
    /// A bearer access token and its verified claims.
    Bearer(Arc<AccessClaims>),
    /// HTTP Basic username and password.
    Basic,
}

impl Credential {
    /// The kind of this credential.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Self::Session { .. } => CredentialKind::Session,
            Self::Bearer(_) => CredentialKind::Bearer,
            Self::Basic => CredentialKind::Basic,
        }
    }
}

/// Kinds of credentials, for [`AuthCheck`] and for `via` in `/api/me`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Session,
    Bearer,
    Basic,
}

impl CredentialKind {
    /// The name clients see (`via` in `/api/me`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Bearer => "token",
            Self::Basic => "basic",
        }
    }
}

/// Which credential kinds a route takes, said at the call site (crates.io's `AuthCheck`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthCheck {
    session: bool,
    header: bool,
    /// HTTP Basic, among the header kinds.
    basic: bool,
}

impl AuthCheck {
    /// Every kind the configuration turns on.
    pub const fn any() -> Self {
        Self {
            session: true,
            header: true,
            basic: true,
        }
    }

    /// The session cookie or a bearer token, never HTTP Basic (forward-auth: the Basic
    /// header a proxy passes on belongs to the protected app).
    pub const fn session_or_bearer() -> Self {
        Self {
            session: true,
            header: true,
            basic: false,
        }
    }

    /// The session cookie only (HTML pages: a header credential there is ignored).
    pub const fn only_session() -> Self {
        Self {
            session: true,
            header: false,
            basic: false,
        }
    }

    /// Whether a strategy for credentials of `kind` may be asked.
    pub fn allows(self, kind: CredentialKind) -> bool {
        match kind {
            CredentialKind::Session => self.session,
            CredentialKind::Bearer => self.header,
            CredentialKind::Basic => self.header && self.basic,
        }
    }
}

/// Credentials that a strategy recognised and refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// `error_description` of RFC 6750 (`expired`, `invalid`) or the Basic equivalent.
    pub description: &'static str,
    /// `WWW-Authenticate` values: the refusing strategy's challenge naming the error first,
    /// then the plain challenges of the strategies that would have been asked after it.
    pub challenges: Vec<String>,
}

/// Why a request is not authenticated.
#[derive(Debug)]
pub enum AuthFailure {
    /// No credentials that an enabled strategy recognises (or a session that has ended);
    /// `challenges` are the plain challenges of the enabled strategies.
    Missing { challenges: Vec<String> },
    /// Credentials present but refused; never passed on to the next strategy.
    Refused(Refusal),
    /// The check itself could not be made (busy, locked, store down, unexpected).
    Failed(Failure),
}

impl From<Failure> for AuthFailure {
    fn from(f: Failure) -> Self {
        Self::Failed(f)
    }
}

/// What the strategies and the password check need: the repository, the bcrypt pool, the
/// throttle, the metrics and the signing keys. Cheap to share behind `AppState`.
pub struct Authenticator {
    pub db: Database,
    pub hasher: PasswordHasher,
    pub lockout: Lockout,
    pub metrics: Arc<Metrics>,
    /// The signing keys of the key store, as loaded by this instance.
    pub keys: KeyStore,
    /// The session store, read afresh before a write decided by a session.
    pub sessions: AnyStore,
    /// The key that seals the session cookie (to find the session a cookie names).
    pub cookie_key: Key,
    /// Verified tokens, user state and live families (see [`cache`]).
    pub caches: AuthCaches,
    /// The strategies, in the order they are asked: [`AuthChain::standard`].
    pub chain: AuthChain,
    /// The WebAuthn relying party, derived once from `server.public_url` (a key a reload
    /// cannot change), or why there is none.
    pub passkeys: Arc<passkey::Passkeys>,
}

impl Authenticator {
    /// Who this request is, by the first strategy (enabled in `config` and allowed by
    /// `check`) that recognises its credentials.
    pub async fn resolve(
        &self,
        req: &HttpRequest,
        config: &Settings,
        check: AuthCheck,
    ) -> Result<Authenticated, AuthFailure> {
        self.chain.resolve(req, self, config, check).await
    }

    /// Whether the request carries credentials in a header that an enabled strategy reads:
    /// such a request is decided without the session, so its cookie is never loaded.
    pub fn has_header_credentials(&self, req: &HttpRequest, config: &Settings) -> bool {
        self.chain.has_header_credentials(req, config)
    }

    /// The state of a user: from the cache while the change feed is trusted, else from the
    /// database (and cached). Strategies check it after the credential.
    pub async fn user_state(&self, user_id: i64) -> Result<Option<Arc<UserState>>, Failure> {
        if let Some(hit) = self.caches.user(user_id) {
            return Ok(Some(hit));
        }
        let ticket = self.caches.feed().ticket();
        let user = self
            .db
            .run(move |conn| users::find(conn, user_id).map_err(Failure::from))
            .await?
            .map(|user| Arc::new(user.state()));
        if let Some(user) = &user {
            self.caches.fill_user(ticket, user);
        }
        Ok(user)
    }

    /// The state of a user and whether the refresh-token family `family_id` still stands for
    /// them (the facts behind a bearer token): from the caches while the feed is trusted,
    /// else in one database trip.
    pub async fn bearer_facts(
        &self,
        user_id: i64,
        family_id: &str,
    ) -> Result<Option<(Arc<UserState>, bool)>, Failure> {
        let cached_user = self.caches.user(user_id);
        if let Some(user) = &cached_user
            && let Some(live) = self.caches.family_live(family_id, user)
        {
            return Ok(Some((user.clone(), live)));
        }
        let ticket = self.caches.feed().ticket();
        let need_user = cached_user.is_none();
        let sid = family_id.to_string();
        let (loaded, checked) = self
            .db
            .run(move |conn| -> Result<_, Failure> {
                let user = if need_user {
                    users::find(conn, user_id)?
                } else {
                    None
                };
                Ok((user, refresh_tokens::live_family_checked_at(conn, &sid)?))
            })
            .await?;
        let user = match cached_user {
            Some(user) => user,
            None => match loaded {
                Some(row) => {
                    let user = Arc::new(row.state());
                    self.caches.fill_user(ticket, &user);
                    user
                }
                None => return Ok(None),
            },
        };
        let live = match checked {
            Some(checked) => {
                let checked = clock::micros(checked);
                self.caches.fill_family(ticket, family_id, checked);
                user.session_current(Some(checked))
            }
            None => false,
        };
        Ok(Some((user, live)))
    }

    /// Names of the strategies enabled by `config`, in the order they are asked.
    pub fn strategy_names(&self, config: &Settings) -> Vec<&'static str> {
        self.chain.names(config)
    }
}

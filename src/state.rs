//! `AppState`: what every request handler shares. It sits below the routes and surfaces and
//! above the parts it holds (the authenticator, accounts, stores, metrics), so nothing it
//! holds imports it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use actix_web::cookie::Key;
use actix_web::{HttpRequest, web};
use arc_swap::ArcSwap;

use crate::accounts::Accounts;
use crate::auth::{AuthCheck, AuthFailure, Authenticated, Authenticator};
use crate::config::Settings;
use crate::db::Database;
use crate::error::Failure;
use crate::http::client_ip::{ClientAddr, client_ip};
use crate::metrics::Metrics;
use crate::session_store::AnyStore;
use crate::session_store::peek::SessionCookies;
use crate::session_store::reference::RemoteSessions;

pub struct AppState {
    /// The configuration in force, swapped whole by a reload; read it once per request.
    config: ArcSwap<Settings>,
    pub db: Database,
    /// "Who is this request?" and the password check.
    pub auth: Authenticator,
    /// Account changes and the revocation seam.
    pub accounts: Accounts,
    /// The session store (`session.store`).
    pub sessions: AnyStore,
    pub metrics: Arc<Metrics>,
    /// Signs the session cookie.
    pub session_key: Key,
    /// The session cookies unsealed before, for the routes that read a session without
    /// actix-session (forward-auth).
    pub session_cookies: SessionCookies,
    /// Forward-auth's `Remote-Session` values.
    pub remote_sessions: RemoteSessions,
    /// Configuration reloads: when the last one happened, and one at a time.
    pub reload: ReloadStatus,
}

/// What a configuration reload (the `reload` module) needs to remember between reloads.
#[derive(Default)]
pub struct ReloadStatus {
    /// Held for the whole of a reload: a SIGHUP and the file watcher may ask at once.
    running: tokio::sync::Mutex<()>,
    /// When a reload last put a configuration in force.
    last: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// The address the server listens on: an unset `server.public_url` in a reloaded file
    /// follows it, as at start-up.
    bound: OnceLock<SocketAddr>,
}

impl ReloadStatus {
    /// Waits for any reload in progress; the next one may run while the guard lives.
    pub async fn one_at_a_time(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.running.lock().await
    }

    /// When a reload last put a configuration in force (`None`: never since start-up).
    pub fn last(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn record(&self, at: chrono::DateTime<chrono::Utc>) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(at);
    }

    pub fn bound(&self) -> Option<SocketAddr> {
        self.bound.get().copied()
    }

    /// Remembers the bound address (once; `Application::build` knows it).
    pub fn set_bound(&self, bound: SocketAddr) {
        let _ = self.bound.set(bound);
    }
}

impl AppState {
    pub fn new(
        config: Settings,
        db: Database,
        auth: Authenticator,
        accounts: Accounts,
        sessions: AnyStore,
        metrics: Arc<Metrics>,
        session_key: Key,
    ) -> Self {
        let cache_cap = config.cache.sessions;
        let session_cookies = SessionCookies::new(session_key.clone(), cache_cap);
        Self {
            config: ArcSwap::from_pointee(config),
            db,
            auth,
            accounts,
            sessions,
            metrics,
            remote_sessions: RemoteSessions::new(&session_key, cache_cap),
            session_cookies,
            session_key,
            reload: ReloadStatus::default(),
        }
    }

    /// A snapshot of the configuration in force.
    pub fn config(&self) -> Arc<Settings> {
        self.config.load_full()
    }

    /// The configuration in force, borrowed for one step of a request (no reference count
    /// taken: what the per-request checks of the hot path read).
    pub fn current_config(&self) -> arc_swap::Guard<Arc<Settings>> {
        self.config.load()
    }

    /// Puts a new, validated configuration in force for the requests that start after this.
    pub fn replace_config(&self, config: Settings) {
        self.config.store(Arc::new(config));
    }

    /// Who `req` is, by the credential kinds `check` allows, under the configuration in force:
    /// what the extractors of both surfaces ask.
    pub async fn resolve(
        req: &HttpRequest,
        check: AuthCheck,
    ) -> Result<Authenticated, AuthFailure> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| Failure::Unexpected(anyhow::anyhow!("AppState missing")))?;
        let config = state.current_config();
        state.auth.resolve(req, &config, check).await
    }

    /// The client address of a request (see `server.trusted_proxies` and
    /// `server.client_ip_header`).
    pub fn client_ip(&self, req: &HttpRequest) -> ClientAddr {
        let config = self.config();
        client_ip(
            req,
            &config.server.trusted_proxies,
            config.server.client_ip_header,
        )
    }
}

//! `Application::build(settings)`: the one builder that `main` and every test use. It binds
//! the listener, prepares the data directory, database, keys and first admin (`bootstrap`,
//! `secrets`), starts the background purge (`maintenance`) and serves the routes of
//! `crate::routes`.

mod bootstrap;
mod maintenance;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::accounts::Accounts;
use crate::auth::Authenticator;
use crate::auth::cache::AuthCaches;
use crate::auth::chain::AuthChain;
use crate::auth::lockout::Lockout;
use crate::auth::passkey::Passkeys;
use crate::auth::password::PasswordHasher;
use crate::auth::token::store::{KeyStore, Opened};
use crate::config::Settings;
use crate::db::{Database, DbError};
use crate::feed::Feed;
use crate::metrics::Metrics;
use crate::session_store::AnyStore;
use crate::state::AppState;

/// Why the server could not start; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("{0}")]
    Io(String),
}

/// A built server, bound and ready to run.
pub struct Application {
    bound: std::net::SocketAddr,
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(mut settings: Settings) -> Result<Self, StartupError> {
        settings
            .validate()
            .map_err(|e| StartupError::Config(e.to_string()))?;
        let listener = TcpListener::bind(&settings.server.bind).map_err(|e| {
            StartupError::Io(format!("cannot listen on {}: {e}", settings.server.bind))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| StartupError::Io(e.to_string()))?;
        if let Some(warning) = settings.follow_bound_address(bound) {
            tracing::warn!("{warning}");
        }
        let state = web::Data::new(build_state(settings).await?);
        maintenance::spawn_maintenance(state.clone());
        crate::reload::spawn(&state, bound);
        let config = state.config();
        let workers = config
            .server
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        tracing::debug!(strategies = ?state.auth.strategy_names(&config), "authentication chain");
        let https = config.public_url().starts_with("https://");
        let request_timeout = config.server.request_timeout.0;
        // The workers' blocking threads only run database work (`Database::run`), and a thread
        // without a pooled connection just waits for one: `database.pool_size` per worker is all
        // that can make progress. actix's default (512 ÷ workers) let a 64-connection load keep
        // ~150 threads alive, each with its stack and a share of malloc's arenas: 34 MiB RSS
        // after warm-up against 27 MiB with this bound (2 cores, SQLite).
        let blocking_threads = config.database.pool_size as usize;
        let server_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(move |req, next| {
                    crate::http::timeout::within(request_timeout, req, next)
                }))
                .wrap(crate::http::headers::security_headers(https))
                .wrap(TracingLogger::<crate::ops::RequestSpan>::new())
                // Outside the request's span, so that its line does not repeat the span's
                // fields (see `ops::observe`).
                .wrap(actix_web::middleware::from_fn(crate::ops::observe))
                .app_data(server_state.clone())
                .configure(|cfg| crate::routes::configure(cfg, &server_state))
        })
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        // The head; `timeout::within` bounds the body.
        .client_request_timeout(request_timeout)
        .shutdown_timeout(30)
        .listen(listener)
        .map_err(|e| StartupError::Io(e.to_string()))?
        .run();
        Ok(Self {
            bound,
            port: bound.port(),
            server,
            state,
        })
    }

    /// The bound port (useful with `server.bind = "127.0.0.1:0"`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Logs the one start-up line (INFO, target `gatehouse::startup`): where the server
    /// answers and how it is set up, the database URL's credentials redacted. `main` calls it
    /// once the server listens.
    pub fn announce(&self) {
        let config = self.state.config();
        let summary = StartupSummary::new(&config, self.bound);
        tracing::info!(
            target: "gatehouse::startup",
            url = %summary.url,
            bind = %summary.bind,
            mode = %summary.mode,
            basic = %summary.basic,
            registration = %summary.registration,
            session_store = %summary.session_store,
            database = %crate::telemetry::quoted(&summary.database),
            version = %summary.version,
            "gatehouse is listening"
        );
    }

    /// The shared state (tests and benchmarks use it to wire the routes without a socket).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle to stop the server (tests use it to simulate a restart).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// What the start-up line says ([`Application::announce`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupSummary {
    /// The public URL (`server.public_url`, else following `server.bind`).
    pub url: String,
    /// The address actually bound.
    pub bind: std::net::SocketAddr,
    pub mode: &'static str,
    /// `on` or `off`.
    pub basic: &'static str,
    /// `on` or `off`.
    pub registration: &'static str,
    pub session_store: &'static str,
    /// `database.url` with its password (and secret query parameters) replaced by `***`; a
    /// SQLite URL as it is.
    pub database: String,
    pub version: &'static str,
}

impl StartupSummary {
    pub fn new(config: &Settings, bind: std::net::SocketAddr) -> Self {
        use crate::config::{AuthMode, SessionStoreKind};
        let on_off = |on: bool| if on { "on" } else { "off" };
        Self {
            url: config.public_url(),
            bind,
            mode: match config.auth.mode {
                AuthMode::Session => "session",
                AuthMode::Token => "token",
                AuthMode::Both => "both",
            },
            basic: on_off(config.auth.basic),
            registration: on_off(config.auth.registration),
            session_store: match config.session.store {
                SessionStoreKind::Database => "database",
                SessionStoreKind::Redis => "redis",
            },
            database: crate::config::redact_url(&config.database.url),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Everything the routes share, from validated settings: the blocking preparation on a
/// blocking thread, then the session store.
pub async fn build_state(settings: Settings) -> Result<AppState, StartupError> {
    let prepared = tokio::task::spawn_blocking(move || prepare(settings))
        .await
        .map_err(|e| StartupError::Io(format!("start-up task failed: {e}")))??;
    let Prepared {
        settings,
        db,
        hasher,
        keys,
        installation_id,
    } = prepared;
    let Opened {
        master,
        cookie_key: session_key,
        jwt,
        id_jwt,
    } = keys;
    let metrics = Arc::new(Metrics::new().map_err(|e| StartupError::Io(format!("metrics: {e}")))?);
    let feed = Feed::new(settings.cache.max_staleness.0);
    let sessions = AnyStore::open(&settings, &db, &installation_id, &feed, &metrics)
        .await
        .map_err(|e| StartupError::Io(format!("{e:#}")))?;
    let caches = AuthCaches::new(&settings.cache, &feed, &metrics);
    let keys = KeyStore::new(db.clone(), master, jwt, id_jwt, &feed);
    {
        let (feed, db) = (feed.clone(), db.clone());
        tokio::task::spawn_blocking(move || feed.start_polling(&db))
            .await
            .map_err(|e| StartupError::Io(format!("start-up task failed: {e}")))??;
    }
    let lockout = Lockout::new(&settings.lockout);
    let auth = Authenticator {
        db: db.clone(),
        hasher: hasher.clone(),
        lockout: lockout.clone(),
        metrics: metrics.clone(),
        keys,
        sessions: sessions.clone(),
        cookie_key: session_key.clone(),
        caches,
        chain: AuthChain::standard(),
        passkeys: Arc::new(Passkeys::from_public_url(&settings.public_url())),
    };
    if let Passkeys::Unavailable(reason) = &*auth.passkeys {
        tracing::warn!("{reason}");
    }
    let accounts = Accounts::new(db.clone(), hasher, sessions.clone(), lockout, feed);
    Ok(AppState::new(
        settings,
        db,
        auth,
        accounts,
        sessions,
        metrics,
        session_key,
    ))
}

struct Prepared {
    settings: Settings,
    db: Database,
    hasher: PasswordHasher,
    keys: Opened,
    installation_id: String,
}

/// The blocking part of start-up.
fn prepare(settings: Settings) -> Result<Prepared, StartupError> {
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    let data_dir = &settings.server.data_dir;
    crate::files::create_private_dir(data_dir)
        .and_then(|()| crate::files::check_private_dir(data_dir))
        .map_err(|e| StartupError::Io(format!("server.data_dir: {e}")))?;
    let db = Database::open(&settings.database.url, settings.database.pool_size)?;
    let keys = crate::auth::token::store::prepare(&settings, &db)
        .map_err(|e| StartupError::Config(format!("key store: {e}")))?;
    let hasher = PasswordHasher::from_settings(&settings.password)
        .map_err(|e| StartupError::Io(e.to_string()))?;
    bootstrap::bootstrap_admin(&settings, &db)?;
    let installation_id = bootstrap::installation_id(&db)?;
    Ok(Prepared {
        settings,
        db,
        hasher,
        keys,
        installation_id,
    })
}

pub use bootstrap::installation_id;

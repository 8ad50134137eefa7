//! `Application::build(settings)`: the one builder that `main` and every test use. It prepares
//! the data directory, database, keys and first admin, binds the listener and builds the app.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use actix_identity::IdentityMiddleware;
use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::{Condition, DefaultHeaders};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::auth::accounts::{self, AccountError};
use crate::auth::credentials::{Password, Username};
use crate::auth::jwt::JwtKeys;
use crate::auth::lockout::Lockout;
use crate::auth::password::{PasswordHasher, hash_blocking};
use crate::auth::strategy::AuthChain;
use crate::config::{SessionStoreKind, Settings};
use crate::db::{Database, DbError, users};
use crate::error::PageError;
use crate::metrics::Metrics;
use crate::session_store::{AnyStore, DatabaseSessionStore, RedisSessionStore};

/// Shared by every request handler.
pub struct AppState {
    pub settings: Settings,
    pub db: Database,
    pub hasher: PasswordHasher,
    /// Signing keys, when the token API is on.
    pub jwt: Option<JwtKeys>,
    /// The authentication strategies chosen by `auth.mode` and `auth.basic`.
    pub auth: AuthChain,
    pub lockout: Lockout,
    pub metrics: Metrics,
    /// The session store (`session.store`).
    pub sessions: AnyStore,
}

impl AppState {
    /// The client address of a request (see `server.trusted_proxies`).
    pub fn client_ip(&self, req: &HttpRequest) -> std::net::IpAddr {
        crate::auth::client_ip::client_ip(req, &self.settings.server.trusted_proxies)
    }

    /// `server.max_body` in bytes.
    pub fn max_body(&self) -> usize {
        usize::try_from(self.settings.server.max_body.0).unwrap_or(usize::MAX)
    }

    /// Deletes a revoked user's sessions from the session store (Redis; the database store's
    /// rows went with the revocation). Best effort: the revocation stamp on the user already
    /// makes those sessions worthless.
    pub async fn forget_sessions(&self, user_id: i64) {
        if let Err(e) = self.sessions.delete_for_user(user_id).await {
            tracing::warn!(error = ?e, user_id, "could not delete the user's sessions from the store");
        }
    }

    pub fn jwt_keys(&self) -> Result<&JwtKeys, crate::api::error::ApiError> {
        self.jwt
            .as_ref()
            .ok_or(crate::api::error::ApiError::NotFound)
    }
}

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
    port: u16,
    server: Server,
}

/// How often expired rows are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let prepared = tokio::task::spawn_blocking(move || prepare(settings))
            .await
            .map_err(|e| StartupError::Io(format!("start-up task failed: {e}")))??;
        let Prepared {
            settings,
            db,
            hasher,
            session_key,
            jwt,
            installation_id,
        } = prepared;

        let listener = TcpListener::bind(&settings.server.bind).map_err(|e| {
            StartupError::Io(format!("cannot listen on {}: {e}", settings.server.bind))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Io(e.to_string()))?
            .port();

        let store = match (settings.session.store, &settings.session.redis_url) {
            (SessionStoreKind::Redis, Some(url)) => AnyStore::Redis(
                RedisSessionStore::connect(
                    url,
                    format!("gatehouse:{installation_id}"),
                    settings.session.ttl.0,
                )
                .await
                .map_err(|e| {
                    StartupError::Io(format!(
                        "cannot reach Redis at {}: {e}",
                        crate::config::redact_url(url)
                    ))
                })?,
            ),
            _ => AnyStore::Database(DatabaseSessionStore::new(
                db.clone(),
                settings.session.ttl.0,
            )),
        };

        let workers = settings
            .server
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let auth = AuthChain::from_settings(&settings);
        tracing::debug!(strategies = ?auth.names(), "authentication chain built");
        let lockout = Lockout::new(&settings.lockout);
        let metrics = Metrics::new().map_err(|e| StartupError::Io(format!("metrics: {e}")))?;
        let state = web::Data::new(AppState {
            settings,
            db,
            hasher,
            jwt,
            auth,
            lockout,
            metrics,
            sessions: store.clone(),
        });
        spawn_maintenance(store.clone(), state.clone());
        let server_state = state.clone();
        let server = HttpServer::new(move || {
            let settings = &server_state.settings;
            let sessions_on = settings.auth.mode.sessions();
            let session_mw = SessionMiddleware::builder(store.clone(), session_key.clone())
                .cookie_name(settings.session.cookie_name.clone())
                .cookie_secure(settings.cookie_secure())
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_path("/".into())
                .session_lifecycle(
                    BrowserSession::default()
                        .state_ttl(to_cookie_duration(settings.session.idle_timeout.0))
                        .state_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
                )
                .build();
            let identity_mw = IdentityMiddleware::builder()
                .login_deadline(Some(settings.session.ttl.0))
                .build();
            let max_body = usize::try_from(settings.server.max_body.0).unwrap_or(usize::MAX);
            App::new()
                .wrap(Condition::new(sessions_on, identity_mw))
                .wrap(Condition::new(sessions_on, session_mw))
                .wrap(actix_web::middleware::from_fn(crate::ops::observe))
                .wrap(security_headers())
                .wrap(TracingLogger::<crate::ops::RequestSpan>::new())
                .app_data(server_state.clone())
                .app_data(
                    web::FormConfig::default()
                        .limit(max_body)
                        .error_handler(form_error),
                )
                .app_data(web::PayloadConfig::default().limit(max_body))
                .configure(|cfg| configure(cfg, settings))
        })
        .workers(workers)
        .shutdown_timeout(30)
        .listen(listener)
        .map_err(|e| StartupError::Io(e.to_string()))?
        .run();
        Ok(Self { port, server })
    }

    /// The bound port (useful with `server.bind = "127.0.0.1:0"`).
    pub fn port(&self) -> u16 {
        self.port
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

/// Every route of the server, chosen by `auth.mode` and `auth.registration`.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &Settings) {
    cfg.route("/healthz", web::get().to(crate::ops::healthz))
        .route("/readyz", web::get().to(crate::ops::readyz))
        .route("/metrics", web::get().to(crate::ops::metrics))
        .route("/static/{name}", web::get().to(crate::web::assets::asset));
    crate::api::configure(cfg, settings);
    if settings.auth.mode.sessions() {
        crate::web::configure(cfg, settings.auth.registration);
    }
    cfg.default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, PageError> {
    if req.path().starts_with("/api/") {
        return Ok(HttpResponse::NotFound().json(serde_json::json!({
            "error": "not_found",
            "error_description": "no such endpoint",
        })));
    }
    Err(PageError::NotFound)
}

/// Maps form parse failures to clear 4xx answers.
fn form_error(err: actix_web::error::UrlencodedError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    let (status, message) = match &err {
        E::Overflow { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."),
        E::ContentType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected a form (application/x-www-form-urlencoded).",
        ),
        _ => (StatusCode::BAD_REQUEST, "The form could not be read."),
    };
    PageError::Client(status, message.into()).into()
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
}

fn to_cookie_duration(d: Duration) -> actix_web::cookie::time::Duration {
    actix_web::cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Deletes rows that can no longer matter: expired sessions, long-expired refresh tokens
/// (kept one more `refresh_ttl` so that a revoked family stays recognisable), stale counters.
fn spawn_maintenance(store: AnyStore, state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PURGE_INTERVAL);
        loop {
            interval.tick().await;
            if let Err(e) = store.purge_expired().await {
                tracing::warn!(error = ?e, "could not purge expired sessions");
            }
            let refresh_ttl = chrono::Duration::from_std(state.settings.token.refresh_ttl.0)
                .unwrap_or(chrono::Duration::MAX);
            let lockout = state.lockout.clone();
            let result = state
                .db
                .run(move |conn| -> Result<(), DbError> {
                    let before = crate::db::users::now()
                        .checked_sub_signed(refresh_ttl)
                        .unwrap_or(chrono::NaiveDateTime::MIN);
                    crate::db::refresh_tokens::purge_expired(conn, before)?;
                    lockout.purge(conn)?;
                    Ok(())
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = ?e, "could not purge expired tokens and counters");
            }
        }
    });
}

struct Prepared {
    settings: Settings,
    db: Database,
    hasher: PasswordHasher,
    session_key: Key,
    jwt: Option<JwtKeys>,
    /// Random id of this installation (shared through the database by all its instances).
    installation_id: String,
}

/// The blocking part of start-up.
fn prepare(settings: Settings) -> Result<Prepared, StartupError> {
    settings
        .validate()
        .map_err(|e| StartupError::Config(e.to_string()))?;
    if settings.password.bcrypt_cost < 10 {
        tracing::warn!(
            cost = settings.password.bcrypt_cost,
            "password.bcrypt_cost is below 10: password hashes are cheap to crack; use 10 or more in production"
        );
    }
    let data_dir = &settings.server.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|e| {
        StartupError::Io(format!(
            "cannot create data_dir {}: {e}",
            data_dir.display()
        ))
    })?;
    let db = Database::open(&settings.database.url, settings.database.pool_size)?;
    let session_key = load_or_create_key(&data_dir.join("session.key"))?;
    let jwt = if settings.auth.mode.tokens() {
        Some(
            JwtKeys::load(&settings)
                .map_err(|e| StartupError::Config(format!("token keys: {e}")))?,
        )
    } else {
        None
    };
    let cost = settings.password.bcrypt_cost;
    let hasher = match settings.hashing_pool {
        Some((threads, queue)) => PasswordHasher::start(cost, threads, queue),
        None => PasswordHasher::start_default(cost),
    }
    .map_err(|e| StartupError::Io(e.to_string()))?;
    bootstrap_admin(&settings, &db)?;
    let installation_id = {
        let mut conn = db.get()?;
        crate::db::meta::get_or_create(&mut conn, "installation_id", || {
            crate::auth::random_token(12)
        })
        .map_err(DbError::from)?
    };
    Ok(Prepared {
        settings,
        db,
        hasher,
        session_key,
        jwt,
        installation_id,
    })
}

/// Creates `admin` when the database has no users: with `GATEHOUSE_ADMIN_PASSWORD` (passed in
/// as `Settings::admin_password`) or a random password printed once to the log.
fn bootstrap_admin(settings: &Settings, db: &Database) -> Result<(), StartupError> {
    let mut conn = db.get()?;
    if users::count(&mut conn).map_err(DbError::from)? > 0 {
        return Ok(());
    }
    let (password, generated) = match &settings.admin_password {
        Some(p) => (p.clone(), false),
        None => (Password::new(crate::auth::random_token(15)), true),
    };
    password
        .check_policy(settings.password.min_length)
        .map_err(|p| StartupError::Config(format!("GATEHOUSE_ADMIN_PASSWORD: {}", p.join(" "))))?;
    let hash = hash_blocking(&password, settings.password.bcrypt_cost)
        .map_err(|e| StartupError::Io(e.to_string()))?;
    let name = Username::parse("admin").map_err(StartupError::Config)?;
    match accounts::create_user(&mut conn, &name, &hash, true) {
        Ok(_) if generated => {
            tracing::warn!(
                "created the first user 'admin' with password {} (shown only this once; change it at /account)",
                password.expose()
            );
        }
        Ok(_) => tracing::info!("created the first user 'admin' from GATEHOUSE_ADMIN_PASSWORD"),
        // Another instance created it first.
        Err(AccountError::Taken) => {}
        Err(e) => {
            return Err(StartupError::Io(format!(
                "cannot create the admin user: {e}"
            )));
        }
    }
    Ok(())
}

/// Reads the 64-byte cookie key, or creates it with mode 0600. A persisted key keeps sessions
/// valid across restarts and across instances that share it.
pub fn load_or_create_key(path: &Path) -> Result<Key, StartupError> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= 64 => Ok(Key::from(&bytes)),
        Ok(_) => Err(StartupError::Io(format!(
            "{} is shorter than 64 bytes; delete it to have a new one made",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 64];
            rand::fill(&mut bytes[..]);
            write_secret_file(path, &bytes)?;
            Ok(Key::from(&bytes))
        }
        Err(e) => Err(StartupError::Io(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes a new secret file readable only by its owner.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), StartupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| StartupError::Io(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| StartupError::Io(format!("cannot write {}: {e}", path.display())))
}

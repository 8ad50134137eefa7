//! Connections, the r2d2 pool, embedded migrations and write transactions for both backends.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// One connection type for both backends; the variant is chosen by `database.url`.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a SQLite writer waits for the lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// A parsed `database.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path".into());
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_string()))
        } else {
            Err("unsupported database URL scheme".into())
        }
    }

    fn connect(&self) -> Result<AnyConnection, DbError> {
        match self {
            Self::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                ))?;
                Ok(AnyConnection::Sqlite(conn))
            }
            Self::Postgres(url) => Ok(AnyConnection::Postgresql(PgConnection::establish(url)?)),
        }
    }
}

/// Anything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database query failed")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available")]
    Pool(#[from] r2d2::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("cannot prepare the database: {0}")]
    Setup(String),
    #[error("the blocking task was cancelled")]
    Cancelled,
    /// A stored value that should parse does not (a row written by a newer version, or
    /// tampered with).
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
}

impl DbError {
    /// Whether the database could not be reached (no connection, or one that broke), rather
    /// than refusing a query.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Self::Connect(_) | Self::Pool(_) => true,
            Self::Query(Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
                ) || {
                    // libpq reports a connection that broke mid-query only in its message.
                    let message = info.message();
                    message.contains("server closed the connection")
                        || message.contains("no connection to the server")
                        || message.contains("terminating connection")
                }
            }
            _ => false,
        }
    }
}

/// r2d2 manager that picks the backend from the URL. Written by hand because
/// `diesel::r2d2::ConnectionManager<AnyConnection>` reports a failed connection only as
/// "Invalid connection url for multiconnection" after the pool's timeout, hiding the cause.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = DbError;

    fn connect(&self) -> Result<AnyConnection, DbError> {
        self.url.connect()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

/// The pool plus the knowledge of which backend it serves.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    url: DatabaseUrl,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend_name())
            .finish()
    }
}

impl Database {
    /// Opens the pool (creating the SQLite file and switching it to WAL first) and runs
    /// pending migrations. Blocking: call from `main`, a CLI command or `spawn_blocking`.
    pub fn open(url: &str, pool_size: u32) -> Result<Self, DbError> {
        Self::open_with_idle(url, pool_size, 1)
    }

    /// As [`Database::open`], keeping `min_idle` connections open. Short-lived commands pass 0:
    /// a pool that refills itself in the background can still be inside libpq at process exit.
    pub fn open_with_idle(url: &str, pool_size: u32, min_idle: u32) -> Result<Self, DbError> {
        let url = DatabaseUrl::parse(url).map_err(DbError::Setup)?;
        if let DatabaseUrl::Sqlite(path) = &url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::files::create_private_dir(dir).map_err(|e| DbError::Setup(e.to_string()))?;
            }
            // It holds password hashes: readable by its owner only, and never reached through
            // a symlink (SQLite itself would follow one and create the file there).
            crate::files::prepare_database_file(path).map_err(|e| DbError::Setup(e.to_string()))?;
            // Switch to WAL once, before the pool opens several connections: concurrent
            // switches lock each other out.
            let mut conn = url.connect()?;
            conn.batch_execute("PRAGMA journal_mode = WAL;")?;
        }
        // Connect once by hand so that a wrong URL reports its real cause at once.
        let mut first = url.connect()?;
        run_migrations(&mut first)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(min_idle.min(pool_size)))
            .connection_timeout(Duration::from_secs(5))
            .build(Manager { url: url.clone() })?;
        Ok(Self { pool, url })
    }

    pub fn backend_name(&self) -> &'static str {
        match self.url {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }

    /// A connection of its own, outside the pool, for a long-lived reader (the change feed)
    /// that must not wait behind a pool drained by a burst of requests.
    pub fn connect_dedicated(&self) -> Result<AnyConnection, DbError> {
        self.url.connect()
    }

    /// A pooled connection, for blocking callers (CLI, tests).
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Cancelled))?
    }
}

/// Applies the embedded migrations of the connection's backend; returns the versions applied.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        AnyConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
        AnyConnection::Postgresql(c) => {
            // Instances starting together must not migrate at the same time.
            c.batch_execute("SELECT pg_advisory_lock(7463621)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect());
            c.batch_execute("SELECT pg_advisory_unlock(7463621)")?;
            result
        }
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Runs `f` in a transaction that holds the write lock from its start: `BEGIN IMMEDIATE` on
/// SQLite (a deferred transaction that reads and then writes can fail with "database is
/// locked"), an ordinary transaction on PostgreSQL.
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Tm = <AnyConnection as Connection>::TransactionManager;
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        }
        AnyConnection::Postgresql(_) => Tm::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The original error matters more than a failed rollback.
            let _ = Tm::rollback_transaction(conn);
            Err(err)
        }
    }
}

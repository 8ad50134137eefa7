//! The user repository: one Diesel schema over SQLite (embedded default) or PostgreSQL.
//!
//! Repository functions are plain functions over `&mut AnyConnection`, so they compose inside
//! [`write_transaction`]; async callers go through [`Database::run`], which keeps `pool.get()`
//! and the queries off the async workers.

pub mod changes;
pub mod key_store;
pub mod login_failures;
pub mod meta;
pub mod models;
pub mod oidc_clients;
pub mod oidc_codes;
pub mod oidc_grants;
pub mod passkey_challenges;
pub mod passkeys;
pub mod password_resets;
pub mod pending_logins;
pub mod pool;
pub mod recovery_codes;
pub mod refresh_tokens;
pub mod schema;
pub mod sessions;
pub mod sign_in_stats;
pub mod totp;
pub mod users;

pub use pool::{AnyConnection, Database, DatabaseUrl, DbError, write_transaction};

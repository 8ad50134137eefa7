//! Server-side session stores for actix-session. Only the cookie and Redis stores ship with
//! actix-session, and the cookie one cannot revoke a session, so the database store is ours.

pub mod database;

pub use database::DatabaseSessionStore;

//! Gatehouse: an authentication server with HTML sessions and a JWT token API over one user
//! repository. `main.rs` only parses the command line; everything else lives here.
//!
//! Dependencies point one way, from the surfaces down to the domain types:
//! - surfaces — `web` (HTML), `api` (JSON), `oidc` (the OpenID Connect provider, over `web`
//!   and `api`), `ops` (health, metrics), `cli`, `forward_auth` (the reverse-proxy checks) —
//!   translate requests and failures, and decide nothing beyond their own rules;
//! - wiring — `startup` (`Application::build`), `routes` (`configure`), `state` (`AppState`),
//!   `reload` (the configuration reloaded on SIGHUP or a changed file);
//! - decisions — `auth` (who is this, and is that credential still good?) and `accounts`
//!   (the account lifecycle and the one revocation seam);
//! - storage — `db` (Diesel repository), `session_store` (session stores, `TypedSession`);
//! - foundations — `config`, `error` (`Failure`), `metrics`, `telemetry`, `http` (plain
//!   request helpers), `i18n` (the catalogs of the HTML surface), `files`, `domain` (usernames, passwords, the clock).

pub mod accounts;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod feed;
pub mod files;
pub mod forward_auth;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod oidc;
pub mod ops;
pub mod reload;
pub mod routes;
pub mod session_store;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;

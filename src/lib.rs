//! Gatehouse: an authentication server with HTML sessions and a JWT token API over one user
//! repository. `main.rs` only parses the command line; everything else lives here.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod metrics;
pub mod ops;
pub mod session_store;
pub mod startup;
pub mod telemetry;
pub mod web;

//! Tokens of the token API: signed access tokens (`access`), their keys (`keys`) and opaque,
//! rotating refresh tokens (`refresh`).

pub mod access;
pub mod keys;
pub mod refresh;

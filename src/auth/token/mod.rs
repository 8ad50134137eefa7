//! Tokens of the token API: signed access tokens (`access`), their key material (`keys`), the
//! key store that keeps the keys in the database (`store`) sealed under the master secret
//! (`master`), and opaque, rotating refresh tokens (`refresh`).

pub mod access;
pub mod keys;
pub mod master;
pub mod refresh;
pub mod store;

//! The JSON surface (SPEC §6): tokens, `/api/me`, registration and discovery documents.
//! Handlers ask `auth` who is calling (`extract`) and translate failures into RFC 6749/6750
//! answers (`error`); the routes are wired in the `routes` module.

pub mod account;
pub mod body;
pub mod error;
pub mod extract;
pub mod me;
pub mod openapi;
pub mod revoke;
pub mod token;
pub mod users;
pub mod well_known;

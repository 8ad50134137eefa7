//! The `AuthStrategy` trait and the strategies (SPEC §7): one file each.
//!
//! # Adding a strategy
//! A new kind of credential (say, API keys) is one new file here and one line in
//! [`super::chain::AuthChain::standard`]. The type implements [`AuthStrategy`]:
//! - `name`: a fixed name for logs;
//! - `kind`: its [`CredentialKind`] (add a variant there and in [`super::Credential`] for a
//!   new kind), which lets call sites choose with [`super::AuthCheck`];
//! - `enabled`: whether the current configuration turns it on (read per request);
//! - `present`: whether the request carries its kind of credentials (no I/O);
//! - `verify`: the validity rule — check the credentials, load the user, refuse a disabled
//!   user or a credential issued before a revocation; `Ok(None)` when absent;
//! - `challenge`: its `WWW-Authenticate` value, plain or naming the refusal.
//!
//! Nothing else changes: the resolver, both surfaces and the error rendering stay as they are.

pub mod basic;
pub mod bearer;
pub mod session;

use actix_web::HttpRequest;
use futures_util::future::LocalBoxFuture;

use super::{Authenticated, Authenticator, CredentialKind};
use crate::config::Settings;
use crate::error::Failure;

/// The realm of every challenge.
pub const REALM: &str = "gatehouse";

/// What one strategy concluded about one request.
pub enum Verdict {
    /// Its credentials are not in the request: ask the next strategy.
    Absent,
    Accepted(Box<Authenticated>),
    /// Present but not good; `description` as in RFC 6750 (`expired`, `invalid`).
    Refused {
        description: &'static str,
    },
    /// The check could not be made.
    Failed(Failure),
}

/// One way of authenticating a request.
pub trait AuthStrategy: Send + Sync {
    fn name(&self) -> &'static str;

    fn kind(&self) -> CredentialKind;

    /// Whether the configuration turns this strategy on.
    fn enabled(&self, config: &Settings) -> bool;

    /// Whether the request carries this strategy's kind of credentials (cheap, no I/O).
    fn present(&self, req: &HttpRequest) -> bool;

    /// Checks the credentials and that they are still good.
    fn verify<'a>(
        &'a self,
        req: &'a HttpRequest,
        auth: &'a Authenticator,
        config: &'a Settings,
    ) -> LocalBoxFuture<'a, Verdict>;

    /// The `WWW-Authenticate` challenge: plain when `refused` is `None`, else naming why.
    /// `None` for strategies without one (the session cookie).
    fn challenge(&self, refused: Option<&'static str>) -> Option<String>;
}

/// The raw `Authorization` header when its scheme is `scheme` (compared without case), split
/// as (whole value, what follows the scheme).
pub fn authorization<'a>(req: &'a HttpRequest, scheme: &str) -> Option<(&'a [u8], &'a [u8])> {
    let raw = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .as_bytes();
    let end = raw.iter().position(|b| *b == b' ').unwrap_or(raw.len());
    raw[..end]
        .eq_ignore_ascii_case(scheme.as_bytes())
        .then(|| (raw, &raw[end..]))
}

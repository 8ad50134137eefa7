//! The OpenID Connect provider (SPEC §11): Basic OP and Config OP, with PKCE, RFC 9207 `iss`
//! on authorization responses, RFC 9068 access tokens for clients, RFC 7662 introspection and
//! RP-initiated logout.
//!
//! A surface like `web` and `api` (it translates requests and renders pages and JSON), over
//! the decisions in [`flow`] (codes, their exchange, client tokens) and [`clients`]
//! (registration). Nothing below the surfaces imports it; `api` and `web` do not either, so
//! `/api/token` is routed here first and handed to `api::token` for every grant that is not
//! this provider's.
//!
//! - `GET /.well-known/openid-configuration` ([`discovery`])
//! - `GET /authorize`, `POST /authorize/consent` ([`authorize`])
//! - `POST /api/token` (`authorization_code`, and refreshes of client-bound families),
//!   `POST /api/token/introspect` ([`token`])
//! - `GET|POST /userinfo` ([`userinfo`])
//! - `GET|POST /oidc/logout` ([`logout`])
//! - `/account/apps` and `/admin/clients` ([`pages`])

pub mod authorize;
pub mod client_edit;
pub mod clients;
pub mod discovery;
pub mod flow;
pub mod logout;
pub mod pages;
pub mod token;
pub mod userinfo;

use crate::config::{AuthMode, Settings};

/// The scopes this provider knows; others in a request are ignored (OpenID Connect Core §3.1.2.1).
pub const SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// Whether the provider is on: mode `both` (it needs the HTML surface for sign-in and the
/// token API for the exchange).
pub fn enabled(config: &Settings) -> bool {
    config.auth.mode == AuthMode::Both
}

/// The known scopes of a requested `scope`, in request order, each once.
pub fn known_scopes(requested: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if let Some(known) = SCOPES.iter().find(|k| **k == s)
            && !out.contains(known)
        {
            out.push(*known);
        }
    }
    out
}

/// Whether a space-separated scope string holds `scope`.
pub fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split(' ').any(|s| s == scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_scopes_are_dropped() {
        assert_eq!(
            known_scopes("openid  email profile openid offline_access"),
            vec!["openid", "profile", "offline_access"]
        );
        assert!(known_scopes("").is_empty());
    }
}

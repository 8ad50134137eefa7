//! Forward-auth for reverse proxies (SPEC §12): nginx `auth_request`, Traefik `forwardAuth`
//! and Caddy `forward_auth` ask `/auth/request` or `/auth/forward` whether a request for an
//! app behind them may pass, and learn who is asking from the identity headers.
//!
//! - `original`: the request the proxy asks about, believed only from `server.trusted_proxies`;
//! - `rules`: which `[[forward_auth.rules]]` entry applies (first match, else the default) and
//!   whether the caller meets it — pure, read from the configuration in force per request;
//! - `handler`: the two endpoints (a surface: it resolves the caller through `auth` and renders
//!   the verdict), and what `/login?rd=` asks before sending a signed-in browser on.
//!
//! Where a sign-in may send the browser back to (`rd`, `forward_auth.domains`) is decided by
//! `http::redirect::safe_rd`, which the login pages use too.

pub mod handler;
pub mod original;
pub mod rules;

//! `Remote-Session`, the opaque session reference forward-auth hands to the apps behind a proxy
//! (SPEC §12): an HMAC of a session's public id (or a token family's id) under a key derived from
//! the cookie key, so apps can tell sessions apart and see one end, but cannot learn the
//! session's id or cookie from it.

use actix_web::cookie::Key;
use actix_web::http::header::HeaderValue;
use aws_lc_rs::hmac;
use base64::Engine;
use quick_cache::sync::Cache;

/// Whose `Remote-Session` an answer carries.
pub enum Reference {
    /// A session's public id (`sid`).
    Session(String),
    /// A token family's id (the token's `sid`).
    Family(String),
    None,
}

/// The `Remote-Session` values, each computed once and kept (a proxy asks with the same
/// session on every request), up to `cache.sessions` values as built at start-up.
pub struct RemoteSessions {
    /// Derived once: an HMAC key set up per request costs two SHA-256 blocks.
    key: hmac::Key,
    /// By session id.
    sessions: Cache<Box<str>, HeaderValue>,
    /// By token family id.
    families: Cache<Box<str>, HeaderValue>,
}

impl RemoteSessions {
    pub fn new(cookie_key: &Key, capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX).max(1);
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, cookie_key.signing()),
            sessions: Cache::new(capacity),
            families: Cache::new(capacity),
        }
    }

    /// The header value for `reference` (none for [`Reference::None`]).
    pub fn value(&self, reference: &Reference) -> Option<HeaderValue> {
        let (values, kind, id) = match reference {
            Reference::Session(sid) => (&self.sessions, "session", sid),
            Reference::Family(sid) => (&self.families, "family", sid),
            Reference::None => return None,
        };
        if let Some(hit) = values.get(id.as_str()) {
            return Some(hit);
        }
        let tag = hmac::sign(
            &self.key,
            format!("gatehouse remote-session\0{kind}:{id}").as_bytes(),
        );
        let value = HeaderValue::from_str(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag.as_ref()[..18]),
        )
        .ok()?;
        values.insert(id.as_str().into(), value.clone());
        Some(value)
    }
}

//! A session read without actix-session, for routes that only ask who is signed in:
//! forward-auth, which a reverse proxy asks on every request of the apps it guards (SPEC §12).
//!
//! actix-session copies the stored state into a mutable session before the handler and settles
//! it after (a write, a deletion or an idle extension); for a read, that copy and the layers
//! around it cost about as much as the check itself. A [`PeekedSession`] holds the cached entry
//! as it is (shared, not copied), takes no writes, and after the handler does only what a read
//! may cause: the idle extension (at most once per tenth of the idle timeout, as for every
//! session) and, when the session strategy ended the session, its deletion.
//!
//! [`TypedSession::of`](super::TypedSession::of) reads a peeked session when the request holds
//! one, so the session strategy decides the same way on either path.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use actix_session::storage::{SessionKey, SessionStore};
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};

use super::cache::Entry;
use super::{AnyStore, hash_key};
use crate::config::Settings;

/// The session key a request's cookie `name` holds, unsealed the way actix-session seals it
/// (private, its default); `None` without the cookie or when it fails the checks.
pub fn cookie_session_key(req: &HttpRequest, name: &str, key: &Key) -> Option<SessionKey> {
    let sealed = named_cookie(req, name)?;
    let Some(plain) = CookieJar::new().private(key).decrypt(sealed) else {
        // What actix-session logs for the same cookie on the other routes.
        tracing::warn!("a session cookie failed its cryptographic checks");
        return None;
    };
    SessionKey::try_from(plain.value().to_string()).ok()
}

/// The first cookie `name` of the request, its value percent-decoded as actix-web reads it.
/// Only that pair is read: `HttpRequest::cookie` parses and keeps every cookie of the
/// request, a cost forward-auth would pay on each request of the apps, whose cookies are
/// mostly their own.
fn named_cookie(req: &HttpRequest, name: &str) -> Option<Cookie<'static>> {
    let value = req
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            let v = v.trim();
            // As the cookie crate reads a quoted value.
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            // Names and values are percent-decoded; a pair that does not decode is skipped, as
            // actix-web skips it.
            (decoded(n).ok()? == name)
                .then(|| decoded(v).ok())
                .flatten()
        })?;
    Some(Cookie::new(name.to_string(), value.into_owned()))
}

/// A cookie's name or value as actix-web reads it: trimmed and percent-decoded.
fn decoded(raw: &str) -> Result<Cow<'_, str>, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(raw.trim()).decode_utf8()
}

/// The cookie that removes the session cookie, as actix-session builds it: the name and
/// domain of `config` (which keep their running values across a reload).
pub fn removal_cookie(config: &Settings) -> Cookie<'static> {
    let mut removal = Cookie::build(config.session.cookie_name.clone(), "")
        .path("/")
        .secure(config.cookie_secure())
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    if let Some(domain) = config.cookie_domain() {
        removal.set_domain(domain);
    }
    removal.make_removal();
    removal
}

/// What the store held for a request's session cookie.
enum Found {
    Entry(Arc<Entry>),
    /// No live session: an expired, ended or unknown key (the browser is signed out).
    Nothing,
    /// The store did not answer.
    Unavailable,
}

/// A session as read for one request; see the module comment.
pub struct PeekedSession {
    key: SessionKey,
    /// The stored id (the key's SHA-256 in hex).
    id: String,
    found: Found,
    purged: Cell<bool>,
}

impl PeekedSession {
    /// The JSON-encoded value of `name` in the session's state.
    pub(super) fn value(&self, name: &str) -> Option<&str> {
        match &self.found {
            Found::Entry(entry) => entry.state.get(name).map(String::as_str),
            Found::Nothing | Found::Unavailable => None,
        }
    }

    /// Whether the store could not be read.
    pub(super) fn is_unavailable(&self) -> bool {
        matches!(self.found, Found::Unavailable)
    }

    /// Ends the session when the request is done (the session strategy found it no longer
    /// valid).
    pub(super) fn purge(&self) {
        self.purged.set(true);
    }
}

impl AnyStore {
    /// Reads the session of `key`: from the cache on a warm instance, else from the store.
    pub async fn peek(&self, key: SessionKey) -> PeekedSession {
        let id = hash_key(&key);
        let found = match self.cache.get(&id) {
            Some(entry) => Found::Entry(entry),
            None => match self.load_entry_of(&id).await {
                Ok(Some(entry)) => Found::Entry(entry),
                Ok(None) => Found::Nothing,
                Err(e) => {
                    tracing::error!(error = ?e, "the session store cannot be read");
                    Found::Unavailable
                }
            },
        };
        PeekedSession {
            key,
            id,
            found,
            purged: Cell::new(false),
        }
    }

    /// Reads the session the request's cookie names (see the module comment) and leaves it in
    /// the request for [`TypedSession::of`](super::TypedSession::of); `None` without a
    /// cookie of this server.
    pub async fn peek_request(
        &self,
        req: &HttpRequest,
        config: &Settings,
        key: &Key,
    ) -> Option<Rc<PeekedSession>> {
        let key = cookie_session_key(req, &config.session.cookie_name, key)?;
        let peeked = Rc::new(self.peek(key).await);
        req.extensions_mut().insert(peeked.clone());
        Some(peeked)
    }

    /// After the request: deletes a purged session, or extends a live one's idle expiry when
    /// that is due. Returns whether the session was ended (its cookie is then removed).
    pub async fn settle(&self, peeked: &PeekedSession) -> bool {
        let Found::Entry(entry) = &peeked.found else {
            return false;
        };
        if peeked.purged.get() {
            if let Err(e) = self.delete(&peeked.key).await {
                tracing::error!(error = ?e, "could not end a session");
            }
            return true;
        }
        self.extend_idle(&peeked.key, &peeked.id, Some(entry.clone()))
            .await;
        false
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The one pair read by hand is the pair actix-web reads for the same header.
        #[test]
        fn the_named_cookie_is_the_one_actix_web_reads(
            pairs in proptest::collection::vec(
                ("[a-c%61 ]{1,3}", "[ a-c%=\"+/2B]{0,8}"),
                0..5,
            ),
            spaces in "[ ]{0,2}",
        ) {
            let header = pairs
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(&format!(";{spaces}"));
            let req = TestRequest::default()
                .insert_header((header::COOKIE, header.as_str()))
                .to_http_request();
            for name in ["a", "b", "ab", "c"] {
                let ours = named_cookie(&req, name).map(|c| c.value().to_string());
                let theirs = req.cookie(name).map(|c| c.value().to_string());
                prop_assert_eq!(ours, theirs, "{} in {:?}", name, header);
            }
        }
    }
}

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
use quick_cache::sync::Cache;

use super::cache::Entry;
use super::{AnyStore, hash_key};
use crate::config::Settings;

/// The session key a request's cookie `name` holds, unsealed the way actix-session seals it
/// (private, its default); `None` without the cookie or when it fails the checks.
pub fn cookie_session_key(req: &HttpRequest, name: &str, key: &Key) -> Option<SessionKey> {
    unseal(key, name, named_value(req, name)?.into_owned())
}

fn unseal(key: &Key, name: &str, sealed: String) -> Option<SessionKey> {
    let Some(plain) = CookieJar::new()
        .private(key)
        .decrypt(Cookie::new(name.to_string(), sealed))
    else {
        // What actix-session logs for the same cookie on the other routes.
        tracing::warn!("a session cookie failed its cryptographic checks");
        return None;
    };
    SessionKey::try_from(plain.value().to_string()).ok()
}

/// The session cookies this instance has unsealed, and the session each names: unsealing
/// (AES-256-GCM with its key schedule, then SHA-256 of the session key for the store's id) cost
/// about a third of a signed-in forward-auth check, which a proxy sends with the same cookie on
/// every request of the apps it guards.
///
/// A sealed value is looked up byte for byte and only values that unsealed under this
/// instance's key (which never changes while it runs) and the cookie name asked for are kept,
/// so the cache answers exactly what unsealing would; what it says about the session (whether
/// it still exists) is still asked of the session cache and store every time. Bounded by
/// `cache.sessions` as built at start-up (an evicted value is unsealed again).
pub struct SessionCookies {
    key: Key,
    opened: Cache<Box<str>, Arc<Opened>>,
}

/// What a sealed session cookie holds.
struct Opened {
    /// The cookie name it unsealed under (the name is its associated data).
    name: Box<str>,
    /// The session key.
    key: String,
    /// The store's id of the session (`hash_key`).
    id: String,
}

impl SessionCookies {
    pub fn new(key: Key, capacity: u64) -> Self {
        Self {
            key,
            opened: Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX).max(1)),
        }
    }

    /// The session the request's cookie `name` holds: `None` without the cookie or when it
    /// fails the checks.
    fn open(&self, req: &HttpRequest, name: &str) -> Option<Arc<Opened>> {
        // Kept under the value as sent: percent-decoding is a function of it, and a value
        // kept decoded before, so a hit needs no decoding (the first pair that decodes is
        // the one actix-web reads).
        for raw in raw_values(req, name) {
            if let Some(hit) = self.opened.get(raw)
                && *hit.name == *name
            {
                return Some(hit);
            }
            let Ok(sealed) = decoded(raw) else {
                continue;
            };
            let key = unseal(&self.key, name, sealed.into_owned())?;
            let opened = Arc::new(Opened {
                name: name.into(),
                id: hash_key(&key),
                key: key.into(),
            });
            self.opened.insert(raw.into(), opened.clone());
            return Some(opened);
        }
        None
    }
}

/// The first cookie `name` of the request, its value percent-decoded as actix-web reads it
/// (actix-web skips a pair that does not decode, and so does this).
fn named_value<'r>(req: &'r HttpRequest, name: &str) -> Option<Cow<'r, str>> {
    raw_values(req, name).find_map(|raw| decoded(raw).ok())
}

/// The values of the request's cookies `name` as sent (trimmed and unquoted, not yet
/// percent-decoded), in order. Only those pairs are read: `HttpRequest::cookie` parses and
/// keeps every cookie of the request, a cost forward-auth would pay on each request of the
/// apps, whose cookies are mostly their own.
fn raw_values<'r>(req: &'r HttpRequest, name: &str) -> impl Iterator<Item = &'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(move |pair| {
            let (n, v) = pair.split_once('=')?;
            // Names are percent-decoded too; a name that does not decode matches nothing.
            (decoded(n).ok()? == name).then_some(())?;
            let v = v.trim();
            // As the cookie crate reads a quoted value.
            Some(
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v),
            )
        })
}

/// A cookie's name or value as actix-web reads it: trimmed and percent-decoded.
fn decoded(raw: &str) -> Result<Cow<'_, str>, std::str::Utf8Error> {
    let raw = raw.trim();
    if !raw.contains('%') {
        // Nothing to decode, and a `str` is valid UTF-8 already.
        return Ok(Cow::Borrowed(raw));
    }
    percent_encoding::percent_decode_str(raw).decode_utf8()
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
    /// Reads the session of `key` (whose store id is `id`): from the cache on a warm
    /// instance, else from the store.
    async fn peek(&self, key: SessionKey, id: String) -> PeekedSession {
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
        cookies: &SessionCookies,
    ) -> Option<Rc<PeekedSession>> {
        let opened = cookies.open(req, &config.session.cookie_name)?;
        let key = SessionKey::try_from(opened.key.clone()).ok()?;
        let peeked = Rc::new(self.peek(key, opened.id.clone()).await);
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

    /// `name=value` as actix-session sends it: sealed with `key`, percent-encoded.
    fn sealed(key: &Key, name: &str, session_key: &str) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(key)
            .add(Cookie::new(name.to_string(), session_key.to_string()));
        jar.get(name).unwrap().encoded().to_string()
    }

    fn opened_id(cookies: &SessionCookies, header: &str, name: &str) -> Option<String> {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, header))
            .to_http_request();
        cookies.open(&req, name).map(|o| o.id.clone())
    }

    #[test]
    fn a_kept_cookie_answers_what_unsealing_it_would() {
        let key = Key::generate();
        let cookies = SessionCookies::new(key.clone(), 16);
        let session_key = "k".repeat(64);
        let id = hash_key(&SessionKey::try_from(session_key.clone()).unwrap());
        let cookie = sealed(&key, "s", &session_key);
        assert!(
            cookie.contains('%'),
            "the value is percent-encoded: {cookie}"
        );
        let value = cookie.strip_prefix("s=").unwrap();

        // Unsealed, then kept: the same answer both times, behind a pair that does not decode.
        for _ in 0..2 {
            assert_eq!(
                opened_id(&cookies, &format!("s=%ff; {cookie}"), "s"),
                Some(id.clone())
            );
        }
        // Under another name: its associated data differs, kept or not.
        assert_eq!(opened_id(&cookies, &format!("t={value}"), "t"), None);
        // Sealed under another key, or altered: refused.
        let other = sealed(&Key::generate(), "s", &session_key);
        assert_eq!(opened_id(&cookies, &other, "s"), None);
        let first = if value.starts_with('A') { 'B' } else { 'A' };
        let altered = format!("s={first}{}", &value[1..]);
        assert_eq!(opened_id(&cookies, &altered, "s"), None);
        // The first pair that decodes is the one read, as actix-web reads it.
        assert_eq!(
            opened_id(&cookies, &format!("{other}; {cookie}"), "s"),
            None
        );
    }

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
                let ours = named_value(&req, name).map(|v| v.into_owned());
                let theirs = req.cookie(name).map(|c| c.value().to_string());
                prop_assert_eq!(ours, theirs, "{} in {:?}", name, header);
            }
        }
    }
}

//! The request a reverse proxy asks about (SPEC §12): from `X-Original-URL` (nginx) or
//! `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri` (Traefik, Caddy) — believed only when the
//! TCP peer is in `server.trusted_proxies`. From anyone else those headers are ignored and the
//! request is judged as a request for Gatehouse itself (its public host, path `/`), so a
//! client that reaches Gatehouse directly cannot name the app it claims to be asking for.

use std::borrow::Cow;

use actix_web::HttpRequest;

use crate::config::Settings;
use crate::http::client_ip::peer_is_trusted;
use crate::http::redirect::rd_host;

/// Longest method name believed.
const MAX_METHOD: usize = 16;

/// The original request, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    pub method: String,
    /// Lower-case host without port (empty when the proxy named none that parses).
    pub host: String,
    /// The path, percent-decoded, dot segments resolved, slashes merged: what rules match.
    pub path: String,
    /// The whole URL as a browser would ask for it again (the `rd` of a redirect to sign in);
    /// `None` when it does not parse.
    pub url: Option<url::Url>,
}

impl Original {
    /// Reads the original request of `req` under `config` (see the module comment).
    pub fn of(req: &HttpRequest, config: &Settings) -> Self {
        let own_method = req.method().as_str();
        if !peer_is_trusted(req, &config.server.trusted_proxies) {
            return Self::from_url(own_method, &format!("{}/", config.public_url()));
        }
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let method = header("x-original-method")
            .or_else(|| header("x-forwarded-method"))
            .filter(|m| m.len() <= MAX_METHOD && m.bytes().all(|b| b.is_ascii_alphabetic()))
            .unwrap_or(own_method)
            .to_ascii_uppercase();
        if let Some(url) = header("x-original-url") {
            return Self::from_url(&method, url);
        }
        let public = url::Url::parse(&config.public_url()).ok();
        let scheme = header("x-forwarded-proto")
            .map(|p| {
                p.split(',')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|p| p == "http" || p == "https")
            .or_else(|| public.as_ref().map(|u| u.scheme().to_string()))
            .unwrap_or_else(|| "http".into());
        let host = header("x-forwarded-host")
            .map(|h| h.split(',').next().unwrap_or_default().trim().to_string())
            .or_else(|| {
                public.as_ref().map(|u| {
                    let host = u.host_str().unwrap_or_default();
                    u.port().map_or(host.to_string(), |p| format!("{host}:{p}"))
                })
            })
            .unwrap_or_default();
        let uri = header("x-forwarded-uri")
            .filter(|u| u.starts_with('/'))
            .unwrap_or("/");
        // A host holding '/', '?', '#', '@' or '\' would move the URL's parts around.
        if host.is_empty() || host.contains(['/', '?', '#', '@', '\\']) {
            return Self::unparsable(&method, uri);
        }
        Self::from_url(&method, &format!("{scheme}://{host}{uri}"))
    }

    /// The request for `url` by `method`, parsed as a browser parses URLs.
    pub fn from_url(method: &str, url: &str) -> Self {
        match url::Url::parse(url) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https")
                    && parsed.username().is_empty()
                    && parsed.password().is_none() =>
            {
                let Some(host) = rd_host(&parsed) else {
                    return Self::unparsable(method, parsed.path());
                };
                Self {
                    method: method.to_string(),
                    host,
                    // From the URL as sent, not `parsed.path()`: the URL parser resolves dot
                    // segments before slashes are merged (`/public//../admin` is
                    // `/public/admin` to it), while nginx and the apps behind it merge first
                    // (`/admin`) — a bypass of an `/admin` rule through a `/public/` one.
                    path: normalize_path(raw_path(&as_parsed(url))),
                    url: Some(parsed),
                }
            }
            _ => Self::unparsable(method, "/"),
        }
    }

    /// A request whose host cannot be read: no rule's host matches it (the default policy
    /// decides), and no browser is sent back to it.
    fn unparsable(method: &str, path: &str) -> Self {
        Self {
            method: method.to_string(),
            host: String::new(),
            path: normalize_path(path.split(['?', '#']).next().unwrap_or("/")),
            url: None,
        }
    }
}

/// `url` with what a URL parser ignores removed: leading and trailing controls and spaces,
/// and tabs and newlines anywhere (WHATWG URL, "basic URL parser").
fn as_parsed(url: &str) -> Cow<'_, str> {
    let trimmed = url.trim_matches(|c: char| c <= ' ');
    if trimmed.contains(['\t', '\n', '\r']) {
        Cow::Owned(
            trimmed
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect(),
        )
    } else {
        // The usual URL, copied for nothing on every check otherwise.
        Cow::Borrowed(trimmed)
    }
}

/// The path part of an absolute http(s) URL as written (percent-encoding and dot segments
/// untouched): after the scheme, any run of slashes or backslashes, and the authority, up to
/// `?` or `#`. Read by hand because the `url` crate only hands out the path it resolved.
fn raw_path(url: &str) -> &str {
    let after_scheme = url.split_once(':').map_or("", |(_, rest)| rest);
    let authority_and_path = after_scheme.trim_start_matches(['/', '\\']);
    let path = authority_and_path
        .find(['/', '\\', '?', '#'])
        .map_or("", |at| &authority_and_path[at..]);
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// The path the rules match: percent-decoded (so `/%61dmin` is `/admin`), backslashes read as
/// slashes, `.` and `..` segments resolved and empty segments dropped, as the app behind the
/// proxy may well read it; a trailing slash is kept.
pub fn normalize_path(raw: &str) -> String {
    if is_normal(raw) {
        // The usual path: nothing to decode or resolve.
        return raw.to_string();
    }
    resolve_path(raw)
}

/// Whether [`resolve_path`] would give `raw` back unchanged: it starts with `/` and holds no
/// `%`, no backslash, no `.` or `..` segment and no empty segment but a last one (a trailing
/// slash).
fn is_normal(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix('/') else {
        return false;
    };
    if raw.contains(['%', '\\']) {
        return false;
    }
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if segment == "." || segment == ".." || (segment.is_empty() && !last) {
            return false;
        }
    }
    true
}

/// [`normalize_path`] in full.
fn resolve_path(raw: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let unified = decoded.replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in unified.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut path = String::with_capacity(unified.len() + 1);
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
    }
    let trailing = unified.ends_with('/')
        || unified.ends_with("/.")
        || unified.ends_with("/..")
        || unified == "."
        || unified == "..";
    if path.is_empty() || trailing {
        path.push('/');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_are_read_as_an_app_would_read_them() {
        for (raw, want) in [
            ("/", "/"),
            ("", "/"),
            ("/admin", "/admin"),
            ("/admin/", "/admin/"),
            ("/%61dmin", "/admin"),
            ("/public/../admin", "/admin"),
            ("/public/%2e%2e/admin", "/admin"),
            ("//admin", "/admin"),
            ("/public\\..\\admin", "/admin"),
            ("/a/./b/.", "/a/b/"),
            ("/../../etc", "/etc"),
        ] {
            assert_eq!(normalize_path(raw), want, "{raw:?}");
        }
    }

    /// Found by the rules' property test: the URL parser alone read `/public//../admin` as
    /// `/public/admin`, so a `/public/` bypass rule applied to what nginx serves as `/admin`.
    #[test]
    fn slashes_are_merged_before_dot_segments_are_resolved() {
        for (url, want) in [
            ("https://app.example.com/public//../admin", "/admin"),
            (
                "https://app.example.com/public/x//..//../admin?q=/../..",
                "/admin",
            ),
            ("https://app.example.com\\public\\\\..\\admin", "/admin"),
            ("  https://app.example.com/ad\tmin#/../x", "/admin"),
            ("https:app.example.com/a", "/a"),
            ("https://app.example.com", "/"),
            ("https://app.example.com?x=/admin", "/"),
        ] {
            assert_eq!(Original::from_url("GET", url).path, want, "{url:?}");
        }
    }

    #[test]
    fn a_url_with_userinfo_or_another_scheme_names_no_host() {
        assert_eq!(
            Original::from_url("GET", "https://app.example.com@evil.com/x").host,
            ""
        );
        assert_eq!(Original::from_url("GET", "javascript:alert(1)").host, "");
        let ok = Original::from_url("GET", "https://App.Example.com:8443/a/../b?q=1");
        assert_eq!(ok.host, "app.example.com");
        assert_eq!(ok.path, "/b");
        assert_eq!(
            ok.url.as_ref().map(url::Url::as_str),
            Some("https://app.example.com:8443/b?q=1")
        );
    }

    proptest! {
        #[test]
        fn a_path_taken_as_normal_is_one_that_resolves_to_itself(
            raw in "[/.a%2e5cf\\\\]{0,24}",
        ) {
            prop_assert_eq!(normalize_path(&raw), resolve_path(&raw));
        }

        #[test]
        fn a_normalised_path_is_absolute_and_has_no_dot_segments(raw in "[/.a%2e5cf\\\\]{0,24}") {
            let path = normalize_path(&raw);
            prop_assert!(path.starts_with('/'));
            prop_assert!(!path.contains("//"));
            prop_assert!(!path.split('/').any(|s| s == "." || s == ".."));
            prop_assert!(!path.contains('\\'));
        }
    }
}

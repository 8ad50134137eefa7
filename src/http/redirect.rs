//! Where a redirect after sign-in may go: a local path (`next`), or an app behind a reverse
//! proxy (`rd`, forward-auth) whose host is one of `forward_auth.domains`.

use crate::config::ForwardAuthSettings;

/// Longest `rd` followed, in bytes.
pub const MAX_RD_BYTES: usize = 4096;

/// The URL `rd` names, as a browser would read it and written out again (so what is checked
/// is what the browser is sent to), when it is an absolute `http`/`https` URL without user
/// information whose host is one of `forward_auth.domains`; otherwise `None` and it is
/// ignored. Backslashes, spaces and control characters are refused outright (browsers read
/// `\` as `/` and drop tabs and newlines, which is where open redirects hide).
pub fn safe_rd(rd: &str, forward_auth: &ForwardAuthSettings) -> Option<String> {
    if rd.is_empty()
        || rd.len() > MAX_RD_BYTES
        || rd
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let url = url::Url::parse(rd).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = rd_host(&url)?;
    forward_auth.allows_host(&host).then(|| url.to_string())
}

/// The host of a parsed URL as `forward_auth` patterns name hosts: a lower-case DNS name
/// without a trailing dot, or an IPv4 address; `None` for IPv6 or no host.
pub fn rd_host(url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain(name) => Some(name.trim_end_matches('.').to_ascii_lowercase()),
        url::Host::Ipv4(ip) => Some(ip.to_string()),
        url::Host::Ipv6(_) => None,
    }
}

/// Where a sign-in sends the browser: the `rd` URL when it is one [`safe_rd`] follows, else
/// the local path `next` ([`safe_next`]).
pub fn after_sign_in(next: &str, forward_auth: &ForwardAuthSettings) -> String {
    if next.starts_with('/') {
        return safe_next(next).to_string();
    }
    safe_rd(next, forward_auth).unwrap_or_else(|| "/".to_string())
}

/// `next` if it is a path on this site, else `/`. Refuses `//host` and `/\host` (which browsers
/// treat as another host), and any control character or space (browsers strip tabs and
/// newlines, turning `/\t/host` into `//host`).
pub fn safe_next(next: &str) -> &str {
    let bytes = next.as_bytes();
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if local { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::{after_sign_in, safe_next, safe_rd};
    use crate::config::{ForwardAuthSettings, HostPattern};
    use proptest::prelude::*;

    fn domains() -> ForwardAuthSettings {
        ForwardAuthSettings {
            domains: vec![
                HostPattern::parse("app.example.com").unwrap(),
                HostPattern::parse("*.apps.example.com").unwrap(),
            ],
            ..ForwardAuthSettings::default()
        }
    }

    #[test]
    fn rd_is_followed_only_to_listed_hosts_over_http() {
        let d = domains();
        assert_eq!(
            safe_rd("https://app.example.com/x?y=1#z", &d).as_deref(),
            Some("https://app.example.com/x?y=1#z")
        );
        assert_eq!(
            safe_rd("http://APP.example.com.:8080/a/../b", &d).as_deref(),
            Some("http://app.example.com.:8080/b")
        );
        assert!(safe_rd("https://a.apps.example.com/", &d).is_some());
        for bad in [
            "https://evil.example/",
            "//evil",
            "//app.example.com/",
            "/local",
            "javascript:alert(1)",
            "JavaScript://app.example.com/%0aalert(1)",
            "data:text/html,hi",
            "ftp://app.example.com/",
            "https://app.example.com@evil.com/",
            "https://user:pw@app.example.com/",
            "https://app.example.com\\@evil.com/",
            "https:\\\\app.example.com/",
            "https://evil.com\\.app.example.com/",
            "https://app.example.com.evil.com/",
            "https://apps.example.com/",
            "https://app.example.com%2f@evil.com/",
            "https://evil.com#@app.example.com",
            "https://evil.com?@app.example.com",
            " https://app.example.com/",
            "https://app.example.com/\n",
            "https://[::1]/",
            "",
        ] {
            assert_eq!(safe_rd(bad, &d), None, "{bad:?}");
        }
    }

    #[test]
    fn after_sign_in_takes_a_local_path_or_a_valid_rd() {
        let d = domains();
        assert_eq!(after_sign_in("/account", &d), "/account");
        assert_eq!(after_sign_in("//evil", &d), "/");
        assert_eq!(after_sign_in("https://evil.example/", &d), "/");
        assert_eq!(
            after_sign_in("https://app.example.com/x", &d),
            "https://app.example.com/x"
        );
    }

    proptest! {
        /// Whatever the text, a followed `rd` is an http(s) URL without user information whose
        /// host, as a browser reads the written-out URL, is a listed one.
        #[test]
        fn a_followed_rd_always_leads_to_a_listed_host(
            scheme in "(https?|javascript|HTTP|ftp|)",
            sep in "(://|:/|:|//|:\\\\|)",
            userinfo in "([a-z.]{0,8}@|)",
            host in "(app\\.example\\.com|evil\\.com|x\\.apps\\.example\\.com|apps\\.example\\.com|[a-z.@%/\\\\:]{0,12})",
            rest in "[ -~]{0,24}",
        ) {
            let rd = format!("{scheme}{sep}{userinfo}{host}{rest}");
            if let Some(url) = safe_rd(&rd, &domains()) {
                let parsed = url::Url::parse(&url).unwrap();
                prop_assert!(matches!(parsed.scheme(), "http" | "https"));
                prop_assert!(parsed.username().is_empty() && parsed.password().is_none());
                let host = super::rd_host(&parsed).unwrap();
                prop_assert!(
                    host == "app.example.com" || host.ends_with(".apps.example.com"),
                    "{rd:?} -> {url:?}"
                );
                // Written out again, it reads the same (no second interpretation).
                prop_assert_eq!(safe_rd(&url, &domains()), Some(url.clone()));
            }
        }
    }

    #[test]
    fn only_local_paths_are_followed() {
        for bad in [
            "//evil",
            "https://evil",
            "/\\evil",
            "/\t/evil",
            "evil",
            "",
            "/ok\n",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        assert_eq!(safe_next("/account?x=1"), "/account?x=1");
    }
}

//! Where a redirect after sign-in may go.

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
    use super::safe_next;

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

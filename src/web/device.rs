//! Names a browser for people ("Firefox 128 on Linux") from its `User-Agent`, so that
//! `/account` lists sessions by something a user recognises rather than a raw header.
//! The header is client-controlled: the name is built only from woothee's fixed vocabulary and
//! the version digits, never from free text of the header.

use woothee::parser::Parser;

use crate::i18n::Lang;

/// The most characters of a version shown ("128", "17.4").
const MAX_VERSION: usize = 12;

/// "Browser major-version on OS", or "Unknown browser" when the header names none.
pub fn describe(user_agent: &str) -> String {
    describe_in(user_agent, Lang::default())
}

/// [`describe`] in `lang` (browser and OS names are proper names and stay as they are).
pub fn describe_in(user_agent: &str, lang: Lang) -> String {
    let Some(found) = Parser::new().parse(user_agent) else {
        return lang.t("device-unknown");
    };
    let known = |s: &str| !s.is_empty() && s != "UNKNOWN";
    let unknown = lang.t("device-unknown");
    let browser = if known(found.name) {
        found.name
    } else {
        unknown.as_str()
    };
    let version: String = found
        .version
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .take(MAX_VERSION)
        .filter(char::is_ascii_digit)
        .collect();
    let mut name = browser.to_string();
    if known(found.name) && !version.is_empty() {
        name.push(' ');
        name.push_str(&version);
    }
    if known(found.os) {
        return lang.t_with(
            "device-on",
            &[("browser", name.into()), ("os", found.os.into())],
        );
    }
    name
}

#[cfg(test)]
mod tests {
    use super::describe;
    use proptest::prelude::*;

    #[test]
    fn common_browsers_are_named_with_their_os() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe(firefox), "Firefox 128 on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(describe(chrome), "Chrome 120 on Windows 10");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(safari), "Safari 17 on iPhone");
    }

    #[test]
    fn a_header_that_names_no_browser_says_so() {
        assert_eq!(describe(""), "Unknown browser");
        assert_eq!(describe("<script>alert(1)</script>"), "Unknown browser");
        // Programs are named for what they are, not as a browser.
        assert_eq!(describe("curl/8.5.0"), "HTTP Library");
    }

    proptest! {
        /// Whatever the header, the name is short and made of woothee's words and digits.
        #[test]
        fn any_header_gives_a_short_plain_name(ua in ".{0,400}") {
            let name = describe(&ua);
            prop_assert!(name.len() <= 80, "{name}");
            prop_assert!(!name.contains('<') && !name.contains('"'));
        }
    }
}

//! `[forward_auth]` (SPEC §12): the hosts a reverse proxy may protect with Gatehouse, and the
//! rules that say who may reach what. The values are checked when the configuration is read
//! (`validate`), so matching a request ([`ForwardAuthSettings::matching_rule`]) cannot fail.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::HumanDuration;

/// `[forward_auth]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardAuthSettings {
    /// Hosts that may be protected and sent back to after sign-in (`rd`): exact hosts or
    /// `*.suffix` (every subdomain of the suffix, not the suffix itself).
    pub domains: Vec<HostPattern>,
    /// The policy of a request that no rule matches.
    pub default_policy: Policy,
    /// `[[forward_auth.rules]]`, in order: the first that matches decides.
    pub rules: Vec<Rule>,
}

impl Default for ForwardAuthSettings {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            default_policy: Policy::Deny,
            rules: Vec::new(),
        }
    }
}

/// What a rule (or the default) asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Nobody: 403.
    Deny,
    /// Everybody, signed in or not: 200 without identity.
    Bypass,
    /// Anyone signed in.
    SignedIn,
    /// Someone signed in with one of the rule's `roles`.
    Roles,
}

/// One `[[forward_auth.rules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `app.example.com` or `*.example.com`.
    pub host: HostPattern,
    /// A path prefix (`/admin/`), or a glob whose `*` stands for any run of characters
    /// (`/api/*/public`, `*.png`); none: every path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Request methods the rule applies to; none: every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    pub policy: Policy,
    /// With `policy = "roles"`: any one of these roles lets the user in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The session must have completed a second factor (or a passkey sign-in).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mfa: bool,
    /// The sign-in must be at most this old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<HumanDuration>,
}

/// A host written as `app.example.com` (that host) or `*.example.com` (any subdomain of
/// `example.com`, at any depth, but not `example.com` itself). Stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    text: String,
}

impl HostPattern {
    /// Parses a pattern; the error says what is wrong, for a one-line configuration error.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim().to_ascii_lowercase();
        let name = text.strip_prefix("*.").unwrap_or(&text);
        if !is_host_name(name) {
            return Err(format!(
                "{raw:?} is not a host like \"app.example.com\" or \"*.example.com\" (no scheme, port or path)"
            ));
        }
        Ok(Self { text })
    }

    /// The pattern as written (lower-case): also the metric label of the rule's denials.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `host` (a bare host name, lower-case, without port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self.text.strip_prefix('*') {
            // `.example.com`: a subdomain, so the host is longer than the suffix.
            Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            None => host == self.text,
        }
    }
}

/// A DNS name or an IPv4 address: labels of letters, digits, `-` and `_`, not starting or
/// ending with `-`, at most 253 characters in all.
pub fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Serialize for HostPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Whether `path` (normalised, without query) matches a rule's `path`: a prefix, or a glob
/// when it holds a `*` (anchored at both ends, `*` standing for any run of characters).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path.starts_with(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap_or((&"", &[]));
    let Some(mut remaining) = path.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return true;
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

impl ForwardAuthSettings {
    /// The first rule that matches a request for `host` (lower-case, no port), `path`
    /// (normalised) and `method`, with its index; `None`: the default policy applies.
    pub fn matching_rule(&self, host: &str, path: &str, method: &str) -> Option<(usize, &Rule)> {
        self.rules.iter().enumerate().find(|(_, rule)| {
            rule.host.matches(host)
                && rule.path.as_deref().is_none_or(|p| path_matches(p, path))
                && rule
                    .methods
                    .as_ref()
                    .is_none_or(|ms| ms.iter().any(|m| m.eq_ignore_ascii_case(method)))
        })
    }

    /// Whether `host` (lower-case, no port) is one of `domains`.
    pub fn allows_host(&self, host: &str) -> bool {
        self.domains.iter().any(|d| d.matches(host))
    }

    /// Checks what the types alone cannot; the error names the key
    /// (`forward_auth.rules[2].policy`).
    pub fn check(&self) -> Result<(), (String, String)> {
        if matches!(self.default_policy, Policy::Roles) {
            return Err((
                "forward_auth.default_policy".into(),
                "must be \"deny\", \"bypass\" or \"signed_in\" (\"roles\" needs a rule with its roles)"
                    .into(),
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let key = |field: &str| format!("forward_auth.rules[{i}].{field}");
            if let Some(path) = &rule.path
                && !(path.starts_with('/') || path.starts_with('*'))
            {
                return Err((
                    key("path"),
                    format!("{path:?} must start with '/' (a prefix) or '*' (a glob)"),
                ));
            }
            if let Some(path) = &rule.path
                && path.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err((
                    key("path"),
                    "must not hold spaces or control characters".into(),
                ));
            }
            if let Some(methods) = &rule.methods {
                if methods.is_empty() {
                    return Err((
                        key("methods"),
                        "must list at least one method, or be left out for every method".into(),
                    ));
                }
                if let Some(bad) = methods
                    .iter()
                    .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
                {
                    return Err((
                        key("methods"),
                        format!("{bad:?} is not a method like \"GET\""),
                    ));
                }
            }
            match rule.policy {
                Policy::Roles if rule.roles.is_empty() => {
                    return Err((
                        key("roles"),
                        "must list at least one role with policy = \"roles\"".into(),
                    ));
                }
                Policy::Roles => {}
                _ if !rule.roles.is_empty() => {
                    return Err((key("roles"), "is only read with policy = \"roles\"".into()));
                }
                _ => {}
            }
            if let Some(bad) = rule
                .roles
                .iter()
                .find(|r| r.trim().is_empty() || r.contains(','))
            {
                return Err((key("roles"), format!("{bad:?} is not a role name")));
            }
            if matches!(rule.policy, Policy::Deny | Policy::Bypass)
                && (rule.mfa || rule.max_age.is_some())
            {
                let field = if rule.mfa { "mfa" } else { "max_age" };
                return Err((
                    key(field),
                    "only applies to policy = \"signed_in\" or \"roles\" (nobody signs in for deny or bypass)"
                        .into(),
                ));
            }
            if rule.max_age.is_some_and(|d| d.0.is_zero()) {
                return Err((key("max_age"), "must be longer than 0s".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_host_matches_subdomains_only() {
        let p = HostPattern::parse("*.Example.com").unwrap();
        assert!(p.matches("app.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("evilexample.com"));
        let exact = HostPattern::parse("app.example.com").unwrap();
        assert!(exact.matches("app.example.com"));
        assert!(!exact.matches("x.app.example.com"));
        for bad in [
            "",
            "*",
            "*.",
            "https://app.example.com",
            "app.example.com:443",
            "app.example.com/x",
            "a*.example.com",
            "-a.example.com",
            "a..b",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_match_by_prefix_or_glob() {
        assert!(path_matches("/admin", "/admin/users"));
        assert!(!path_matches("/admin", "/public"));
        assert!(path_matches("/api/*/public", "/api/v1/public"));
        assert!(!path_matches("/api/*/public", "/api/v1/public/x"));
        assert!(path_matches("*.png", "/img/a.png"));
        assert!(!path_matches("*.png", "/img/a.png.html"));
        assert!(path_matches("/a*", "/a"));
        assert!(path_matches("/*", "/"));
        assert!(path_matches("/a*b*a", "/aba"));
        assert!(!path_matches("/a*b*a", "/ab"));
    }
}

#[cfg(test)]
mod loading {
    use crate::config::Settings;

    fn error_of(toml: &str) -> String {
        Settings::from_toml_str(toml).unwrap_err().to_string()
    }

    #[test]
    fn an_invalid_rule_is_refused_with_its_key() {
        let rules = |third: &str| {
            format!(
                "[forward_auth]\ndomains = [\"*.example.com\"]\n\
                 [[forward_auth.rules]]\nhost = \"a.example.com\"\npolicy = \"bypass\"\n\
                 [[forward_auth.rules]]\nhost = \"b.example.com\"\npolicy = \"signed_in\"\n\
                 [[forward_auth.rules]]\n{third}\n"
            )
        };
        for (third, key) in [
            (
                "host = \"c.example.com\"\npolicy = \"nope\"",
                "`forward_auth.rules[2].policy`",
            ),
            (
                "host = \"c.example.com\"\npolicy = \"roles\"",
                "forward_auth.rules[2].roles",
            ),
            (
                "host = \"c.example.com\"\npolicy = \"deny\"\nmfa = true",
                "forward_auth.rules[2].mfa",
            ),
            (
                "host = \"c.example.com\"\npolicy = \"signed_in\"\npath = \"admin\"",
                "forward_auth.rules[2].path",
            ),
            (
                "host = \"c.example.com\"\npolicy = \"signed_in\"\nmethods = [\"G T\"]",
                "forward_auth.rules[2].methods",
            ),
            (
                "host = \"https://c.example.com\"\npolicy = \"deny\"",
                "`forward_auth.rules[2].host`",
            ),
            (
                "host = \"c.example.com\"\npolicy = \"deny\"\nextra = 1",
                "forward_auth.rules",
            ),
        ] {
            let error = error_of(&rules(third));
            assert!(error.contains(key), "{third:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
        assert!(Settings::from_toml_str(&rules("host = \"*.example.com\"\npolicy = \"roles\"\nroles = [\"admin\"]\nmfa = true\nmax_age = \"1h\"")).is_ok());
    }

    #[test]
    fn the_cookie_domain_must_cover_the_public_url() {
        assert!(Settings::from_toml_str(
            "[server]\npublic_url = \"https://auth.example.com\"\n[session]\ncookie_domain = \".example.com\""
        )
        .is_ok());
        for (toml, _) in [
            (
                "[server]\npublic_url = \"https://auth.example.org\"\n[session]\ncookie_domain = \"example.com\"",
                (),
            ),
            ("[session]\ncookie_domain = \"127.0.0.1\"", ()),
            ("[session]\ncookie_domain = \"example.com:443\"", ()),
        ] {
            assert!(error_of(toml).contains("session.cookie_domain"), "{toml}");
        }
        let follows_bind =
            Settings::from_toml_str("[session]\ncookie_domain = \"example.com\"").unwrap();
        assert!(
            follows_bind
                .warnings()
                .iter()
                .any(|w| w.contains("session.cookie_domain"))
        );
    }
}

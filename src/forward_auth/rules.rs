//! The decision of one forward-auth check: which rule applies to the original request (the
//! first that matches, else `forward_auth.default_policy`), and whether the caller meets it.
//! Pure: the handler gathers the facts (who is signed in, how, when) and renders the verdict.

use std::time::Duration;

use crate::config::{ForwardAuthSettings, Policy};

use super::original::Original;

/// The rule that applies to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied<'a> {
    pub policy: Policy,
    /// Roles of which one is needed (`policy = "roles"`).
    pub roles: &'a [String],
    pub mfa: bool,
    pub max_age: Option<Duration>,
    /// The metric label and log name of what decided: the rule's host pattern, or `other`
    /// for the default policy (a label from the configuration, never a header).
    pub label: &'a str,
    /// The rule's index, `None` for the default policy.
    pub index: Option<usize>,
}

/// The rule of `forward_auth` (read from the configuration in force) for `original`.
pub fn applied<'a>(forward_auth: &'a ForwardAuthSettings, original: &Original) -> Applied<'a> {
    match forward_auth.matching_rule(&original.host, &original.path, &original.method) {
        Some((index, rule)) => Applied {
            policy: rule.policy,
            roles: &rule.roles,
            mfa: rule.mfa,
            max_age: rule.max_age.map(|d| d.0),
            label: rule.host.as_str(),
            index: Some(index),
        },
        None => Applied {
            policy: forward_auth.default_policy,
            roles: &[],
            mfa: false,
            max_age: None,
            label: "other",
            index: None,
        },
    }
}

/// What is known of a signed-in caller.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    pub roles: &'a [&'a str],
    /// Whether the sign-in completed a second factor.
    pub second_factor: bool,
    /// How long ago the sign-in completed; `None` when unknown.
    pub signed_in_ago: Option<Duration>,
}

/// What the rule says of a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 200 with identity headers.
    Allow,
    /// 200 without identity (`bypass`).
    Bypass,
    /// 403: the rule denies, or the caller lacks every role it names.
    Deny(DenyReason),
    /// Nobody signed in: 401, or a browser is sent to sign in.
    SignIn,
    /// Signed in, but without the second factor or the fresh sign-in the rule needs: 401, or a
    /// browser is sent to sign in again.
    StepUp(StepUp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    Rule,
    Role,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rule => "rule",
            Self::Role => "role",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    SecondFactor,
    MaxAge,
}

impl StepUp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecondFactor => "mfa",
            Self::MaxAge => "max_age",
        }
    }
}

/// Whether the policy needs to know who is calling (`deny` and `bypass` do not).
pub fn needs_caller(policy: Policy) -> bool {
    matches!(policy, Policy::SignedIn | Policy::Roles)
}

/// The verdict of `rule` for `caller` (`None`: nobody signed in).
pub fn judge(rule: &Applied<'_>, caller: Option<&Caller<'_>>) -> Verdict {
    match rule.policy {
        Policy::Deny => return Verdict::Deny(DenyReason::Rule),
        Policy::Bypass => return Verdict::Bypass,
        Policy::SignedIn | Policy::Roles => {}
    }
    let Some(caller) = caller else {
        return Verdict::SignIn;
    };
    if rule.policy == Policy::Roles
        && !rule
            .roles
            .iter()
            .any(|needed| caller.roles.iter().any(|has| has == needed))
    {
        return Verdict::Deny(DenyReason::Role);
    }
    if rule.mfa && !caller.second_factor {
        return Verdict::StepUp(StepUp::SecondFactor);
    }
    if let Some(max_age) = rule.max_age
        && caller.signed_in_ago.is_none_or(|ago| ago > max_age)
    {
        return Verdict::StepUp(StepUp::MaxAge);
    }
    Verdict::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn settings(rules: &str) -> Settings {
        Settings::from_toml_str(&format!("[forward_auth]\n{rules}")).unwrap()
    }

    fn verdict(s: &Settings, method: &str, url: &str, caller: Option<&Caller<'_>>) -> Verdict {
        let original = Original::from_url(method, url);
        judge(&applied(&s.forward_auth, &original), caller)
    }

    const USER: Caller<'static> = Caller {
        roles: &["user"],
        second_factor: false,
        signed_in_ago: Some(Duration::from_secs(60)),
    };
    const ADMIN_MFA: Caller<'static> = Caller {
        roles: &["user", "admin"],
        second_factor: true,
        signed_in_ago: Some(Duration::from_secs(7200)),
    };

    #[test]
    fn the_first_matching_rule_decides_and_the_default_covers_the_rest() {
        let s = settings(
            "default_policy = \"deny\"\n\
             [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/public/\"\npolicy = \"bypass\"\n\
             [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/admin\"\npolicy = \"roles\"\nroles = [\"admin\"]\n\
             [[forward_auth.rules]]\nhost = \"app.example.com\"\npolicy = \"signed_in\"\n\
             [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/public/x\"\npolicy = \"deny\"\n\
             [[forward_auth.rules]]\nhost = \"*.example.com\"\nmethods = [\"post\"]\npolicy = \"deny\"\n\
             [[forward_auth.rules]]\nhost = \"*.example.com\"\npath = \"/api/*/status\"\npolicy = \"bypass\"\n\
             [[forward_auth.rules]]\nhost = \"*.example.com\"\npolicy = \"signed_in\"\nmfa = true\n\
             [[forward_auth.rules]]\nhost = \"fresh.example.org\"\npolicy = \"signed_in\"\nmax_age = \"1h\"\n",
        );
        // First match: /public/x is bypassed by rule 0 before rule 3 could deny it.
        assert_eq!(
            verdict(&s, "GET", "https://app.example.com/public/x", None),
            Verdict::Bypass
        );
        assert_eq!(
            verdict(&s, "GET", "https://app.example.com/%70ublic/x", None),
            Verdict::Bypass
        );
        assert_eq!(
            verdict(&s, "GET", "https://app.example.com/", None),
            Verdict::SignIn
        );
        assert_eq!(
            verdict(&s, "GET", "https://app.example.com/", Some(&USER)),
            Verdict::Allow
        );
        assert_eq!(
            verdict(&s, "GET", "https://app.example.com/admin/x", Some(&USER)),
            Verdict::Deny(DenyReason::Role)
        );
        assert_eq!(
            verdict(
                &s,
                "GET",
                "https://app.example.com/public/../admin",
                Some(&USER)
            ),
            Verdict::Deny(DenyReason::Role)
        );
        assert_eq!(
            verdict(&s, "GET", "https://app.example.com/admin", Some(&ADMIN_MFA)),
            Verdict::Allow
        );
        // Methods: only POST is denied on other subdomains; GET falls through to mfa.
        assert_eq!(
            verdict(&s, "POST", "https://b.example.com/", Some(&ADMIN_MFA)),
            Verdict::Deny(DenyReason::Rule)
        );
        assert_eq!(
            verdict(&s, "GET", "https://b.example.com/", Some(&USER)),
            Verdict::StepUp(StepUp::SecondFactor)
        );
        assert_eq!(
            verdict(&s, "GET", "https://b.example.com/", Some(&ADMIN_MFA)),
            Verdict::Allow
        );
        // A path glob.
        assert_eq!(
            verdict(&s, "GET", "https://b.example.com/api/v2/status", None),
            Verdict::Bypass
        );
        // max_age.
        assert_eq!(
            verdict(&s, "GET", "https://fresh.example.org/", Some(&USER)),
            Verdict::Allow
        );
        assert_eq!(
            verdict(&s, "GET", "https://fresh.example.org/", Some(&ADMIN_MFA)),
            Verdict::StepUp(StepUp::MaxAge)
        );
        // No rule: the default policy, labelled "other".
        assert_eq!(
            verdict(&s, "GET", "https://example.net/", Some(&ADMIN_MFA)),
            Verdict::Deny(DenyReason::Rule)
        );
        let original = Original::from_url("GET", "https://example.net/");
        assert_eq!(applied(&s.forward_auth, &original).label, "other");
        // An unreadable host matches no rule.
        let nowhere = Original::from_url("GET", "https://app.example.com@evil/");
        assert_eq!(applied(&s.forward_auth, &nowhere).index, None);
    }

    #[test]
    fn a_default_of_signed_in_or_bypass_applies_when_no_rule_matches() {
        let s = settings("default_policy = \"signed_in\"\n");
        assert_eq!(verdict(&s, "GET", "https://x.test/", None), Verdict::SignIn);
        assert_eq!(
            verdict(&s, "GET", "https://x.test/", Some(&USER)),
            Verdict::Allow
        );
        let s = settings("default_policy = \"bypass\"\n");
        assert_eq!(verdict(&s, "GET", "https://x.test/", None), Verdict::Bypass);
    }

    /// The rules of the property tests: a bypassed public area, an admin area, and a
    /// subdomain wildcard; everything else denied.
    const PROPERTY_RULES: &str = "default_policy = \"deny\"\n\
        [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/public/\"\npolicy = \"bypass\"\n\
        [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/admin\"\npolicy = \"roles\"\nroles = [\"admin\"]\n\
        [[forward_auth.rules]]\nhost = \"app.example.com\"\npath = \"/files/*.pdf\"\npolicy = \"signed_in\"\n\
        [[forward_auth.rules]]\nhost = \"*.apps.example.com\"\npolicy = \"signed_in\"\n";

    /// A path segment an attacker may write: plain, dot segments, encoded dots and slashes.
    fn segment() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            "[a-z]{1,6}",
            proptest::strategy::Just(".".to_string()),
            proptest::strategy::Just("..".to_string()),
            proptest::strategy::Just("%2e%2e".to_string()),
            proptest::strategy::Just("%2E".to_string()),
            proptest::strategy::Just("public".to_string()),
            proptest::strategy::Just("admin".to_string()),
            proptest::strategy::Just("%61dmin".to_string()),
            proptest::strategy::Just("".to_string()),
        ]
    }

    proptest::proptest! {
        /// The rule is chosen by the path as the app reads it: however a path is dressed up
        /// (dot segments, percent-encoding, backslashes, doubled slashes), the rule is the one
        /// of its normalised form — so `/public/../admin` is the admin area, never bypassed.
        #[test]
        fn the_rule_of_a_dressed_up_path_is_the_rule_of_its_normal_form(
            segments in proptest::collection::vec(segment(), 0..8),
            backslashes in proptest::bool::ANY,
        ) {
            let s = settings(PROPERTY_RULES);
            let separator = if backslashes { "\\" } else { "/" };
            let raw = format!("/{}", segments.join(separator));
            let dressed = Original::from_url("GET", &format!("https://app.example.com{raw}"));
            let normal = super::super::original::normalize_path(&raw);
            let plain = Original::from_url("GET", &format!("https://app.example.com{normal}"));
            proptest::prop_assert_eq!(&dressed.path, &normal);
            proptest::prop_assert_eq!(
                applied(&s.forward_auth, &dressed).index,
                applied(&s.forward_auth, &plain).index,
                "{} vs {}", raw, normal
            );
            if normal == "/admin" || normal.starts_with("/admin/") {
                proptest::prop_assert_eq!(applied(&s.forward_auth, &dressed).index, Some(1));
            }
        }

        /// `*.apps.example.com` covers its subdomains at any depth and nothing else: not the
        /// suffix itself, not a host that merely ends with the same letters.
        #[test]
        fn a_wildcard_host_matches_subdomains_only(
            labels in proptest::collection::vec("[a-z0-9][a-z0-9-]{0,8}[a-z0-9]", 1..4),
            glued in "[a-z]{1,8}",
        ) {
            let pattern = crate::config::HostPattern::parse("*.apps.example.com").unwrap();
            let sub = format!("{}.apps.example.com", labels.join("."));
            proptest::prop_assert!(pattern.matches(&sub), "{}", sub);
            proptest::prop_assert!(!pattern.matches("apps.example.com"));
            let lookalike = format!("{glued}apps.example.com");
            proptest::prop_assert!(!pattern.matches(&lookalike), "{}", lookalike);
            let suffixed = format!("{sub}.evil.test");
            proptest::prop_assert!(!pattern.matches(&suffixed), "{}", suffixed);
        }

        /// Any original URL (as hostile as a header can be) gets a rule or the default and
        /// never panics; a URL whose host cannot be read meets no rule.
        #[test]
        fn any_original_url_meets_a_rule_or_the_default(url in "\\PC{0,80}", method in "[A-Za-z]{0,8}") {
            let s = settings(PROPERTY_RULES);
            let original = Original::from_url(&method, &url);
            let rule = applied(&s.forward_auth, &original);
            if original.host.is_empty() {
                proptest::prop_assert_eq!(rule.index, None);
                proptest::prop_assert_eq!(rule.policy, Policy::Deny);
            }
            proptest::prop_assert!(original.path.starts_with('/'));
        }

        /// A glob is anchored at both ends: `/files/*.pdf` matches exactly the paths that start
        /// with `/files/` and end with `.pdf`.
        #[test]
        fn a_glob_is_anchored_at_both_ends(path in "/[a-z./]{0,20}") {
            let expected = path.starts_with("/files/")
                && path.ends_with(".pdf")
                && path.len() >= "/files/.pdf".len();
            proptest::prop_assert_eq!(
                crate::config::path_matches("/files/*.pdf", &path),
                expected,
                "{}", path
            );
        }
    }
}

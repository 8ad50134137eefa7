//! Typed settings (SPEC §3), split by job: `types` (the keys and their defaults), `load`
//! (file and environment), `validate` (checks across keys).
//!
//! Environment variables read here:
//! - `GATEHOUSE_CONFIG`: path of the TOML file when `--config` is not given;
//! - `GATEHOUSE_<SECTION>__<KEY>`: one setting each, e.g. `GATEHOUSE_AUTH__MODE=token`;
//! - `GATEHOUSE_ADMIN_PASSWORD`: the password of the first `admin` user (not a file key).
//!
//! Settings are loaded once in `main` and passed down; nothing here is global.

mod forward_auth;
mod load;
mod types;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use forward_auth::{
    ForwardAuthSettings, HostPattern, Policy, Rule, is_host_name, path_matches,
};
pub use load::{ConfigError, config_file_path};
pub use types::*;

impl Settings {
    /// Whether the session cookie carries `Secure`.
    pub fn cookie_secure(&self) -> bool {
        match self.session.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => self.public_url().starts_with("https://"),
        }
    }

    /// The public base URL, without a trailing slash: `server.public_url` when set, else
    /// `http://` and `server.bind` (SPEC §3). [`Settings::follow_bound_address`] puts the port
    /// actually bound in its place once the server listens.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => match self.server.bind.parse::<SocketAddr>() {
                Ok(addr) => format!("http://{addr}"),
                Err(_) => format!("http://{}", self.server.bind),
            },
        }
    }

    /// Called with the address the server listens on: an unset `public_url` follows it (port 0
    /// becomes the port actually bound). Returns a warning when an explicit `public_url` points
    /// at this machine (a loopback host) on another port than the bound one — the slip of
    /// changing only `server.bind`; a public URL of a reverse proxy is not questioned.
    pub fn follow_bound_address(&mut self, bound: SocketAddr) -> Option<String> {
        match &self.server.public_url {
            None => {
                self.server.public_url = Some(format!("http://{bound}"));
                None
            }
            Some(url) => {
                let (host, port) = url_host_port(url)?;
                (is_loopback_host(&host) && port != bound.port()).then(|| {
                    format!(
                        "server.public_url {url:?} names port {port}, but the server listens on {bound}: tokens, links and discovery documents will point elsewhere"
                    )
                })
            }
        }
    }

    /// Where these settings came from, for people: the file's path, or "defaults and
    /// environment" when no file was read.
    pub fn source(&self) -> String {
        self.config_file.as_ref().map_or_else(
            || "defaults and environment".to_string(),
            |path| path.display().to_string(),
        )
    }

    /// `server.max_body` in bytes.
    pub fn max_body(&self) -> usize {
        usize::try_from(self.server.max_body.0).unwrap_or(usize::MAX)
    }

    /// The issuer (`iss`) of access tokens: `token.issuer`, else the public URL.
    pub fn issuer(&self) -> String {
        self.token
            .issuer
            .clone()
            .unwrap_or_else(|| self.public_url())
    }

    /// The master secret that seals the key store (`keys.master_secret_file`).
    pub fn master_secret_file(&self) -> PathBuf {
        self.keys
            .master_secret_file
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("master.key"))
    }

    pub fn secret_file(&self) -> PathBuf {
        self.token
            .secret_file
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("hmac.key"))
    }

    pub fn private_key_file(&self) -> PathBuf {
        self.token
            .private_key_file
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("signing.pem"))
    }

    pub fn public_key_file(&self) -> PathBuf {
        self.token
            .public_key_file
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("signing.pub.pem"))
    }

    /// The effective configuration as TOML, with credentials in URLs redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = redact_url(&shown.database.url);
        shown.session.redis_url = shown.session.redis_url.as_deref().map(redact_url);
        toml::to_string_pretty(&shown)
            .unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }

    /// What the server derives from the settings, as TOML comments (for `config show`): values
    /// that are not keys of their own, or keys left unset whose value follows from others.
    pub fn derived_comments(&self) -> String {
        let workers = self
            .server
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let lines = [
            ("public URL (server.public_url)", self.public_url()),
            ("token issuer (token.issuer)", self.issuer()),
            ("workers (server.workers)", workers.to_string()),
            (
                "session cookie Secure (session.cookie_secure)",
                self.cookie_secure().to_string(),
            ),
            (
                "master secret (keys.master_secret_file)",
                self.master_secret_file().display().to_string(),
            ),
            (
                "legacy key files, imported once if present",
                format!(
                    "{}, {}, {}",
                    self.secret_file().display(),
                    self.private_key_file().display(),
                    self.public_key_file().display()
                ),
            ),
        ];
        let mut out = String::from("\n# derived\n");
        for (what, value) in lines {
            out.push_str(&format!("# {what}: {value}\n"));
        }
        out
    }
}

/// The host and port of an `http://` or `https://` URL (the port explicit, or the scheme's).
fn url_host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, explicit) = match host_port.rsplit_once(':') {
        // `[::1]` alone has colons but no port.
        Some((host, port)) if !port.contains(']') && !host.is_empty() => {
            (host, Some(port.parse().ok()?))
        }
        _ => (host_port, None),
    };
    let port = explicit.or(match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some((host.trim_matches(['[', ']']).to_ascii_lowercase(), port))
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Query parameters whose value is a secret, compared without regard to case: libpq's
/// `password`, `sslpassword` (the passphrase of the client key) and `oauth_client_secret`
/// (PostgreSQL 18), and redis-rs's `pass` (the password of a Unix-socket URL).
const SECRET_PARAMS: [&str; 4] = ["password", "sslpassword", "oauth_client_secret", "pass"];

/// Hides the password of a `scheme://user:password@host/...` URL and the value of every
/// secret query parameter ([`SECRET_PARAMS`]). libpq also takes a raw `/`, `?` or `@` inside a
/// password, so parameters are found wherever `?name=` or `&name=` stands (and hidden first,
/// so that an `@` in their values is gone), and the credentials end at the last `@`: a URL
/// whose path or query holds an `@` may be redacted further than needed, never less.
pub fn redact_url(url: &str) -> String {
    let mut hidden = String::with_capacity(url.len());
    let mut copied = 0;
    for range in secret_param_values(url) {
        hidden.push_str(&url[copied..range.start]);
        hidden.push_str("***");
        copied = range.end;
    }
    hidden.push_str(&url[copied..]);
    let Some((scheme, rest)) = hidden.split_once("://") else {
        return hidden;
    };
    match rest.rsplit_once('@') {
        Some((userinfo, after)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{after}"),
            None => hidden.clone(),
        },
        None => hidden.clone(),
    }
}

/// Where the value of each parameter (after `?` or `&`) stands whose name, percent-decoded
/// as libpq and redis-rs decode it, is a secret one in any case; it runs to the next `&`.
fn secret_param_values(url: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(at) = url[search..].find(['?', '&']) {
        let name_start = search + at + 1;
        search = name_start;
        let Some(end) = url[name_start..].find(['=', '&', '?']) else {
            break;
        };
        let name_end = name_start + end;
        if url.as_bytes()[name_end] != b'=' || !is_secret_param(&url[name_start..name_end]) {
            continue;
        }
        let value_start = name_end + 1;
        let value_end = url[value_start..]
            .find('&')
            .map_or(url.len(), |i| value_start + i);
        found.push(value_start..value_end);
        search = value_end;
    }
    found
}

fn is_secret_param(raw_name: &str) -> bool {
    let name = percent_decode(raw_name);
    SECRET_PARAMS
        .iter()
        .any(|secret| secret.as_bytes().eq_ignore_ascii_case(&name))
}

/// `%XX` escapes decoded; anything else (a stray `%` included) kept as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().expect("defaults validate");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = Settings::from_toml_str("[server]\nbindd = \"x\"\n").unwrap_err();
        assert!(
            err.0
                .starts_with("configuration: unknown key `server.bindd` "),
            "{err}"
        );
    }

    #[test]
    fn a_bad_duration_names_its_key() {
        let err = Settings::from_toml_str("[session]\nttl = \"soon\"\n").unwrap_err();
        assert!(err.0.contains("session.ttl"), "{err}");
    }

    #[test]
    fn durations_are_shown_as_they_are_written() {
        use crate::config::HumanDuration;
        use std::time::Duration;
        for (d, shown) in [
            (Duration::from_secs(30 * 86400), "30d"),
            (Duration::from_secs(12 * 3600), "12h"),
            (Duration::from_secs(15 * 60), "15m"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(0), "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1500ms"),
        ] {
            assert_eq!(HumanDuration(d).to_input(), shown);
            let toml = format!("[token]\nkey_publish_delay = \"{shown}\"\n");
            assert_eq!(
                Settings::from_toml_str(&toml)
                    .unwrap()
                    .token
                    .key_publish_delay
                    .0,
                d
            );
        }
        let shown = Settings::default().to_redacted_toml();
        assert!(shown.contains("refresh_ttl = \"30d\""), "{shown}");
    }

    #[test]
    fn durations_take_days() {
        let s = Settings::from_toml_str("[token]\nrefresh_ttl = \"30d\"\n").unwrap();
        assert_eq!(
            s.token.refresh_ttl.0,
            std::time::Duration::from_secs(30 * 86400)
        );
    }

    #[test]
    fn the_default_body_limit_is_16_kib_and_round_trips() {
        let s = Settings::from_toml_str("").unwrap();
        assert_eq!(s.server.max_body.0, 16 * 1024);
        let again = Settings::from_toml_str(&s.to_redacted_toml()).unwrap();
        assert_eq!(again.server.max_body.0, 16 * 1024);
    }

    #[test]
    fn the_example_file_is_a_valid_configuration() {
        let example = include_str!("../../gatehouse.example.toml");

        let s = Settings::from_toml_str(example).expect("the example parses and validates");

        assert_eq!(
            s.server.request_timeout.0,
            std::time::Duration::from_secs(10)
        );
        assert_eq!(s.server.client_ip_header, ClientIpHeader::XForwardedFor);
    }

    #[test]
    fn every_key_is_in_the_example_file_with_its_environment_name() {
        let example = include_str!("../../gatehouse.example.toml");
        let Ok(serde_json::Value::Object(sections)) = serde_json::to_value(Settings::default())
        else {
            panic!("settings serialize to an object");
        };

        let mut missing = Vec::new();
        for (section, keys) in &sections {
            let serde_json::Value::Object(keys) = keys else {
                panic!("{section} is a section");
            };
            for key in keys.keys() {
                let env = format!("GATEHOUSE_{section}__{key}").to_ascii_uppercase();
                if !example.contains(&env) {
                    missing.push(env);
                }
            }
        }

        assert!(missing.is_empty(), "not documented: {missing:?}");
    }

    #[test]
    fn a_log_level_that_is_not_a_filter_names_its_key() {
        let ok = Settings::from_toml_str("[server]\nlog_level = \"warn,gatehouse=debug\"\n");
        assert_eq!(ok.unwrap().server.log_level, "warn,gatehouse=debug");

        for bad in ["info,gatehouse=loud", "", "=debug"] {
            let err =
                Settings::from_toml_str(&format!("[server]\nlog_level = {bad:?}\n")).unwrap_err();
            assert!(err.0.contains("server.log_level"), "{bad:?}: {err}");
            assert!(!err.0.contains('\n'), "{err}");
        }
    }

    #[test]
    fn a_zero_request_timeout_names_its_key() {
        let err = Settings::from_toml_str("[server]\nrequest_timeout = \"0s\"\n").unwrap_err();
        assert!(err.0.contains("server.request_timeout"), "{err}");
    }

    #[test]
    fn metrics_allow_takes_networks_and_addresses_and_names_itself_when_wrong() {
        let s = Settings::from_toml_str(
            "[server]\nmetrics_allow = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\"]\n",
        )
        .unwrap();
        let allowed = |ip: &str| s.server.metrics_allowed(ip.parse().unwrap());
        assert!(allowed("10.200.0.1") && allowed("192.0.2.7") && allowed("2001:db8:5::1"));
        assert!(allowed("::ffff:10.0.0.1"), "IPv4-mapped peers are IPv4");
        assert!(!allowed("192.0.2.8") && !allowed("127.0.0.1"));
        let defaults = Settings::default();
        assert!(
            defaults
                .server
                .metrics_allowed("127.0.0.9".parse().unwrap())
        );
        assert!(defaults.server.metrics_allowed("::1".parse().unwrap()));
        assert!(
            !defaults
                .server
                .metrics_allowed("192.0.2.1".parse().unwrap())
        );

        for bad in ["10.0.0.0/33", "localhost", ""] {
            let err = Settings::from_toml_str(&format!("[server]\nmetrics_allow = [{bad:?}]\n"))
                .unwrap_err();
            assert!(err.0.contains("server.metrics_allow"), "{err}");
            assert!(!err.0.contains('\n'), "{err}");
        }
    }

    #[test]
    fn client_ip_header_takes_one_of_three_headers() {
        for (text, header) in [
            ("x-forwarded-for", ClientIpHeader::XForwardedFor),
            ("forwarded", ClientIpHeader::Forwarded),
            ("x-real-ip", ClientIpHeader::XRealIp),
        ] {
            let s = Settings::from_toml_str(&format!("[server]\nclient_ip_header = {text:?}\n"))
                .unwrap();
            assert_eq!(s.server.client_ip_header, header);
        }
        let err =
            Settings::from_toml_str("[server]\nclient_ip_header = \"x-client-ip\"\n").unwrap_err();
        assert!(err.0.contains("server.client_ip_header"), "{err}");
    }

    #[test]
    fn an_unset_public_url_follows_the_bound_address() {
        let mut s = Settings::from_toml_str("[server]\nbind = \"127.0.0.1:0\"\n").unwrap();
        assert_eq!(s.public_url(), "http://127.0.0.1:0");

        let warning = s.follow_bound_address("127.0.0.1:45678".parse().unwrap());

        assert_eq!(warning, None);
        assert_eq!(s.public_url(), "http://127.0.0.1:45678");
        assert_eq!(s.issuer(), "http://127.0.0.1:45678");
        let v6 = Settings::from_toml_str("[server]\nbind = \"[::1]:9000\"\n").unwrap();
        assert_eq!(v6.public_url(), "http://[::1]:9000");
    }

    #[test]
    fn an_explicit_loopback_public_url_on_another_port_is_warned_about() {
        let mut stale =
            Settings::from_toml_str("[server]\npublic_url = \"http://127.0.0.1:8080/\"\n").unwrap();
        let warning = stale.follow_bound_address("127.0.0.1:9090".parse().unwrap());
        assert!(warning.is_some_and(|w| w.contains("8080") && w.contains("9090")));
        assert_eq!(
            stale.public_url(),
            "http://127.0.0.1:8080",
            "an explicit URL is kept"
        );

        for (url, bound) in [
            ("http://localhost:9090", "127.0.0.1:9090"),
            ("https://auth.example.com", "127.0.0.1:9090"),
            ("http://[::1]:9090/base", "[::1]:9090"),
        ] {
            let mut s =
                Settings::from_toml_str(&format!("[server]\npublic_url = {url:?}\n")).unwrap();
            assert_eq!(
                s.follow_bound_address(bound.parse().unwrap()),
                None,
                "{url}"
            );
        }
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
        assert_eq!(
            redact_url("postgres://u:pa/ss@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=off&password=top"),
            "postgres://u@h/db?sslmode=off&password=***"
        );
        assert_eq!(redact_url("postgres://a:?A@a/"), "postgres://a:***@a/");
    }

    #[test]
    fn every_secret_query_parameter_is_redacted_whatever_its_case_or_encoding() {
        for (url, shown) in [
            (
                "postgres://u@h/db?sslpassword=top&sslmode=require",
                "postgres://u@h/db?sslpassword=***&sslmode=require",
            ),
            (
                "postgres://u@h/db?SSLPassword=top",
                "postgres://u@h/db?SSLPassword=***",
            ),
            (
                "postgres://u@h/db?oauth_client_id=x&oauth_client_secret=top",
                "postgres://u@h/db?oauth_client_id=x&oauth_client_secret=***",
            ),
            (
                "postgres://u@h/db?%70assword=top&x=1",
                "postgres://u@h/db?%70assword=***&x=1",
            ),
            (
                "postgres://u@h/db?Pass%57ord=top",
                "postgres://u@h/db?Pass%57ord=***",
            ),
            (
                "redis://h/0?protocol=resp3&pass=top&user=u",
                "redis://h/0?protocol=resp3&pass=***&user=u",
            ),
            (
                "postgres://u@h/db?passfile=/p&sslkey=/k&passwordx=1",
                "postgres://u@h/db?passfile=/p&sslkey=/k&passwordx=1",
            ),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn an_insecure_cookie_under_an_https_public_url_is_warned_about() {
        let warned = |toml: &str| {
            Settings::from_toml_str(toml)
                .unwrap()
                .warnings()
                .iter()
                .any(|w| w.contains("session.cookie_secure"))
        };
        let https = "[server]\npublic_url = \"https://auth.example.com\"\n";
        assert!(warned(&format!(
            "{https}[session]\ncookie_secure = false\n"
        )));
        assert!(!warned(&format!(
            "{https}[session]\ncookie_secure = \"auto\"\n"
        )));
        assert!(!warned(&format!(
            "{https}[session]\ncookie_secure = true\n"
        )));
        assert!(!warned("[session]\ncookie_secure = false\n"));
    }
}

//! Typed settings (SPEC §3): built-in defaults < TOML file < `GATEHOUSE_<SECTION>__<KEY>` environment.
//!
//! Environment variables read here:
//! - `GATEHOUSE_CONFIG`: path of the TOML file when `--config` is not given;
//! - `GATEHOUSE_<SECTION>__<KEY>`: one setting each, e.g. `GATEHOUSE_AUTH__MODE=token`.
//!
//! Settings are loaded once in `main` and passed down; nothing here is global.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every setting of the server, with the defaults of SPEC §3.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub session: SessionSettings,
    pub token: TokenSettings,
    pub password: PasswordSettings,
    pub lockout: LockoutSettings,
    /// Password of the first `admin` user, from `GATEHOUSE_ADMIN_PASSWORD`; never a file key.
    #[serde(skip)]
    pub admin_password: Option<crate::auth::credentials::Password>,
    /// Size of the bcrypt pool as (threads, queued jobs); `None`: one thread per core and 32
    /// queued jobs per thread. Not a file key: tests use it to fill the queue on purpose.
    #[serde(skip)]
    pub hashing_pool: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub bind: String,
    /// Number of actix workers; `None` means one per core.
    pub workers: Option<usize>,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub max_body: ByteSize,
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: None,
            public_url: "http://localhost:8080".into(),
            data_dir: PathBuf::from("./data"),
            max_body: ByteSize(16 * 1024),
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/gatehouse.db".into(),
            pool_size: 8,
        }
    }
}

/// Which front doors the server opens (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Session,
    Token,
    Both,
}

impl AuthMode {
    /// Whether the HTML surface with session cookies is served.
    pub fn sessions(self) -> bool {
        matches!(self, Self::Session | Self::Both)
    }

    /// Whether the token API is served.
    pub fn tokens(self) -> bool {
        matches!(self, Self::Token | Self::Both)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub basic: bool,
    pub registration: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            mode: AuthMode::Both,
            basic: false,
            registration: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStoreKind {
    Database,
    Redis,
}

/// `session.cookie_secure`: `auto`, `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    Auto,
    Always,
    Never,
}

impl Serialize for CookieSecure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::Always => s.serialize_bool(true),
            Self::Never => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for CookieSecure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(Self::Always),
            Raw::Bool(false) => Ok(Self::Never),
            Raw::Text(t) => match t.as_str() {
                "auto" => Ok(Self::Auto),
                "true" => Ok(Self::Always),
                "false" => Ok(Self::Never),
                other => Err(serde::de::Error::custom(format!(
                    "expected \"auto\", true or false, found {other:?}"
                ))),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub store: SessionStoreKind,
    pub redis_url: Option<String>,
    pub ttl: HumanDuration,
    pub idle_timeout: HumanDuration,
    pub cookie_name: String,
    pub cookie_secure: CookieSecure,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            store: SessionStoreKind::Database,
            redis_url: None,
            ttl: HumanDuration::hours(12),
            idle_timeout: HumanDuration::minutes(30),
            cookie_name: "gatehouse_session".into(),
            cookie_secure: CookieSecure::Auto,
        }
    }
}

/// Signing algorithms for access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    EdDSA,
    HS256,
    HS384,
    HS512,
    RS256,
    ES256,
}

impl TokenAlgorithm {
    /// Whether the algorithm uses a shared secret rather than a key pair.
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    pub algorithm: TokenAlgorithm,
    /// Defaults to `<data_dir>/hmac.key`.
    pub secret_file: Option<PathBuf>,
    /// Defaults to `<data_dir>/signing.pem`.
    pub private_key_file: Option<PathBuf>,
    /// Defaults to `<data_dir>/signing.pub.pem`.
    pub public_key_file: Option<PathBuf>,
    /// Defaults to `server.public_url`.
    pub issuer: Option<String>,
    pub audience: String,
    pub access_ttl: HumanDuration,
    pub refresh_ttl: HumanDuration,
    pub leeway: HumanDuration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            algorithm: TokenAlgorithm::EdDSA,
            secret_file: None,
            private_key_file: None,
            public_key_file: None,
            issuer: None,
            audience: "gatehouse".into(),
            access_ttl: HumanDuration::minutes(15),
            refresh_ttl: HumanDuration::hours(30 * 24),
            leeway: HumanDuration(Duration::from_secs(30)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    pub bcrypt_cost: u32,
    pub min_length: usize,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            bcrypt_cost: 12,
            min_length: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutSettings {
    pub max_failures: u32,
    pub max_failures_per_ip: u32,
    pub duration: HumanDuration,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_ip: 50,
            duration: HumanDuration::minutes(15),
        }
    }
}

/// A duration written as `"90s"`, `"15m"`, `"12h"` or `"30d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn minutes(m: u64) -> Self {
        Self(Duration::from_secs(m * 60))
    }
    pub const fn hours(h: u64) -> Self {
        Self(Duration::from_secs(h * 3600))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {text:?} ({e}); use e.g. \"90s\", \"15m\", \"12h\", \"30d\""
                ))
            })
    }
}

/// A size written as `"16KiB"`, `"1MB"` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exact, so that `config show` output reads back as the same value.
        const KIB: u64 = 1024;
        let n = self.0;
        let text = if n != 0 && n.is_multiple_of(KIB * KIB) {
            format!("{}MiB", n / (KIB * KIB))
        } else if n != 0 && n.is_multiple_of(KIB) {
            format!("{}KiB", n / KIB)
        } else {
            n.to_string()
        };
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|b| ByteSize(b.as_u64()))
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "invalid size {t:?} ({e}); use e.g. \"16KiB\""
                    ))
                }),
        }
    }
}

/// A configuration problem, in one line that names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn key(key: &str, problem: impl fmt::Display) -> Self {
        Self(format!("configuration: `{key}`: {problem}"))
    }

    fn from_figment(err: figment::Error) -> Self {
        use figment::error::Kind;
        // Figment yields one error per problem; the first one is enough to act on.
        let key = err.path.join(".");
        let origin = err
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        let problem = match &err.kind {
            Kind::UnknownField(field, _) => {
                // Figment's path usually ends with the unknown field already.
                let full = if err.path.last() == Some(field) {
                    key
                } else if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
                return Self(format!("configuration: unknown key `{full}`{origin}"));
            }
            Kind::InvalidType(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            Kind::InvalidValue(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            Kind::UnknownVariant(found, expected) => {
                format!(
                    "unknown value {found:?}, expected one of {}",
                    expected.join(", ")
                )
            }
            other => other.to_string(),
        };
        if key.is_empty() {
            Self(format!("configuration: {problem}{origin}"))
        } else {
            Self(format!("configuration: `{key}`: {problem}{origin}"))
        }
    }
}

/// The source of the TOML file, as chosen by SPEC §3.
pub fn config_file_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("GATEHOUSE_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let default = PathBuf::from("gatehouse.toml");
    default.exists().then_some(default)
}

impl Settings {
    /// Loads defaults, then the TOML file (if any), then the environment; validates the result.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file_path(explicit) {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "configuration: file {} not found",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(&path));
        }
        // Only `GATEHOUSE_<SECTION>__<KEY>` names settings: other GATEHOUSE_* variables
        // (GATEHOUSE_CONFIG, GATEHOUSE_ADMIN_PASSWORD, test variables) are not keys.
        figment = figment.merge(
            Env::prefixed("GATEHOUSE_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let mut settings = Self::from_figment(figment)?;
        settings.admin_password = std::env::var("GATEHOUSE_ADMIN_PASSWORD")
            .ok()
            .map(crate::auth::credentials::Password::new);
        Ok(settings)
    }

    /// Extracts and validates settings from any figment (tests use this with in-memory sources).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(ConfigError::from_figment)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses TOML text over the defaults, without the environment.
    pub fn from_toml_str(toml: &str) -> Result<Self, ConfigError> {
        Self::from_figment(
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(toml)),
        )
    }

    /// Checks values that the types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::key(
                "server.bind",
                format!(
                    "{:?} is not an address like \"127.0.0.1:8080\"",
                    self.server.bind
                ),
            ));
        }
        if self.server.workers == Some(0) {
            return Err(ConfigError::key("server.workers", "must be at least 1"));
        }
        let url = &self.server.public_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(ConfigError::key(
                "server.public_url",
                format!("{url:?} must be an absolute http:// or https:// URL"),
            ));
        }
        if self.server.max_body.0 == 0 {
            return Err(ConfigError::key(
                "server.max_body",
                "must be greater than 0",
            ));
        }
        if crate::db::DatabaseUrl::parse(&self.database.url).is_err() {
            return Err(ConfigError::key(
                "database.url",
                "must start with sqlite:// or postgres:// (or postgresql://)",
            ));
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError::key("database.pool_size", "must be at least 1"));
        }
        if self.session.store == SessionStoreKind::Redis {
            match &self.session.redis_url {
                None => {
                    return Err(ConfigError::key(
                        "session.redis_url",
                        "is required when session.store = \"redis\"",
                    ));
                }
                Some(u) if !(u.starts_with("redis://") || u.starts_with("rediss://")) => {
                    return Err(ConfigError::key(
                        "session.redis_url",
                        "must start with redis:// or rediss://",
                    ));
                }
                Some(_) => {}
            }
        }
        for (key, d) in [
            ("session.ttl", self.session.ttl),
            ("session.idle_timeout", self.session.idle_timeout),
            ("token.access_ttl", self.token.access_ttl),
            ("token.refresh_ttl", self.token.refresh_ttl),
            ("lockout.duration", self.lockout.duration),
        ] {
            if d.0.is_zero() {
                return Err(ConfigError::key(key, "must be longer than 0s"));
            }
        }
        let name = &self.session.cookie_name;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ConfigError::key(
                "session.cookie_name",
                "must be letters, digits, '_' or '-'",
            ));
        }
        if self.token.audience.is_empty() {
            return Err(ConfigError::key("token.audience", "must not be empty"));
        }
        if !(4..=31).contains(&self.password.bcrypt_cost) {
            return Err(ConfigError::key(
                "password.bcrypt_cost",
                format!("{} is outside 4–31", self.password.bcrypt_cost),
            ));
        }
        if !(1..=72).contains(&self.password.min_length) {
            return Err(ConfigError::key(
                "password.min_length",
                format!("{} is outside 1–72", self.password.min_length),
            ));
        }
        if self.auth.basic && !self.server.public_url.starts_with("https://") {
            let loopback = self
                .server
                .bind
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback());
            if !loopback {
                return Err(ConfigError::key(
                    "auth.basic",
                    "sends passwords with every request: it needs an https:// server.public_url, \
                     or server.bind on a loopback address",
                ));
            }
        }
        if self.lockout.max_failures == 0 {
            return Err(ConfigError::key(
                "lockout.max_failures",
                "must be at least 1",
            ));
        }
        if self.lockout.max_failures_per_ip == 0 {
            return Err(ConfigError::key(
                "lockout.max_failures_per_ip",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Whether the session cookie carries `Secure`.
    pub fn cookie_secure(&self) -> bool {
        match self.session.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => self.server.public_url.starts_with("https://"),
        }
    }

    /// The issuer (`iss`) of access tokens.
    pub fn issuer(&self) -> &str {
        self.token
            .issuer
            .as_deref()
            .unwrap_or(self.server.public_url.trim_end_matches('/'))
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
}

/// Hides the password of a `scheme://user:password@host/...` URL and any `password=` query
/// parameter (libpq accepts both).
pub fn redact_url(url: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let mut out = match main.split_once("://") {
        // The userinfo ends at the last '@' (a password may hold '/' or '@').
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => main.to_string(),
            },
            None => main.to_string(),
        },
        None => main.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
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
    fn durations_take_days() {
        let s = Settings::from_toml_str("[token]\nrefresh_ttl = \"30d\"\n").unwrap();
        assert_eq!(s.token.refresh_ttl.0, Duration::from_secs(30 * 86400));
    }

    #[test]
    fn the_default_body_limit_is_16_kib_and_round_trips() {
        let s = Settings::from_toml_str("").unwrap();
        assert_eq!(s.server.max_body.0, 16 * 1024);
        let again = Settings::from_toml_str(&s.to_redacted_toml()).unwrap();
        assert_eq!(again.server.max_body.0, 16 * 1024);
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
    }
}

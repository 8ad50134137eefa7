//! The settings' types and their defaults (SPEC §3): one struct per section, and the value
//! types written in files (`HumanDuration`, `ByteSize`, `CookieSecure`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::Password;

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
    pub cache: CacheSettings,
    pub keys: KeysSettings,
    /// Forward-auth for reverse proxies (`/auth/request`, `/auth/forward`).
    pub forward_auth: super::ForwardAuthSettings,
    pub oidc: OidcSettings,
    /// Password of the first `admin` user, from `GATEHOUSE_ADMIN_PASSWORD`; never a file key.
    #[serde(skip)]
    pub admin_password: Option<Password>,
    /// The TOML file these settings were read from (chosen by `config_file_path`), or `None`
    /// for defaults and environment only: a reload reads the same source again. Never a key.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub bind: String,
    /// Number of actix workers; `None` means one per core.
    pub workers: Option<usize>,
    /// `None`: follows `bind` (see [`Settings::public_url`]).
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    pub max_body: ByteSize,
    /// A request whose head and body have not arrived by then gets 408, unprocessed.
    pub request_timeout: HumanDuration,
    /// Client networks that may read `/metrics`, judged on the peer address.
    pub metrics_allow: Vec<Network>,
    pub trusted_proxies: Vec<IpAddr>,
    /// The one forwarding header read, and only from `trusted_proxies`.
    pub client_ip_header: ClientIpHeader,
    /// Also reload when the configuration file changes on disk (SIGHUP always reloads).
    pub watch_config: bool,
    /// The log filter, an `EnvFilter` directive string (`RUST_LOG`, when set, wins at
    /// start-up); applied again by a reload that changes it.
    pub log_level: String,
    /// The language of HTML pages when neither the `lang` cookie nor `Accept-Language` names
    /// one of ours (`en`, `ko`; see `i18n::LANGUAGES`).
    pub default_language: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: None,
            public_url: None,
            data_dir: PathBuf::from("./data"),
            max_body: ByteSize(16 * 1024),
            request_timeout: HumanDuration(Duration::from_secs(10)),
            metrics_allow: vec![
                // 127.0.0.0/8 (as `"127.0.0.0/8"` parses), not 127.0.0.1/8: the same network,
                // but an unequal value, which a reload would report as a change.
                Network(IpNet::V4(
                    Ipv4Net::new_assert(Ipv4Addr::LOCALHOST, 8).trunc(),
                )),
                Network(IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128))),
            ],
            trusted_proxies: Vec::new(),
            client_ip_header: ClientIpHeader::XForwardedFor,
            watch_config: false,
            log_level: "info".into(),
            default_language: "en".into(),
        }
    }
}

/// `server.client_ip_header`: the forwarding header that names the client behind a trusted
/// proxy. Only one is read, so a client cannot pick whichever header its proxy leaves alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientIpHeader {
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    #[serde(rename = "forwarded")]
    Forwarded,
    #[serde(rename = "x-real-ip")]
    XRealIp,
}

impl ServerSettings {
    /// `server.default_language` as a language (English if it names none: `validate` refuses
    /// such a value before it is used).
    pub fn default_lang(&self) -> crate::i18n::Lang {
        crate::i18n::Lang::from_code(&self.default_language).unwrap_or_default()
    }

    /// Whether a peer at `ip` may read `/metrics` (`server.metrics_allow`).
    pub fn metrics_allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.metrics_allow.iter().any(|net| net.0.contains(&ip))
    }
}

impl ClientIpHeader {
    /// The header's name, lower-case.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
            Self::XRealIp => "x-real-ip",
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
    /// Who must have a second factor: without one, a sign-in leads to enrolment first.
    pub require_mfa: RequireMfa,
    /// Passkeys as a first factor: "Sign in with a passkey" on `/login`, username-less
    /// (discoverable credentials); new passkeys are registered with a resident key.
    pub passkey_login: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            mode: AuthMode::Both,
            basic: false,
            registration: false,
            require_mfa: RequireMfa::None,
            passkey_login: false,
        }
    }
}

/// `auth.require_mfa`: whose sign-in is held until they enrol a second factor. Service
/// accounts are never held (they sign in with a password alone over HTTP Basic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequireMfa {
    None,
    Admins,
    All,
}

impl RequireMfa {
    /// Whether a user (an administrator or not) must have a second factor.
    pub fn applies_to(self, is_admin: bool) -> bool {
        match self {
            Self::None => false,
            Self::Admins => is_admin,
            Self::All => true,
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
    /// `Domain` of the session cookie (e.g. `example.com`), so that one sign-in covers the
    /// apps on its subdomains; `None`: a host-only cookie.
    pub cookie_domain: Option<String>,
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
            cookie_domain: None,
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
    pub const ALL: [Self; 6] = [
        Self::EdDSA,
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::ES256,
    ];

    /// The name as written in config files, JOSE headers and the key store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }

    /// The algorithm named `name` (exact spelling, as in config files).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

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
    /// A rotated-in key is in the JWKS this long before it signs.
    pub key_publish_delay: HumanDuration,
    /// Automatic signing-key rotation; `None` (the default) is off.
    pub rotate_every: Option<HumanDuration>,
    /// Absolute lifetime of a refresh-token family, however often it rotates.
    pub refresh_max_age: HumanDuration,
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
            key_publish_delay: HumanDuration(Duration::ZERO),
            rotate_every: None,
            refresh_max_age: HumanDuration::hours(90 * 24),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    pub bcrypt_cost: u32,
    pub min_length: usize,
    /// zxcvbn score (0–4) a new password must reach; 0 turns the check off.
    pub min_score: u8,
    /// Threads of the bcrypt pool; `None`: one per core.
    pub hash_threads: Option<usize>,
    /// Password checks that may wait for a bcrypt thread before logins get 503; `None`: 32
    /// per thread.
    pub hash_queue: Option<usize>,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            bcrypt_cost: 12,
            min_length: 10,
            min_score: 3,
            hash_threads: None,
            hash_queue: None,
        }
    }
}

impl PasswordSettings {
    /// The rules a new password must meet.
    pub fn policy(&self) -> crate::domain::PasswordPolicy {
        crate::domain::PasswordPolicy {
            min_length: self.min_length,
            min_score: self.min_score,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutSettings {
    pub max_failures: u32,
    pub max_failures_per_ip: u32,
    pub duration: HumanDuration,
    /// Registration attempts (any outcome) per client address per `duration`.
    pub max_registrations_per_ip: u32,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_ip: 50,
            duration: HumanDuration::minutes(15),
            max_registrations_per_ip: 20,
        }
    }
}

/// The in-process caches of the request path (`auth::cache`, `session_store`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Longest time a revocation made elsewhere (another instance, the CLI) may take to hold
    /// here; past it without news from the change feed, cached facts are not trusted.
    pub max_staleness: HumanDuration,
    /// Entry cap of the verified-token cache.
    pub tokens: u64,
    /// Entry cap of the user-state cache (and of the live refresh-token families).
    pub users: u64,
    /// Entry cap of the session cache.
    pub sessions: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            max_staleness: HumanDuration::seconds(1),
            tokens: 100_000,
            users: 100_000,
            sessions: 100_000,
        }
    }
}

/// The key store (signing keys and the cookie key, sealed in the database).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSettings {
    /// Defaults to `<data_dir>/master.key`.
    pub master_secret_file: Option<PathBuf>,
}

/// The OpenID Connect provider (SPEC §11).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSettings {
    /// Signs ID tokens; its key lives in the key store beside the access-token key.
    pub id_token_algorithm: IdTokenAlgorithm,
}

/// Algorithms an ID token may be signed with: asymmetric only, so that relying parties verify
/// through the JWKS (an HMAC key would have to be shared with every client).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdTokenAlgorithm {
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl IdTokenAlgorithm {
    /// The same algorithm as a key-store algorithm.
    pub fn token_algorithm(self) -> TokenAlgorithm {
        match self {
            Self::RS256 => TokenAlgorithm::RS256,
            Self::ES256 => TokenAlgorithm::ES256,
            Self::EdDSA => TokenAlgorithm::EdDSA,
        }
    }
}

/// A duration written as `"90s"`, `"15m"`, `"12h"` or `"30d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn seconds(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }

    pub const fn minutes(m: u64) -> Self {
        Self(Duration::from_secs(m * 60))
    }
    pub const fn hours(h: u64) -> Self {
        Self(Duration::from_secs(h * 3600))
    }
}

impl HumanDuration {
    /// The duration as it is written in a file: the largest unit that divides it (`"30d"`,
    /// `"12h"`, `"15m"`, `"90s"`, `"250ms"`); anything finer as humantime writes it.
    pub fn to_input(self) -> String {
        let d = self.0;
        if d.subsec_nanos() != 0 {
            if d.subsec_nanos().is_multiple_of(1_000_000) {
                return format!("{}ms", d.as_millis());
            }
            return humantime::format_duration(d).to_string();
        }
        let secs = d.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if secs != 0 && secs.is_multiple_of(size) {
                return format!("{}{unit}", secs / size);
            }
        }
        format!("{secs}s")
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_input())
    }
}

/// What a duration is, in the words of every error about one.
const DURATION_EXPECTED: &str = "a duration like \"12h\" or \"30m\" (units ms, s, m, h, d)";

impl<'de> Deserialize<'de> for HumanDuration {
    /// Text only: a bare number (`GATEHOUSE_SESSION__TTL=12`, which the environment reads as
    /// an integer, or `ttl = 12` in a file) is refused, since its unit would be a guess.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                humantime::parse_duration(text.trim())
                    .map(HumanDuration)
                    .map_err(|e| {
                        E::custom(format!(
                            "expected {DURATION_EXPECTED}, found {text:?} ({e})"
                        ))
                    })
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "expected {DURATION_EXPECTED}, found {n} (a number without a unit)"
                )))
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "expected {DURATION_EXPECTED}, found {n} (a number without a unit)"
                )))
            }

            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "expected {DURATION_EXPECTED}, found {n} (a number without a unit)"
                )))
            }

            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "expected {DURATION_EXPECTED}, found {b}"
                )))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A network written as `"10.0.0.0/8"` or `"2001:db8::/32"`; a bare address is that one
/// address (`/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network(pub IpNet);

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(|net| Network(net.trunc()))
            .map_err(|_| {
                format!(
                    "{text:?} is not a network like \"10.0.0.0/8\" or \"::1/128\", nor an address"
                )
            })
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
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

/// What a size is, in the words of every error about one.
const SIZE_EXPECTED: &str = "a size like \"16KiB\" or \"1MiB\", or a number of bytes";

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(SIZE_EXPECTED)
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                text.trim()
                    .parse::<bytesize::ByteSize>()
                    .map(|b| ByteSize(b.as_u64()))
                    .map_err(|e| {
                        E::custom(format!("expected {SIZE_EXPECTED}, found {text:?} ({e})"))
                    })
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(ByteSize(n))
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("expected {SIZE_EXPECTED}, found {n}")))
            }

            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!("expected {SIZE_EXPECTED}, found {n}")))
            }

            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Err(E::custom(format!("expected {SIZE_EXPECTED}, found {b}")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

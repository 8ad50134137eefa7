//! Checks of values that the types alone cannot make; each error names its key.

use super::{ConfigError, CookieSecure, SessionStoreKind, Settings};

impl Settings {
    /// Settings that work but weaken security: one line each, logged as warnings at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.password.bcrypt_cost < 10 {
            warnings.push(format!(
                "password.bcrypt_cost is {}, below 10: password hashes are cheap to crack; use 10 or more in production",
                self.password.bcrypt_cost
            ));
        }
        if self.session.cookie_secure == CookieSecure::Never
            && self.public_url().starts_with("https://")
        {
            warnings.push(
                "session.cookie_secure = false while server.public_url is https: browsers will \
                 also send the session cookie over plain http, where anyone on the path can \
                 read it; use \"auto\""
                    .to_string(),
            );
        }
        if self.auth.passkey_login
            && let Some((host, _)) = super::url_host_port(&self.public_url())
            && host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| !ip.is_loopback())
        {
            warnings.push(format!(
                "auth.passkey_login is on, but server.public_url names the IP address {host}: \
                 browsers accept passkeys only on a domain name, so nobody can use them; set \
                 server.public_url to a name of this server"
            ));
        }
        if let Some(domain) = self.cookie_domain()
            && !self.cookie_domain_covers_public_url(&domain)
        {
            warnings.push(format!(
                "session.cookie_domain {domain:?} does not cover the host of server.public_url \
                 {:?}: browsers will refuse the session cookie; set server.public_url to a name \
                 under {domain}",
                self.public_url()
            ));
        }
        warnings
    }

    /// `session.cookie_domain` as the cookie carries it: lower-case, without a leading dot.
    pub fn cookie_domain(&self) -> Option<String> {
        self.session
            .cookie_domain
            .as_deref()
            .map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
    }

    /// Whether the host of the public URL is `domain` or a subdomain of it.
    fn cookie_domain_covers_public_url(&self, domain: &str) -> bool {
        super::url_host_port(&self.public_url()).is_some_and(|(host, _)| {
            host == domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
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
        if crate::i18n::Lang::from_code(&self.server.default_language).is_none() {
            return Err(ConfigError::key(
                "server.default_language",
                format!(
                    "{:?} is not one of the languages {}",
                    self.server.default_language,
                    crate::i18n::LANGUAGES.join(", ")
                ),
            ));
        }
        if self.server.workers == Some(0) {
            return Err(ConfigError::key("server.workers", "must be at least 1"));
        }
        if let Some(url) = &self.server.public_url
            && (!(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10)
        {
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
            ("server.request_timeout", self.server.request_timeout),
            ("session.ttl", self.session.ttl),
            ("session.idle_timeout", self.session.idle_timeout),
            ("token.access_ttl", self.token.access_ttl),
            ("token.refresh_ttl", self.token.refresh_ttl),
            ("lockout.duration", self.lockout.duration),
            ("cache.max_staleness", self.cache.max_staleness),
            ("token.refresh_max_age", self.token.refresh_max_age),
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
        if let Some(domain) = self.cookie_domain() {
            if !super::is_host_name(&domain) || domain.parse::<std::net::IpAddr>().is_ok() {
                return Err(ConfigError::key(
                    "session.cookie_domain",
                    format!(
                        "{:?} is not a domain name like \"example.com\" (browsers take no address or port there)",
                        self.session.cookie_domain.as_deref().unwrap_or_default()
                    ),
                ));
            }
            // With an explicit public URL a mismatch is certain to break sign-in; with one
            // that follows `server.bind` it is only warned about (see `warnings`).
            if self.server.public_url.is_some() && !self.cookie_domain_covers_public_url(&domain) {
                return Err(ConfigError::key(
                    "session.cookie_domain",
                    format!(
                        "{domain:?} does not cover the host of server.public_url {:?}: browsers \
                         would refuse the session cookie",
                        self.public_url()
                    ),
                ));
            }
        }
        if let Err((key, problem)) = self.forward_auth.check() {
            return Err(ConfigError::key(&key, problem));
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
        if self.password.min_score > 4 {
            return Err(ConfigError::key(
                "password.min_score",
                format!(
                    "{} is outside 0–4 (zxcvbn's scores; 3 is the default)",
                    self.password.min_score
                ),
            ));
        }
        if !(1..=72).contains(&self.password.min_length) {
            return Err(ConfigError::key(
                "password.min_length",
                format!("{} is outside 1–72", self.password.min_length),
            ));
        }
        if self.auth.basic && !self.public_url().starts_with("https://") {
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
        if self.password.hash_threads == Some(0) {
            return Err(ConfigError::key(
                "password.hash_threads",
                "must be at least 1",
            ));
        }
        if self.password.hash_queue == Some(0) {
            return Err(ConfigError::key(
                "password.hash_queue",
                "must be at least 1",
            ));
        }
        if self.lockout.max_failures == 0 {
            return Err(ConfigError::key(
                "lockout.max_failures",
                "must be at least 1",
            ));
        }
        if self.lockout.max_registrations_per_ip == 0 {
            return Err(ConfigError::key(
                "lockout.max_registrations_per_ip",
                "must be at least 1",
            ));
        }
        if self.cache.max_staleness.0 < std::time::Duration::from_millis(10)
            || self.cache.max_staleness.0 > std::time::Duration::from_secs(3600)
        {
            return Err(ConfigError::key(
                "cache.max_staleness",
                "must be between 10ms and 1h",
            ));
        }
        for (key, cap) in [
            ("cache.tokens", self.cache.tokens),
            ("cache.users", self.cache.users),
            ("cache.sessions", self.cache.sessions),
        ] {
            if cap == 0 {
                return Err(ConfigError::key(key, "must be at least 1"));
            }
        }
        if let Some(every) = self.token.rotate_every {
            if every.0 < std::time::Duration::from_secs(60) {
                return Err(ConfigError::key(
                    "token.rotate_every",
                    "must be at least 1m (or left out to rotate only by command)",
                ));
            }
            if every.0 <= self.token.key_publish_delay.0 {
                return Err(ConfigError::key(
                    "token.rotate_every",
                    "must be longer than token.key_publish_delay, or a key would be replaced \
                     before it signs",
                ));
            }
        }
        if self.server.log_level.trim().is_empty() {
            return Err(ConfigError::key(
                "server.log_level",
                "must not be empty (e.g. \"info\" or \"warn,gatehouse=debug\")",
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.server.log_level) {
            return Err(ConfigError::key(
                "server.log_level",
                format!(
                    "{:?} is not a log filter such as \"info\" or \"warn,gatehouse=debug\" ({e})",
                    self.server.log_level
                ),
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
}

//! Prometheus metrics (SPEC §10), served as text at `/metrics`: requests by route and status,
//! latency, logins, lockouts, tokens issued, refresh-token reuse, configuration reloads,
//! second factors and passkeys.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The caches counted in `cache_lookups_total` (a fixed label set).
pub const CACHES: [&str; 4] = ["tokens", "users", "families", "sessions"];

/// Every metric of one server; cheap to share behind `AppState`.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub logins: IntCounterVec,
    pub lockouts: IntCounter,
    pub tokens_issued: IntCounter,
    pub refresh_reuse: IntCounter,
    /// bcrypt checks run for sign-ins, padding included (each failed sign-in costs at least
    /// one check at the configured cost).
    pub password_checks: IntCounter,
    /// Lookups in the request-path caches (`tokens`, `users`, `families`, `sessions`) by
    /// result (`hit`, or `miss`: read from the database or store).
    pub cache_lookups: IntCounterVec,
    /// Configuration reloads by result (`ok`, or `error`: the configuration in force was kept).
    pub config_reloads: IntCounterVec,
    /// Second-factor checks by factor ([`FACTORS`]) and result (`ok`, `failed`).
    pub second_factor: IntCounterVec,
    /// Second factors enrolled (TOTP confirmed).
    pub mfa_enrolments: IntCounter,
    /// Second factors removed, by whom (`user`, `admin`).
    pub mfa_removals: IntCounterVec,
    /// Recovery codes used to sign in.
    pub recovery_codes_used: IntCounter,
    /// Passkeys registered.
    pub passkey_registrations: IntCounter,
    /// Passkeys removed by their user (an admin's reset counts in `mfa_removals`).
    pub passkey_removals: IntCounter,
    /// Username-less passkey sign-ins (`auth.passkey_login`) by result (`ok`, `failed`).
    pub passkey_sign_ins: IntCounterVec,
    /// Passkey ceremonies refused because their owner had too many outstanding.
    pub passkey_challenges_refused: IntCounter,
    /// Forward-auth answers by result (`allowed`, `bypass`, `anonymous`, `denied`), and
    /// denials by host: the host pattern of the rule that denied, or `other` for the default
    /// policy (a label from the configuration, never a header).
    pub forward_auth: IntCounterVec,
    pub forward_auth_denied: IntCounterVec,
    /// The `forward_auth` counters of each result, looked up once: a check is on a hot path,
    /// and a label lookup hashes and locks on every request.
    pub forward_auth_results: ForwardAuthResults,
    /// OpenID Connect provider events, by event (one of [`OIDC_EVENTS`]).
    pub oidc_events: IntCounterVec,
}

/// The children of `gatehouse_forward_auth_total`, one per result.
pub struct ForwardAuthResults {
    pub allowed: IntCounter,
    pub bypass: IntCounter,
    pub anonymous: IntCounter,
    pub denied: IntCounter,
}

/// The second factors counted in `second_factor_total` (a fixed label set).
/// The events of the OpenID Connect provider, the label values of `oidc_events_total`.
pub const OIDC_EVENTS: [&str; 8] = [
    "code_issued",
    "code_exchanged",
    "code_refused",
    "code_replayed",
    "client_auth_failed",
    "client_auth_locked",
    "consent_denied",
    "authorize_refused",
];

pub const FACTORS: [&str; 3] = ["totp", "recovery_code", "passkey"];

/// The hit and miss counters of one cache.
#[derive(Clone)]
pub struct Lookups {
    pub hit: IntCounter,
    pub miss: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("gatehouse".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let http_latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new(
                "logins_total",
                "Password checks by result (ok, failed, locked)",
            ),
            &["result"],
        )?;
        let lockouts = IntCounter::new("lockouts_total", "Locks set on a username or client IP")?;
        let tokens_issued = IntCounter::new("tokens_issued_total", "Access tokens issued")?;
        let refresh_reuse = IntCounter::new(
            "refresh_token_reuse_total",
            "Refresh tokens presented again after use (family revoked)",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_latency.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(lockouts.clone()))?;
        registry.register(Box::new(tokens_issued.clone()))?;
        let password_checks = IntCounter::new(
            "password_checks_total",
            "bcrypt checks run for sign-ins, padding of cheaper stored hashes included",
        )?;
        registry.register(Box::new(refresh_reuse.clone()))?;
        registry.register(Box::new(password_checks.clone()))?;
        let cache_lookups = IntCounterVec::new(
            Opts::new(
                "cache_lookups_total",
                "Lookups in the request-path caches by cache and result (hit, miss)",
            ),
            &["cache", "result"],
        )?;
        registry.register(Box::new(cache_lookups.clone()))?;
        for cache in CACHES {
            for result in ["hit", "miss"] {
                cache_lookups.with_label_values(&[cache, result]);
            }
        }
        let config_reloads = IntCounterVec::new(
            Opts::new(
                "config_reload_total",
                "Configuration reloads by result (ok; error: the configuration in force was kept)",
            ),
            &["result"],
        )?;
        registry.register(Box::new(config_reloads.clone()))?;
        // Show every login and reload result from the start, so that dashboards see zeros,
        // not gaps.
        for result in ["ok", "failed", "locked"] {
            logins.with_label_values(&[result]);
        }
        for result in ["ok", "error"] {
            config_reloads.with_label_values(&[result]);
        }
        let second_factor = IntCounterVec::new(
            Opts::new(
                "second_factor_total",
                "Second-factor checks by factor (totp, recovery_code, passkey) and result (ok, failed)",
            ),
            &["factor", "result"],
        )?;
        let mfa_enrolments = IntCounter::new(
            "mfa_enrolments_total",
            "Second factors enrolled (TOTP confirmed)",
        )?;
        let mfa_removals = IntCounterVec::new(
            Opts::new(
                "mfa_removals_total",
                "Second factors removed, by whom (user, admin)",
            ),
            &["by"],
        )?;
        let recovery_codes_used = IntCounter::new(
            "recovery_codes_used_total",
            "Recovery codes used to sign in",
        )?;
        registry.register(Box::new(second_factor.clone()))?;
        registry.register(Box::new(mfa_enrolments.clone()))?;
        registry.register(Box::new(mfa_removals.clone()))?;
        registry.register(Box::new(recovery_codes_used.clone()))?;
        for factor in FACTORS {
            for result in ["ok", "failed"] {
                second_factor.with_label_values(&[factor, result]);
            }
        }
        for by in ["user", "admin"] {
            mfa_removals.with_label_values(&[by]);
        }
        let passkey_registrations =
            IntCounter::new("passkey_registrations_total", "Passkeys registered")?;
        let passkey_removals = IntCounter::new(
            "passkey_removals_total",
            "Passkeys removed by their user (admin resets count in mfa_removals_total)",
        )?;
        let passkey_sign_ins = IntCounterVec::new(
            Opts::new(
                "passkey_sign_ins_total",
                "Username-less passkey sign-ins by result (ok, failed)",
            ),
            &["result"],
        )?;
        let passkey_challenges_refused = IntCounter::new(
            "passkey_challenges_refused_total",
            "Passkey ceremonies refused: their owner (user, pending sign-in, client address) had too many outstanding",
        )?;
        registry.register(Box::new(passkey_registrations.clone()))?;
        registry.register(Box::new(passkey_removals.clone()))?;
        registry.register(Box::new(passkey_sign_ins.clone()))?;
        registry.register(Box::new(passkey_challenges_refused.clone()))?;
        for result in ["ok", "failed"] {
            passkey_sign_ins.with_label_values(&[result]);
        }
        let forward_auth = IntCounterVec::new(
            Opts::new(
                "forward_auth_total",
                "Forward-auth checks by result (allowed, bypass, anonymous, denied)",
            ),
            &["result"],
        )?;
        let forward_auth_denied = IntCounterVec::new(
            Opts::new(
                "forward_auth_denied_total",
                "Forward-auth denials (403) by host: the host pattern of the rule that denied, or other",
            ),
            &["host"],
        )?;
        registry.register(Box::new(forward_auth.clone()))?;
        registry.register(Box::new(forward_auth_denied.clone()))?;
        let forward_auth_results = ForwardAuthResults {
            allowed: forward_auth.with_label_values(&["allowed"]),
            bypass: forward_auth.with_label_values(&["bypass"]),
            anonymous: forward_auth.with_label_values(&["anonymous"]),
            denied: forward_auth.with_label_values(&["denied"]),
        };
        let oidc_events = IntCounterVec::new(
            Opts::new(
                "oidc_events_total",
                "OpenID Connect provider events: authorization codes issued, exchanged, refused and replayed; client authentication failures and locks; consents denied; authorization requests refused",
            ),
            &["event"],
        )?;
        registry.register(Box::new(oidc_events.clone()))?;
        for event in OIDC_EVENTS {
            oidc_events.with_label_values(&[event]);
        }
        Ok(Self {
            registry,
            http_requests,
            http_latency,
            logins,
            lockouts,
            tokens_issued,
            refresh_reuse,
            password_checks,
            cache_lookups,
            config_reloads,
            second_factor,
            mfa_enrolments,
            mfa_removals,
            recovery_codes_used,
            passkey_registrations,
            passkey_removals,
            passkey_sign_ins,
            passkey_challenges_refused,
            forward_auth,
            forward_auth_denied,
            forward_auth_results,
            oidc_events,
        })
    }

    /// The counters of `cache`, one of [`CACHES`].
    pub fn lookups(&self, cache: &'static str) -> Lookups {
        debug_assert!(CACHES.contains(&cache));
        Lookups {
            hit: self.cache_lookups.with_label_values(&[cache, "hit"]),
            miss: self.cache_lookups.with_label_values(&[cache, "miss"]),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = ?e, "could not encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

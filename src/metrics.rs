//! Prometheus metrics (SPEC §10), served as text at `/metrics`: requests by route and status,
//! latency, logins, lockouts, tokens issued and refresh-token reuse.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

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
        // Show every login result from the start, so that dashboards see zeros, not gaps.
        for result in ["ok", "failed", "locked"] {
            logins.with_label_values(&[result]);
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
        })
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

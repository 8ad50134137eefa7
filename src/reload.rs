//! Configuration reload without restart (SPEC §10): on SIGHUP, and when `server.watch_config`
//! is on, when the configuration file changes on disk.
//!
//! A reload reads the same source as start-up did (the file `Settings::config_file` names, or
//! none, then the environment), validates the whole new configuration, and puts it in force for
//! the requests that start afterwards: routes, guards and the authentication chain read the
//! configuration per request, and the parts that keep a value of their own (the lockout limits,
//! the bcrypt cost, the session lifetimes, the cache caps, the log filter) are given the new one
//! first. Keys captured when the server was built ([`FIXED_KEYS`]: the listener, workers,
//! pools, stores, key material, cookie middleware) keep their running values; the ones a new
//! file changes are named in one warning. An invalid configuration changes nothing. Each reload
//! is counted in `gatehouse_config_reload_total{result}`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::web;
use sha2::{Digest, Sha256};

use crate::auth::password::Cost;
use crate::config::{ConfigError, Settings};
use crate::state::AppState;

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// Keys now in force with a new value.
    pub applied: Vec<String>,
    /// Keys the new configuration changed that cannot change while the server runs: their
    /// running values were kept.
    pub kept: Vec<&'static str>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new configuration is invalid (the message names the key, and the file when the
    /// problem is in it).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The reload itself failed (a blocking task, the bcrypt cost's dummy hash).
    #[error("{0}")]
    Failed(String),
}

macro_rules! fixed_keys {
    ($($section:ident . $key:ident),+ $(,)?) => {
        /// Keys captured when the server was built, which a reload cannot change: the listener
        /// and its workers (`server.bind`, `server.workers`, `server.request_timeout`, the body
        /// limit of the form and payload extractors), what was derived from the public URL (the
        /// `Secure` cookie, HSTS, the token issuer), the data directory, the database pool, the
        /// session store and its cookie middleware, the token signing keys and their
        /// validation, the bcrypt pool's threads and queue, the change feed's poll interval and
        /// the master secret.
        pub const FIXED_KEYS: &[&str] = &[
            $(concat!(stringify!($section), ".", stringify!($key))),+
        ];

        /// Gives every fixed key of `new` its running value; returns those that differed.
        fn keep_fixed(new: &mut Settings, running: &Settings) -> Vec<&'static str> {
            let mut kept = Vec::new();
            $(
                if new.$section.$key != running.$section.$key {
                    new.$section.$key = running.$section.$key.clone();
                    kept.push(concat!(stringify!($section), ".", stringify!($key)));
                }
            )+
            kept
        }
    };
}

fixed_keys!(
    server.bind,
    server.workers,
    server.public_url,
    server.data_dir,
    server.max_body,
    server.request_timeout,
    database.url,
    database.pool_size,
    session.store,
    session.redis_url,
    session.cookie_name,
    session.cookie_secure,
    session.cookie_domain,
    token.secret_file,
    token.private_key_file,
    token.public_key_file,
    password.hash_threads,
    password.hash_queue,
    cache.max_staleness,
    keys.master_secret_file,
);

/// Keys a reload puts in force. Every key of [`Settings`] is in exactly one of this list and
/// [`FIXED_KEYS`] (a unit test checks it), so a new key must be placed.
pub const LIVE_KEYS: &[&str] = &[
    "server.metrics_allow",
    "server.trusted_proxies",
    "server.client_ip_header",
    "server.watch_config",
    "server.log_level",
    "server.default_language",
    "auth.mode",
    "auth.basic",
    "auth.registration",
    "auth.require_mfa",
    "auth.passkey_login",
    "session.ttl",
    "session.idle_timeout",
    "token.algorithm",
    "token.issuer",
    "token.audience",
    "token.access_ttl",
    "token.leeway",
    "token.key_publish_delay",
    "token.rotate_every",
    "token.refresh_ttl",
    "token.refresh_max_age",
    "oidc.id_token_algorithm",
    "password.bcrypt_cost",
    "password.min_length",
    "password.min_score",
    "lockout.max_failures",
    "lockout.max_failures_per_ip",
    "lockout.duration",
    "lockout.max_registrations_per_ip",
    "cache.tokens",
    "cache.users",
    "cache.sessions",
    "forward_auth.domains",
    "forward_auth.default_policy",
    "forward_auth.rules",
];

/// Reads, validates and puts in force the configuration from the source the server started
/// with; logs and counts the outcome. On error the configuration in force is unchanged.
pub async fn reload(state: &AppState) -> Result<ReloadOutcome, ReloadError> {
    let _one_at_a_time = state.reload.one_at_a_time().await;
    let source = state.config().source();
    let result = attempt(state).await;
    match &result {
        Ok(outcome) => {
            state
                .metrics
                .config_reloads
                .with_label_values(&["ok"])
                .inc();
            if !outcome.kept.is_empty() {
                tracing::warn!(
                    keys = %outcome.kept.join(", "),
                    source = %source,
                    "configuration reloaded, but these keys cannot change while the server runs and keep their running values (restart to apply them)"
                );
            }
            tracing::info!(
                changed = %outcome.applied.join(", "),
                source = %source,
                "configuration reloaded"
            );
        }
        Err(e) => {
            state
                .metrics
                .config_reloads
                .with_label_values(&["error"])
                .inc();
            tracing::error!(
                source = %source,
                "configuration not reloaded, the one in force is kept: {e}"
            );
        }
    }
    result
}

async fn attempt(state: &AppState) -> Result<ReloadOutcome, ReloadError> {
    let running = state.config();
    let file = running.config_file.clone();
    let mut new = blocking(move || Settings::load_from(file)).await??;
    match state.reload.bound() {
        // As at start-up: an unset public URL follows the address actually bound.
        // (An explicit one on another port was warned about at start-up, and is fixed.)
        Some(bound) => {
            let _ = new.follow_bound_address(bound);
        }
        None if new.server.public_url.is_none() => {
            new.server.public_url = running.server.public_url.clone();
        }
        None => {}
    }
    let kept = keep_fixed(&mut new, &running);
    // Validated again as it will be in force (with the running values of the fixed keys):
    // `auth.basic`, for one, depends on `server.bind` and `server.public_url`.
    new.validate()?;
    let applied = changed_keys(&running, &new);

    // What can fail is done before anything changes.
    let cost = if new.password.bcrypt_cost == state.auth.hasher.cost() {
        None
    } else {
        let cost = new.password.bcrypt_cost;
        Some(
            blocking(move || Cost::new(cost))
                .await?
                .map_err(|e| ReloadError::Failed(format!("password.bcrypt_cost: {e}")))?,
        )
    };

    // A new `token.algorithm` is a rotation to a key of it (made, and committed, before the
    // rest: a reload that cannot reach the database changes nothing).
    let keys = state.auth.keys.handle();
    let ensure = new.clone();
    blocking(move || keys.ensure_algorithm(&ensure))
        .await?
        .map_err(|e| ReloadError::Failed(format!("token.algorithm: {e}")))?;

    state.auth.keys.jwt().reconfigure(&new);
    state.auth.keys.id_jwt().reconfigure(&new);
    state.auth.lockout.set(&new.lockout);
    if let Some(cost) = cost {
        state.auth.hasher.set_cost(cost);
    }
    state
        .sessions
        .set_lifetimes(new.session.ttl.0, new.session.idle_timeout.0);
    state.auth.caches.resize(&new.cache);
    state.sessions.resize_cache(new.cache.sessions);
    // `RUST_LOG` wins at start-up; a reload replaces the filter only when `server.log_level`
    // itself changed, so an unchanged file leaves an operator's `RUST_LOG` in force.
    if new.server.log_level != running.server.log_level
        && let Err(e) = crate::telemetry::set_log_filter(&new.server.log_level)
    {
        tracing::warn!(error = %e, "server.log_level could not be applied");
    }
    new.admin_password = running.admin_password.clone();
    state.replace_config(new);
    state.reload.record(chrono::Utc::now());
    Ok(ReloadOutcome { applied, kept })
}

/// Every key of `settings` as `section.key` with its value (None as null).
fn flattened(settings: &Settings) -> BTreeMap<String, serde_json::Value> {
    let mut keys = BTreeMap::new();
    if let Ok(serde_json::Value::Object(sections)) = serde_json::to_value(settings) {
        for (section, values) in sections {
            if let serde_json::Value::Object(values) = values {
                for (key, value) in values {
                    keys.insert(format!("{section}.{key}"), value);
                }
            }
        }
    }
    keys
}

/// The keys whose value differs between `old` and `new`.
fn changed_keys(old: &Settings, new: &Settings) -> Vec<String> {
    let (old, new) = (flattened(old), flattened(new));
    new.into_iter()
        .filter(|(key, value)| old.get(key) != Some(value))
        .map(|(key, _)| key)
        .collect()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReloadError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ReloadError::Failed(format!("reload task failed: {e}")))
}

/// Starts what reloads the configuration of a built server: the SIGHUP listener, and the file
/// watcher when the configuration came from a file. `bound` is the address the server listens
/// on. Called by `Application::build`.
pub fn spawn(state: &web::Data<AppState>, bound: SocketAddr) {
    state.reload.set_bound(bound);
    let weak = Arc::downgrade(&state.clone().into_inner());
    listen_for_hangups(weak.clone());
    if let Some(path) = state.config().config_file.clone() {
        tokio::spawn(watch(weak, path));
    }
}

/// Reloads on every SIGHUP. The handler is installed here, before the server serves, so a
/// SIGHUP that arrives once it answers never meets the default action (ending the process).
fn listen_for_hangups(weak: Weak<AppState>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; the configuration will not reload on it");
            return;
        }
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(state) = weak.upgrade() else { return };
            tracing::info!("SIGHUP: reloading the configuration");
            // Logged and counted by `reload`.
            let _ = reload(&state).await;
        }
    });
}

/// How often the file is looked at when `server.watch_config` is on.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Reloads when the content of `path` has changed and `server.watch_config` is on (the value
/// in force, so a reload can turn watching on or off).
///
/// Why polling, not inotify (the `notify` crate): reading a small file once a second costs
/// nothing measurable, needs no dependency or extra thread, works where file events do not
/// arrive (network file systems, some container bind mounts), and follows the path rather
/// than an inode, so an editor that writes a new file and renames it over the old one (vim,
/// `sed -i`, most deployment tools) is seen like any other change. The content's hash is
/// compared, so a `touch` reloads nothing; a change is acted on once it has held for one
/// interval, so a file caught half-written is not reloaded (and counted as an error) on the
/// way; a missing file (between an editor's delete and create) is waited out.
async fn watch(weak: Weak<AppState>, path: PathBuf) {
    let mut in_force = fingerprint_of(&path).await;
    let mut pending = None;
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let Some(state) = weak.upgrade() else { return };
        let Some(now) = fingerprint_of(&path).await else {
            continue;
        };
        if Some(now) == in_force {
            pending = None;
            continue;
        }
        if pending != Some(now) {
            pending = Some(now);
            continue;
        }
        in_force = Some(now);
        pending = None;
        if state.current_config().server.watch_config {
            tracing::info!(path = %path.display(), "configuration file changed: reloading");
            // Logged and counted by `reload`.
            let _ = reload(&state).await;
        }
    }
}

/// The SHA-256 of the file's content, or `None` when it cannot be read.
async fn fingerprint_of(path: &Path) -> Option<[u8; 32]> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::read(path).ok())
        .await
        .ok()
        .flatten()
        .map(|content| Sha256::digest(content).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_either_fixed_or_live() {
        let keys: Vec<String> = flattened(&Settings::default()).into_keys().collect();

        let unplaced: Vec<&String> = keys
            .iter()
            .filter(|k| !FIXED_KEYS.contains(&k.as_str()) && !LIVE_KEYS.contains(&k.as_str()))
            .collect();
        let both: Vec<&&str> = FIXED_KEYS
            .iter()
            .filter(|k| LIVE_KEYS.contains(k))
            .collect();
        let unknown: Vec<&&str> = FIXED_KEYS
            .iter()
            .chain(LIVE_KEYS)
            .filter(|k| !keys.iter().any(|key| key == *k))
            .collect();

        assert!(unplaced.is_empty(), "neither fixed nor live: {unplaced:?}");
        assert!(both.is_empty(), "both fixed and live: {both:?}");
        assert!(unknown.is_empty(), "not keys: {unknown:?}");
    }

    #[test]
    fn a_configuration_read_back_unchanged_changes_no_key() {
        let running = Settings::default();

        let again = Settings::from_toml_str(&running.to_redacted_toml()).unwrap();

        assert_eq!(changed_keys(&running, &again), Vec::<String>::new());
    }

    #[test]
    fn fixed_keys_keep_their_running_values_and_are_named() {
        let running = Settings::default();
        let mut new = Settings::default();
        new.server.bind = "127.0.0.1:9999".into();
        new.database.url = "sqlite://./elsewhere.db".into();
        new.session.cookie_name = "other".into();
        new.auth.registration = true;

        let kept = keep_fixed(&mut new, &running);

        assert_eq!(kept, ["server.bind", "database.url", "session.cookie_name"]);
        assert_eq!(new.server.bind, running.server.bind);
        assert_eq!(new.database.url, running.database.url);
        assert_eq!(new.session.cookie_name, running.session.cookie_name);
        assert!(new.auth.registration, "a live key is left alone");
        assert_eq!(changed_keys(&running, &new), ["auth.registration"]);
    }
}

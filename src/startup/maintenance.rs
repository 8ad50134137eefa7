//! The background purge: expired sessions, long-expired refresh tokens (kept one more
//! `refresh_ttl` so that a revoked family stays recognisable), stale failure counters, pending
//! second steps an hour past their expiry, expired passkey ceremonies, and change-feed rows
//! older than [`FEED_RETENTION`].

use std::time::Duration;

use actix_web::web;

use crate::db::{
    changes, passkey_challenges, password_resets, pending_logins, refresh_tokens, sign_in_stats,
};
use crate::domain::clock::{chrono_duration, now};
use crate::error::Failure;
use crate::state::AppState;

/// How long change-feed rows are kept: far longer than any `cache.max_staleness`, so a running
/// instance always finds the rows after the last one it read (one that has not read the feed
/// for that long stopped trusting its caches long ago, and flushes them when it reads again).
pub const FEED_RETENTION: Duration = Duration::from_secs(3600);

/// How often expired rows are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);

/// How often the key store's states are recorded and a due rotation is made: well under the
/// shortest `token.rotate_every` (1 minute).
const KEY_INTERVAL: Duration = Duration::from_secs(15);

pub fn spawn_maintenance(state: web::Data<AppState>) {
    let keys_state = state.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(KEY_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let state = keys_state.clone();
            let done = web::block(move || state.auth.keys.maintain(&state.config())).await;
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "key store maintenance failed"),
                Err(e) => tracing::warn!(error = %e, "key store maintenance did not run"),
            }
        }
    });
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PURGE_INTERVAL);
        loop {
            interval.tick().await;
            if let Err(e) = purge(&state).await {
                tracing::warn!(error = ?e, "could not purge expired rows");
            }
        }
    });
}

async fn purge(state: &AppState) -> Result<(), Failure> {
    state
        .sessions
        .purge_expired()
        .await
        .map_err(|e| Failure::Unexpected(e.context("purging expired sessions")))?;
    let refresh_ttl = chrono_duration(state.config().token.refresh_ttl.0);
    let lockout = state.auth.lockout.clone();
    state
        .db
        .run(move |conn| -> Result<(), Failure> {
            let before = now()
                .checked_sub_signed(refresh_ttl)
                .unwrap_or(chrono::NaiveDateTime::MIN);
            refresh_tokens::purge_expired(conn, before)?;
            lockout.purge(conn)?;
            // Pending second steps stay an hour past their 5 minutes, so that a late
            // completion is told apart from an unknown token (and counted against its user).
            pending_logins::purge(conn, now() - chrono::Duration::hours(1))?;
            // Passkey ceremonies go as soon as they expire: nothing counts them afterwards.
            passkey_challenges::purge(conn, now())?;
            // Authorization codes stay an hour past their 60 seconds, so that a replay within
            // that hour is still recognised (and revokes what the code issued).
            crate::db::oidc_codes::purge_expired(conn, now() - chrono::Duration::hours(1))?;
            changes::purge_before(conn, now() - chrono_duration(FEED_RETENTION))?;
            // Reset links are refused once expired; the row lingers a day for nothing else.
            password_resets::purge(conn, now() - chrono::Duration::days(1))?;
            // The admin overview charts the last 24 hours; a week is kept.
            sign_in_stats::purge(conn, now() - chrono::Duration::days(7))?;
            Ok(())
        })
        .await
}

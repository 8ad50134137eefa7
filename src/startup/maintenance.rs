//! The background purge: expired sessions, long-expired refresh tokens (kept one more
//! `refresh_ttl` so that a revoked family stays recognisable), stale failure counters.

use std::time::Duration;

use actix_web::web;

use crate::db::refresh_tokens;
use crate::domain::clock::{chrono_duration, now};
use crate::error::Failure;
use crate::state::AppState;

/// How often expired rows are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);

pub fn spawn_maintenance(state: web::Data<AppState>) {
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
            Ok(())
        })
        .await
}

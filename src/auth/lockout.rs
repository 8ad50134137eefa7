//! Failed-login throttling (SPEC §8): counters per username (existing or not) and per client
//! IP, kept in the database so that they hold across restarts and instances.

use chrono::NaiveDateTime;

use crate::config::LockoutSettings;
use crate::db::login_failures::{self, Kind};
use crate::db::{AnyConnection, DbError, write_transaction};
use crate::domain::clock::{chrono_duration, now};
use crate::http::client_ip::ClientAddr;

/// Longest username key kept (longer input cannot be a valid username anyway).
const MAX_SUBJECT_CHARS: usize = 128;

#[derive(Debug, Clone)]
pub struct Lockout {
    max_per_user: u32,
    max_per_ip: u32,
    window: chrono::Duration,
}

/// The counter key of a typed username: lower-cased, so that case games share one counter,
/// with control characters replaced (PostgreSQL text cannot hold NUL).
pub fn user_subject(username: &str) -> String {
    username
        .chars()
        .take(MAX_SUBJECT_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect::<String>()
        .to_lowercase()
}

fn seconds_until(until: NaiveDateTime, now: NaiveDateTime) -> u64 {
    let millis = u64::try_from((until - now).num_milliseconds()).unwrap_or(0);
    millis.div_ceil(1000).max(1)
}

impl Lockout {
    pub fn new(settings: &LockoutSettings) -> Self {
        Self {
            max_per_user: settings.max_failures,
            max_per_ip: settings.max_failures_per_ip,
            window: chrono_duration(settings.duration.0),
        }
    }

    /// Seconds until the username or the IP may try again, if either is locked.
    pub fn retry_after(
        &self,
        conn: &mut AnyConnection,
        user: &str,
        ip: ClientAddr,
    ) -> Result<Option<u64>, DbError> {
        let now = now();
        let ip = ip.lockout_key();
        let until =
            login_failures::locked_until(conn, &[(Kind::User, user), (Kind::Ip, &ip)], now)?;
        Ok(until.map(|u| seconds_until(u, now)))
    }

    /// Counts a failure against the username and the IP; true when it set a new lock.
    pub fn record_failure(
        &self,
        conn: &mut AnyConnection,
        user: &str,
        ip: ClientAddr,
    ) -> Result<bool, DbError> {
        let ip = ip.lockout_key();
        write_transaction(conn, |conn| {
            let now = now();
            let user_lock = login_failures::record_failure(
                conn,
                Kind::User,
                user,
                self.max_per_user,
                self.window,
                now,
            )?;
            let ip_lock = login_failures::record_failure(
                conn,
                Kind::Ip,
                &ip,
                self.max_per_ip,
                self.window,
                now,
            )?;
            Ok(user_lock.is_some() || ip_lock.is_some())
        })
    }

    /// A successful login resets the username's count (not the IP's: one good account must
    /// not let an address keep guessing others).
    pub fn record_success(&self, conn: &mut AnyConnection, user: &str) -> Result<(), DbError> {
        login_failures::clear(conn, Kind::User, user)?;
        Ok(())
    }

    /// Deletes counters that no longer matter.
    pub fn purge(&self, conn: &mut AnyConnection) -> Result<usize, DbError> {
        Ok(login_failures::purge(conn, self.window, now())?)
    }
}

/// Lifts the lock and count of a username (CLI `user unlock`, admin page).
pub fn unlock_user(conn: &mut AnyConnection, username: &str) -> Result<bool, DbError> {
    Ok(login_failures::clear(conn, Kind::User, &user_subject(username))? > 0)
}

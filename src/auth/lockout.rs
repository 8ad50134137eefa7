//! Failed-login throttling (SPEC §8): counters per username (existing or not), per client
//! address, and of registrations per client address, kept in the database so that they hold
//! across restarts and instances.
//!
//! A try is reserved (counted) before the password is checked, so a burst of concurrent
//! guesses can never run more checks than the limits allow; a successful sign-in then clears
//! the username's count and gives its reservation of the address back (successful sign-ins never
//! count toward the per-address limit, or people behind one NAT would lock each other out).

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::NaiveDateTime;

use crate::config::LockoutSettings;
use crate::db::login_failures::{self, Kind, Reservation};
use crate::db::{AnyConnection, DbError, write_transaction};
use crate::domain::clock::{chrono_duration, now};

/// Longest username key kept (longer input cannot be a valid username anyway).
const MAX_SUBJECT_CHARS: usize = 128;

/// The throttle; cheap to clone, and every clone shares the limits in force.
#[derive(Debug, Clone)]
pub struct Lockout {
    /// `lockout.*` in force: replaced whole by [`Lockout::set`] (a configuration reload).
    limits: Arc<ArcSwap<Limits>>,
}

#[derive(Debug)]
struct Limits {
    max_per_user: u32,
    max_per_ip: u32,
    max_registrations_per_ip: u32,
    window: chrono::Duration,
}

impl Limits {
    fn of(settings: &LockoutSettings) -> Self {
        Self {
            max_per_user: settings.max_failures,
            max_per_ip: settings.max_failures_per_ip,
            max_registrations_per_ip: settings.max_registrations_per_ip,
            window: chrono_duration(settings.duration.0),
        }
    }
}

/// A reserved try: it counts as a failure unless [`Lockout::succeeded`] or
/// [`Lockout::cancel`] gives it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// This try reached a limit and set a lock (counted in the lockout metric when it fails).
    pub locks: bool,
}

/// Why a try was not reserved.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("locked; retry in {retry_after} s")]
    Locked { retry_after: u64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for Refused {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
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
            limits: Arc::new(ArcSwap::from_pointee(Limits::of(settings))),
        }
    }

    /// Puts new limits in force for the tries reserved from now on (every clone sees them).
    pub fn set(&self, settings: &LockoutSettings) {
        self.limits.store(Arc::new(Limits::of(settings)));
    }

    fn reserve_one(
        conn: &mut AnyConnection,
        kind: Kind,
        subject: &str,
        (max, window): (u32, chrono::Duration),
        now: NaiveDateTime,
    ) -> Result<bool, Refused> {
        match login_failures::reserve(conn, kind, subject, max, window, now)? {
            Reservation::Reserved { locks } => Ok(locks),
            Reservation::Locked { until } => Err(Refused::Locked {
                retry_after: seconds_until(until, now),
            }),
        }
    }

    /// Reserves a sign-in try for the username and the client address, in one transaction:
    /// refused (and nothing counted) when either is locked.
    pub fn reserve(
        &self,
        conn: &mut AnyConnection,
        user: &str,
        ip: &str,
    ) -> Result<Attempt, Refused> {
        let limits = self.limits.load();
        write_transaction(conn, |conn| {
            let now = now();
            let user_locks = Self::reserve_one(
                conn,
                Kind::User,
                user,
                (limits.max_per_user, limits.window),
                now,
            )?;
            let ip_locks =
                Self::reserve_one(conn, Kind::Ip, ip, (limits.max_per_ip, limits.window), now)?;
            Ok(Attempt {
                locks: user_locks || ip_locks,
            })
        })
    }

    /// Reserves a try for the client address alone (a second step whose user is unknown: an
    /// unknown `mfa_token`), refused when the address is locked.
    pub fn reserve_ip(&self, conn: &mut AnyConnection, ip: &str) -> Result<Attempt, Refused> {
        let limits = self.limits.load();
        write_transaction(conn, |conn| {
            let locks = Self::reserve_one(
                conn,
                Kind::Ip,
                ip,
                (limits.max_per_ip, limits.window),
                now(),
            )?;
            Ok(Attempt { locks })
        })
    }

    /// Gives back a try reserved by [`Lockout::reserve_ip`].
    pub fn cancel_ip(&self, conn: &mut AnyConnection, ip: &str) -> Result<(), DbError> {
        let limits = self.limits.load();
        Ok(login_failures::release(
            conn,
            Kind::Ip,
            ip,
            limits.max_per_ip,
        )?)
    }

    /// The try succeeded: the username's count is cleared (not the address's: one good
    /// account must not let an address keep guessing others), and the address's reservation
    /// is given back.
    pub fn succeeded(&self, conn: &mut AnyConnection, user: &str, ip: &str) -> Result<(), DbError> {
        let limits = self.limits.load();
        write_transaction(conn, |conn| {
            login_failures::clear(conn, Kind::User, user)?;
            login_failures::release(conn, Kind::Ip, ip, limits.max_per_ip)?;
            Ok(())
        })
    }

    /// The try could not be checked at all (the hashing queue was full), or was a correct
    /// password whose sign-in still waits for a second factor (only a completed sign-in clears
    /// the username's count): both reservations are given back.
    pub fn cancel(&self, conn: &mut AnyConnection, user: &str, ip: &str) -> Result<(), DbError> {
        let limits = self.limits.load();
        write_transaction(conn, |conn| {
            login_failures::release(conn, Kind::User, user, limits.max_per_user)?;
            login_failures::release(conn, Kind::Ip, ip, limits.max_per_ip)?;
            Ok(())
        })
    }

    /// Counts a registration attempt from the client address, whatever its outcome; refused
    /// past `lockout.max_registrations_per_ip` within `lockout.duration`.
    pub fn reserve_registration(&self, conn: &mut AnyConnection, ip: &str) -> Result<(), Refused> {
        let limits = self.limits.load();
        write_transaction(conn, |conn| {
            let now = now();
            Self::reserve_one(
                conn,
                Kind::Registration,
                ip,
                (limits.max_registrations_per_ip, limits.window),
                now,
            )
            .map(|_| ())
        })
    }

    /// Seconds until the username or the address may try again, if either is locked.
    pub fn retry_after(
        &self,
        conn: &mut AnyConnection,
        user: &str,
        ip: &str,
    ) -> Result<Option<u64>, DbError> {
        let now = now();
        let until = login_failures::locked_until(conn, &[(Kind::User, user), (Kind::Ip, ip)], now)?;
        Ok(until.map(|u| seconds_until(u, now)))
    }

    /// Deletes counters that no longer matter.
    pub fn purge(&self, conn: &mut AnyConnection) -> Result<usize, DbError> {
        Ok(login_failures::purge(
            conn,
            self.limits.load().window,
            now(),
        )?)
    }
}

/// Lifts the lock and count of a username (CLI `user unlock`, admin page).
pub fn unlock_user(conn: &mut AnyConnection, username: &str) -> Result<bool, DbError> {
    Ok(login_failures::clear(conn, Kind::User, &user_subject(username))? > 0)
}

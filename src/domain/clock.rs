//! The crate's clock: timestamps as both database backends store them.

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time as stored in the database: naive UTC, cut to the microseconds that
/// both backends keep, so a value read back compares equal to the one written.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// `t` as Unix microseconds (the resolution of stored timestamps).
pub fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

/// Unix microseconds back to a timestamp (the epoch for values out of range).
pub fn from_micros(m: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_micros(m)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

/// A std duration as a chrono one, saturating (config durations can be huge).
pub fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

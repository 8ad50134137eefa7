//! Functions over the `login_failures` table: atomic counters that hold across instances.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::AnyConnection;
use super::schema::login_failures as lf;

/// What a counter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Failed sign-ins of a (lower-cased) username, existing or not.
    User,
    /// Failed sign-ins from a client address.
    Ip,
    /// Registration attempts from a client address, whatever their outcome.
    Registration,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Ip => "ip",
            Self::Registration => "registration",
        }
    }
}

/// The latest lock end among `subjects`, if any is still locked at `now`.
pub fn locked_until(
    conn: &mut AnyConnection,
    subjects: &[(Kind, &str)],
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    let mut latest: Option<NaiveDateTime> = None;
    for (kind, subject) in subjects {
        let until: Option<Option<NaiveDateTime>> = lf::table
            .find((kind.as_str(), *subject))
            .select(lf::locked_until)
            .first(conn)
            .optional()?;
        if let Some(Some(t)) = until
            && t > now
        {
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
    }
    Ok(latest)
}

/// What became of an attempt to reserve one try for `subject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The try is counted; `locks` when it reached the limit and set the lock, so that every
    /// later try in the window is refused even while this one is still being checked.
    Reserved { locks: bool },
    /// Locked until then: nothing was counted.
    Locked { until: NaiveDateTime },
}

/// The lock end of `subject` if it is locked at `now`.
fn lock_of(
    conn: &mut AnyConnection,
    key: (&str, &str),
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    let until: Option<Option<NaiveDateTime>> = lf::table
        .find(key)
        .select(lf::locked_until)
        .first(conn)
        .optional()?;
    Ok(until.flatten().filter(|t| *t > now))
}

/// Counts one try for `subject` within a window of `window`, unless it is locked; the try that
/// brings the count to `max` locks it until `now + window`. Call inside a write transaction.
///
/// The count is taken before the expensive check, by one conditional UPDATE: on PostgreSQL a
/// concurrent try waits for the row and re-evaluates the condition against the committed lock,
/// on SQLite the write lock serializes tries, so concurrent tries never exceed the limit.
pub fn reserve(
    conn: &mut AnyConnection,
    kind: Kind,
    subject: &str,
    max: u32,
    window: chrono::Duration,
    now: NaiveDateTime,
) -> QueryResult<Reservation> {
    let key = (kind.as_str(), subject);
    // A window (and any lock) that has run out starts over.
    diesel::update(
        lf::table
            .find(key)
            .filter(lf::window_started_at.le(now - window))
            .filter(lf::locked_until.is_null().or(lf::locked_until.le(now))),
    )
    .set((
        lf::failures.eq(0),
        lf::window_started_at.eq(now),
        lf::locked_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    let bump = |conn: &mut AnyConnection| {
        diesel::update(
            lf::table
                .find(key)
                .filter(lf::locked_until.is_null().or(lf::locked_until.le(now))),
        )
        .set(lf::failures.eq(lf::failures + 1))
        .execute(conn)
    };
    let mut bumped = bump(conn)?;
    if bumped == 0 {
        if let Some(until) = lock_of(conn, key, now)? {
            return Ok(Reservation::Locked { until });
        }
        // First try: insert inside a savepoint, so that losing a race to another instance's
        // insert only means counting on its row instead.
        let inserted = conn.transaction(|c| {
            diesel::insert_into(lf::table)
                .values((
                    lf::kind.eq(kind.as_str()),
                    lf::subject.eq(subject),
                    lf::failures.eq(1),
                    lf::window_started_at.eq(now),
                ))
                .execute(c)
        });
        bumped = match inserted {
            Ok(n) => n,
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => bump(conn)?,
            Err(e) => return Err(e),
        };
        if bumped == 0
            && let Some(until) = lock_of(conn, key, now)?
        {
            return Ok(Reservation::Locked { until });
        }
    }
    let locked = diesel::update(
        lf::table
            .find(key)
            .filter(lf::failures.ge(i32::try_from(max).unwrap_or(i32::MAX)))
            .filter(lf::locked_until.is_null().or(lf::locked_until.le(now))),
    )
    .set(lf::locked_until.eq(Some(now + window)))
    .execute(conn)?;
    Ok(Reservation::Reserved { locks: locked == 1 })
}

/// Gives one reserved try back (it turned out not to be a failure): the count goes down, and a
/// lock that the count no longer reaches is lifted.
pub fn release(conn: &mut AnyConnection, kind: Kind, subject: &str, max: u32) -> QueryResult<()> {
    let key = (kind.as_str(), subject);
    diesel::update(lf::table.find(key).filter(lf::failures.gt(0)))
        .set(lf::failures.eq(lf::failures - 1))
        .execute(conn)?;
    diesel::update(
        lf::table
            .find(key)
            .filter(lf::failures.lt(i32::try_from(max).unwrap_or(i32::MAX))),
    )
    .set(lf::locked_until.eq(None::<NaiveDateTime>))
    .execute(conn)?;
    Ok(())
}

/// Forgets the counter and any lock of `subject`.
pub fn clear(conn: &mut AnyConnection, kind: Kind, subject: &str) -> QueryResult<usize> {
    diesel::delete(lf::table.find((kind.as_str(), subject))).execute(conn)
}

/// Removes counters whose window and lock are both over.
pub fn purge(
    conn: &mut AnyConnection,
    window: chrono::Duration,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        lf::table
            .filter(lf::window_started_at.le(now - window))
            .filter(lf::locked_until.is_null().or(lf::locked_until.le(now))),
    )
    .execute(conn)
}

/// Lower-cased usernames locked at `now`.
pub fn locked_users(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<Vec<String>> {
    lf::table
        .filter(lf::kind.eq(Kind::User.as_str()))
        .filter(lf::locked_until.gt(now))
        .select(lf::subject)
        .load(conn)
}

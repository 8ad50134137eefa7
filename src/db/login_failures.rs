//! Functions over the `login_failures` table: atomic counters that hold across instances.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::AnyConnection;
use super::schema::login_failures as lf;

/// What a counter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Ip,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Ip => "ip",
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

/// Counts one failure for `subject` within a window of `window`; locks it until `now + window`
/// when the count reaches `max`. Returns the lock end when this failure set the lock.
/// Increments are single UPDATE statements, so concurrent failures never get lost.
pub fn record_failure(
    conn: &mut AnyConnection,
    kind: Kind,
    subject: &str,
    max: u32,
    window: chrono::Duration,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
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
    let mut bumped = diesel::update(lf::table.find(key))
        .set(lf::failures.eq(lf::failures + 1))
        .execute(conn)?;
    if bumped == 0 {
        // First failure: insert inside a savepoint, so that losing a race to another
        // instance's insert only means incrementing its row instead.
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
        match inserted {
            Ok(n) => bumped = n,
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                bumped = diesel::update(lf::table.find(key))
                    .set(lf::failures.eq(lf::failures + 1))
                    .execute(conn)?;
            }
            Err(e) => return Err(e),
        }
    }
    if bumped == 0 {
        return Ok(None);
    }
    let until = now + window;
    let locked = diesel::update(
        lf::table
            .find(key)
            .filter(lf::failures.ge(i32::try_from(max).unwrap_or(i32::MAX)))
            .filter(lf::locked_until.is_null().or(lf::locked_until.le(now))),
    )
    .set(lf::locked_until.eq(Some(until)))
    .execute(conn)?;
    Ok((locked == 1).then_some(until))
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

//! Functions over the `sign_in_stats` table: completed and failed sign-ins per UTC hour, for
//! the admin overview. One small write per sign-in, shared by every instance.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::AnyConnection;
use super::schema::sign_in_stats as st;

/// The start of the UTC hour `at` falls in.
pub fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date().and_hms_opt(at.hour(), 0, 0).unwrap_or(at)
}

/// Counts one sign-in (`succeeded`) or failed attempt in the hour of `at`. An update, else an
/// insert; an insert that loses a race to another instance's updates instead (no
/// `ON CONFLICT` through the multi-backend connection).
pub fn record(conn: &mut AnyConnection, at: NaiveDateTime, succeeded: bool) -> QueryResult<()> {
    let hour = hour_of(at);
    let bump = |conn: &mut AnyConnection| {
        let row = st::table.find(hour);
        if succeeded {
            diesel::update(row)
                .set(st::succeeded.eq(st::succeeded + 1))
                .execute(conn)
        } else {
            diesel::update(row)
                .set(st::failed.eq(st::failed + 1))
                .execute(conn)
        }
    };
    if bump(conn)? == 1 {
        return Ok(());
    }
    let inserted = diesel::insert_into(st::table)
        .values((
            st::hour.eq(hour),
            st::succeeded.eq(i64::from(succeeded)),
            st::failed.eq(i64::from(!succeeded)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            bump(conn).map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// The hours from `since` on that have counts: `(hour, succeeded, failed)`, oldest first.
pub fn since(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, i64, i64)>> {
    st::table
        .filter(st::hour.ge(since))
        .order(st::hour.asc())
        .select((st::hour, st::succeeded, st::failed))
        .load(conn)
}

/// Deletes the counts of hours before `before`.
pub fn purge(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(st::table.filter(st::hour.lt(before))).execute(conn)
}

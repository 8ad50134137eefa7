//! Functions over the `sessions` table (the database session store's rows).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::models::SessionRow;
use super::schema::sessions;

/// The state of a live session: not past its idle expiry nor created before `created_after`.
pub fn load_live(
    conn: &mut AnyConnection,
    id: &str,
    now: NaiveDateTime,
    created_after: NaiveDateTime,
) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(id)
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::created_at.gt(created_after))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut AnyConnection, row: &SessionRow) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)
}

/// Replaces the state of a live session; returns 0 when no such session is left.
pub fn update_state(
    conn: &mut AnyConnection,
    id: &str,
    state: &str,
    user_id: Option<i64>,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::expires_at.gt(now)),
    )
    .set((
        sessions::state.eq(state),
        sessions::user_id.eq(user_id),
        sessions::expires_at.eq(expires_at),
    ))
    .execute(conn)
}

/// Pushes the idle expiry of a live session forward.
pub fn touch(
    conn: &mut AnyConnection,
    id: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::expires_at.gt(now)),
    )
    .set(sessions::expires_at.eq(expires_at))
    .execute(conn)
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id)).execute(conn)
}

/// Ends every session of a user; returns how many there were.
#[tracing::instrument(skip(conn))]
pub fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Removes rows that can no longer be loaded.
pub fn purge_expired(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    created_before: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::created_at.le(created_before)),
        ),
    )
    .execute(conn)
}

/// Live sessions of a user, newest first.
pub fn list_for_user(
    conn: &mut AnyConnection,
    user_id: i64,
    now: NaiveDateTime,
    created_after: NaiveDateTime,
) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::created_at.gt(created_after))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
}

/// Moves a user's sessions back in time (tests of the idle and absolute limits).
pub fn shift_for_user(
    conn: &mut AnyConnection,
    user_id: i64,
    created_by: chrono::Duration,
    expires_by: chrono::Duration,
) -> QueryResult<usize> {
    let rows = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select(SessionRow::as_select())
        .load(conn)?;
    for row in &rows {
        diesel::update(sessions::table.find(&row.id))
            .set((
                sessions::created_at.eq(row.created_at - created_by),
                sessions::expires_at.eq(row.expires_at - expires_by),
            ))
            .execute(conn)?;
    }
    Ok(rows.len())
}

/// Deletes one session, only if it belongs to `user_id`.
pub fn delete_for_user_by_id(
    conn: &mut AnyConnection,
    user_id: i64,
    id: &str,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .find(id)
            .filter(sessions::user_id.eq(user_id)),
    )
    .execute(conn)
}

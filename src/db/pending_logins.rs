//! Functions over the `pending_logins` table: sign-ins whose password was checked, waiting
//! for their second step (or for enrolment), keyed by the SHA-256 of a random value the
//! browser's cookie or the API client's `mfa_token` carries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::pending_logins as pl;

/// A row of `pending_logins`; its `Debug` leaves the token's hash out.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pl)]
pub struct PendingRow {
    pub token_hash: String,
    pub user_id: i64,
    /// `second_factor` or `enrolment`.
    pub purpose: String,
    /// `html` or `api`.
    pub door: String,
    /// HTML: where to go once signed in.
    pub next_path: Option<String>,
    /// When the password was checked (the sign-in dates from then).
    pub checked_at: NaiveDateTime,
    /// The user's password change time at the check: a later change voids the sign-in.
    pub password_changed_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for PendingRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRow")
            .field("user_id", &self.user_id)
            .field("purpose", &self.purpose)
            .field("door", &self.door)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut AnyConnection, row: &PendingRow) -> QueryResult<usize> {
    diesel::insert_into(pl::table).values(row).execute(conn)
}

/// The row of `hash`, whatever its state.
pub fn find(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<PendingRow>> {
    pl::table
        .find(hash)
        .select(PendingRow::as_select())
        .first(conn)
        .optional()
}

/// Uses the pending sign-in once: 1 when it was live (unused, unexpired, of `purpose`) and
/// is now used, 0 otherwise. One conditional UPDATE: of concurrent completions exactly one
/// gets 1.
pub fn use_once(
    conn: &mut AnyConnection,
    hash: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        pl::table
            .find(hash)
            .filter(pl::purpose.eq(purpose))
            .filter(pl::used_at.is_null())
            .filter(pl::expires_at.gt(now)),
    )
    .set(pl::used_at.eq(Some(now)))
    .execute(conn)
}

/// Turns a live enrolment into a second step (its user just confirmed a factor).
pub fn enrolled(conn: &mut AnyConnection, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        pl::table
            .find(hash)
            .filter(pl::purpose.eq("enrolment"))
            .filter(pl::used_at.is_null())
            .filter(pl::expires_at.gt(now)),
    )
    .set(pl::purpose.eq("second_factor"))
    .execute(conn)
}

/// Ends every pending sign-in of the user.
pub fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<usize> {
    diesel::delete(pl::table.filter(pl::user_id.eq(user_id))).execute(conn)
}

/// Ends one pending sign-in (the browser gave it up).
pub fn delete(conn: &mut AnyConnection, hash: &str) -> QueryResult<usize> {
    diesel::delete(pl::table.find(hash)).execute(conn)
}

/// Removes rows that expired before `before` (kept a while after expiry, so that a late
/// completion is still recognised as expired or reused, and counted against its user).
pub fn purge(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(pl::table.filter(pl::expires_at.le(before))).execute(conn)
}

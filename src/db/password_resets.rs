//! Functions over the `password_resets` table: one-time reset links an administrator issued,
//! kept only as the SHA-256 (hex) of their random token.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::password_resets as pr;

/// A row of `password_resets`; its `Debug` leaves the token's hash out.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pr)]
pub struct ResetRow {
    pub token_hash: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for ResetRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetRow")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

/// Stores a new link for its user, replacing every earlier one (used or not).
pub fn replace(conn: &mut AnyConnection, row: &ResetRow) -> QueryResult<usize> {
    diesel::delete(pr::table.filter(pr::user_id.eq(row.user_id))).execute(conn)?;
    diesel::insert_into(pr::table).values(row).execute(conn)
}

/// The row of `hash`, whatever its state.
pub fn find(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<ResetRow>> {
    pr::table
        .find(hash)
        .select(ResetRow::as_select())
        .first(conn)
        .optional()
}

/// Uses the link once: 1 when it was live (unused, unexpired) and is now used, 0 otherwise.
/// One conditional UPDATE (a compare-and-swap): of concurrent uses exactly one gets 1.
pub fn use_once(conn: &mut AnyConnection, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        pr::table
            .find(hash)
            .filter(pr::used_at.is_null())
            .filter(pr::expires_at.gt(now)),
    )
    .set(pr::used_at.eq(Some(now)))
    .execute(conn)
}

/// Deletes links that expired before `before`.
pub fn purge(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(pr::table.filter(pr::expires_at.lt(before))).execute(conn)
}

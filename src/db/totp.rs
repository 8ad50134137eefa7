//! Functions over the `totp_secrets` table: one sealed TOTP secret per user, pending until a
//! valid code confirms it, with the last accepted time step.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::totp_secrets as ts;

/// A row of `totp_secrets`; `sealed` is the secret sealed under the master secret.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = ts)]
pub struct TotpRow {
    pub user_id: i64,
    pub sealed: Vec<u8>,
    pub sealed_with: String,
    pub created_at: NaiveDateTime,
    /// `None` while the enrolment waits for its first valid code.
    pub confirmed_at: Option<NaiveDateTime>,
    /// The last accepted time step; only a later one is accepted.
    pub last_step: i64,
}

impl std::fmt::Debug for TotpRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRow")
            .field("user_id", &self.user_id)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

pub fn find(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Option<TotpRow>> {
    ts::table
        .find(user_id)
        .select(TotpRow::as_select())
        .first(conn)
        .optional()
}

/// Whether the user has a confirmed (active) TOTP secret.
pub fn is_active(conn: &mut AnyConnection, user_id: i64) -> QueryResult<bool> {
    let n: i64 = ts::table
        .filter(ts::user_id.eq(user_id))
        .filter(ts::confirmed_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The ids of users whose TOTP is active (for the admin page).
pub fn active_user_ids(conn: &mut AnyConnection) -> QueryResult<Vec<i64>> {
    ts::table
        .filter(ts::confirmed_at.is_not_null())
        .select(ts::user_id)
        .load(conn)
}

/// Stores a new pending (unconfirmed) secret for the user, replacing a pending one; a
/// confirmed secret is never replaced (returns 0 then).
pub fn start(
    conn: &mut AnyConnection,
    user_id: i64,
    sealed: &[u8],
    sealed_with: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        ts::table
            .filter(ts::user_id.eq(user_id))
            .filter(ts::confirmed_at.is_null()),
    )
    .execute(conn)?;
    if find(conn, user_id)?.is_some() {
        return Ok(0);
    }
    diesel::insert_into(ts::table)
        .values((
            ts::user_id.eq(user_id),
            ts::sealed.eq(sealed),
            ts::sealed_with.eq(sealed_with),
            ts::created_at.eq(now),
            ts::last_step.eq(0_i64),
        ))
        .execute(conn)
}

/// Accepts time step `step` for the user's secret (confirming a pending one when `confirm`):
/// a compare-and-swap that succeeds only while the last accepted step is lower, so of two
/// concurrent uses of one code (on any instance) exactly one gets 1.
pub fn accept_step(
    conn: &mut AnyConnection,
    user_id: i64,
    step: i64,
    confirm: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let target = ts::table
        .filter(ts::user_id.eq(user_id))
        .filter(ts::last_step.lt(step));
    match confirm {
        Some(at) => diesel::update(target.filter(ts::confirmed_at.is_null()))
            .set((ts::last_step.eq(step), ts::confirmed_at.eq(Some(at))))
            .execute(conn),
        None => diesel::update(target.filter(ts::confirmed_at.is_not_null()))
            .set(ts::last_step.eq(step))
            .execute(conn),
    }
}

/// Removes the user's secret, pending or confirmed; returns how many rows went.
pub fn delete(conn: &mut AnyConnection, user_id: i64) -> QueryResult<usize> {
    diesel::delete(ts::table.filter(ts::user_id.eq(user_id))).execute(conn)
}

/// Every secret not sealed with `sealing_id` (for `keys reseal`).
pub fn sealed_with_other(conn: &mut AnyConnection, sealing_id: &str) -> QueryResult<Vec<TotpRow>> {
    ts::table
        .filter(ts::sealed_with.ne(sealing_id))
        .select(TotpRow::as_select())
        .load(conn)
}

/// Replaces the sealed form of a user's secret (same secret, another master secret).
pub fn reseal(
    conn: &mut AnyConnection,
    user_id: i64,
    sealed: &[u8],
    sealed_with: &str,
) -> QueryResult<usize> {
    diesel::update(ts::table.find(user_id))
        .set((ts::sealed.eq(sealed), ts::sealed_with.eq(sealed_with)))
        .execute(conn)
}

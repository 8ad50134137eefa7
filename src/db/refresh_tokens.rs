//! Functions over the `refresh_tokens` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::models::{NewRefreshToken, RefreshTokenRow};
use super::schema::refresh_tokens as rt;

pub fn insert(conn: &mut AnyConnection, new: &NewRefreshToken<'_>) -> QueryResult<usize> {
    diesel::insert_into(rt::table).values(new).execute(conn)
}

pub fn find_by_hash(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<RefreshTokenRow>> {
    rt::table
        .filter(rt::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Any row of a family (they all carry the family's facts).
pub fn any_of_family(
    conn: &mut AnyConnection,
    family_id: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    rt::table
        .filter(rt::family_id.eq(family_id))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Revokes every token of a user except those of the family `keep`.
pub fn revoke_for_user_except(
    conn: &mut AnyConnection,
    user_id: i64,
    keep: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::user_id.eq(user_id))
            .filter(rt::family_id.ne(keep))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)
}

/// Carries a live family over a revocation of its user's credentials (stamped at or before
/// `now`): its sign-in counts as checked at `now`, so it alone stays valid. Its `auth_time`
/// is unchanged.
pub fn carry_family_over(
    conn: &mut AnyConnection,
    family_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::family_id.eq(family_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::checked_at.eq(Some(now)))
    .execute(conn)
}

/// Marks a live token used, atomically: of several concurrent callers exactly one gets 1.
pub fn mark_used(conn: &mut AnyConnection, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::token_hash.eq(hash))
            .filter(rt::used_at.is_null())
            .filter(rt::revoked_at.is_null())
            .filter(rt::expires_at.gt(now)),
    )
    .set(rt::used_at.eq(now))
    .execute(conn)
}

/// Revokes every token of a family.
pub fn revoke_family(
    conn: &mut AnyConnection,
    family_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::family_id.eq(family_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)
}

/// Revokes every token of a user.
pub fn revoke_for_user(
    conn: &mut AnyConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::user_id.eq(user_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)
}

/// Deletes rows that expired before `before`.
pub fn purge_expired(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rt::table.filter(rt::expires_at.le(before))).execute(conn)
}

/// Whether the family exists and none of its tokens has been revoked (the check behind an
/// access token's `sid`). A family purged long after its expiry counts as ended.
pub fn family_live(conn: &mut AnyConnection, family_id: &str) -> QueryResult<bool> {
    Ok(live_family_checked_at(conn, family_id)?.is_some())
}

/// For a live family (see [`family_live`]), when the sign-in that started it was checked
/// (families from before `checked_at` existed: their creation); `None` when it has ended.
pub fn live_family_checked_at(
    conn: &mut AnyConnection,
    family_id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    // One query on the bearer path: the family's rows, how many of them are revoked, and
    // when it was checked.
    let (rows, revoked, checked, created): (
        i64,
        i64,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    ) = rt::table
        .filter(rt::family_id.eq(family_id))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::count(rt::revoked_at),
            diesel::dsl::min(rt::checked_at),
            diesel::dsl::min(rt::created_at),
        ))
        .get_result(conn)?;
    Ok(if rows > 0 && revoked == 0 {
        checked.or(created)
    } else {
        None
    })
}

/// Whether any token of the family has been revoked (revocation marks every row it finds, so
/// one revoked row means the whole family is dead, including rows written concurrently).
pub fn family_revoked(conn: &mut AnyConnection, family_id: &str) -> QueryResult<bool> {
    let revoked: i64 = rt::table
        .filter(rt::family_id.eq(family_id))
        .filter(rt::revoked_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(revoked > 0)
}

/// The unused, unrevoked, unexpired token of each of the user's live families, newest first:
/// what `/account` lists as the user's API sign-ins.
pub fn live_of_user(
    conn: &mut AnyConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<RefreshTokenRow>> {
    rt::table
        .filter(rt::user_id.eq(user_id))
        .filter(rt::used_at.is_null())
        .filter(rt::revoked_at.is_null())
        .filter(rt::expires_at.gt(now))
        .order(rt::created_at.desc())
        .select(RefreshTokenRow::as_select())
        .load(conn)
}

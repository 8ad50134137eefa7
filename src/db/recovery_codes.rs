//! Functions over the `recovery_codes` table: single-use codes, stored as SHA-256 only.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::recovery_codes as rc;

/// Replaces the user's codes with `hashes` (the old set is void).
pub fn replace(
    conn: &mut AnyConnection,
    user_id: i64,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    delete_for_user(conn, user_id)?;
    for hash in hashes {
        diesel::insert_into(rc::table)
            .values((
                rc::user_id.eq(user_id),
                rc::code_hash.eq(hash),
                rc::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Uses the user's unused code of hash `hash`: 1 when it was unused and is now used, 0
/// otherwise. One conditional UPDATE, so of concurrent uses of one code exactly one gets 1.
pub fn use_code(
    conn: &mut AnyConnection,
    user_id: i64,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        rc::table
            .filter(rc::user_id.eq(user_id))
            .filter(rc::code_hash.eq(hash))
            .filter(rc::used_at.is_null()),
    )
    .set(rc::used_at.eq(Some(now)))
    .execute(conn)
}

/// How many unused codes the user has left.
pub fn remaining(conn: &mut AnyConnection, user_id: i64) -> QueryResult<i64> {
    rc::table
        .filter(rc::user_id.eq(user_id))
        .filter(rc::used_at.is_null())
        .count()
        .get_result(conn)
}

pub fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<usize> {
    diesel::delete(rc::table.filter(rc::user_id.eq(user_id))).execute(conn)
}

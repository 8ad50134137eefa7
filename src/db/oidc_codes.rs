//! Functions over `oidc_codes`: authorization codes, stored only as a SHA-256 hash, used once
//! by a compare-and-swap on `used_at`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::oidc_codes as co;

/// A stored authorization code (its hash only).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = co)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: i64,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub auth_time: NaiveDateTime,
    pub amr: String,
    pub session_ref: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub family_id: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, row: &CodeRow) -> QueryResult<usize> {
    diesel::insert_into(co::table).values(row).execute(conn)
}

pub fn find(conn: &mut AnyConnection, code_hash: &str) -> QueryResult<Option<CodeRow>> {
    co::table
        .find(code_hash)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
}

/// Marks an unused, unexpired code used: of several concurrent callers exactly one gets 1.
pub fn mark_used(
    conn: &mut AnyConnection,
    code_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        co::table
            .find(code_hash)
            .filter(co::used_at.is_null())
            .filter(co::expires_at.gt(now)),
    )
    .set(co::used_at.eq(Some(now)))
    .execute(conn)
}

/// Records the refresh-token family a code's exchange started.
pub fn set_family(
    conn: &mut AnyConnection,
    code_hash: &str,
    family_id: &str,
) -> QueryResult<usize> {
    diesel::update(co::table.find(code_hash))
        .set(co::family_id.eq(Some(family_id)))
        .execute(conn)
}

/// Deletes codes that expired before `before` (used ones are kept until then, so that a
/// replay within their lifetime is recognised).
pub fn purge_expired(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(co::table.filter(co::expires_at.le(before))).execute(conn)
}

/// Deletes a client's unused codes bound to a redirect URI it no longer lists (an admin removed
/// it): such a code must not be exchanged within its remaining seconds.
pub fn delete_unused_outside(
    conn: &mut AnyConnection,
    client_id: &str,
    kept_uris: &[&str],
) -> QueryResult<usize> {
    diesel::delete(
        co::table
            .filter(co::client_id.eq(client_id))
            .filter(co::used_at.is_null())
            .filter(co::redirect_uri.ne_all(kept_uris)),
    )
    .execute(conn)
}

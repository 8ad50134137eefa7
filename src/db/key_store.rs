//! Functions over the `key_store` table: the JWT signing keys and the session cookie key,
//! sealed under the master secret (`crate::keys`). Writers take [`lock`] first, inside their
//! write transaction, so that instances starting or rotating together decide one at a time.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::key_store as ks;

/// What a key is for.
pub const PURPOSE_ACCESS: &str = "access";
pub const PURPOSE_COOKIE: &str = "cookie";
/// ID tokens of the OpenID Connect provider (`oidc.id_token_algorithm`): published in the JWKS
/// beside the access-token keys, rotating the same way.
pub const PURPOSE_ID_TOKEN: &str = "id_token";

pub const STATE_NEXT: &str = "next";
pub const STATE_ACTIVE: &str = "active";
pub const STATE_RETIRED: &str = "retired";

/// A row of `key_store`.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ks)]
pub struct KeyRow {
    pub kid: String,
    pub purpose: String,
    pub algorithm: String,
    pub state: String,
    pub public_pem: Option<String>,
    pub sealed: Vec<u8>,
    pub sealed_with: String,
    pub created_at: NaiveDateTime,
    pub activates_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for KeyRow {
    // The sealed bytes stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Arbitrary, fixed: the advisory lock that orders writers of the key store on PostgreSQL.
const KEYS_LOCK: i64 = 0x6761_7465_6b65_7973; // "gatekeys"

/// Serialises writers of the key store until the transaction ends: a transaction-scoped
/// advisory lock on PostgreSQL; on SQLite the `BEGIN IMMEDIATE` of `write_transaction`
/// already admits one writer at a time.
pub fn lock(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(KEYS_LOCK)
            .execute(pg)?;
    }
    Ok(())
}

/// Every key, oldest activation first.
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<KeyRow>> {
    ks::table
        .select(KeyRow::as_select())
        .order((ks::activates_at.asc(), ks::created_at.asc(), ks::kid.asc()))
        .load(conn)
}

/// The keys of `purpose` that are not retired, oldest activation first.
pub fn live(conn: &mut AnyConnection, purpose: &str) -> QueryResult<Vec<KeyRow>> {
    ks::table
        .filter(ks::purpose.eq(purpose))
        .filter(ks::state.ne(STATE_RETIRED))
        .select(KeyRow::as_select())
        .order((ks::activates_at.asc(), ks::created_at.asc(), ks::kid.asc()))
        .load(conn)
}

pub fn find(conn: &mut AnyConnection, kid: &str) -> QueryResult<Option<KeyRow>> {
    ks::table
        .find(kid)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()
}

/// Whether any key is stored (sealed under some master secret).
pub fn any(conn: &mut AnyConnection) -> QueryResult<Option<KeyRow>> {
    ks::table
        .select(KeyRow::as_select())
        .order(ks::created_at.asc())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut AnyConnection, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(ks::table).values(row).execute(conn)?;
    Ok(())
}

/// Moves a key to `state` (and stamps `retired_at` when that is retired).
pub fn set_state(
    conn: &mut AnyConnection,
    kid: &str,
    state: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let retired_at = (state == STATE_RETIRED).then_some(at);
    diesel::update(ks::table.find(kid))
        .set((ks::state.eq(state), ks::retired_at.eq(retired_at)))
        .execute(conn)
}

/// Replaces a key's sealed bytes (re-sealing under another master secret).
pub fn reseal(
    conn: &mut AnyConnection,
    kid: &str,
    sealed: &[u8],
    sealed_with: &str,
) -> QueryResult<usize> {
    diesel::update(ks::table.find(kid))
        .set((ks::sealed.eq(sealed), ks::sealed_with.eq(sealed_with)))
        .execute(conn)
}

//! Functions over the `passkey_challenges` table: WebAuthn ceremonies in flight (a
//! registration, a second step, a username-less sign-in), keyed by the SHA-256 of a random id
//! the browser sends back, single use, with an expiry and an owner they are counted against.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::passkey_challenges as pc;

/// A row of `passkey_challenges`; its `Debug` leaves the key and the state out.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pc)]
pub struct ChallengeRow {
    pub id_hash: String,
    /// `register`, `second_factor` or `sign_in`.
    pub purpose: String,
    /// What outstanding ceremonies are counted against (`user:ID`, `pending:HASH`, `ip:ADDR`).
    pub owner: String,
    pub user_id: Option<i64>,
    /// A second factor's pending sign-in.
    pub pending_hash: Option<String>,
    /// A registration's chosen name.
    pub name: Option<String>,
    /// webauthn-rs's ceremony state, as JSON.
    pub state: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl std::fmt::Debug for ChallengeRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeRow")
            .field("purpose", &self.purpose)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// How many ceremonies of `owner` are outstanding (unexpired) at `now`.
pub fn outstanding(conn: &mut AnyConnection, owner: &str, now: NaiveDateTime) -> QueryResult<i64> {
    pc::table
        .filter(pc::owner.eq(owner))
        .filter(pc::expires_at.gt(now))
        .count()
        .get_result(conn)
}

/// Serialises the writers that count `owner`'s outstanding ceremonies before adding one,
/// for the rest of the caller's transaction. SQLite's write transactions (`BEGIN
/// IMMEDIATE`) already run one at a time; PostgreSQL's do not, so it takes a transaction-scoped
/// advisory lock on the owner's name there.
pub fn lock_owner(conn: &mut AnyConnection, owner: &str) -> QueryResult<()> {
    use diesel::sql_types::Text;
    match conn {
        AnyConnection::Sqlite(_) => Ok(()),
        AnyConnection::Postgresql(c) => {
            // The first key names this use of advisory locks ("pkch"), the second the owner.
            diesel::sql_query("SELECT pg_advisory_xact_lock(1885103976, hashtext($1))")
                .bind::<Text, _>(owner)
                .execute(c)
                .map(|_| ())
        }
    }
}

pub fn insert(conn: &mut AnyConnection, row: &ChallengeRow) -> QueryResult<usize> {
    diesel::insert_into(pc::table).values(row).execute(conn)
}

/// The row of `id_hash`, whatever its state.
pub fn find(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<Option<ChallengeRow>> {
    pc::table
        .find(id_hash)
        .select(ChallengeRow::as_select())
        .first(conn)
        .optional()
}

/// Uses the ceremony once: deletes it while it is unexpired and of `purpose`; 1 when it was,
/// 0 otherwise. Of concurrent uses of one ceremony exactly one gets 1.
pub fn take(
    conn: &mut AnyConnection,
    id_hash: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        pc::table
            .find(id_hash)
            .filter(pc::purpose.eq(purpose))
            .filter(pc::expires_at.gt(now)),
    )
    .execute(conn)
}

/// Deletes one ceremony, whatever its state (a failed use burns it).
pub fn delete(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(pc::table.find(id_hash)).execute(conn)
}

/// Removes ceremonies that expired at or before `before`.
pub fn purge(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(pc::table.filter(pc::expires_at.le(before))).execute(conn)
}

//! Functions over the `passkeys` table: the WebAuthn credentials (passkeys, security keys)
//! users registered, each with a name of the user's choosing.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::passkeys as pk;

/// A row of `passkeys`. Everything in it is public material (a public key, a counter), but
/// its `Debug` stays short.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = pk)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The WebAuthn user handle given at registration (a UUID).
    pub user_handle: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub credential: String,
    /// The counter of `credential`, for the compare-and-swap of a use.
    pub sign_count: i64,
    /// Registered with a resident key requested.
    pub discoverable: bool,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for PasskeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A passkey to store.
#[derive(Insertable)]
#[diesel(table_name = pk)]
pub struct NewPasskey<'a> {
    pub user_id: i64,
    pub credential_id: &'a str,
    pub user_handle: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
    pub sign_count: i64,
    pub discoverable: bool,
    pub created_at: NaiveDateTime,
}

/// Why a passkey was not stored.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// The user already has a passkey of that name.
    #[error("name taken")]
    NameTaken,
    /// The credential is already registered (to this user or another).
    #[error("credential registered")]
    CredentialTaken,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Stores a passkey; a duplicate name (per user) or credential id is refused by the unique
/// indexes, so two concurrent registrations cannot both pass.
pub fn insert(conn: &mut AnyConnection, new: &NewPasskey<'_>) -> Result<(), InsertError> {
    use diesel::result::{DatabaseErrorKind, Error};
    match diesel::insert_into(pk::table).values(new).execute(conn) {
        Ok(_) => Ok(()),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            let what = format!(
                "{} {}",
                info.constraint_name().unwrap_or_default(),
                info.message()
            );
            if what.contains("credential_id") {
                Err(InsertError::CredentialTaken)
            } else {
                Err(InsertError::NameTaken)
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The user's passkeys, oldest first.
pub fn for_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<PasskeyRow>> {
    pk::table
        .filter(pk::user_id.eq(user_id))
        .order(pk::id.asc())
        .select(PasskeyRow::as_select())
        .load(conn)
}

/// How many passkeys the user has.
pub fn count(conn: &mut AnyConnection, user_id: i64) -> QueryResult<i64> {
    pk::table
        .filter(pk::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// The passkey of credential id `credential_id` (base64url), whoever owns it.
pub fn find_by_credential(
    conn: &mut AnyConnection,
    credential_id: &str,
) -> QueryResult<Option<PasskeyRow>> {
    pk::table
        .filter(pk::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()
}

/// The user's passkey `id`.
pub fn find(conn: &mut AnyConnection, user_id: i64, id: i64) -> QueryResult<Option<PasskeyRow>> {
    pk::table
        .filter(pk::id.eq(id))
        .filter(pk::user_id.eq(user_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()
}

/// The user handle the user's passkeys carry, if any (a new one reuses it).
pub fn user_handle(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Option<String>> {
    pk::table
        .filter(pk::user_id.eq(user_id))
        .order(pk::id.asc())
        .select(pk::user_handle)
        .first(conn)
        .optional()
}

/// Records a use: the credential's new state, only while its counter is still `seen` (a
/// compare-and-swap: of two concurrent uses that each saw the same counter, one gets 1).
pub fn record_use(
    conn: &mut AnyConnection,
    id: i64,
    seen: i64,
    credential: &str,
    sign_count: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        pk::table
            .filter(pk::id.eq(id))
            .filter(pk::sign_count.eq(seen)),
    )
    .set((
        pk::credential.eq(credential),
        pk::sign_count.eq(sign_count),
        pk::last_used_at.eq(Some(now)),
    ))
    .execute(conn)
}

/// Removes the user's passkey `id`; returns how many rows went (0 or 1).
pub fn delete(conn: &mut AnyConnection, user_id: i64, id: i64) -> QueryResult<usize> {
    diesel::delete(
        pk::table
            .filter(pk::id.eq(id))
            .filter(pk::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// Removes every passkey of the user; returns how many went.
pub fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<usize> {
    diesel::delete(pk::table.filter(pk::user_id.eq(user_id))).execute(conn)
}

/// The ids of users who have a passkey (for the admin page).
pub fn user_ids(conn: &mut AnyConnection) -> QueryResult<Vec<i64>> {
    pk::table.select(pk::user_id).distinct().load(conn)
}

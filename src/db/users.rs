//! Functions over the `users` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::AnyConnection;
use super::models::{NewUser, User};
use super::schema::users;
use crate::domain::Username;
use crate::domain::clock::now;

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username is taken")]
    Taken,
    #[error(transparent)]
    Database(#[from] DieselError),
}

#[tracing::instrument(skip(conn, password_hash))]
pub fn create(
    conn: &mut AnyConnection,
    username: &Username,
    password_hash: &str,
    is_admin: bool,
) -> Result<User, CreateUserError> {
    let now = now();
    let new = NewUser {
        username: username.as_str(),
        username_key: &username.key(),
        password_hash,
        is_admin,
        disabled: false,
        password_changed_at: now,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(users::table)
        .values(&new)
        .get_result::<User>(conn)
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                CreateUserError::Taken
            }
            other => CreateUserError::Database(other),
        })
}

/// Looks a user up by name, ignoring case.
#[tracing::instrument(skip(conn))]
pub fn find_by_username(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username_key.eq(key.to_ascii_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

#[tracing::instrument(skip(conn))]
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::username_key.asc())
        .select(User::as_select())
        .load(conn)
}

pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Upgrades a password hash (same password, new cost) by compare-and-swap: only while the
/// stored hash is still `expected`, the one just checked, so an upgrade decided before a
/// password change never writes the old password back. Returns 1 when the hash was replaced.
#[tracing::instrument(skip(conn, expected, password_hash))]
pub fn upgrade_password_hash(
    conn: &mut AnyConnection,
    id: i64,
    expected: &str,
    password_hash: &str,
) -> QueryResult<usize> {
    diesel::update(
        users::table
            .find(id)
            .filter(users::password_hash.eq(expected)),
    )
    .set((
        users::password_hash.eq(password_hash),
        users::updated_at.eq(now()),
    ))
    .execute(conn)
}

/// Sets a new password (a real change: older credentials end). With `unchanged_since`, only
/// while the password has not changed since then (compare-and-swap on the change time, which
/// a cost upgrade does not move); returns 1 when the password was set.
#[tracing::instrument(skip(conn, password_hash))]
pub fn replace_password(
    conn: &mut AnyConnection,
    id: i64,
    unchanged_since: Option<NaiveDateTime>,
    password_hash: &str,
) -> QueryResult<usize> {
    let now = now();
    let values = (
        users::password_hash.eq(password_hash),
        users::password_changed_at.eq(now),
        users::updated_at.eq(now),
    );
    match unchanged_since {
        Some(at) => diesel::update(
            users::table
                .find(id)
                .filter(users::password_changed_at.eq(at)),
        )
        .set(values)
        .execute(conn),
        None => diesel::update(users::table.find(id))
            .set(values)
            .execute(conn),
    }
}

/// How many enabled administrators there are.
pub fn count_enabled_admins(conn: &mut AnyConnection) -> QueryResult<i64> {
    users::table
        .filter(users::is_admin.eq(true))
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)
}

#[tracing::instrument(skip(conn))]
pub fn set_disabled(conn: &mut AnyConnection, id: i64, disabled: bool) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::disabled.eq(disabled), users::updated_at.eq(now())))
        .execute(conn)
}

#[tracing::instrument(skip(conn))]
pub fn set_admin(conn: &mut AnyConnection, id: i64, is_admin: bool) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::is_admin.eq(is_admin), users::updated_at.eq(now())))
        .execute(conn)
}

#[tracing::instrument(skip(conn))]
pub fn set_service(conn: &mut AnyConnection, id: i64, service: bool) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::service.eq(service), users::updated_at.eq(now())))
        .execute(conn)
}

pub fn record_login(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(now()))
        .execute(conn)
}

/// Marks every session signed in before now as revoked.
pub fn revoke_sessions(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
    revoke_sessions_at(conn, id, now())
}

/// Marks every session signed in before `at` as revoked.
pub fn revoke_sessions_at(
    conn: &mut AnyConnection,
    id: i64,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::sessions_revoked_at.eq(Some(at)))
        .execute(conn)
}

/// Deletes the user; their sessions go with them (foreign key cascade).
#[tracing::instrument(skip(conn))]
pub fn delete(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(users::table.find(id)).execute(conn)
}

/// Inside a write transaction: serializes changes that depend on who is an administrator
/// (the caller still an admin, the last enabled admin kept). PostgreSQL's default isolation
/// would let two admins demote each other at once, each counting the other; a
/// transaction-scoped advisory lock makes the second wait and read the first's result. SQLite
/// needs nothing: `BEGIN IMMEDIATE` already admits one writer at a time.
pub fn lock_admin_changes(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7463622)").execute(pg)?;
    }
    Ok(())
}

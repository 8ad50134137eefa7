//! The `meta` table: facts about the installation that every instance shares.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::AnyConnection;
use super::schema::meta;

/// The value of `key`, created with `make()` if it does not exist yet (the first instance to
/// write it wins; the others read its value).
pub fn get_or_create(
    conn: &mut AnyConnection,
    key: &str,
    make: impl FnOnce() -> String,
) -> QueryResult<String> {
    let existing: Option<String> = meta::table
        .find(key)
        .select(meta::value)
        .first(conn)
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = make();
    match diesel::insert_into(meta::table)
        .values((meta::key.eq(key), meta::value.eq(&value)))
        .execute(conn)
    {
        Ok(_) => Ok(value),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            meta::table.find(key).select(meta::value).first(conn)
        }
        Err(e) => Err(e),
    }
}

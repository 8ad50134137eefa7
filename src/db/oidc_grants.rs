//! Functions over `oidc_grants` (a user's consent to a client) and `oidc_families` (the
//! refresh-token families issued to clients).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::AnyConnection;
use super::schema::{oidc_clients as oc, oidc_families as of, oidc_grants as og, users};

/// A user's consent to a client.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = og)]
pub struct GrantRow {
    pub user_id: i64,
    pub client_id: String,
    pub scope: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A refresh-token family bound to a client.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = of)]
pub struct FamilyRow {
    pub family_id: String,
    pub client_id: String,
    pub user_id: i64,
    pub scope: String,
    pub created_at: NaiveDateTime,
}

pub fn find(
    conn: &mut AnyConnection,
    user_id: i64,
    client_id: &str,
) -> QueryResult<Option<GrantRow>> {
    og::table
        .find((user_id, client_id))
        .select(GrantRow::as_select())
        .first(conn)
        .optional()
}

/// Records (or widens) a consent: the scopes become the union of the old and new ones.
///
/// Safe when the same user consents to the same client in two requests at once (two tabs, a
/// double click), on either database and whatever the isolation level:
/// - the insert runs in a savepoint, and losing the race to the other request's insert means
///   widening its row instead — never a primary-key error for the caller;
/// - the widening writes only over the scopes it read (`WHERE scope = <read>`), and reads
///   again when another request widened the row meanwhile, so no consented scope is lost (a
///   plain read-then-update kept only one of two tabs' scopes on PostgreSQL).
pub fn upsert(
    conn: &mut AnyConnection,
    user_id: i64,
    client_id: &str,
    scope: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    // Each pass loses only to a write that committed meanwhile: a bound far above what tabs
    // of one person can race with.
    const ATTEMPTS: usize = 16;
    for _ in 0..ATTEMPTS {
        let Some(old) = find(conn, user_id, client_id)?.map(|row| row.scope) else {
            let inserted = conn.transaction(|c| {
                diesel::insert_into(og::table)
                    .values(&GrantRow {
                        user_id,
                        client_id: client_id.to_string(),
                        scope: scope.to_string(),
                        created_at: now,
                        updated_at: now,
                    })
                    .execute(c)
            });
            match inserted {
                Ok(_) => return Ok(()),
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
                Err(e) => return Err(e),
            }
        };
        let widened = union(&old, scope);
        let written = diesel::update(
            og::table
                .find((user_id, client_id))
                .filter(og::scope.eq(&old)),
        )
        .set((og::scope.eq(widened), og::updated_at.eq(now)))
        .execute(conn)?;
        if written == 1 {
            return Ok(());
        }
    }
    Err(DieselError::QueryBuilderError(
        "the consent kept changing while it was recorded".into(),
    ))
}

/// The scopes of `old` followed by those of `new` it lacks.
fn union(old: &str, new: &str) -> String {
    let mut scopes: Vec<&str> = old.split(' ').filter(|s| !s.is_empty()).collect();
    for s in new.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    scopes.join(" ")
}

/// A user's grants with the clients' names, newest first.
pub fn for_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<(GrantRow, String)>> {
    og::table
        .inner_join(oc::table)
        .filter(og::user_id.eq(user_id))
        .select((GrantRow::as_select(), oc::name))
        .order(og::updated_at.desc())
        .load(conn)
}

/// The users who granted a client: (user id, username, scope).
pub fn users_of_client(
    conn: &mut AnyConnection,
    client_id: &str,
) -> QueryResult<Vec<(i64, String, String)>> {
    og::table
        .inner_join(users::table)
        .filter(og::client_id.eq(client_id))
        .select((og::user_id, users::username, og::scope))
        .order(users::username.asc())
        .load(conn)
}

pub fn delete(conn: &mut AnyConnection, user_id: i64, client_id: &str) -> QueryResult<usize> {
    diesel::delete(og::table.find((user_id, client_id))).execute(conn)
}

pub fn bind_family(conn: &mut AnyConnection, row: &FamilyRow) -> QueryResult<usize> {
    diesel::insert_into(of::table).values(row).execute(conn)
}

pub fn family(conn: &mut AnyConnection, family_id: &str) -> QueryResult<Option<FamilyRow>> {
    of::table
        .find(family_id)
        .select(FamilyRow::as_select())
        .first(conn)
        .optional()
}

/// The families issued to a client (for one user, or for all with `None`).
pub fn families_of_client(
    conn: &mut AnyConnection,
    client_id: &str,
    user_id: Option<i64>,
) -> QueryResult<Vec<FamilyRow>> {
    let query = of::table
        .filter(of::client_id.eq(client_id))
        .select(FamilyRow::as_select());
    match user_id {
        Some(user_id) => query.filter(of::user_id.eq(user_id)).load(conn),
        None => query.load(conn),
    }
}

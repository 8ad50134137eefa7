//! Functions over `oidc_clients`: the OpenID Connect relying parties registered with
//! `gatehouse client add` (SPEC §11).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::oidc_clients as oc;

/// A registered client. `secret_hash` never leaves the repository's callers in a response;
/// its `Debug` hides it.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oc)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub is_public: bool,
    /// One URI per line.
    pub redirect_uris: String,
    /// One URI per line.
    pub post_logout_uris: String,
    pub skip_consent: bool,
    pub created_at: NaiveDateTime,
    pub secret_rotated_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRow")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("is_public", &self.is_public)
            .finish_non_exhaustive()
    }
}

impl ClientRow {
    /// The registered redirect URIs.
    pub fn redirect_uri_list(&self) -> Vec<&str> {
        self.redirect_uris
            .lines()
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The registered post-logout redirect URIs.
    pub fn post_logout_uri_list(&self) -> Vec<&str> {
        self.post_logout_uris
            .lines()
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Whether `uri` is registered, compared exactly (no prefix, no normalisation).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uri_list().contains(&uri)
    }
}

pub fn insert(conn: &mut AnyConnection, row: &ClientRow) -> QueryResult<usize> {
    diesel::insert_into(oc::table).values(row).execute(conn)
}

pub fn find(conn: &mut AnyConnection, client_id: &str) -> QueryResult<Option<ClientRow>> {
    oc::table
        .find(client_id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

/// Every client, oldest first.
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<ClientRow>> {
    oc::table
        .select(ClientRow::as_select())
        .order((oc::created_at.asc(), oc::client_id.asc()))
        .load(conn)
}

/// Whether any client is registered.
pub fn any(conn: &mut AnyConnection) -> QueryResult<bool> {
    let n: i64 = oc::table.count().get_result(conn)?;
    Ok(n > 0)
}

pub fn delete(conn: &mut AnyConnection, client_id: &str) -> QueryResult<usize> {
    diesel::delete(oc::table.find(client_id)).execute(conn)
}

/// Replaces a confidential client's secret hash.
pub fn set_secret(
    conn: &mut AnyConnection,
    client_id: &str,
    secret_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(oc::table.find(client_id).filter(oc::is_public.eq(false)))
        .set((
            oc::secret_hash.eq(Some(secret_hash)),
            oc::secret_rotated_at.eq(Some(now)),
        ))
        .execute(conn)
}

/// Replaces what an admin may edit of a client: name, redirect and post-logout URIs (one per
/// line) and whether it skips the consent page. Its type and secret are not touched.
pub fn update(
    conn: &mut AnyConnection,
    client_id: &str,
    name: &str,
    redirect_uris: &str,
    post_logout_uris: &str,
    skip_consent: bool,
) -> QueryResult<usize> {
    diesel::update(oc::table.find(client_id))
        .set((
            oc::name.eq(name),
            oc::redirect_uris.eq(redirect_uris),
            oc::post_logout_uris.eq(post_logout_uris),
            oc::skip_consent.eq(skip_consent),
        ))
        .execute(conn)
}

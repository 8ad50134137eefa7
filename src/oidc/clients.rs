//! Registered clients: registration (`gatehouse client add`, SPEC §11), listing, deletion and
//! secret rotation, and the check of a presented client secret.
//!
//! A client secret is 256 random bits shown once; only its SHA-256 is stored. A secret of that
//! entropy cannot be guessed from its hash, so a slow password hash (bcrypt) would add cost
//! without adding safety — unlike a person's password.

use chrono::NaiveDateTime;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::changes::{self, Change};
use crate::db::oidc_clients::{self, ClientRow};
use crate::db::{AnyConnection, DbError, oidc_grants, refresh_tokens, write_transaction};
use crate::domain::clock::now;
use crate::domain::random_token;

/// Longest client name kept.
const MAX_NAME_CHARS: usize = 100;
/// Longest redirect URI accepted.
const MAX_URI_BYTES: usize = 2000;

/// What registration needs.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub public: bool,
    pub skip_consent: bool,
}

/// A client just registered (or whose secret was just rotated): the secret is shown once.
#[derive(Debug, Serialize)]
pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// A client as `client list` and the admin page show it (never its secret hash).
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub skip_consent: bool,
    pub created_at: String,
}

impl From<&ClientRow> for ClientView {
    fn from(row: &ClientRow) -> Self {
        Self {
            client_id: row.client_id.clone(),
            name: row.name.clone(),
            public: row.is_public,
            redirect_uris: row
                .redirect_uri_list()
                .into_iter()
                .map(String::from)
                .collect(),
            post_logout_uris: row
                .post_logout_uri_list()
                .into_iter()
                .map(String::from)
                .collect(),
            skip_consent: row.skip_consent,
            created_at: row
                .created_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// Why a change to clients was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(String),
    #[error("no client {0:?}")]
    NotFound(String),
    #[error("client {0} is public: it has no secret")]
    Public(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ClientError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// The stored form of a client secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `presented` is the secret whose hash is `stored` (constant time).
pub fn secret_matches(stored: &str, presented: &str) -> bool {
    bool::from(hash_secret(presented).as_bytes().ct_eq(stored.as_bytes()))
}

/// Checks a redirect (or post-logout) URI: absolute, `https`, or `http` to a loopback host
/// (`localhost`, `127.0.0.1`, `[::1]`) for development and native apps; no fragment, no user
/// information (RFC 6749 §3.1.2, RFC 8252 §7.3).
pub fn validate_redirect_uri(raw: &str) -> Result<(), String> {
    if raw.len() > MAX_URI_BYTES {
        return Err(format!("redirect URI longer than {MAX_URI_BYTES} bytes"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "redirect URI {raw:?} contains spaces or control characters"
        ));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| format!("redirect URI {raw:?} is not an absolute URI ({e})"))?;
    if raw.contains('#') || url.fragment().is_some() {
        return Err(format!("redirect URI {raw:?} has a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URI {raw:?} carries user information"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" => match url.host_str() {
            Some("localhost" | "127.0.0.1" | "[::1]") => Ok(()),
            _ => Err(format!(
                "redirect URI {raw:?} must use https (http only to localhost, 127.0.0.1 or [::1])"
            )),
        },
        _ => Err(format!(
            "redirect URI {raw:?} must use https (http only to localhost, 127.0.0.1 or [::1])"
        )),
    }
}

/// What an admin may change of a registered client (its type and secret stay).
#[derive(Debug, Clone, Default)]
pub struct ClientEdit {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub skip_consent: bool,
}

fn validate(new: &NewClient) -> Result<(), ClientError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ClientError::Invalid(format!(
            "the client name must have 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ClientError::Invalid(
            "the client name contains control characters".into(),
        ));
    }
    if new.redirect_uris.is_empty() {
        return Err(ClientError::Invalid(
            "at least one --redirect-uri is required".into(),
        ));
    }
    for uri in new.redirect_uris.iter().chain(&new.post_logout_uris) {
        validate_redirect_uri(uri).map_err(ClientError::Invalid)?;
    }
    Ok(())
}

/// A list of URIs as stored: one per line, the first of duplicates kept.
fn dedup(list: &[String]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for uri in list {
        if !out.contains(&uri.as_str()) {
            out.push(uri);
        }
    }
    out.join("\n")
}

/// Registers a client; returns its id and, for a confidential client, its secret.
pub fn register(conn: &mut AnyConnection, new: &NewClient) -> Result<Registered, ClientError> {
    validate(new)?;
    let client_id = random_token(16);
    let secret = (!new.public).then(|| random_token(32));
    let row = ClientRow {
        client_id: client_id.clone(),
        name: new.name.trim().to_string(),
        secret_hash: secret.as_deref().map(hash_secret),
        is_public: new.public,
        redirect_uris: dedup(&new.redirect_uris),
        post_logout_uris: dedup(&new.post_logout_uris),
        skip_consent: new.skip_consent,
        created_at: now(),
        secret_rotated_at: None,
    };
    oidc_clients::insert(conn, &row)?;
    tracing::info!(target: "audit", event = "oidc_client_added", client_id = %client_id, public = new.public);
    Ok(Registered {
        client_id,
        client_secret: secret,
    })
}

/// Changes a client's name, URIs and consent setting. Unused codes bound to a redirect URI
/// that is no longer listed are deleted in the same transaction, so a removed URI stops working
/// at once; tokens already issued stay valid (delete the client to end them).
pub fn update(
    conn: &mut AnyConnection,
    client_id: &str,
    edit: &ClientEdit,
) -> Result<(), ClientError> {
    validate(&NewClient {
        name: edit.name.clone(),
        redirect_uris: edit.redirect_uris.clone(),
        post_logout_uris: edit.post_logout_uris.clone(),
        public: false,
        skip_consent: edit.skip_consent,
    })?;
    write_transaction(conn, |conn| {
        let updated = oidc_clients::update(
            conn,
            client_id,
            edit.name.trim(),
            &dedup(&edit.redirect_uris),
            &dedup(&edit.post_logout_uris),
            edit.skip_consent,
        )?;
        if updated == 0 {
            return Err(ClientError::NotFound(client_id.to_string()));
        }
        let kept: Vec<&str> = edit.redirect_uris.iter().map(String::as_str).collect();
        crate::db::oidc_codes::delete_unused_outside(conn, client_id, &kept)?;
        tracing::info!(
            target: "audit",
            event = "oidc_client_updated",
            client_id = %crate::telemetry::quoted(client_id),
            redirect_uris = edit.redirect_uris.len(),
            skip_consent = edit.skip_consent
        );
        Ok(())
    })
}

/// Every client.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<ClientView>, ClientError> {
    Ok(oidc_clients::all(conn)?
        .iter()
        .map(ClientView::from)
        .collect())
}

/// Revokes the refresh-token families issued to `client_id` (for one user, or all), inside the
/// caller's transaction; returns the changes to publish after the commit.
pub fn revoke_client_families(
    conn: &mut AnyConnection,
    client_id: &str,
    user_id: Option<i64>,
    at: NaiveDateTime,
) -> Result<Vec<Change>, DbError> {
    let mut made = Vec::new();
    for family in oidc_grants::families_of_client(conn, client_id, user_id)? {
        if refresh_tokens::revoke_family(conn, &family.family_id, at)? > 0 {
            let change = Change::Family {
                family_id: family.family_id,
                user_id: family.user_id,
            };
            changes::record(conn, &change)?;
            made.push(change);
        }
    }
    Ok(made)
}

/// Deletes a client: its codes, grants and bindings go with it, and every refresh-token family
/// (and so every access token) issued to it is revoked first. Returns the changes to publish.
pub fn delete(conn: &mut AnyConnection, client_id: &str) -> Result<Vec<Change>, ClientError> {
    write_transaction(conn, |conn| {
        if oidc_clients::find(conn, client_id)?.is_none() {
            return Err(ClientError::NotFound(client_id.to_string()));
        }
        let made = revoke_client_families(conn, client_id, None, now())?;
        oidc_clients::delete(conn, client_id)?;
        tracing::info!(target: "audit", event = "oidc_client_deleted", client_id = %crate::telemetry::quoted(client_id));
        Ok(made)
    })
}

/// Gives a confidential client a new secret (the old one stops working at once).
pub fn rotate_secret(conn: &mut AnyConnection, client_id: &str) -> Result<Registered, ClientError> {
    write_transaction(conn, |conn| {
        let client = oidc_clients::find(conn, client_id)?
            .ok_or_else(|| ClientError::NotFound(client_id.to_string()))?;
        if client.is_public {
            return Err(ClientError::Public(client_id.to_string()));
        }
        let secret = random_token(32);
        oidc_clients::set_secret(conn, client_id, &hash_secret(&secret), now())?;
        tracing::info!(target: "audit", event = "oidc_client_secret_rotated", client_id = %crate::telemetry::quoted(client_id));
        Ok(Registered {
            client_id: client_id.to_string(),
            client_secret: Some(secret),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http_without_fragment() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/oauth/callback?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/cb",
            "app.example/cb",
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "https://user:pw@app.example/cb",
            "javascript:alert(1)",
            "https://app.example/c b",
            "ftp://app.example/",
            "",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_secret_matches_only_itself() {
        let stored = hash_secret("s3cret");
        assert!(secret_matches(&stored, "s3cret"));
        assert!(!secret_matches(&stored, "s3cret "));
        assert!(!secret_matches(&stored, ""));
    }
}

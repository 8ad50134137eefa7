//! Refresh tokens (SPEC §6): opaque, 256 random bits, stored as SHA-256, single use with
//! rotation. Presenting a used token revokes its whole family. A family can be refreshed for
//! `token.refresh_max_age` from its first sign-in (`family_created_at`, carried over by
//! rotation), however often it rotates; what it issued before stays valid until its own expiry.

use chrono::{Duration, NaiveDateTime};
use sha2::{Digest, Sha256};

use crate::auth::login::Verified;
use crate::db::changes::{self, Change};
use crate::db::models::{NewRefreshToken, User};
use crate::db::{AnyConnection, DbError, refresh_tokens, users, write_transaction};
use crate::domain::clock::now;
use crate::domain::random_token;

/// The stored form of a refresh token; its `Debug` never shows the hash.
pub struct HashedToken(String);

impl HashedToken {
    pub fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for HashedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashedToken(***)")
    }
}

/// A refresh token just issued, and its family (the `sid` of access tokens issued with it).
pub struct Issued {
    pub token: String,
    pub family_id: String,
}

/// What became of a presented refresh token.
pub enum Rotation {
    /// A new token of the same family, for this user; `auth_time` is when the family's
    /// sign-in completed (a refresh is not a sign-in).
    Rotated {
        user: Box<User>,
        issued: Issued,
        auth_time: NaiveDateTime,
    },
    /// Unknown, expired, revoked, of a family past `token.refresh_max_age`, or its user is
    /// gone, disabled, or changed password or was revoked after the family's sign-in was
    /// checked.
    Invalid,
    /// Already used: the family is now revoked.
    Reused,
}

/// The lifetimes of refresh tokens in force: `token.refresh_ttl` (one token) and
/// `token.refresh_max_age` (its family, from the family's first sign-in, however often it
/// rotates).
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    pub ttl: std::time::Duration,
    pub max_age: std::time::Duration,
}

impl RefreshPolicy {
    pub fn of(settings: &crate::config::TokenSettings) -> Self {
        Self {
            ttl: settings.refresh_ttl.0,
            max_age: settings.refresh_max_age.0,
        }
    }

    /// Whether a family that started at `started` is past `max_age` at `now`.
    fn too_old(&self, started: NaiveDateTime, now: NaiveDateTime) -> bool {
        started
            .checked_add_signed(Duration::from_std(self.max_age).unwrap_or(Duration::MAX))
            .is_some_and(|end| end <= now)
    }
}

/// What every token of a family carries: its id, when it started, and when its sign-in
/// completed (`auth_time`).
struct FamilyFacts<'a> {
    id: &'a str,
    created_at: NaiveDateTime,
    auth_time: NaiveDateTime,
}

fn insert_token(
    conn: &mut AnyConnection,
    user_id: i64,
    family: FamilyFacts<'_>,
    checked_at: NaiveDateTime,
    ttl: std::time::Duration,
) -> Result<String, DbError> {
    let FamilyFacts {
        id: family_id,
        created_at: family_created_at,
        auth_time,
    } = family;
    let token = random_token(32);
    let hash = HashedToken::of(&token);
    let now = now();
    refresh_tokens::insert(
        conn,
        &NewRefreshToken {
            token_hash: hash.as_str(),
            user_id,
            family_id,
            created_at: now,
            expires_at: now + Duration::from_std(ttl).unwrap_or(Duration::MAX),
            checked_at,
            family_created_at,
            auth_time,
        },
    )?;
    Ok(token)
}

/// Starts a new family for a sign-in that checked its credentials at `checked_at` (and
/// completed then: its `auth_time`).
pub fn start_family(
    conn: &mut AnyConnection,
    user_id: i64,
    checked_at: NaiveDateTime,
    ttl: std::time::Duration,
) -> Result<Issued, DbError> {
    start_family_at(conn, user_id, checked_at, checked_at, ttl)
}

/// Starts a new family for a sign-in whose password was checked at `checked_at` and that
/// completed (every factor) at `auth_time`. Call inside the sign-in's write transaction.
pub fn start_family_at(
    conn: &mut AnyConnection,
    user_id: i64,
    checked_at: NaiveDateTime,
    auth_time: NaiveDateTime,
    ttl: std::time::Duration,
) -> Result<Issued, DbError> {
    let family_id = random_token(16);
    let family = FamilyFacts {
        id: &family_id,
        created_at: now(),
        auth_time,
    };
    let token = insert_token(conn, user_id, family, checked_at, ttl)?;
    Ok(Issued { token, family_id })
}

/// When the sign-in of a family completed (`auth_time` of its access tokens), if the family
/// has any row left.
pub fn family_auth_time(
    conn: &mut AnyConnection,
    family_id: &str,
) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(refresh_tokens::any_of_family(conn, family_id)?.map(|row| row.family_auth_time()))
}

/// Starts a family for a verified sign-in, in one transaction that re-reads the user: `None`
/// when the password changed or the user was disabled or revoked since the check.
pub fn start_family_for(
    conn: &mut AnyConnection,
    verified: &Verified,
    ttl: std::time::Duration,
) -> Result<Option<Issued>, DbError> {
    write_transaction(conn, |conn| {
        let holds = users::find(conn, verified.user.id)?.is_some_and(|u| verified.still_holds(&u));
        if !holds {
            return Ok(None);
        }
        start_family(conn, verified.user.id, verified.checked_at, ttl).map(Some)
    })
}

/// Whether a family whose sign-in was checked at `checked` still stands for `user`.
fn family_current(user: &User, checked: NaiveDateTime) -> bool {
    !user.disabled
        && checked >= user.password_changed_at
        && user.sessions_revoked_at.is_none_or(|t| t <= checked)
}

/// Revokes a family and records that in the change feed, inside the caller's transaction;
/// returns the change to publish after the commit.
/// Ends one of the user's own families (from `/account`), in its own write transaction; `None`
/// when the user has no live family of that id (another user's, unknown, or already ended).
pub fn revoke_family_of_user(
    conn: &mut AnyConnection,
    user_id: i64,
    family_id: &str,
) -> Result<Option<Change>, DbError> {
    write_transaction(conn, |conn| {
        let at = now();
        let live = refresh_tokens::live_of_user(conn, user_id, at)?
            .iter()
            .any(|row| row.family_id == family_id);
        if !live {
            return Ok(None);
        }
        let ended = end_family(conn, family_id, user_id, at)?;
        tracing::info!(target: "audit", event = "refresh_family_revoked", user_id);
        Ok(Some(ended))
    })
}

fn end_family(
    conn: &mut AnyConnection,
    family_id: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<Change, DbError> {
    refresh_tokens::revoke_family(conn, family_id, now)?;
    let change = Change::Family {
        family_id: family_id.to_string(),
        user_id,
    };
    changes::record(conn, &change)?;
    Ok(change)
}

/// Uses a refresh token once. Exactly one of several concurrent callers rotates it; the others
/// see it used and revoke the family. A token of a family past `policy.max_age` is refused
/// (and left unused). Returns, with the outcome, the family it ended (to be published after the
/// commit: see `Accounts::rotate_refresh_token`).
pub fn rotate(
    conn: &mut AnyConnection,
    presented: &str,
    policy: RefreshPolicy,
) -> Result<(Rotation, Option<Change>), DbError> {
    let hash = HashedToken::of(presented);
    write_transaction(conn, |conn| {
        let now = now();
        // The family's age is checked before its token is used up: an unused token stays
        // unused, so presenting it again is not taken for a reuse, which would end the family
        // and with it the access tokens already issued from it, before their own `exp`.
        if refresh_tokens::find_by_hash(conn, hash.as_str())?.is_some_and(|row| {
            row.used_at.is_none() && policy.too_old(row.family_started_at(), now)
        }) {
            return Ok((Rotation::Invalid, None));
        }
        if refresh_tokens::mark_used(conn, hash.as_str(), now)? == 1 {
            let Some(row) = refresh_tokens::find_by_hash(conn, hash.as_str())? else {
                return Ok((Rotation::Invalid, None));
            };
            // A family revoked meanwhile (reuse elsewhere, logout-all, password change).
            if refresh_tokens::family_revoked(conn, &row.family_id)? {
                return Ok((Rotation::Invalid, None));
            }
            let checked = row.checked_at.unwrap_or(row.created_at);
            let started = row.family_started_at();
            let auth_time = row.family_auth_time();
            match users::find(conn, row.user_id)? {
                Some(user) if family_current(&user, checked) => {
                    let family = FamilyFacts {
                        id: &row.family_id,
                        created_at: started,
                        auth_time,
                    };
                    let token = insert_token(conn, user.id, family, checked, policy.ttl)?;
                    Ok((
                        Rotation::Rotated {
                            user: Box::new(user),
                            issued: Issued {
                                token,
                                family_id: row.family_id,
                            },
                            auth_time,
                        },
                        None,
                    ))
                }
                _ => {
                    let ended = end_family(conn, &row.family_id, row.user_id, now)?;
                    Ok((Rotation::Invalid, Some(ended)))
                }
            }
        } else {
            match refresh_tokens::find_by_hash(conn, hash.as_str())? {
                Some(row) if row.used_at.is_some() => {
                    let ended = end_family(conn, &row.family_id, row.user_id, now)?;
                    tracing::warn!(target: "audit", event = "refresh_token_reuse", user_id = row.user_id, "refresh token reused; family revoked");
                    Ok((Rotation::Reused, Some(ended)))
                }
                _ => Ok((Rotation::Invalid, None)),
            }
        }
    })
}

/// Revokes the family of a presented token (RFC 7009); unknown tokens are ignored. Returns
/// the change to publish when there was one.
pub fn revoke(conn: &mut AnyConnection, presented: &str) -> Result<Option<Change>, DbError> {
    let hash = HashedToken::of(presented);
    write_transaction(conn, |conn| {
        let Some(row) = refresh_tokens::find_by_hash(conn, hash.as_str())? else {
            return Ok(None);
        };
        let ended = end_family(conn, &row.family_id, row.user_id, now())?;
        tracing::info!(target: "audit", event = "refresh_token_revoked", user_id = row.user_id);
        Ok(Some(ended))
    })
}

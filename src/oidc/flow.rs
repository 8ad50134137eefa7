//! The decisions of the provider: issuing an authorization code, exchanging it (once) for a
//! refresh-token family bound to the client, and whether a client's access token still stands.
//!
//! Every check that decides a write is made inside the write's transaction: the code is used
//! by a compare-and-swap on `used_at`, the user is read again (disabled, password changed or
//! signed out everywhere since the code was issued refuses it), and a code presented again
//! revokes the family its first exchange started (RFC 6749 §4.1.2).

use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::token::refresh::{self, HashedToken, Issued};
use crate::db::changes::{self, Change};
use crate::db::models::User;
use crate::db::oidc_codes::{self, CodeRow};
use crate::db::oidc_grants::{self, FamilyRow};
use crate::db::{AnyConnection, DbError, oidc_clients, refresh_tokens, users, write_transaction};
use crate::domain::clock::now;
use crate::domain::random_token;

/// How long an authorization code lives.
pub const CODE_TTL_SECS: i64 = 60;

/// What a code is bound to.
#[derive(Debug, Clone)]
pub struct CodeRequest {
    pub client_id: String,
    pub user_id: i64,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub auth_time: NaiveDateTime,
    pub amr: String,
    pub session_ref: Option<String>,
}

/// Why a code was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueRefused {
    /// The client was deleted, or the user disabled or deleted, meanwhile.
    #[error("the client or the user is gone")]
    Gone,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for IssueRefused {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Issues a code (256 random bits; only its hash is stored), recording the user's consent to
/// `consent` scopes in the same transaction when given.
pub fn issue_code(
    conn: &mut AnyConnection,
    request: &CodeRequest,
    consent: Option<&str>,
) -> Result<String, IssueRefused> {
    let code = random_token(32);
    let hash = HashedToken::of(&code);
    write_transaction(conn, |conn| {
        let user_ok = users::find(conn, request.user_id)?.is_some_and(|u| !u.disabled);
        if !user_ok || oidc_clients::find(conn, &request.client_id)?.is_none() {
            return Err(IssueRefused::Gone);
        }
        let at = now();
        if let Some(scope) = consent {
            oidc_grants::upsert(conn, request.user_id, &request.client_id, scope, at)?;
        }
        oidc_codes::insert(
            conn,
            &CodeRow {
                code_hash: hash.as_str().to_string(),
                client_id: request.client_id.clone(),
                user_id: request.user_id,
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                nonce: request.nonce.clone(),
                scope: request.scope.clone(),
                auth_time: request.auth_time,
                amr: request.amr.clone(),
                session_ref: request.session_ref.clone(),
                created_at: at,
                expires_at: at + Duration::seconds(CODE_TTL_SECS),
                used_at: None,
                family_id: None,
            },
        )?;
        Ok(code)
    })
}

/// What the token request presented with the code.
pub struct ExchangeInput {
    pub code: String,
    /// The authenticated client.
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_ttl: std::time::Duration,
}

/// What became of a presented code.
pub enum Exchange {
    /// Used now: a new refresh-token family, bound to the client.
    Issued {
        user: Box<User>,
        family: Issued,
        code: Box<CodeRow>,
    },
    /// Unknown, expired, of another client, for another redirect URI, a wrong verifier, or
    /// its user can no longer sign in (the reason is for the log and `error_description`).
    Invalid(&'static str),
    /// Used before: what its first exchange issued is revoked now.
    Replayed,
}

/// Whether `verifier` is a PKCE verifier (RFC 7636 §4.1) whose S256 challenge is `challenge`.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// Whether `challenge` is a well-formed S256 challenge (43 base64url characters).
pub fn challenge_well_formed(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Whether `user` may still use what was approved at `at`.
fn user_current(user: &User, at: NaiveDateTime) -> bool {
    !user.disabled
        && user.password_changed_at <= at
        && user.sessions_revoked_at.is_none_or(|t| t <= at)
}

/// Revokes the family a code's first exchange started, inside the caller's transaction.
fn revoke_issued(conn: &mut AnyConnection, row: &CodeRow) -> Result<Vec<Change>, DbError> {
    let Some(family_id) = &row.family_id else {
        return Ok(Vec::new());
    };
    refresh_tokens::revoke_family(conn, family_id, now())?;
    let change = Change::Family {
        family_id: family_id.clone(),
        user_id: row.user_id,
    };
    changes::record(conn, &change)?;
    Ok(vec![change])
}

/// Exchanges a code once. Of concurrent exchanges exactly one succeeds; the others count as a
/// replay. Returns the outcome and the changes to publish after the commit.
pub fn exchange(
    conn: &mut AnyConnection,
    input: &ExchangeInput,
) -> Result<(Exchange, Vec<Change>), DbError> {
    let hash = HashedToken::of(&input.code);
    write_transaction(conn, |conn| {
        let at = now();
        let Some(row) = oidc_codes::find(conn, hash.as_str())? else {
            return Ok((Exchange::Invalid("unknown code"), Vec::new()));
        };
        if row.client_id != input.client_id {
            return Ok((
                Exchange::Invalid("the code was issued to another client"),
                Vec::new(),
            ));
        }
        if row.used_at.is_some() {
            let made = revoke_issued(conn, &row)?;
            return Ok((Exchange::Replayed, made));
        }
        if row.expires_at <= at {
            return Ok((Exchange::Invalid("the code has expired"), Vec::new()));
        }
        if input.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
            return Ok((
                Exchange::Invalid("redirect_uri differs from the authorization request's"),
                Vec::new(),
            ));
        }
        match (&row.code_challenge, &input.code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (None, None) => {}
            (None, Some(_)) => {
                return Ok((
                    Exchange::Invalid("code_verifier given for a code issued without PKCE"),
                    Vec::new(),
                ));
            }
            _ => {
                return Ok((
                    Exchange::Invalid("the code_verifier does not match the code_challenge"),
                    Vec::new(),
                ));
            }
        }
        // The compare-and-swap: of several concurrent exchanges one gets the row.
        if oidc_codes::mark_used(conn, hash.as_str(), at)? != 1 {
            let fresh = oidc_codes::find(conn, hash.as_str())?.unwrap_or(row);
            let made = revoke_issued(conn, &fresh)?;
            return Ok((Exchange::Replayed, made));
        }
        let user = match users::find(conn, row.user_id)? {
            Some(user) if user_current(&user, row.created_at) => user,
            _ => {
                return Ok((
                    Exchange::Invalid("the user can no longer sign in"),
                    Vec::new(),
                ));
            }
        };
        // The family dates from the approval: a revocation after it ends the family.
        let family = refresh::start_family_at(
            conn,
            user.id,
            row.created_at,
            row.auth_time,
            input.refresh_ttl,
        )?;
        oidc_grants::bind_family(
            conn,
            &FamilyRow {
                family_id: family.family_id.clone(),
                client_id: row.client_id.clone(),
                user_id: user.id,
                scope: row.scope.clone(),
                created_at: at,
            },
        )?;
        oidc_codes::set_family(conn, hash.as_str(), &family.family_id)?;
        Ok((
            Exchange::Issued {
                user: Box::new(user),
                family,
                code: Box::new(row),
            },
            Vec::new(),
        ))
    })
}

/// Claims of an access token issued to a client (RFC 9068). `aud` is the client id, never
/// `token.audience`, so Gatehouse's own API refuses it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientAccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// The refresh-token family it descends from: ending it refuses the token.
    pub sid: String,
    pub auth_time: i64,
}

/// The user of a client's access token, when its family is live and bound to that client and
/// user, and the user is enabled and not revoked since the family's sign-in.
pub fn client_token_user(
    conn: &mut AnyConnection,
    claims: &ClientAccessClaims,
) -> Result<Option<User>, DbError> {
    if claims.aud != claims.client_id {
        return Ok(None);
    }
    let Some(checked) = refresh_tokens::live_family_checked_at(conn, &claims.sid)? else {
        return Ok(None);
    };
    let bound = oidc_grants::family(conn, &claims.sid)?
        .is_some_and(|f| f.client_id == claims.client_id && f.user_id.to_string() == claims.sub);
    if !bound {
        return Ok(None);
    }
    let Ok(user_id) = claims.sub.parse::<i64>() else {
        return Ok(None);
    };
    Ok(users::find(conn, user_id)?.filter(|u| user_current(u, checked)))
}

/// The client a refresh token's family is bound to, if any.
pub fn family_of_refresh_token(
    conn: &mut AnyConnection,
    presented: &str,
) -> Result<Option<FamilyRow>, DbError> {
    let hash = HashedToken::of(presented);
    let Some(row) = refresh_tokens::find_by_hash(conn, hash.as_str())? else {
        return Ok(None);
    };
    Ok(oidc_grants::family(conn, &row.family_id)?)
}

/// The authentication methods of a user's sign-in (RFC 8176): `pwd`, and `mfa` for a user
/// with a second factor (every sign-in of such a user passed it).
pub fn amr_of(conn: &mut AnyConnection, user_id: i64) -> Result<String, DbError> {
    let second = crate::db::totp::is_active(conn, user_id)?
        || !crate::db::passkeys::for_user(conn, user_id)?.is_empty();
    Ok(if second { "pwd mfa" } else { "pwd" }.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example_only() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(challenge_well_formed(challenge));
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(challenge, &verifier.replace('d', "e")));
        assert!(!pkce_matches(challenge, "short"));
        // `plain` (the verifier as its own challenge) never matches.
        assert!(!pkce_matches(verifier, verifier));
    }
}

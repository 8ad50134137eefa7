//! Access tokens (SPEC §6): JWTs with header `typ: at+jwt` and `kid`, signed by the newest
//! active key of the key store (`crate::keys`). Verification pins the algorithm of the key the
//! token's `kid` names, never the token's `alg`, so keys of several algorithms verify side by
//! side during a rotation.
//!
//! jsonwebtoken's defaults are not ours (leeway 60 s, `nbf` unchecked, no issuer or audience,
//! header fields `typ`, `crit`, `kid`, `jku`, `x5u`, `jwk` ignored): every one is set or checked here.

use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{KeyError, KeyMaterial};
use crate::config::{Settings, TokenAlgorithm};
use crate::db::models::User;
use crate::domain::random_token;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Longer tokens are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id, as a string (RFC 7519 §4.1.2).
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    pub name: String,
    pub roles: Vec<String>,
    /// The refresh-token family the token was issued with: ending the family (logout,
    /// revocation, reuse, sign-out everywhere, password change) refuses the token.
    pub sid: String,
    /// When the user's password last changed (Unix microseconds): a token whose value differs
    /// from the user's current one was issued before a password change and is refused.
    /// Seconds (`iat`) are too coarse: a login in the same second as the change would pass.
    pub pwd_at: i64,
    /// When the sign-in this token descends from completed (Unix seconds), kept across
    /// refreshes: account changes that need a recent sign-in read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// Why a token was refused; the description of RFC 6750's `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("expired")]
    Expired,
    #[error("invalid")]
    Invalid,
}

/// A signed access token and its lifetime in seconds.
pub struct IssuedToken {
    pub token: String,
    pub expires_in: i64,
}

/// One key of the ring: what verifies (and, while it is the newest active key, signs) the
/// tokens whose header names its `kid`.
struct RingKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public key as a JWK (`None` for an HMAC secret, which is never published).
    jwk: Option<Jwk>,
    /// When it starts signing (Unix microseconds).
    activates_at: i64,
}

/// The signing keys in force, oldest activation first: the newest one that has activated
/// signs; an older one keeps verifying until `access_ttl + leeway` after the key that
/// replaced it activated (every token it signed has expired by then).
#[derive(Default)]
struct Ring {
    keys: Vec<RingKey>,
}

/// What verification and issuance take from the configuration (rebuilt on reload).
struct Params {
    issuer: String,
    audience: String,
    access_ttl: i64,
    leeway: i64,
    /// One `Validation` per algorithm, each pinned to its algorithm alone.
    validations: Vec<(Algorithm, Validation)>,
}

/// A key opened from the key store, ready for [`JwtKeys::replace_keys`].
#[derive(Clone)]
pub struct OpenedKey {
    pub kid: String,
    pub algorithm: TokenAlgorithm,
    /// When it starts signing (Unix microseconds).
    pub activates_at: i64,
    pub material: KeyMaterial,
}

/// The access-token keys of the key store, as this instance last loaded them, and the
/// configuration they are used with. Both are swapped whole (a reload of the key store after
/// a rotation or a retirement, a reload of the configuration); a request reads each once.
pub struct JwtKeys {
    ring: ArcSwap<Ring>,
    params: ArcSwap<Params>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ring = self.ring.load();
        f.debug_struct("JwtKeys")
            .field(
                "kids",
                &ring.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

pub fn to_algorithm(alg: TokenAlgorithm) -> Algorithm {
    match alg {
        TokenAlgorithm::EdDSA => Algorithm::EdDSA,
        TokenAlgorithm::HS256 => Algorithm::HS256,
        TokenAlgorithm::HS384 => Algorithm::HS384,
        TokenAlgorithm::HS512 => Algorithm::HS512,
        TokenAlgorithm::RS256 => Algorithm::RS256,
        TokenAlgorithm::ES256 => Algorithm::ES256,
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Params {
    fn new(settings: &Settings) -> Self {
        let leeway = secs(settings.token.leeway.0);
        let issuer = settings.issuer();
        let audience = settings.token.audience.clone();
        let validations = TokenAlgorithm::ALL
            .into_iter()
            .map(|alg| {
                let alg = to_algorithm(alg);
                let mut validation = Validation::new(alg);
                validation.algorithms = vec![alg];
                validation.leeway = u64::try_from(leeway).unwrap_or(0);
                validation.validate_exp = true;
                validation.validate_nbf = true;
                validation.validate_aud = true;
                validation.reject_tokens_expiring_in_less_than = 0;
                validation.set_issuer(&[&issuer]);
                validation.set_audience(&[&audience]);
                validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
                (alg, validation)
            })
            .collect();
        Self {
            issuer,
            audience,
            access_ttl: secs(settings.token.access_ttl.0),
            leeway,
            validations,
        }
    }

    fn validation(&self, alg: Algorithm) -> Option<&Validation> {
        self.validations
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
    }

    /// How long a replaced key keeps verifying after its successor activated (microseconds).
    fn overlap_micros(&self) -> i64 {
        self.access_ttl
            .saturating_add(self.leeway)
            .saturating_mul(1_000_000)
    }
}

impl Ring {
    /// The key that signs at `now`: the newest one that has activated.
    fn signer(&self, now: i64) -> Option<&RingKey> {
        self.keys.iter().rev().find(|k| k.activates_at <= now)
    }

    /// The key named `kid`, when it still verifies at `now`.
    fn verifier(&self, kid: &str, now: i64, params: &Params) -> Option<&RingKey> {
        let index = self.keys.iter().position(|k| k.kid == kid)?;
        self.verifies(index, now, params).then(|| &self.keys[index])
    }

    /// Whether the key at `index` verifies at `now`: not replaced yet, or replaced less than
    /// `access_ttl + leeway` ago. (A key that has not activated verifies too: it is published
    /// already, and an instance whose clock runs ahead may sign with it.)
    fn verifies(&self, index: usize, now: i64, params: &Params) -> bool {
        match self.keys.get(index + 1) {
            Some(successor) if successor.activates_at <= now => {
                now < successor
                    .activates_at
                    .saturating_add(params.overlap_micros())
            }
            _ => true,
        }
    }
}

/// The `kid` of a key: the JWK thumbprint (RFC 7638) of a public key; for an HMAC secret a
/// name derived from it that reveals nothing about it.
pub fn kid_of(alg: TokenAlgorithm, material: &KeyMaterial) -> Result<String, KeyError> {
    match material {
        KeyMaterial::Secret(secret) => Ok(b64(&Sha256::digest(
            [b"gatehouse-kid:".as_slice(), secret].concat(),
        )[..16])),
        KeyMaterial::Pair { .. } => {
            let key = open_key(alg, "new key", material)?;
            Ok(key.kid)
        }
    }
}

/// Builds the verifying and signing parts of one key; `kid` names it in errors (and is
/// replaced by the thumbprint for a key pair).
fn open_key(alg: TokenAlgorithm, kid: &str, material: &KeyMaterial) -> Result<RingKey, KeyError> {
    let algorithm = to_algorithm(alg);
    let bad = |e: jsonwebtoken::errors::Error| KeyError::Invalid {
        kid: kid.to_string(),
        problem: format!("not a valid {} key ({e})", alg.as_str()),
    };
    match material {
        KeyMaterial::Secret(secret) => {
            if !alg.is_hmac() {
                return Err(KeyError::Invalid {
                    kid: kid.to_string(),
                    problem: format!("a secret cannot be a {} key", alg.as_str()),
                });
            }
            Ok(RingKey {
                kid: kid.to_string(),
                algorithm,
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                jwk: None,
                activates_at: 0,
            })
        }
        KeyMaterial::Pair {
            private_pem,
            public_pem,
        } => {
            let (encoding, decoding) = match alg {
                TokenAlgorithm::EdDSA => (
                    EncodingKey::from_ed_pem(private_pem).map_err(bad)?,
                    DecodingKey::from_ed_pem(public_pem).map_err(bad)?,
                ),
                TokenAlgorithm::RS256 => (
                    EncodingKey::from_rsa_pem(private_pem).map_err(bad)?,
                    DecodingKey::from_rsa_pem(public_pem).map_err(bad)?,
                ),
                TokenAlgorithm::ES256 => (
                    EncodingKey::from_ec_pem(private_pem).map_err(bad)?,
                    DecodingKey::from_ec_pem(public_pem).map_err(bad)?,
                ),
                TokenAlgorithm::HS256 | TokenAlgorithm::HS384 | TokenAlgorithm::HS512 => {
                    return Err(KeyError::Invalid {
                        kid: kid.to_string(),
                        problem: format!("a key pair cannot be an {} key", alg.as_str()),
                    });
                }
            };
            let from_private = Jwk::from_encoding_key(&encoding, algorithm).map_err(bad)?;
            let from_public = Jwk::from_decoding_key(&decoding, Some(algorithm)).map_err(bad)?;
            let thumbprint = |jwk: &Jwk| jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256);
            let kid = thumbprint(&from_private).map_err(bad)?;
            if from_public
                .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .map_err(bad)?
                != kid
            {
                return Err(KeyError::Invalid {
                    kid,
                    problem: "the public key does not match the private key".into(),
                });
            }
            let mut jwk = from_private;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwk.common.key_algorithm = Some(key_algorithm(alg));
            Ok(RingKey {
                kid,
                algorithm,
                encoding,
                decoding,
                jwk: Some(jwk),
                activates_at: 0,
            })
        }
    }
}

impl JwtKeys {
    /// The ring of `keys` (any order), used under `settings`.
    pub fn new(settings: &Settings, keys: Vec<OpenedKey>) -> Result<Self, KeyError> {
        let jwt = Self {
            ring: ArcSwap::from_pointee(Ring::default()),
            params: ArcSwap::from_pointee(Params::new(settings)),
        };
        jwt.replace_keys(keys)?;
        Ok(jwt)
    }

    /// Puts a newly loaded set of keys in force.
    pub fn replace_keys(&self, keys: Vec<OpenedKey>) -> Result<(), KeyError> {
        let mut ring = Vec::with_capacity(keys.len());
        for key in keys {
            let mut opened = open_key(key.algorithm, &key.kid, &key.material)?;
            // The stored kid names the key (an HMAC secret has no thumbprint).
            if key.material.is_pair() && opened.kid != key.kid {
                return Err(KeyError::Invalid {
                    kid: key.kid,
                    problem: format!("its public key's thumbprint is {}", opened.kid),
                });
            }
            opened.kid = key.kid;
            opened.activates_at = key.activates_at;
            ring.push(opened);
        }
        // Stable: keys activating together keep the store's order (creation, then kid).
        ring.sort_by_key(|k| k.activates_at);
        self.ring.store(std::sync::Arc::new(Ring { keys: ring }));
        Ok(())
    }

    /// Applies a reloaded configuration (issuer, audience, lifetimes, leeway).
    pub fn reconfigure(&self, settings: &Settings) {
        self.params
            .store(std::sync::Arc::new(Params::new(settings)));
    }

    /// The kid that signs now (`None` when no key has activated).
    pub fn signing_kid(&self) -> Option<String> {
        self.ring.load().signer(now_micros()).map(|k| k.kid.clone())
    }

    /// The kids in the ring, oldest activation first.
    pub fn kids(&self) -> Vec<String> {
        self.ring
            .load()
            .keys
            .iter()
            .map(|k| k.kid.clone())
            .collect()
    }

    /// Whether tokens signed with `kid` still verify: the key is in the ring and not past its
    /// overlap (a retired key refuses what it signed, cached or not).
    pub fn knows(&self, kid: &str) -> bool {
        let params = self.params.load();
        self.ring
            .load()
            .verifier(kid, now_micros(), &params)
            .is_some()
    }

    /// The time rules of [`JwtKeys::verify`] applied again to claims it verified earlier (the
    /// verified-token cache): expired past `exp` + leeway, not valid before `nbf` - leeway.
    pub fn check_times(&self, claims: &AccessClaims) -> Result<(), TokenError> {
        let leeway = self.params.load().leeway;
        let now = chrono::Utc::now().timestamp();
        if claims.exp < now - leeway {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + leeway) {
            return Err(TokenError::Invalid);
        }
        Ok(())
    }

    /// The public keys that verify now (the next key included, the replaced ones until their
    /// overlap ends) as a JWK Set; HMAC secrets never appear.
    pub fn jwks(&self) -> JwkSet {
        let params = self.params.load();
        let ring = self.ring.load();
        let now = now_micros();
        let keys = (0..ring.keys.len())
            .filter(|&i| ring.verifies(i, now, &params))
            .filter_map(|i| ring.keys[i].jwk.clone())
            .collect();
        JwkSet { keys }
    }

    /// Signs a new access token for `user`, issued with the refresh-token family `sid`, with
    /// the key that signs now.
    pub fn issue(&self, user: &User, sid: &str) -> Result<IssuedToken, IssueError> {
        self.issue_at(user, sid, None)
    }

    /// As [`JwtKeys::issue`], with the `auth_time` claim (Unix seconds) of the sign-in.
    pub fn issue_at(
        &self,
        user: &User,
        sid: &str,
        auth_time: Option<i64>,
    ) -> Result<IssuedToken, IssueError> {
        let params = self.params.load();
        let ring = self.ring.load();
        let key = ring.signer(now_micros()).ok_or(IssueError::NoKey)?;
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: params.issuer.clone(),
            aud: params.audience.clone(),
            sub: user.id.to_string(),
            exp: now + params.access_ttl,
            iat: now,
            nbf: Some(now),
            jti: random_token(16),
            name: user.username.clone(),
            roles: user.roles().into_iter().map(String::from).collect(),
            sid: sid.to_string(),
            pwd_at: password_marker(user),
            auth_time,
        };
        let mut header = Header::new(key.algorithm);
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: params.access_ttl,
        })
    }

    /// Verifies a token: header checks first (a `kid` the ring knows, the algorithm pinned to
    /// that key's, `typ`, no `crit` and no embedded or remote keys), then signature and claims.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify_with_kid(token).map(|(claims, _)| claims)
    }

    /// As [`JwtKeys::verify`], also naming the key that verified.
    pub fn verify_with_kid(&self, token: &str) -> Result<(AccessClaims, String), TokenError> {
        let (claims, kid) = self.decode_checked::<AccessClaims>(token, None)?;
        // jsonwebtoken does not check `iat`: a token from the future is forged or mis-clocked.
        let leeway = self.params.load().leeway;
        if claims.iat > chrono::Utc::now().timestamp() + leeway {
            return Err(TokenError::Invalid);
        }
        Ok((claims, kid))
    }

    /// Signs `claims` (any shape: ID tokens, OAuth clients' access tokens) with the key that
    /// signs now, with header `typ` and `kid`; returns the token and the algorithm used (an ID
    /// token's `at_hash` depends on it).
    pub fn sign<T: Serialize>(
        &self,
        typ: Option<&str>,
        claims: &T,
    ) -> Result<(String, Algorithm), IssueError> {
        let ring = self.ring.load();
        let key = ring.signer(now_micros()).ok_or(IssueError::NoKey)?;
        let mut header = Header::new(key.algorithm);
        header.typ = typ.map(String::from);
        header.kid = Some(key.kid.clone());
        Ok((
            jsonwebtoken::encode(&header, claims, &key.encoding)?,
            key.algorithm,
        ))
    }

    /// As [`JwtKeys::sign`], with claims built for the algorithm of the key that signs (an ID
    /// token's `at_hash` depends on it).
    pub fn sign_with<T: Serialize>(
        &self,
        typ: Option<&str>,
        claims: impl FnOnce(Algorithm) -> T,
    ) -> Result<String, IssueError> {
        let ring = self.ring.load();
        let key = ring.signer(now_micros()).ok_or(IssueError::NoKey)?;
        let mut header = Header::new(key.algorithm);
        header.typ = typ.map(String::from);
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(
            &header,
            &claims(key.algorithm),
            &key.encoding,
        )?)
    }

    /// The configured issuer and audience and the access-token lifetime in seconds.
    pub fn issuer_audience_ttl(&self) -> (String, String, i64) {
        let params = self.params.load();
        (
            params.issuer.clone(),
            params.audience.clone(),
            params.access_ttl,
        )
    }

    /// Verifies an access token that this ring signed for an OAuth client (RFC 9068): the
    /// header checks of [`JwtKeys::verify`], signature, issuer and times; its `aud` must *not*
    /// be the configured audience (that is Gatehouse's own API, whose verifier in turn refuses
    /// every other audience). The caller checks `aud` against the client.
    pub fn verify_foreign_audience<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, TokenError> {
        let audience = self.params.load().audience.clone();
        let (claims, _) = self.decode_checked::<serde_json::Value>(token, Some(()))?;
        let leeway = self.params.load().leeway;
        let aud_ok = claims
            .get("aud")
            .and_then(|a| a.as_str())
            .is_some_and(|a| a != audience);
        let iat_ok = claims
            .get("iat")
            .and_then(serde_json::Value::as_i64)
            .is_some_and(|iat| iat <= chrono::Utc::now().timestamp() + leeway);
        if !aud_ok || !iat_ok {
            return Err(TokenError::Invalid);
        }
        serde_json::from_value(claims).map_err(|_| TokenError::Invalid)
    }

    /// Header checks, then signature and claims; `any_audience` turns the audience check off
    /// (the caller checks it).
    fn decode_checked<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        any_audience: Option<()>,
    ) -> Result<(T, String), TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let params = self.params.load();
        let ring = self.ring.load();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.verifier(kid, now_micros(), &params))
            .ok_or(TokenError::Invalid)?;
        let header_ok = header.alg == key.algorithm
            && header.typ.as_deref().is_some_and(|t| {
                t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                    || t.eq_ignore_ascii_case("application/at+jwt")
            })
            && header.crit.is_none()
            && header.jku.is_none()
            && header.jwk.is_none()
            && header.x5u.is_none()
            && header.x5c.is_none();
        if !header_ok {
            return Err(TokenError::Invalid);
        }
        let validation = params
            .validation(key.algorithm)
            .ok_or(TokenError::Invalid)?;
        let relaxed;
        let validation = if any_audience.is_some() {
            let mut v = validation.clone();
            v.validate_aud = false;
            v.aud = None;
            relaxed = v;
            &relaxed
        } else {
            validation
        };
        let data =
            jsonwebtoken::decode::<T>(token, &key.decoding, validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        Ok((data.claims, key.kid.clone()))
    }
}

/// Why no token could be signed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no signing key has activated")]
    NoKey,
    #[error(transparent)]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The value of `pwd_at` for a user.
pub fn password_marker(user: &User) -> i64 {
    user.password_changed_at.and_utc().timestamp_micros()
}

fn key_algorithm(alg: TokenAlgorithm) -> KeyAlgorithm {
    match alg {
        TokenAlgorithm::EdDSA => KeyAlgorithm::EdDSA,
        TokenAlgorithm::HS256 => KeyAlgorithm::HS256,
        TokenAlgorithm::HS384 => KeyAlgorithm::HS384,
        TokenAlgorithm::HS512 => KeyAlgorithm::HS512,
        TokenAlgorithm::RS256 => KeyAlgorithm::RS256,
        TokenAlgorithm::ES256 => KeyAlgorithm::ES256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        let now = crate::domain::clock::now();
        User {
            id: 7,
            username: "alice".into(),
            username_key: "alice".into(),
            password_hash: String::new(),
            is_admin: false,
            disabled: false,
            password_changed_at: now,
            last_login_at: None,
            created_at: now,
            updated_at: now,
            sessions_revoked_at: None,
            service: false,
        }
    }

    fn opened(alg: TokenAlgorithm, activates_at: i64) -> OpenedKey {
        let material = KeyMaterial::generate(alg).unwrap();
        OpenedKey {
            kid: kid_of(alg, &material).unwrap(),
            algorithm: alg,
            activates_at,
            material,
        }
    }

    /// Signs and verifies with every algorithm: a missing crypto provider fails here, not in
    /// production.
    #[test]
    fn every_algorithm_signs_and_verifies_with_generated_keys() {
        for alg in TokenAlgorithm::ALL {
            let keys = JwtKeys::new(&Settings::default(), vec![opened(alg, 0)])
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let issued = keys.issue(&user(), "family").unwrap();
            let (claims, kid) = keys
                .verify_with_kid(&issued.token)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(claims.sub, "7");
            assert_eq!(Some(kid), keys.signing_kid());
            assert_eq!(
                keys.jwks().keys.len(),
                usize::from(!alg.is_hmac()),
                "{alg:?}"
            );
        }
    }

    /// Two keys side by side: the newer signs, the older verifies through its overlap, and
    /// each pins its own algorithm whatever a token's header says.
    #[test]
    fn the_kid_pins_the_algorithm_and_a_replaced_key_verifies_through_its_overlap() {
        let now = chrono::Utc::now().timestamp_micros();
        let old = opened(TokenAlgorithm::EdDSA, now - 3_600_000_000);
        let old_kid = old.kid.clone();
        let old_only = JwtKeys::new(&Settings::default(), vec![old.clone()]).unwrap();
        let old_token = old_only.issue(&user(), "f").unwrap().token;
        // Replaced a minute ago: within access_ttl (15 min) + leeway.
        let new = opened(TokenAlgorithm::HS256, now - 60_000_000);
        let new_kid = new.kid.clone();
        let old_only_key = old.clone();
        let both = JwtKeys::new(&Settings::default(), vec![new, old]).unwrap();
        assert_eq!(both.signing_kid().as_deref(), Some(new_kid.as_str()));
        assert!(both.verify(&old_token).is_ok());
        let new_token = both.issue(&user(), "f").unwrap().token;
        assert_eq!(both.verify_with_kid(&new_token).unwrap().1, new_kid);
        // The HMAC key's kid with another algorithm in the header is refused.
        let mut header = jsonwebtoken::decode_header(&new_token).unwrap();
        header.alg = Algorithm::HS384;
        let (_, rest) = new_token.split_once('.').unwrap();
        let forged = format!("{}.{rest}", b64(&serde_json::to_vec(&header).unwrap()));
        assert_eq!(both.verify(&forged).unwrap_err(), TokenError::Invalid);
        // Replaced longer ago than access_ttl + leeway: refused, and out of the JWKS.
        let mut settings = Settings::default();
        settings.token.access_ttl = crate::config::HumanDuration::seconds(10);
        settings.token.leeway = crate::config::HumanDuration::seconds(5);
        both.reconfigure(&settings);
        assert!(!both.knows(&old_kid));
        assert!(both.jwks().keys.is_empty());
        // A key that has not activated is published but does not sign.
        let next = opened(TokenAlgorithm::ES256, now + 3_600_000_000);
        let next_kid = next.kid.clone();
        let old = OpenedKey {
            activates_at: now - 3_600_000_000,
            ..old_only_key
        };
        let ring = JwtKeys::new(&Settings::default(), vec![old, next]).unwrap();
        assert_eq!(ring.signing_kid().as_deref(), Some(old_kid.as_str()));
        assert!(
            ring.jwks()
                .keys
                .iter()
                .any(|k| k.common.key_id.as_deref() == Some(next_kid.as_str()))
        );
    }

    #[test]
    fn a_short_legacy_hmac_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hmac.key");
        std::fs::write(&path, "too short").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut settings = Settings::default();
        settings.token.algorithm = TokenAlgorithm::HS256;
        settings.token.secret_file = Some(path);
        let err = super::super::keys::read_legacy(&settings)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("at least 32"), "{err}");
    }
}

//! Access tokens (SPEC §6): JWTs with header `typ: at+jwt` and `kid`, signed with the configured
//! algorithm. Keys, `Validation` and the JWKS are built once at start-up.
//!
//! jsonwebtoken's defaults are not ours (leeway 60 s, `nbf` unchecked, no issuer or audience,
//! header fields `typ`, `crit`, `kid`, `jku`, `x5u`, `jwk` ignored): every one is set or checked here.

use std::time::Duration;

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

pub struct JwtKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    kid: String,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    access_ttl: i64,
    leeway: i64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
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

impl JwtKeys {
    /// Loads (or generates) the configured keys and builds everything verification needs.
    pub fn load(settings: &Settings) -> Result<Self, KeyError> {
        let material = super::keys::load_or_generate(settings)?;
        Self::from_material(settings, material)
    }

    pub fn from_material(settings: &Settings, material: KeyMaterial) -> Result<Self, KeyError> {
        let alg = to_algorithm(settings.token.algorithm);
        let bad = |path: std::path::PathBuf, e: jsonwebtoken::errors::Error| KeyError::File {
            path,
            problem: format!("not a valid {alg:?} key ({e})"),
        };
        let (encoding, decoding, kid, keys) = match material {
            KeyMaterial::Secret(secret) => {
                // A name for the secret that reveals nothing about it.
                let kid =
                    b64(&Sha256::digest([b"gatehouse-kid:".as_slice(), &secret].concat())[..16]);
                (
                    EncodingKey::from_secret(&secret),
                    DecodingKey::from_secret(&secret),
                    kid,
                    Vec::new(),
                )
            }
            KeyMaterial::Pair {
                private_pem,
                public_pem,
            } => {
                let (private_path, public_path) =
                    (settings.private_key_file(), settings.public_key_file());
                let (encoding, decoding) = match settings.token.algorithm {
                    TokenAlgorithm::EdDSA => (
                        EncodingKey::from_ed_pem(&private_pem)
                            .map_err(|e| bad(private_path.clone(), e))?,
                        DecodingKey::from_ed_pem(&public_pem)
                            .map_err(|e| bad(public_path.clone(), e))?,
                    ),
                    TokenAlgorithm::RS256 => (
                        EncodingKey::from_rsa_pem(&private_pem)
                            .map_err(|e| bad(private_path.clone(), e))?,
                        DecodingKey::from_rsa_pem(&public_pem)
                            .map_err(|e| bad(public_path.clone(), e))?,
                    ),
                    TokenAlgorithm::ES256 => (
                        EncodingKey::from_ec_pem(&private_pem)
                            .map_err(|e| bad(private_path.clone(), e))?,
                        DecodingKey::from_ec_pem(&public_pem)
                            .map_err(|e| bad(public_path.clone(), e))?,
                    ),
                    TokenAlgorithm::HS256 | TokenAlgorithm::HS384 | TokenAlgorithm::HS512 => {
                        return Err(KeyError::Generate(settings.token.algorithm));
                    }
                };
                let from_private = Jwk::from_encoding_key(&encoding, alg)
                    .map_err(|e| bad(private_path.clone(), e))?;
                let from_public = Jwk::from_decoding_key(&decoding, Some(alg))
                    .map_err(|e| bad(public_path.clone(), e))?;
                if from_private.algorithm != from_public.algorithm {
                    return Err(KeyError::File {
                        path: public_path,
                        problem: format!(
                            "does not match the private key {}",
                            private_path.display()
                        ),
                    });
                }
                let kid = from_private
                    .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                    .map_err(|e| bad(private_path, e))?;
                let mut jwk = from_private;
                jwk.common.key_id = Some(kid.clone());
                jwk.common.public_key_use = Some(PublicKeyUse::Signature);
                jwk.common.key_algorithm = Some(key_algorithm(settings.token.algorithm));
                (encoding, decoding, kid, vec![jwk])
            }
        };
        let leeway = secs(settings.token.leeway.0);
        let issuer = settings.issuer();
        let audience = settings.token.audience.clone();
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
        Ok(Self {
            algorithm: alg,
            encoding,
            decoding,
            validation,
            kid,
            jwks: JwkSet { keys },
            issuer,
            audience,
            access_ttl: secs(settings.token.access_ttl.0),
            leeway,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Whether tokens signed with `kid` still verify (a key that left the key set refuses
    /// what it signed, cached or not).
    pub fn knows(&self, kid: &str) -> bool {
        kid == self.kid
    }

    /// The time rules of [`JwtKeys::verify`] applied again to claims it verified earlier (the
    /// verified-token cache): expired past `exp` + leeway, not valid before `nbf` - leeway.
    pub fn check_times(&self, claims: &AccessClaims) -> Result<(), TokenError> {
        let now = chrono::Utc::now().timestamp();
        if claims.exp < now - self.leeway {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + self.leeway) {
            return Err(TokenError::Invalid);
        }
        Ok(())
    }

    /// Seconds from now until `claims` expire by [`JwtKeys::check_times`] (0 when they have).
    pub fn remaining(&self, claims: &AccessClaims) -> u64 {
        let now = chrono::Utc::now().timestamp();
        u64::try_from(claims.exp + self.leeway - now).unwrap_or(0)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public keys as a JWK Set (empty for HMAC).
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Signs a new access token for `user`, issued with the refresh-token family `sid`.
    pub fn issue(
        &self,
        user: &User,
        sid: &str,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.id.to_string(),
            exp: now + self.access_ttl,
            iat: now,
            nbf: Some(now),
            jti: random_token(16),
            name: user.username.clone(),
            roles: user.roles().into_iter().map(String::from).collect(),
            sid: sid.to_string(),
            pwd_at: password_marker(user),
        };
        let mut header = Header::new(self.algorithm);
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: self.access_ttl,
        })
    }

    /// Verifies a token: header checks first (algorithm pinned, `typ`, known `kid`, no `crit`
    /// and no embedded or remote keys), then signature and claims.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let header_ok = header.alg == self.algorithm
            && header.typ.as_deref().is_some_and(|t| {
                t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                    || t.eq_ignore_ascii_case("application/at+jwt")
            })
            && header.kid.as_deref() == Some(self.kid.as_str())
            && header.crit.is_none()
            && header.jku.is_none()
            && header.jwk.is_none()
            && header.x5u.is_none()
            && header.x5c.is_none();
        if !header_ok {
            return Err(TokenError::Invalid);
        }
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let claims = data.claims;
        // jsonwebtoken does not check `iat`: a token from the future is forged or mis-clocked.
        if claims.iat > chrono::Utc::now().timestamp() + self.leeway {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
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
        }
    }

    /// Signs and verifies with every algorithm: a missing crypto provider fails here, not in
    /// production.
    #[test]
    fn every_algorithm_signs_and_verifies_with_generated_keys() {
        for alg in [
            TokenAlgorithm::EdDSA,
            TokenAlgorithm::HS256,
            TokenAlgorithm::HS384,
            TokenAlgorithm::HS512,
            TokenAlgorithm::RS256,
            TokenAlgorithm::ES256,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut settings = Settings::default();
            settings.server.data_dir = dir.path().to_path_buf();
            settings.token.algorithm = alg;
            let keys = JwtKeys::load(&settings).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let issued = keys.issue(&user(), "family").unwrap();
            let claims = keys
                .verify(&issued.token)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(claims.sub, "7");
            assert_eq!(
                keys.jwks().keys.len(),
                usize::from(!alg.is_hmac()),
                "{alg:?}"
            );
            for path in super::super::keys::key_paths(&settings) {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", path.display());
            }
            // Loading again reads the same keys.
            let again = JwtKeys::load(&settings).unwrap();
            assert_eq!(again.kid(), keys.kid());
            assert!(again.verify(&issued.token).is_ok());
        }
    }

    #[test]
    fn a_short_hmac_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hmac.key");
        std::fs::write(&path, "too short").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut settings = Settings::default();
        settings.token.algorithm = TokenAlgorithm::HS256;
        settings.token.secret_file = Some(path);
        let err = JwtKeys::load(&settings).unwrap_err().to_string();
        assert!(err.contains("at least 32"), "{err}");
    }
}

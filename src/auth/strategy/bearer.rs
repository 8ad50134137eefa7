//! Bearer access tokens in the `Authorization` header (RFC 6750 §2.1), with the token API on.
//!
//! Valid when the signature and claims verify, the user exists and is enabled, the token was
//! issued after the user's last password change (`pwd_at`), and the refresh-token family it
//! was issued with (`sid`) has not ended (logout, revocation, reuse, sign-out everywhere).
//! On a warm instance all of that comes from memory (`auth::cache`): the signature is checked
//! once per token, user state and family liveness until the change feed says otherwise.

use actix_web::HttpRequest;
use futures_util::future::LocalBoxFuture;

use super::{AuthStrategy, REALM, Verdict, authorization};
use crate::auth::token::access::TokenError;
use crate::auth::{Authenticated, Authenticator, Credential, CredentialKind};
use crate::config::Settings;

pub struct BearerStrategy;

/// The token of an `Authorization: Bearer …` header; `Some("")` for a bearer header without a
/// readable token (present but wrong: refused, not passed on to the next strategy).
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let (_, rest) = authorization(req, "bearer")?;
    Some(std::str::from_utf8(rest).map(str::trim).unwrap_or(""))
}

/// A user id written as its canonical decimal: digits only, no sign, no leading zero.
fn canonical_id(sub: &str) -> Option<i64> {
    let canonical = !sub.is_empty()
        && sub.bytes().all(|b| b.is_ascii_digit())
        && (sub == "0" || !sub.starts_with('0'));
    canonical.then(|| sub.parse().ok()).flatten()
}

const INVALID: Verdict = Verdict::Refused {
    description: "invalid",
};

impl AuthStrategy for BearerStrategy {
    fn name(&self) -> &'static str {
        "bearer"
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::Bearer
    }

    fn enabled(&self, config: &Settings) -> bool {
        config.auth.mode.tokens()
    }

    fn present(&self, req: &HttpRequest) -> bool {
        bearer_token(req).is_some()
    }

    fn verify<'a>(
        &'a self,
        req: &'a HttpRequest,
        auth: &'a Authenticator,
        _config: &'a Settings,
    ) -> LocalBoxFuture<'a, Verdict> {
        Box::pin(async move {
            let Some(token) = bearer_token(req) else {
                return Verdict::Absent;
            };
            let keys = match auth.keys.current().await {
                Ok(keys) => keys,
                Err(failure) => return Verdict::Failed(failure),
            };
            let claims = match auth.caches.verify(keys, token) {
                Ok(claims) => claims,
                Err(e) => {
                    return Verdict::Refused {
                        description: match e {
                            TokenError::Expired => "expired",
                            TokenError::Invalid => "invalid",
                        },
                    };
                }
            };
            // Only the canonical decimal form: "+2" or "002" do not name user 2.
            let Some(user_id) = canonical_id(&claims.sub) else {
                return INVALID;
            };
            let (user, family_live) = match auth.bearer_facts(user_id, &claims.sid).await {
                Ok(Some(found)) => found,
                Ok(None) => return INVALID,
                Err(failure) => return Verdict::Failed(failure),
            };
            if family_live && !user.disabled && claims.pwd_at == user.password_marker() {
                Verdict::Accepted(Box::new(Authenticated {
                    user,
                    credential: Credential::Bearer(claims),
                }))
            } else {
                INVALID
            }
        })
    }

    fn challenge(&self, refused: Option<&'static str>) -> Option<String> {
        Some(match refused {
            None => format!("Bearer realm=\"{REALM}\""),
            Some(description) => format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{description}\""
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_id;

    #[test]
    fn only_the_canonical_decimal_names_a_user() {
        assert_eq!(canonical_id("2"), Some(2));
        assert_eq!(canonical_id("0"), Some(0));
        assert_eq!(canonical_id("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "+2",
            "002",
            "-2",
            " 2",
            "2 ",
            "2a",
            "9223372036854775808",
        ] {
            assert_eq!(canonical_id(bad), None, "{bad:?}");
        }
    }
}

//! HTTP Basic credentials (RFC 7617), with `auth.basic` on.
//!
//! Valid when the password check of every door (`auth::login`) passes: the same lockout,
//! bcrypt pool and refusal of disabled users as the login form. Basic cannot carry a second
//! factor: a user who has one (or must enrol one under `auth.require_mfa`) is refused with
//! "second factor required", not counted as a failure, unless the account is a service
//! account.

use actix_web::HttpRequest;
use base64::Engine;
use futures_util::future::LocalBoxFuture;

use super::{AuthStrategy, REALM, Verdict, authorization};
use crate::auth::login::{LoginError, check_password};
use crate::auth::mfa::{Door, NextStep, SignInPolicy};
use crate::auth::{Authenticated, Authenticator, Credential, CredentialKind};
use crate::config::Settings;
use crate::domain::Password;
use crate::http::client_ip::client_ip;

/// `error_description` of a refused Basic header.
const INVALID_CREDENTIALS: &str = "invalid username or password";
/// `error_description` for a correct password whose user has (or must enrol) a second factor
/// and is not a service account: Basic cannot carry the second factor.
pub const SECOND_FACTOR_REQUIRED: &str = "second factor required";

pub struct BasicStrategy;

/// Why a Basic header could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed Basic credentials")]
pub struct MalformedBasic;

/// The raw `Authorization` value if its scheme is Basic.
pub fn basic_header(req: &HttpRequest) -> Option<&[u8]> {
    authorization(req, "basic").map(|(whole, _)| whole)
}

/// Parses `Basic base64(user:password)`: the user id is everything before the first colon
/// (RFC 7617 §2); both parts must be UTF-8 without control characters in the user id.
pub fn parse_basic(value: &[u8]) -> Result<(String, Password), MalformedBasic> {
    let text = std::str::from_utf8(value).map_err(|_| MalformedBasic)?;
    let (scheme, encoded) = text.split_once(' ').ok_or(MalformedBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(MalformedBasic);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| MalformedBasic)?;
    let decoded = String::from_utf8(decoded).map_err(|_| MalformedBasic)?;
    let (user, password) = decoded.split_once(':').ok_or(MalformedBasic)?;
    if user.is_empty() || user.chars().any(char::is_control) {
        return Err(MalformedBasic);
    }
    Ok((user.to_string(), Password::new(password.to_string())))
}

impl AuthStrategy for BasicStrategy {
    fn name(&self) -> &'static str {
        "basic"
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::Basic
    }

    fn enabled(&self, config: &Settings) -> bool {
        config.auth.basic
    }

    fn present(&self, req: &HttpRequest) -> bool {
        basic_header(req).is_some()
    }

    fn verify<'a>(
        &'a self,
        req: &'a HttpRequest,
        auth: &'a Authenticator,
        config: &'a Settings,
    ) -> LocalBoxFuture<'a, Verdict> {
        Box::pin(async move {
            let Some(value) = basic_header(req) else {
                return Verdict::Absent;
            };
            let Ok((username, password)) = parse_basic(value) else {
                return Verdict::Refused {
                    description: INVALID_CREDENTIALS,
                };
            };
            let ip = client_ip(
                req,
                &config.server.trusted_proxies,
                config.server.client_ip_header,
            )
            .lockout_key();
            let policy = SignInPolicy::new(Door::Basic, config.auth.require_mfa);
            match check_password(auth, &username, password, &ip, policy).await {
                // Not counted as a failure: the password's try was given back.
                Ok(verified) if verified.next != NextStep::Done => Verdict::Refused {
                    description: SECOND_FACTOR_REQUIRED,
                },
                Ok(verified) => Verdict::Accepted(Box::new(Authenticated {
                    user: std::sync::Arc::new(verified.user.state()),
                    credential: Credential::Basic,
                })),
                Err(LoginError::InvalidCredentials) => Verdict::Refused {
                    description: INVALID_CREDENTIALS,
                },
                Err(LoginError::Failed(failure)) => Verdict::Failed(failure),
            }
        })
    }

    fn challenge(&self, _refused: Option<&'static str>) -> Option<String> {
        // RFC 7617 has no error parameter: the same challenge either way.
        Some(format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(user_pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
        .into_bytes()
    }

    #[test]
    fn the_password_may_contain_colons() {
        let (user, password) = parse_basic(&header("alice:pa:ss")).unwrap();
        assert_eq!(user, "alice");
        assert_eq!(password.expose(), "pa:ss");
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            &b"Basic"[..],
            b"Basic !!!",
            b"Bearer abc",
            b"Basic \xff\xfe",
        ] {
            assert_eq!(parse_basic(bad).unwrap_err(), MalformedBasic);
        }
        assert!(parse_basic(&header("no-colon")).is_err());
        assert!(parse_basic(&header(":empty-user")).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_basic(&raw);
        }

        #[test]
        fn any_encoded_pair_round_trips(user in "[^:\\p{Cc}]{1,40}", password in "\\PC{0,40}") {
            let (u, p) = parse_basic(&header(&format!("{user}:{password}"))).unwrap();
            prop_assert_eq!(u, user);
            prop_assert_eq!(p.expose(), password.as_str());
        }
    }
}

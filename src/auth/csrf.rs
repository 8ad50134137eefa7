//! CSRF tokens for HTML forms (and session-authenticated JSON writes): a random token kept in
//! the server-side session, echoed by each form in a hidden `csrf_token` field (or the
//! `X-CSRF-Token` header) and compared in constant time.
//!
//! Anonymous forms (sign-in, sign-up) store nothing on the server: their token is a MAC of a
//! random nonce kept in a short-lived cookie (a signed double submit). A cross-site page can
//! neither read the victim's nonce nor compute the MAC, so it cannot forge the pair.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

use crate::session_store::TypedSession;

/// The header that carries the session's token on JSON requests (SPEC §6).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Why a form's token was refused.
#[derive(Debug, thiserror::Error)]
#[error("missing or invalid CSRF token")]
pub struct CsrfError;

/// Accepts `submitted` only if it equals the session's token.
pub fn verify(session: &TypedSession, submitted: &str) -> Result<(), CsrfError> {
    let expected = session.stored_csrf_token().ok_or(CsrfError)?;
    check(&expected, submitted)
}

/// The token of an anonymous form for `nonce` (the value of its cookie).
pub fn anonymous_token(key: &[u8], nonce: &str) -> String {
    use base64::Engine;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(
        &key,
        format!("gatehouse anonymous form\0{nonce}").as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// Accepts an anonymous form only if its token is the MAC of the nonce its cookie carries.
pub fn verify_anonymous(
    key: &[u8],
    cookie_nonce: Option<&str>,
    submitted: &str,
) -> Result<(), CsrfError> {
    let nonce = cookie_nonce.filter(|n| !n.is_empty()).ok_or(CsrfError)?;
    check(&anonymous_token(key, nonce), submitted)
}

/// The comparison itself, apart from the session so that it can be tested on any input.
pub fn check(expected: &str, submitted: &str) -> Result<(), CsrfError> {
    if expected.is_empty() || submitted.is_empty() {
        return Err(CsrfError);
    }
    if bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) {
        Ok(())
    } else {
        Err(CsrfError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_anonymous_token_holds_only_with_its_own_nonce_and_key() {
        let key = [7u8; 32];
        let token = anonymous_token(&key, "nonce-a");
        assert!(verify_anonymous(&key, Some("nonce-a"), &token).is_ok());
        assert!(verify_anonymous(&key, Some("nonce-b"), &token).is_err());
        assert!(verify_anonymous(&[8u8; 32], Some("nonce-a"), &token).is_err());
        assert!(verify_anonymous(&key, None, &token).is_err());
        assert!(verify_anonymous(&key, Some(""), &anonymous_token(&key, "")).is_err());
    }

    proptest! {
        #[test]
        fn only_the_exact_token_passes(expected in "[A-Za-z0-9_-]{43}", submitted in ".{0,64}") {
            prop_assert_eq!(check(&expected, &submitted).is_ok(), expected == submitted);
            prop_assert!(check(&expected, &expected).is_ok());
            prop_assert!(check("", &submitted).is_err());
        }
    }
}

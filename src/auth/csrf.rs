//! CSRF tokens for HTML forms (and session-authenticated JSON writes): a random token kept in
//! the server-side session, echoed by each form in a hidden `csrf_token` field (or the
//! `X-CSRF-Token` header) and compared in constant time.

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

    proptest! {
        #[test]
        fn only_the_exact_token_passes(expected in "[A-Za-z0-9_-]{43}", submitted in ".{0,64}") {
            prop_assert_eq!(check(&expected, &submitted).is_ok(), expected == submitted);
            prop_assert!(check(&expected, &expected).is_ok());
            prop_assert!(check("", &submitted).is_err());
        }
    }
}

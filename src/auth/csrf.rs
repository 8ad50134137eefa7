//! CSRF tokens for HTML forms: a random token kept in the server-side session, echoed by each
//! form in a hidden `csrf_token` field and compared in constant time.

use actix_session::Session;
use subtle::ConstantTimeEq;

const SESSION_KEY: &str = "csrf";

/// Why a form's token was refused.
#[derive(Debug, thiserror::Error)]
#[error("missing or invalid CSRF token")]
pub struct CsrfError;

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(existing)) = session.get::<String>(SESSION_KEY) {
        return existing;
    }
    rotate(session)
}

/// Replaces the session's token (after sign-in, so a token seen before it is worthless).
pub fn rotate(session: &Session) -> String {
    let fresh = super::random_token(32);
    // Inserting a String cannot fail to serialize.
    let _ = session.insert(SESSION_KEY, &fresh);
    fresh
}

/// Accepts `submitted` only if it equals the session's token.
pub fn verify(session: &Session, submitted: &str) -> Result<(), CsrfError> {
    let expected = session
        .get::<String>(SESSION_KEY)
        .ok()
        .flatten()
        .ok_or(CsrfError)?;
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

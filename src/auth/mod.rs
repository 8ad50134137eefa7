//! Authentication decisions: credentials, password hashing, CSRF, the login check, access and
//! refresh tokens, and the `AuthStrategy` chain with its extractors.

pub mod accounts;
pub mod basic;
pub mod bearer;
pub mod client_ip;
pub mod credentials;
pub mod csrf;
pub mod extract;
pub mod jwt;
pub mod keys;
pub mod lockout;
pub mod login;
pub mod password;
pub mod session;
pub mod strategy;
pub mod tokens;

use base64::Engine;

/// `bytes` random bytes from the thread-local CSPRNG (seeded by the OS), as unpadded base64url.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&buf)
}

//! Random tokens for ids, secrets and CSRF.

use base64::Engine;

/// `bytes` random bytes from the thread-local CSPRNG (seeded by the OS), as unpadded base64url.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&buf)
}

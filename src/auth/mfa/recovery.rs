//! Recovery codes: ten single-use random codes of 60 bits each, written as three groups of
//! four base32 letters (`abcd-efgh-ijkl`), stored as SHA-256 only. They are high-entropy, so a
//! plain hash is enough (no bcrypt, which would cost ten hashes a try).

use sha2::{Digest, Sha256};

/// Codes in a set.
pub const CODES: usize = 10;
/// Characters of a code (5 bits each: 60 bits).
const CHARS: usize = 12;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new set of codes, as shown to the user once.
pub fn generate() -> Vec<String> {
    (0..CODES).map(|_| one()).collect()
}

fn one() -> String {
    let mut bytes = [0u8; CHARS];
    rand::fill(&mut bytes[..]);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A typed code in its canonical form (lower case, without dashes or spaces); `None` when it
/// cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let kept: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (kept.len() == CHARS && kept.bytes().all(|b| ALPHABET.contains(&b))).then_some(kept)
}

/// The stored form of a code (canonical form first).
pub fn hash(canonical: &str) -> String {
    hex::encode(Sha256::digest(
        format!("gatehouse-recovery:{canonical}").as_bytes(),
    ))
}

/// The stored forms of a set of codes as shown.
pub fn hashes(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter_map(|c| normalize(c))
        .map(|c| hash(&c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_codes_of_sixty_bits_that_read_back() {
        let codes = generate();
        assert_eq!(codes.len(), CODES);
        let mut seen = std::collections::HashSet::new();
        for code in &codes {
            assert_eq!(code.len(), 14, "{code}");
            let canonical = normalize(code).unwrap();
            assert!(seen.insert(canonical));
        }
        assert_eq!(hashes(&codes).len(), CODES);
    }

    #[test]
    fn typing_is_forgiving_but_strict_about_content() {
        let code = "abcd-efgh-2345";
        assert_eq!(normalize("ABCD EFGH 2345").as_deref(), Some("abcdefgh2345"));
        assert_eq!(normalize(code).as_deref(), Some("abcdefgh2345"));
        for bad in [
            "",
            "abcd-efgh-234",
            "abcd-efgh-23456",
            "abcd-efgh-2341",
            "ábcd-efgh-2345",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }
}

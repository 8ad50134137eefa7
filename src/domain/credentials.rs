//! Types for what people type in: usernames and passwords, parsed once at the edge.

use secrecy::{ExposeSecret, SecretString};

/// The longest password bcrypt uses in full (it silently ignores bytes past 72).
pub const MAX_PASSWORD_BYTES: usize = 72;
pub const MAX_USERNAME_CHARS: usize = 64;

/// A valid username: 1–64 ASCII letters, digits, `.`, `_`, `-` or `@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("Username is required.".into());
        }
        if raw.chars().count() > MAX_USERNAME_CHARS {
            return Err(format!(
                "Username must be at most {MAX_USERNAME_CHARS} characters."
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(
                "Username may contain only letters (a–z, A–Z), digits, '.', '_', '-' and '@'."
                    .into(),
            );
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key that uniqueness and look-ups use.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// The rules a new password must meet: `password.min_length` characters and a zxcvbn score of
/// `password.min_score` (0–4); see `auth::password::check_new_password`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_score: u8,
}

/// A password; its `Debug` prints nothing and its memory is wiped on drop.
#[derive(Clone)]
pub struct Password(SecretString);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn new(raw: String) -> Self {
        Self(SecretString::from(raw))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Checks a new password against the policy of SPEC §8; returns every reason it fails.
    pub fn check_policy(&self, min_length: usize) -> Result<(), Vec<String>> {
        let text = self.expose();
        let mut problems = Vec::new();
        if text.chars().count() < min_length {
            problems.push(format!(
                "Password must be at least {min_length} characters."
            ));
        }
        if text.len() > MAX_PASSWORD_BYTES {
            problems.push(format!(
                "Password must be at most {MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest)."
            ));
        }
        if text.contains('\0') {
            problems.push("Password must not contain NUL characters.".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames_are_keyed_without_case() {
        assert_eq!(Username::parse("Alice").unwrap().key(), "alice");
    }

    #[test]
    fn a_73_byte_password_is_refused() {
        let pw = Password::new("a".repeat(73));
        assert!(pw.check_policy(10).unwrap_err()[0].contains("72 bytes"));
        assert!(Password::new("a".repeat(72)).check_policy(10).is_ok());
    }

    proptest! {
        #[test]
        fn username_parse_never_panics_and_accepts_only_the_allowed_alphabet(raw in ".{0,80}") {
            if let Ok(name) = Username::parse(&raw) {
                prop_assert!(!name.as_str().is_empty());
                prop_assert!(name.as_str().chars().count() <= MAX_USERNAME_CHARS);
                prop_assert!(name.as_str().chars().all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c)));
            }
        }
    }
}

//! TOTP (RFC 6238) as Gatehouse uses it: SHA-1, 6 digits, 30-second steps, one step of skew
//! either way, a 160-bit secret (RFC 4226's recommended length), the `otpauth://` URI that
//! authenticator apps read, and its QR code drawn here as inline SVG (no outside service).
//!
//! `totp-rs` computes the codes; which step a code matched, and that a step is accepted once,
//! is ours (the repository's compare-and-swap on `last_step`).

use qrcode::{Color, EcLevel, QrCode};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::auth::token::master::{MasterError, MasterSecrets, Sealed};

/// Seconds in one time step.
pub const PERIOD: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Steps accepted before and after the current one (clock drift, a code typed late).
pub const SKEW: i64 = 1;
/// Bytes of a new secret (160 bits).
const SECRET_BYTES: usize = 20;

/// A TOTP secret in the clear; its `Debug` shows nothing.
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// The associated data that binds a sealed secret to its user's row: moved onto another user's
/// row, it does not open.
pub fn aad(user_id: i64) -> Vec<u8> {
    format!("gatehouse-totp:v1:user:{user_id}").into_bytes()
}

/// The name errors give a sealed secret.
fn label(user_id: i64) -> String {
    format!("totp secret of user {user_id}")
}

/// The time step of Unix time `unix` (seconds).
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(PERIOD as i64)
}

/// Keeps the digits of a typed code (spaces and dashes that apps show are dropped); `None`
/// unless exactly [`DIGITS`] digits remain.
pub fn normalize(code: &str) -> Option<String> {
    let kept: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (kept.len() == DIGITS && kept.bytes().all(|b| b.is_ascii_digit())).then_some(kept)
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::fill(&mut bytes[..]);
        Self(bytes)
    }

    fn totp(&self) -> TOTP {
        // The checked constructor only refuses fewer than 6 digits or a secret under 128
        // bits, neither of which ours can be.
        TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, PERIOD, self.0.clone())
    }

    /// The secret as people type it into an app: base32, without padding.
    pub fn base32(&self) -> String {
        match Secret::Raw(self.0.clone()).to_encoded() {
            Secret::Encoded(text) => text,
            Secret::Raw(_) => String::new(),
        }
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        let time = u64::try_from(step).unwrap_or(0).saturating_mul(PERIOD);
        self.totp().generate(time)
    }

    /// The latest time step within [`SKEW`] of Unix time `unix` whose code is `code` and that
    /// is later than `after` (the last step accepted), if any. `code` must be normalized.
    pub fn matching_step(&self, code: &str, unix: i64, after: i64) -> Option<i64> {
        let now = step_of(unix);
        (now - SKEW..=now + SKEW)
            .rev()
            .filter(|step| *step > after)
            .find(|step| {
                self.code_at_step(*step)
                    .as_bytes()
                    .ct_eq(code.as_bytes())
                    .into()
            })
    }

    /// The `otpauth://totp/…` URI of Google's key URI format, which authenticator apps read.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    other => format!("%{other:02X}"),
                })
                .collect()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
            enc(issuer),
            enc(account),
            self.base32(),
            enc(issuer)
        )
    }

    /// Seals the secret for `user_id`'s row under the master secret.
    pub fn seal(&self, master: &MasterSecrets, user_id: i64) -> Result<Sealed, MasterError> {
        master.seal(&label(user_id), &aad(user_id), &self.0)
    }

    /// Opens `user_id`'s sealed secret.
    pub fn open(
        master: &MasterSecrets,
        user_id: i64,
        sealed_with: &str,
        sealed: &[u8],
    ) -> Result<Self, MasterError> {
        master
            .open(&label(user_id), sealed_with, &aad(user_id), sealed)
            .map(Self)
    }
}

/// The issuer authenticator apps show next to the account: the public URL's host.
pub fn issuer(public_url: &str) -> String {
    let host = public_url
        .split("://")
        .nth(1)
        .unwrap_or(public_url)
        .split('/')
        .next()
        .filter(|h| !h.is_empty())
        .unwrap_or("gatehouse");
    format!("Gatehouse ({host})")
}

/// The QR code of `text` as an inline SVG element (black modules on white, four modules of
/// quiet zone, scaled by CSS through its `viewBox`), named `title` for screen readers. Built
/// from numbers and the escaped title only, so it is safe to put in a page unescaped.
pub fn qr_svg(text: &str, title: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 {size} {size}\" \
         role=\"img\" aria-labelledby=\"qr-title\" shape-rendering=\"crispEdges\">\
         <title id=\"qr-title\">{title}</title>\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, the SHA-1 secret, last 6 digits.
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        for (time, code) in [
            (59_i64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(secret.code_at_step(step_of(time)), code, "{time}");
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_only_after_the_last_accepted_step() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_000_i64;
        let step = step_of(now);
        for delta in -1..=1 {
            let code = secret.code_at_step(step + delta);
            assert_eq!(secret.matching_step(&code, now, 0), Some(step + delta));
            assert_eq!(secret.matching_step(&code, now, step + delta), None);
        }
        for delta in [-2, 2] {
            let code = secret.code_at_step(step + delta);
            let found = secret.matching_step(&code, now, 0);
            // A 6-digit code can collide with a neighbour's by chance (1 in 10^6).
            assert!(found.is_none() || found != Some(step + delta));
        }
    }

    #[test]
    fn codes_are_normalized_strictly() {
        assert_eq!(normalize("123 456").as_deref(), Some("123456"));
        assert_eq!(normalize("123-456").as_deref(), Some("123456"));
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_uri_names_the_secret_and_parameters() {
        let secret = TotpSecret::generate();
        let uri = secret.otpauth_uri("Gatehouse", "ann lee");
        assert!(uri.starts_with("otpauth://totp/Gatehouse:ann%20lee?secret="));
        assert!(uri.contains(&secret.base32()));
        assert!(uri.contains("algorithm=SHA1&digits=6&period=30"));
        assert_eq!(format!("{secret:?}"), "TotpSecret(***)");
    }

    #[test]
    fn the_qr_code_is_an_svg_of_paths_only() {
        let svg = qr_svg("otpauth://totp/x:y?secret=ABC", "<script>\"QR\"").unwrap();
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert!(!svg.contains("style") && !svg.contains("<script"));
        assert!(svg.contains("<title id=\"qr-title\">&lt;script&gt;&quot;QR&quot;</title>"));
    }
}

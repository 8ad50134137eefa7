//! The master secret (`keys.master_secret_file`): one 64-hex-digit secret per line. The first
//! line seals, every line opens, so the secret rotates by prepending a line and running
//! `gatehouse keys reseal`.
//!
//! Sealing is AES-256-GCM (aws-lc-rs, the crypto backend jsonwebtoken already runs on) with a
//! random 96-bit nonce per seal. The associated data names the key (kid, purpose, algorithm),
//! so a sealed blob moved onto another row does not open. Each sealed row also records the id
//! of the secret that sealed it (a hash of the secret, revealing nothing about it), so that a
//! missing secret is reported by name rather than as a failed decryption.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

use crate::files::{FileError, read_secret_file, write_secret_file};

/// Bytes of one secret (AES-256).
const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("keys.master_secret_file {}: {problem}", path.display())]
    File { path: PathBuf, problem: String },
    #[error(transparent)]
    Io(#[from] FileError),
    #[error(
        "key {kid} is sealed with master secret {sealed_with}, which is not in {}; start with \
         the master secret file the other instances use",
        path.display()
    )]
    Missing {
        kid: String,
        sealed_with: String,
        path: PathBuf,
    },
    #[error(
        "key {kid} does not open with master secret {sealed_with}: the sealed key or the \
         secret was altered"
    )]
    Tampered { kid: String, sealed_with: String },
    #[error("cannot seal key {kid}")]
    Seal { kid: String },
}

/// One secret and its public id.
struct Secret {
    id: String,
    key: LessSafeKey,
}

/// The secrets of the master secret file; the first seals.
pub struct MasterSecrets {
    path: PathBuf,
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for MasterSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterSecrets")
            .field("path", &self.path)
            .field("ids", &self.ids())
            .finish()
    }
}

/// A sealed key as stored: the id of the secret that sealed it, and nonce ‖ ciphertext ‖ tag.
pub struct Sealed {
    pub sealed_with: String,
    pub bytes: Vec<u8>,
}

/// What the associated data of a sealed key says: which key it is.
pub fn aad(kid: &str, purpose: &str, algorithm: &str) -> Vec<u8> {
    format!("gatehouse-key:v1:{kid}:{purpose}:{algorithm}").into_bytes()
}

impl MasterSecrets {
    /// Reads the file (refused behind a symlink or open to group or others).
    pub fn read(path: &Path) -> Result<Self, MasterError> {
        let raw = read_secret_file(path)?;
        Self::parse(path, &raw)
    }

    /// Writes a new file holding one fresh secret (mode 0600), then reads it.
    pub fn create(path: &Path) -> Result<Self, MasterError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_private_dir(dir)?;
        }
        let mut secret = [0u8; SECRET_BYTES];
        rand::fill(&mut secret[..]);
        let line = format!("{}\n", hex::encode(secret));
        write_secret_file(path, line.as_bytes())?;
        Self::read(path)
    }

    /// Parses the file's text: one 64-hex-digit secret per line; blank lines and `#` comments
    /// are skipped.
    pub fn parse(path: &Path, raw: &[u8]) -> Result<Self, MasterError> {
        let bad = |problem: String| MasterError::File {
            path: path.to_path_buf(),
            problem,
        };
        let text = std::str::from_utf8(raw).map_err(|_| bad("is not text".into()))?;
        let mut secrets = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = hex::decode(line)
                .ok()
                .filter(|b| b.len() == SECRET_BYTES)
                .ok_or_else(|| {
                    bad(format!(
                        "line {} is not a secret of 64 hex digits (e.g. `openssl rand -hex 32`)",
                        n + 1
                    ))
                })?;
            let id = secret_id(&bytes);
            if secrets.iter().any(|s: &Secret| s.id == id) {
                return Err(bad(format!("line {} repeats an earlier secret", n + 1)));
            }
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map(LessSafeKey::new)
                .map_err(|_| bad(format!("line {} is not a usable AES-256 key", n + 1)))?;
            secrets.push(Secret { id, key });
        }
        if secrets.is_empty() {
            return Err(bad("holds no secret".into()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            secrets,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ids of the secrets, the sealing one first.
    pub fn ids(&self) -> Vec<&str> {
        self.secrets.iter().map(|s| s.id.as_str()).collect()
    }

    /// The id of the secret that seals.
    pub fn sealing_id(&self) -> &str {
        &self.secrets[0].id
    }

    /// Seals `plain` for the key named by `aad` under the first secret.
    pub fn seal(&self, kid: &str, aad_bytes: &[u8], plain: &[u8]) -> Result<Sealed, MasterError> {
        let secret = &self.secrets[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        let mut in_out = plain.to_vec();
        secret
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad_bytes),
                &mut in_out,
            )
            .map_err(|_| MasterError::Seal {
                kid: kid.to_string(),
            })?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&in_out);
        Ok(Sealed {
            sealed_with: secret.id.clone(),
            bytes,
        })
    }

    /// Opens a key sealed by the secret `sealed_with`.
    pub fn open(
        &self,
        kid: &str,
        sealed_with: &str,
        aad_bytes: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, MasterError> {
        let secret = self
            .secrets
            .iter()
            .find(|s| s.id == sealed_with)
            .ok_or_else(|| MasterError::Missing {
                kid: kid.to_string(),
                sealed_with: sealed_with.to_string(),
                path: self.path.clone(),
            })?;
        let tampered = || MasterError::Tampered {
            kid: kid.to_string(),
            sealed_with: sealed_with.to_string(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(tampered());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| tampered())?;
        let mut in_out = ciphertext.to_vec();
        let plain = secret
            .key
            .open_in_place(nonce, Aad::from(aad_bytes), &mut in_out)
            .map_err(|_| tampered())?;
        Ok(plain.to_vec())
    }
}

/// The public name of a secret: 8 hex digits of a domain-separated SHA-256.
fn secret_id(secret: &[u8]) -> String {
    let digest = Sha256::digest([b"gatehouse-master-id:".as_slice(), secret].concat());
    hex::encode(&digest[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(lines: &str) -> MasterSecrets {
        MasterSecrets::parse(Path::new("master.key"), lines.as_bytes()).unwrap()
    }

    const A: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const B: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    #[test]
    fn the_first_line_seals_and_every_line_opens() {
        let old = secrets(A);
        let sealed = old.seal("k1", b"aad", b"private").unwrap();
        let rotated = secrets(&format!("{B}\n{A}\n"));
        assert_ne!(rotated.sealing_id(), old.sealing_id());
        let plain = rotated
            .open("k1", &sealed.sealed_with, b"aad", &sealed.bytes)
            .unwrap();
        assert_eq!(plain, b"private");
        let resealed = rotated.seal("k1", b"aad", &plain).unwrap();
        assert_eq!(resealed.sealed_with, rotated.sealing_id());
    }

    #[test]
    fn a_missing_secret_a_moved_blob_and_a_flipped_bit_are_refused() {
        let a = secrets(A);
        let sealed = a
            .seal("k1", &aad("k1", "access", "EdDSA"), b"private")
            .unwrap();
        let b = secrets(B);
        let err = b
            .open("k1", &sealed.sealed_with, b"x", &sealed.bytes)
            .unwrap_err();
        assert!(matches!(err, MasterError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("key k1"), "{err}");
        // Another row's associated data.
        let err = a
            .open(
                "k2",
                &sealed.sealed_with,
                &aad("k2", "access", "EdDSA"),
                &sealed.bytes,
            )
            .unwrap_err();
        assert!(matches!(err, MasterError::Tampered { .. }), "{err}");
        let mut flipped = sealed.bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let err = a
            .open(
                "k1",
                &sealed.sealed_with,
                &aad("k1", "access", "EdDSA"),
                &flipped,
            )
            .unwrap_err();
        assert!(matches!(err, MasterError::Tampered { .. }), "{err}");
    }

    #[test]
    fn malformed_files_are_refused_with_the_line() {
        for (text, needle) in [
            ("", "holds no secret"),
            ("# only a comment\n", "holds no secret"),
            ("abcd\n", "line 1"),
            (&format!("{A}\nzz{}\n", &B[2..]), "line 2"),
            (&format!("{A}\n{A}\n"), "repeats"),
        ] {
            let err = MasterSecrets::parse(Path::new("m"), text.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(needle), "{text:?}: {err}");
        }
    }
}

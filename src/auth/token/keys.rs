//! Key material for access tokens: generated in memory for the key store (`crate::keys`), read
//! from the legacy key files for a one-time import, or written as files by `gatehouse keys
//! generate`. Generation uses aws-lc-rs, the same crypto backend jsonwebtoken runs on. Files
//! are read and written through `crate::files`: never through a symlink, and a secret that
//! group or others can open is refused.

use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};

use crate::config::{Settings, TokenAlgorithm};
use crate::domain::random_token;
use crate::files::{
    FileError, ensure_absent, exists_no_follow, read_private_file, read_secret_file,
    write_secret_file,
};

/// The shortest HMAC secret accepted (RFC 7518 §3.2: at least the hash size for HS256).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error("cannot generate a {0:?} key")]
    Generate(TokenAlgorithm),
    #[error("key {kid}: {problem}")]
    Invalid { kid: String, problem: String },
    #[error(transparent)]
    Private(#[from] FileError),
}

fn file_err(path: &Path, problem: impl std::fmt::Display) -> KeyError {
    KeyError::File {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    }
}

/// Key material: an HMAC secret, or a PEM pair.
#[derive(Clone)]
pub enum KeyMaterial {
    Secret(Vec<u8>),
    Pair {
        private_pem: Vec<u8>,
        public_pem: Vec<u8>,
    },
}

impl KeyMaterial {
    pub fn is_pair(&self) -> bool {
        matches!(self, Self::Pair { .. })
    }

    /// A new key of `alg`, in memory: 64 random bytes for HMAC, else a fresh pair as PEM.
    pub fn generate(alg: TokenAlgorithm) -> Result<Self, KeyError> {
        if alg.is_hmac() {
            let mut secret = vec![0u8; 64];
            rand::fill(&mut secret[..]);
            return Ok(Self::Secret(secret));
        }
        let (private_der, public_der) = generate_pair(alg)?;
        Ok(Self::Pair {
            private_pem: pem::encode(&pem::Pem::new("PRIVATE KEY", private_der)).into_bytes(),
            public_pem: pem::encode(&pem::Pem::new("PUBLIC KEY", public_der)).into_bytes(),
        })
    }
}

/// The legacy key files of `settings` (from before keys lived in the database): the HMAC
/// secret when `token.algorithm` is an HS* one, else the PEM pair. `None` when absent; never
/// created.
pub fn read_legacy(settings: &Settings) -> Result<Option<(Vec<PathBuf>, KeyMaterial)>, KeyError> {
    if settings.token.algorithm.is_hmac() {
        let path = settings.secret_file();
        if !exists_no_follow(&path) {
            return Ok(None);
        }
        let secret = read_secret(&path)?;
        return Ok(Some((vec![path], KeyMaterial::Secret(secret))));
    }
    let (private, public) = (settings.private_key_file(), settings.public_key_file());
    match (exists_no_follow(&private), exists_no_follow(&public)) {
        (false, false) => Ok(None),
        (true, false) => Err(file_err(&public, "missing, while the private key exists")),
        (false, true) => Err(file_err(&private, "missing, while the public key exists")),
        (true, true) => Ok(Some((
            vec![private.clone(), public.clone()],
            KeyMaterial::Pair {
                private_pem: read_secret_file(&private)?,
                // Public, but whoever could replace it could have their own tokens accepted.
                public_pem: read_private_file(&public)?,
            },
        ))),
    }
}

/// The algorithm of a legacy PEM pair: the configured one when it reads as that, else the
/// first asymmetric algorithm it reads as.
pub fn pair_algorithm(preferred: TokenAlgorithm, material: &KeyMaterial) -> Option<TokenAlgorithm> {
    let KeyMaterial::Pair { private_pem, .. } = material else {
        return None;
    };
    let reads_as = |alg: TokenAlgorithm| match alg {
        TokenAlgorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(private_pem).is_ok(),
        TokenAlgorithm::RS256 => jsonwebtoken::EncodingKey::from_rsa_pem(private_pem).is_ok(),
        TokenAlgorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(private_pem).is_ok(),
        _ => false,
    };
    std::iter::once(preferred)
        .chain([
            TokenAlgorithm::EdDSA,
            TokenAlgorithm::ES256,
            TokenAlgorithm::RS256,
        ])
        .find(|&alg| !alg.is_hmac() && reads_as(alg))
}

/// Reads an HMAC secret (surrounding whitespace ignored) and checks its length.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, KeyError> {
    let raw = read_secret_file(path)?;
    let secret = raw.trim_ascii().to_vec();
    if secret.len() < MIN_HMAC_SECRET_BYTES {
        return Err(file_err(
            path,
            format!(
                "the HMAC secret is {} bytes; at least {MIN_HMAC_SECRET_BYTES} are required",
                secret.len()
            ),
        ));
    }
    Ok(secret)
}

/// Writes new key files: the secret at `first`, or the private key at `first` and the public
/// key at `second`. Refuses to overwrite an existing file.
pub fn generate_into(
    alg: TokenAlgorithm,
    first: &Path,
    second: Option<&Path>,
) -> Result<(), KeyError> {
    for path in [Some(first), second].into_iter().flatten() {
        ensure_absent(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_private_dir(dir)?;
        }
    }
    let write = |path: &Path, bytes: &[u8]| write_secret_file(path, bytes).map_err(KeyError::from);
    if alg.is_hmac() {
        // 64 random bytes as base64url text, so the file can be copied and inspected safely.
        let secret = random_token(64);
        return write(first, secret.as_bytes());
    }
    let public_path = second.ok_or(KeyError::Generate(alg))?;
    let (private_der, public_der) = generate_pair(alg)?;
    write(
        first,
        pem::encode(&pem::Pem::new("PRIVATE KEY", private_der)).as_bytes(),
    )?;
    write(
        public_path,
        pem::encode(&pem::Pem::new("PUBLIC KEY", public_der)).as_bytes(),
    )
}

/// A new key pair as (PKCS#8 private key DER, SubjectPublicKeyInfo DER).
fn generate_pair(alg: TokenAlgorithm) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let fail = |_| KeyError::Generate(alg);
    match alg {
        TokenAlgorithm::EdDSA => {
            let pair = Ed25519KeyPair::generate().map_err(fail)?;
            let private = pair.to_pkcs8v1().map_err(fail)?.as_ref().to_vec();
            let public = pair.public_key().as_der().map_err(fail)?.as_ref().to_vec();
            Ok((private, public))
        }
        TokenAlgorithm::ES256 => {
            let rng = SystemRandom::new();
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(fail)?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(|_| KeyError::Generate(alg))?;
            let public = pair.public_key().as_der().map_err(fail)?.as_ref().to_vec();
            Ok((doc.as_ref().to_vec(), public))
        }
        TokenAlgorithm::RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(fail)?;
            let private: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair.as_der().map_err(fail)?;
            let public = pair.public_key().as_der().map_err(fail)?.as_ref().to_vec();
            Ok((private.as_ref().to_vec(), public))
        }
        TokenAlgorithm::HS256 | TokenAlgorithm::HS384 | TokenAlgorithm::HS512 => {
            Err(KeyError::Generate(alg))
        }
    }
}

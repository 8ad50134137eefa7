//! `gatehouse keys generate [--algorithm ALG] [--out DIR]`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::auth::token::keys::generate_into;
use crate::config::{Settings, TokenAlgorithm};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new signing key (pair) or HMAC secret; existing files are never overwritten.
    Generate {
        /// EdDSA, HS256, HS384, HS512, RS256 or ES256 (default: token.algorithm).
        #[arg(long, value_parser = parse_algorithm)]
        algorithm: Option<TokenAlgorithm>,
        /// Directory for the files (default: the configured key file paths).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

fn parse_algorithm(raw: &str) -> Result<TokenAlgorithm, String> {
    Ok(match raw.to_ascii_uppercase().as_str() {
        "EDDSA" => TokenAlgorithm::EdDSA,
        "HS256" => TokenAlgorithm::HS256,
        "HS384" => TokenAlgorithm::HS384,
        "HS512" => TokenAlgorithm::HS512,
        "RS256" => TokenAlgorithm::RS256,
        "ES256" => TokenAlgorithm::ES256,
        _ => return Err("expected EdDSA, HS256, HS384, HS512, RS256 or ES256".into()),
    })
}

pub fn run(cmd: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
    let KeysCommand::Generate { algorithm, out } = cmd;
    let alg = algorithm.unwrap_or(settings.token.algorithm);
    let (first, second) = match (&out, alg.is_hmac()) {
        (Some(dir), true) => (dir.join("hmac.key"), None),
        (Some(dir), false) => (dir.join("signing.pem"), Some(dir.join("signing.pub.pem"))),
        (None, true) => (settings.secret_file(), None),
        (None, false) => (
            settings.private_key_file(),
            Some(settings.public_key_file()),
        ),
    };
    generate_into(alg, &first, second.as_deref())?;
    match second {
        Some(public) => println!(
            "wrote {alg:?} private key {} and public key {} (mode 0600)",
            first.display(),
            public.display()
        ),
        None => println!("wrote {alg:?} secret {} (mode 0600)", first.display()),
    }
    Ok(())
}

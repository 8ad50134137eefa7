//! `gatehouse keys …`: the key store (list, rotate, retire, import, reseal) and the legacy
//! `generate`, which writes key files for tools that want them.

use std::path::PathBuf;

use clap::Subcommand;

use crate::auth::token::keys::generate_into;
use crate::auth::token::store::{self as keys, KeyInfo};
use crate::config::{Settings, TokenAlgorithm};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new signing key (pair) or HMAC secret to files; existing files are never
    /// overwritten. (The server keeps its keys in the database: see `rotate` and `import`.)
    Generate {
        /// EdDSA, HS256, HS384, HS512, RS256 or ES256 (default: token.algorithm).
        #[arg(long, value_parser = parse_algorithm)]
        algorithm: Option<TokenAlgorithm>,
        /// Directory for the files (default: the configured key file paths).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// List the keys of the key store: kid, algorithm, state and dates.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a signing key: published in the JWKS at once, signing after
    /// token.key_publish_delay; the previous key verifies until its tokens have expired.
    Rotate {
        /// EdDSA, HS256, HS384, HS512, RS256 or ES256 (default: token.algorithm).
        #[arg(long, value_parser = parse_algorithm)]
        algorithm: Option<TokenAlgorithm>,
    },
    /// End a (compromised) signing key at once: its tokens stop verifying.
    Retire {
        /// The key id, as `keys list` shows it (a kid may begin with '-': base64url).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Import the legacy key files (token.secret_file or token.private_key_file and
    /// token.public_key_file, and <data_dir>/session.key) into the key store.
    Import,
    /// Re-seal every key under the first line of the master secret file.
    Reseal,
}

fn parse_algorithm(raw: &str) -> Result<TokenAlgorithm, String> {
    TokenAlgorithm::ALL
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(raw))
        .ok_or_else(|| "expected EdDSA, HS256, HS384, HS512, RS256 or ES256".into())
}

pub fn run(cmd: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Generate { algorithm, out } => generate(settings, algorithm, out),
        KeysCommand::List { json } => {
            let db = super::open_database(settings)?;
            let list = keys::list(settings, &mut *db.get()?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", table(&list));
            }
            Ok(())
        }
        KeysCommand::Rotate { algorithm } => {
            let db = super::open_database(settings)?;
            let mut conn = db.get()?;
            let master = keys::open_master(settings, &mut conn, false)?;
            let alg = algorithm.unwrap_or(settings.token.algorithm);
            let row = keys::rotate(settings, &mut conn, &master, alg)?;
            println!(
                "added {} key {}: in the JWKS now, signing from {} (UTC)",
                row.algorithm, row.kid, row.activates_at
            );
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            let db = super::open_database(settings)?;
            let row = keys::retire(settings, &mut *db.get()?, &kid)?;
            println!(
                "retired key {}: tokens it signed are refused by every running instance within \
                 cache.max_staleness",
                row.kid
            );
            Ok(())
        }
        KeysCommand::Import => {
            let db = super::open_database(settings)?;
            let mut conn = db.get()?;
            let master = keys::open_master(settings, &mut conn, true)?;
            let imported = keys::import_legacy(settings, &mut conn, &master)?;
            if imported.is_empty() {
                println!(
                    "nothing to import: no legacy key file, or the key store holds it already"
                );
            }
            for (kid, files) in imported {
                println!("imported {files} as key {kid}; the file is no longer used");
            }
            Ok(())
        }
        KeysCommand::Reseal => {
            let db = super::open_database(settings)?;
            let mut conn = db.get()?;
            let master = keys::open_master(settings, &mut conn, false)?;
            let done = keys::reseal_all(&mut conn, &master)?;
            println!(
                "re-sealed {} key(s) and {} TOTP secret(s) under master secret {}",
                done.keys,
                done.totp_secrets,
                master.sealing_id()
            );
            Ok(())
        }
    }
}

/// The table of `keys list`.
fn table(list: &[KeyInfo]) -> String {
    let mut out = format!(
        "{:<45} {:<7} {:<6} {:<8} {:<4} {:<20} {:<20} {}\n",
        "KID", "PURPOSE", "ALG", "STATE", "SIGN", "ACTIVATES", "VERIFIES UNTIL", "RETIRED"
    );
    for key in list {
        let algorithm = if key.purpose == "cookie" {
            "-"
        } else {
            &key.algorithm
        };
        out.push_str(&format!(
            "{:<45} {:<7} {:<6} {:<8} {:<4} {:<20} {:<20} {}\n",
            key.kid,
            key.purpose,
            algorithm,
            key.state,
            if key.signing { "yes" } else { "" },
            key.activates_at,
            key.verifies_until.as_deref().unwrap_or("-"),
            key.retired_at.as_deref().unwrap_or("-"),
        ));
    }
    out
}

fn generate(
    settings: &Settings,
    algorithm: Option<TokenAlgorithm>,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    /// Thumbprints are base64url: about one kid in 64 begins with '-'.
    #[test]
    fn a_kid_beginning_with_a_hyphen_is_a_kid_not_a_flag() {
        let cli = Cli::try_parse_from(["gatehouse", "keys", "retire", "-GxTq0y"]).unwrap();
        match cli.command {
            Some(Command::Keys(super::KeysCommand::Retire { kid })) => assert_eq!(kid, "-GxTq0y"),
            other => panic!("{other:?}"),
        }
    }
}

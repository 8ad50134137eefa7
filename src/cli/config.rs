//! `gatehouse config show` and `gatehouse config check [FILE]`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML, secrets redacted, durations as written in
    /// files ("30d"), and what the server derives from it as comments.
    Show,
    /// Validate a configuration without starting the server: FILE, else the file the server
    /// would read (--config, $GATEHOUSE_CONFIG, ./gatehouse.toml), with the environment over it.
    Check {
        /// The TOML file to check.
        file: Option<PathBuf>,
    },
}

pub fn run(cmd: ConfigCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Show => {
            print!(
                "{}{}",
                settings.to_redacted_toml(),
                settings.derived_comments()
            );
            Ok(())
        }
        ConfigCommand::Check { file } => check(file.as_deref().or(settings.config_file.as_deref())),
    }
}

/// Loads and validates the configuration from `file` (or the source the server would choose
/// when `None`) as start-up and a reload do, touching nothing else; prints
/// `configuration ok: <source>`. The error is the one-line `ConfigError` naming the key.
///
/// `main` calls this before loading any configuration of its own, so that `config check FILE`
/// checks FILE, and a broken default configuration yields this check's error.
pub fn check(file: Option<&Path>) -> anyhow::Result<()> {
    let settings = Settings::load(file)?;
    println!("configuration ok: {}", settings.source());
    Ok(())
}

//! `gatehouse config show`.

use clap::Subcommand;

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML, secrets redacted.
    Show,
}

pub fn run(cmd: ConfigCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Show => {
            print!("{}", settings.to_redacted_toml());
            Ok(())
        }
    }
}

//! The command line of SPEC §4. Exit codes: 0 success, 2 usage error (clap), 1 anything else,
//! with one line on stderr naming the problem.

pub mod client;
pub mod config;
pub mod keys;
pub mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db::Database;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Authentication server: HTML sessions and JWT tokens"
)]
pub struct Cli {
    /// TOML configuration file (else $GATEHOUSE_CONFIG, else ./gatehouse.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage token signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage OpenID Connect clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
}

/// Opens the configured database (creating it and applying migrations if needed).
pub fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    // No idle connections kept: see `Database::open_with_idle`.
    Ok(Database::open_with_idle(
        &settings.database.url,
        settings.database.pool_size.min(2),
        0,
    )?)
}

/// Runs a non-serve command.
pub fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => anyhow::bail!("serve runs the server; main starts it"),
        Command::Migrate => {
            let db = open_database(&settings)?;
            println!("database schema is up to date ({})", db.backend_name());
            Ok(())
        }
        Command::User(cmd) => user::run(cmd, &settings),
        Command::Keys(cmd) => keys::run(cmd, &settings),
        Command::Config(cmd) => config::run(cmd, &settings),
        Command::Client(cmd) => client::run(cmd, &settings),
    }
}

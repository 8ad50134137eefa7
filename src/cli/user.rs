//! `gatehouse user add|passwd|disable|enable|delete|list`.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Serialize;

use crate::auth::accounts::{self, AccountError};
use crate::auth::credentials::{Password, Username};
use crate::auth::password::hash_blocking;
use crate::config::Settings;
use crate::db::models::User;
use crate::db::{AnyConnection, users};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password; every session of the user ends.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user and end their sessions.
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Delete a user and everything issued to them.
    Delete { name: String },
    /// Lift a lockout of a username (after too many failed logins).
    Unlock { name: String },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// What `user list --json` prints of a user.
#[derive(Serialize)]
struct UserView<'a> {
    id: i64,
    username: &'a str,
    admin: bool,
    disabled: bool,
    created_at: String,
    last_login_at: Option<String>,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            id: u.id,
            username: &u.username,
            admin: u.is_admin,
            disabled: u.disabled,
            created_at: u.created_at.and_utc().to_rfc3339(),
            last_login_at: u.last_login_at.map(|t| t.and_utc().to_rfc3339()),
        }
    }
}

pub fn run(cmd: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = super::open_database(settings)?;
    let mut conn = db.get()?;
    let conn: &mut AnyConnection = &mut conn;
    match cmd {
        UserCommand::Add {
            name,
            admin,
            password_stdin,
        } => {
            let username = Username::parse(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
            if users::find_by_username(conn, &username.key())?.is_some() {
                bail!("user '{name}' already exists");
            }
            let password = read_password(password_stdin, settings.password.min_length)?;
            let hash = hash_blocking(&password, settings.password.bcrypt_cost)?;
            let user =
                accounts::create_user(conn, &username, &hash, admin).map_err(|e| match e {
                    AccountError::Taken => anyhow::anyhow!("user '{name}' already exists"),
                    other => other.into(),
                })?;
            println!(
                "created user '{}' (id {}){}",
                user.username,
                user.id,
                if admin { " as admin" } else { "" }
            );
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let user = find(conn, &name)?;
            let password = read_password(password_stdin, settings.password.min_length)?;
            let hash = hash_blocking(&password, settings.password.bcrypt_cost)?;
            accounts::store_new_password(conn, user.id, &hash)?;
            println!(
                "password of '{}' changed; their sessions were ended",
                user.username
            );
        }
        UserCommand::Disable { name } => {
            let user = find(conn, &name)?;
            accounts::set_disabled(conn, user.id, true)?;
            println!(
                "user '{}' disabled; their sessions were ended",
                user.username
            );
        }
        UserCommand::Enable { name } => {
            let user = find(conn, &name)?;
            accounts::set_disabled(conn, user.id, false)?;
            println!("user '{}' enabled", user.username);
        }
        UserCommand::Delete { name } => {
            let user = find(conn, &name)?;
            accounts::delete_user(conn, user.id)?;
            println!("user '{}' deleted", user.username);
        }
        UserCommand::Unlock { name } => {
            let exists = users::find_by_username(conn, &name)?.is_some();
            // Counters exist for unknown names too (failures are counted either way).
            let cleared = crate::auth::lockout::unlock_user(conn, &name)?;
            match (cleared, exists) {
                (true, _) => println!("'{name}' unlocked; its failed-login count was reset"),
                (false, true) => println!("'{name}' was not locked"),
                (false, false) => bail!("no user or lock named '{name}'"),
            }
        }
        UserCommand::List { json } => {
            let all = users::list(conn)?;
            if json {
                let views: Vec<UserView<'_>> = all.iter().map(UserView::from).collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                println!(
                    "{:<6} {:<32} {:<6} {:<9} LAST LOGIN",
                    "ID", "USERNAME", "ADMIN", "STATUS"
                );
                for u in &all {
                    println!(
                        "{:<6} {:<32} {:<6} {:<9} {}",
                        u.id,
                        u.username,
                        if u.is_admin { "yes" } else { "no" },
                        if u.disabled { "disabled" } else { "active" },
                        u.last_login_at.map_or_else(
                            || "never".into(),
                            |t| t.format("%Y-%m-%d %H:%M").to_string()
                        )
                    );
                }
            }
        }
    }
    Ok(())
}

fn find(conn: &mut AnyConnection, name: &str) -> anyhow::Result<User> {
    users::find_by_username(conn, name)?.with_context(|| format!("no user named '{name}'"))
}

/// Reads a new password from stdin (first line) or the terminal (asked twice), then checks it.
fn read_password(from_stdin: bool, min_length: usize) -> anyhow::Result<Password> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        Password::new(line.to_string())
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for the password; use --password-stdin");
        }
        let first = rpassword::prompt_password("New password: ")
            .context("cannot read the password from the terminal")?;
        let second = rpassword::prompt_password("Repeat password: ")
            .context("cannot read the password from the terminal")?;
        if first != second {
            bail!("the two passwords do not match");
        }
        Password::new(first)
    };
    password
        .check_policy(min_length)
        .map_err(|problems| anyhow::anyhow!("{}", problems.join(" ")))?;
    Ok(password)
}

//! `gatehouse user add|passwd|disable|enable|delete|unlock|list|mfa|mfa-reset|service`.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Serialize;

use crate::accounts::{AccountError, Accounts, By};
use crate::auth::lockout::Lockout;
use crate::auth::password::PasswordHasher;
use crate::config::Settings;
use crate::db::models::User;
use crate::db::{AnyConnection, Database, users};
use crate::domain::{Password, Username};
use crate::feed::Feed;
use crate::session_store::AnyStore;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Make the user a service account: HTTP Basic with the password alone, second
        /// factor or not.
        #[arg(long)]
        service: bool,
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
    /// Show a user's second factors (and recovery codes left).
    Mfa { name: String },
    /// Remove every second factor of a user; their sessions and refresh tokens end too.
    MfaReset { name: String },
    /// Mark a user as a service account (on) or not (off).
    Service { name: String, state: OnOff },
    /// Issue a one-time password-reset link (30 minutes) and print it; every session and
    /// token of the user ends now, and an earlier link stops working.
    ResetLink { name: String },
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// What `user list --json` prints of a user.
#[derive(Serialize)]
struct UserView<'a> {
    id: i64,
    username: &'a str,
    admin: bool,
    disabled: bool,
    service: bool,
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
            service: u.service,
            created_at: u.created_at.and_utc().to_rfc3339(),
            last_login_at: u.last_login_at.map(|t| t.and_utc().to_rfc3339()),
        }
    }
}

/// What a `user` command works with: the database, and the account lifecycle (so that
/// every command that ends credentials goes through the revocation seam, Redis included).
struct Opened {
    db: Database,
    accounts: Accounts,
}

/// Changes go through `Accounts`, which is async (the session store may be Redis): a small
/// runtime of its own runs them.
pub fn run(cmd: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the command's runtime")?;
    runtime.block_on(run_async(cmd, settings))
}

async fn open(settings: &Settings) -> anyhow::Result<Opened> {
    let db = super::open_database(settings)?;
    let installation_id = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || crate::startup::installation_id(&db))
            .await
            .context("start-up task failed")??
    };
    // A command serves no requests: its caches live as long as it does, and every change it
    // makes goes to the feed table for the running instances.
    let feed = Feed::new(settings.cache.max_staleness.0);
    feed.trust_forever();
    let metrics = crate::metrics::Metrics::new()?;
    let sessions = AnyStore::open(settings, &db, &installation_id, &feed, &metrics).await?;
    // One thread is plenty for one command; no queue to speak of.
    let hasher = PasswordHasher::start(settings.password.bcrypt_cost, 1, 1)?;
    let lockout = Lockout::new(&settings.lockout);
    let accounts = Accounts::new(db.clone(), hasher, sessions, lockout, feed);
    Ok(Opened { db, accounts })
}

/// Runs blocking repository code on the command's database.
async fn with_conn<T: Send + 'static>(
    db: &Database,
    f: impl FnOnce(&mut AnyConnection) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get()?;
        f(&mut conn)
    })
    .await
    .context("database task failed")?
}

async fn find_user(db: &Database, name: &str) -> anyhow::Result<User> {
    let name = name.to_string();
    with_conn(db, move |conn| find(conn, &name)).await
}

fn account_error(name: &str, e: AccountError) -> anyhow::Error {
    match e {
        AccountError::Taken => anyhow::anyhow!("user '{name}' already exists"),
        other => other.into(),
    }
}

async fn run_async(cmd: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    let Opened { db, accounts } = open(settings).await?;
    let policy = settings.password.policy();
    let min_length = policy.min_length;
    match cmd {
        UserCommand::Add {
            name,
            admin,
            service,
            password_stdin,
        } => {
            let username = Username::parse(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let key = username.key();
            if with_conn(&db, move |c| Ok(users::find_by_username(c, &key)?))
                .await?
                .is_some()
            {
                bail!("user '{name}' already exists");
            }
            let password = read_password(password_stdin, min_length)?;
            let user = accounts
                .create_by(By::Operator, username, password, admin, service, policy)
                .await
                .map_err(|e| account_error(&name, e))?;
            let mut roles = Vec::new();
            if admin {
                roles.push("admin");
            }
            if service {
                roles.push("service account");
            }
            println!(
                "created user '{}' (id {}){}",
                user.username,
                user.id,
                if roles.is_empty() {
                    String::new()
                } else {
                    format!(" as {}", roles.join(" and "))
                }
            );
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let user = find_user(&db, &name).await?;
            let password = read_password(password_stdin, min_length)?;
            accounts
                .set_password(user.id, password, policy)
                .await
                .map_err(|e| account_error(&name, e))?;
            println!(
                "password of '{}' changed; their sessions were ended",
                user.username
            );
        }
        UserCommand::Disable { name } => {
            let user = find_user(&db, &name).await?;
            accounts
                .set_disabled(By::Operator, user.id, true)
                .await
                .map_err(|e| account_error(&name, e))?;
            println!(
                "user '{}' disabled; their sessions were ended",
                user.username
            );
        }
        UserCommand::Enable { name } => {
            let user = find_user(&db, &name).await?;
            accounts
                .set_disabled(By::Operator, user.id, false)
                .await
                .map_err(|e| account_error(&name, e))?;
            println!("user '{}' enabled", user.username);
        }
        UserCommand::Delete { name } => {
            let user = find_user(&db, &name).await?;
            accounts
                .delete(By::Operator, user.id)
                .await
                .map_err(|e| account_error(&name, e))?;
            println!("user '{}' deleted", user.username);
        }
        UserCommand::Unlock { name } => {
            let lookup = name.clone();
            let exists = with_conn(&db, move |c| Ok(users::find_by_username(c, &lookup)?))
                .await?
                .is_some();
            // Counters exist for unknown names too (failures are counted either way).
            let cleared = accounts
                .unlock(By::Operator, name.clone())
                .await
                .map_err(|e| account_error(&name, e))?;
            match (cleared, exists) {
                (true, _) => println!("'{name}' unlocked; its failed-login count was reset"),
                (false, true) => println!("'{name}' was not locked"),
                (false, false) => bail!("no user or lock named '{name}'"),
            }
        }
        UserCommand::Mfa { name } => {
            let user = find_user(&db, &name).await?;
            let id = user.id;
            let factors = with_conn(&db, move |c| {
                Ok(crate::auth::mfa::factors(
                    c,
                    id,
                    crate::domain::clock::now(),
                )?)
            })
            .await?;
            let totp = if factors.totp {
                "on"
            } else if factors.totp_pending {
                "enrolment started, not confirmed"
            } else {
                "off"
            };
            println!("user '{}':", user.username);
            println!("  totp: {totp}");
            println!("  recovery codes left: {}", factors.recovery_left);
            let id = user.id;
            let keys = with_conn(&db, move |c| Ok(crate::auth::passkey::list(c, id)?)).await?;
            println!("  passkeys: {}", keys.len());
            for key in keys {
                println!(
                    "    - \"{}\" (added {}, last used {}{})",
                    key.name.escape_debug(),
                    key.created_at.format("%Y-%m-%d %H:%M UTC"),
                    key.last_used_at.map_or_else(
                        || "never".to_string(),
                        |t| t.format("%Y-%m-%d %H:%M UTC").to_string()
                    ),
                    if key.discoverable {
                        ", signs in without a password"
                    } else {
                        ""
                    }
                );
            }
            println!(
                "  service account: {}",
                if user.service { "yes" } else { "no" }
            );
        }
        UserCommand::MfaReset { name } => {
            let user = find_user(&db, &name).await?;
            accounts
                .reset_second_factors(By::Operator, user.id)
                .await
                .map_err(|e| account_error(&name, e))?;
            println!(
                "second factors of '{}' removed (TOTP, recovery codes and passkeys); their sessions and refresh tokens were ended",
                user.username
            );
        }
        UserCommand::ResetLink { name } => {
            let user = find_user(&db, &name).await?;
            let issued = accounts
                .issue_reset_link(By::Operator, user.id)
                .await
                .map_err(|e| account_error(&name, e))?
                .ok_or_else(|| anyhow::anyhow!("no user named '{name}'"))?;
            println!("{}", crate::web::reset::reset_url(settings, &issued.token));
            eprintln!(
                "works once, until {} UTC; every session and token of '{}' was ended",
                issued.expires_at.format("%Y-%m-%d %H:%M"),
                issued.username
            );
        }
        UserCommand::Service { name, state } => {
            let user = find_user(&db, &name).await?;
            let on = state == OnOff::On;
            accounts
                .set_service(By::Operator, user.id, on)
                .await
                .map_err(|e| account_error(&name, e))?;
            println!(
                "'{}' is {} a service account",
                user.username,
                if on { "now" } else { "no longer" }
            );
        }
        UserCommand::List { json } => {
            let all = with_conn(&db, |c| Ok(users::list(c)?)).await?;
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

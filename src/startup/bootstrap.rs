//! What a first start creates in the database: the `admin` user and the installation id.

use super::StartupError;
use crate::accounts::{self, AccountError};
use crate::auth::password::{Refusal, check_new_password, hash_blocking};
use crate::config::Settings;
use crate::db::{Database, DbError, meta, users};
use crate::domain::{Password, Username, random_token};

/// Creates `admin` when the database has no users: with `GATEHOUSE_ADMIN_PASSWORD` (passed in
/// as `Settings::admin_password`) or a random password printed once to the log.
pub fn bootstrap_admin(settings: &Settings, db: &Database) -> Result<(), StartupError> {
    let mut conn = db.get()?;
    if users::count(&mut conn).map_err(DbError::from)? > 0 {
        return Ok(());
    }
    let (password, generated) = match &settings.admin_password {
        Some(p) => (p.clone(), false),
        None => (Password::new(random_token(15)), true),
    };
    password
        .check_policy(settings.password.min_length)
        .map_err(|p| StartupError::Config(format!("GATEHOUSE_ADMIN_PASSWORD: {}", p.join(" "))))?;
    // The operator's own choice, read once at first start: a guessable one is warned about
    // (zxcvbn, `password.min_score`) rather than refused, so a scripted first start keeps
    // working; the random one always passes.
    if let Err(Refusal::Guessable(feedback)) = check_new_password(
        &password,
        settings.password.policy(),
        &["admin", "gatehouse"],
    ) {
        tracing::warn!(
            "GATEHOUSE_ADMIN_PASSWORD: {} Change it at /account after signing in.",
            feedback.messages().join(" ")
        );
    }
    let hash = hash_blocking(&password, settings.password.bcrypt_cost)
        .map_err(|e| StartupError::Io(e.to_string()))?;
    let name = Username::parse("admin").map_err(StartupError::Config)?;
    match accounts::create_user(&mut conn, &name, &hash, true) {
        Ok(_) if generated => {
            tracing::warn!(
                "created the first user 'admin' with password {} (shown only this once; change it at /account)",
                password.expose()
            );
        }
        Ok(_) => tracing::info!("created the first user 'admin' from GATEHOUSE_ADMIN_PASSWORD"),
        // Another instance created it first.
        Err(AccountError::Taken) => {}
        Err(e) => {
            return Err(StartupError::Io(format!(
                "cannot create the admin user: {e}"
            )));
        }
    }
    Ok(())
}

/// The random id of this installation, shared through the database by all its instances
/// (the Redis key prefix).
pub fn installation_id(db: &Database) -> Result<String, DbError> {
    let mut conn = db.get()?;
    Ok(meta::get_or_create(&mut conn, "installation_id", || {
        random_token(12)
    })?)
}

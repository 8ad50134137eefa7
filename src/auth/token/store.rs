//! The key store: JWT signing keys and the session cookie key live in the database
//! (`key_store`), each private part sealed under the master secret ([`super::master`]), so that every
//! instance given the database URL and that secret signs, verifies and reads cookies with the
//! same keys, with nothing copied between machines.
//!
//! Signing keys move through `next` (published in the JWKS, not signing yet) → `active` (the
//! newest active key signs; an older one verifies what it signed until `access_ttl + leeway`
//! after its successor activated) → `retired` (neither). Which key signs and which verify is
//! decided from the stored times at each request, so activation needs no write; the
//! maintenance tick records the states for `keys list` and retires keys whose overlap ended.
//!
//! Writers (start-up, rotation, retirement, import, re-sealing) take the key store's lock
//! inside their transaction and record a [`Change::Keys`], so instances deciding together
//! decide once, and every instance loads the keys again within `cache.max_staleness`: the
//! [`KeyStore`] reloads when the change feed reports a change, and — failing closed — before
//! every request while the feed is not trusted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::cookie::Key;
use chrono::NaiveDateTime;

use super::master::{MasterError, MasterSecrets, aad};
use crate::auth::token::access::{JwtKeys, OpenedKey, kid_of};
use crate::auth::token::keys::{KeyError, KeyMaterial, pair_algorithm, read_legacy};
use crate::config::{Settings, TokenAlgorithm};
use crate::db::changes::{self, Change};
use crate::db::key_store::{
    self, KeyRow, PURPOSE_ACCESS, PURPOSE_COOKIE, PURPOSE_ID_TOKEN, STATE_ACTIVE, STATE_NEXT,
    STATE_RETIRED,
};
use crate::db::{AnyConnection, Database, DbError, write_transaction};
use crate::domain::clock::{chrono_duration, micros, now};
use crate::error::Failure;
use crate::feed::{Feed, Listener};
use crate::files::{exists_no_follow, read_secret_file};

/// Bytes of the session cookie key (actix's `Key` signs and encrypts with 64).
const COOKIE_KEY_BYTES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error(transparent)]
    Master(#[from] MasterError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Refused(String),
}

impl From<diesel::result::Error> for KeyStoreError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::from(e))
    }
}

/// What start-up takes from the key store.
pub struct Opened {
    pub master: MasterSecrets,
    pub cookie_key: Key,
    pub jwt: JwtKeys,
    /// The ID-token keys (empty until the first OpenID Connect client needs one).
    pub id_jwt: JwtKeys,
}

/// Prepares the key store for a server: reads (or, for a new installation, creates) the master
/// secret, imports legacy key files once, makes sure a cookie key and a signing key of
/// `token.algorithm` exist (rotating to that algorithm when the newest key has another), and
/// opens every key in force. Any key that does not open stops start-up, named.
pub fn prepare(settings: &Settings, db: &Database) -> Result<Opened, KeyStoreError> {
    let mut conn = db.get()?;
    let master = open_master(settings, &mut conn, true)?;
    import_legacy(settings, &mut conn, &master)?;
    ensure(settings, &mut conn, &master)?;
    // An installation with OpenID Connect clients has an ID-token key of the configured
    // algorithm; one without gets its first when a client needs it.
    let clients = crate::db::oidc_clients::any(&mut conn)?;
    ensure_id(settings, &mut conn, &master, clients)?;
    let cookie_key = open_cookie_key(&mut conn, &master)?;
    let jwt = JwtKeys::new(settings, load_access(&mut conn, &master)?)?;
    let id_jwt = JwtKeys::new(
        settings,
        load_purpose(&mut conn, &master, PURPOSE_ID_TOKEN)?,
    )?;
    Ok(Opened {
        master,
        cookie_key,
        jwt,
        id_jwt,
    })
}

/// Reads the master secret file; when it is absent, creates it if `create` and the store holds
/// no key yet, and otherwise refuses, naming a key it would have to open.
pub fn open_master(
    settings: &Settings,
    conn: &mut AnyConnection,
    create: bool,
) -> Result<MasterSecrets, KeyStoreError> {
    let path = settings.master_secret_file();
    if exists_no_follow(&path) {
        return Ok(MasterSecrets::read(&path)?);
    }
    if let Some(row) = key_store::any(conn)? {
        return Err(MasterError::File {
            path,
            problem: format!(
                "does not exist, and the database holds keys sealed with master secret {} \
                 (key {}): give this instance the master secret file of the others",
                row.sealed_with, row.kid
            ),
        }
        .into());
    }
    if !create {
        return Err(MasterError::File {
            path,
            problem: "does not exist (the server creates it on first start)".into(),
        }
        .into());
    }
    let master = MasterSecrets::create(&path)?;
    tracing::info!(path = %path.display(), "created the master secret (mode 0600)");
    Ok(master)
}

/// Seals `material` into a new row.
fn seal_row(
    master: &MasterSecrets,
    kid: String,
    purpose: &str,
    algorithm: &str,
    material: &KeyMaterial,
    activates_at: NaiveDateTime,
) -> Result<KeyRow, KeyStoreError> {
    let (private, public) = match material {
        KeyMaterial::Secret(secret) => (secret.as_slice(), None),
        KeyMaterial::Pair {
            private_pem,
            public_pem,
        } => (
            private_pem.as_slice(),
            Some(String::from_utf8_lossy(public_pem).into_owned()),
        ),
    };
    let sealed = master.seal(&kid, &aad(&kid, purpose, algorithm), private)?;
    let created_at = now();
    Ok(KeyRow {
        state: if activates_at <= created_at {
            STATE_ACTIVE
        } else {
            STATE_NEXT
        }
        .into(),
        kid,
        purpose: purpose.into(),
        algorithm: algorithm.into(),
        public_pem: public,
        sealed: sealed.bytes,
        sealed_with: sealed.sealed_with,
        created_at,
        activates_at,
        retired_at: None,
    })
}

/// Opens the private part of a row.
fn open_row(master: &MasterSecrets, row: &KeyRow) -> Result<Vec<u8>, KeyStoreError> {
    Ok(master.open(
        &row.kid,
        &row.sealed_with,
        &aad(&row.kid, &row.purpose, &row.algorithm),
        &row.sealed,
    )?)
}

/// Opens an access-token key row.
fn open_access(master: &MasterSecrets, row: &KeyRow) -> Result<OpenedKey, KeyStoreError> {
    let algorithm = TokenAlgorithm::from_name(&row.algorithm).ok_or_else(|| {
        KeyStoreError::Refused(format!(
            "key {} has an unknown algorithm {:?}",
            row.kid, row.algorithm
        ))
    })?;
    let private = open_row(master, row)?;
    let material = match &row.public_pem {
        Some(public) => KeyMaterial::Pair {
            private_pem: private,
            public_pem: public.clone().into_bytes(),
        },
        None => KeyMaterial::Secret(private),
    };
    Ok(OpenedKey {
        kid: row.kid.clone(),
        algorithm,
        activates_at: micros(row.activates_at),
        material,
    })
}

/// Every signing key in force, opened.
pub fn load_access(
    conn: &mut AnyConnection,
    master: &MasterSecrets,
) -> Result<Vec<OpenedKey>, KeyStoreError> {
    load_purpose(conn, master, PURPOSE_ACCESS)
}

/// Every live key of a signing `purpose` (access or ID tokens), opened.
pub fn load_purpose(
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    purpose: &str,
) -> Result<Vec<OpenedKey>, KeyStoreError> {
    key_store::live(conn, purpose)?
        .iter()
        .map(|row| open_access(master, row))
        .collect()
}

/// Makes sure the newest ID-token key has `oidc.id_token_algorithm` (else rotates to one, in
/// the JWKS at once and signing after `token.key_publish_delay`), and, with `create`, that one
/// exists at all (signing at once). Returns whether a key was added.
pub fn ensure_id(
    settings: &Settings,
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    create: bool,
) -> Result<bool, KeyStoreError> {
    let alg = settings.oidc.id_token_algorithm.token_algorithm();
    let wants = |conn: &mut AnyConnection| -> Result<Option<bool>, KeyStoreError> {
        let live = in_force_of(conn, settings, PURPOSE_ID_TOKEN)?;
        Ok(match live.last() {
            None if create => Some(true),
            Some(newest) if newest.algorithm != alg.as_str() => Some(false),
            _ => None,
        })
    };
    if wants(conn)?.is_none() {
        return Ok(false);
    }
    let key = NewKey::generate(alg)?;
    let delay = chrono_duration(settings.token.key_publish_delay.0);
    write_transaction(conn, |conn| -> Result<bool, KeyStoreError> {
        key_store::lock(conn)?;
        // Decided again under the lock: another instance may have done it meanwhile.
        let Some(at_once) = wants(conn)? else {
            return Ok(false);
        };
        let activates_at = if at_once { now() } else { now() + delay };
        let row = seal_row(
            master,
            key.kid,
            PURPOSE_ID_TOKEN,
            alg.as_str(),
            &key.material,
            activates_at,
        )?;
        key_store::insert(conn, &row)?;
        changes::record(conn, &Change::Keys)?;
        tracing::info!(kid = %row.kid, algorithm = alg.as_str(), "added an ID-token signing key");
        Ok(true)
    })
}

/// The session cookie key (the oldest live one).
fn open_cookie_key(conn: &mut AnyConnection, master: &MasterSecrets) -> Result<Key, KeyStoreError> {
    let row = key_store::live(conn, PURPOSE_COOKIE)?
        .into_iter()
        .next()
        .ok_or_else(|| KeyStoreError::Refused("the key store holds no cookie key".into()))?;
    let bytes = open_row(master, &row)?;
    Key::try_from(bytes.as_slice())
        .map_err(|_| KeyStoreError::Refused(format!("cookie key {} is too short", row.kid)))
}

/// Imports the legacy key files (the token key of `token.algorithm`'s kind, and
/// `<data_dir>/session.key`) that the store does not hold yet. An imported signing key signs
/// from now on (the previous one keeps verifying through its overlap). Returns what was
/// imported, as (kid, files).
pub fn import_legacy(
    settings: &Settings,
    conn: &mut AnyConnection,
    master: &MasterSecrets,
) -> Result<Vec<(String, String)>, KeyStoreError> {
    let token = match read_legacy(settings)? {
        Some((paths, material)) => {
            let alg = if material.is_pair() {
                pair_algorithm(settings.token.algorithm, &material).ok_or_else(|| {
                    KeyStoreError::Refused(format!(
                        "{}: not an EdDSA, ES256 or RS256 private key",
                        paths[0].display()
                    ))
                })?
            } else {
                settings.token.algorithm
            };
            let kid = kid_of(alg, &material)?;
            let files = paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ");
            Some((kid, alg, material, files))
        }
        None => None,
    };
    let cookie_path = settings.server.data_dir.join("session.key");
    let cookie = if exists_no_follow(&cookie_path) {
        let bytes = read_secret_file(&cookie_path).map_err(KeyError::from)?;
        if bytes.len() < COOKIE_KEY_BYTES {
            return Err(KeyStoreError::Refused(format!(
                "{} is shorter than {COOKIE_KEY_BYTES} bytes; delete it to have a new cookie \
                 key made",
                cookie_path.display()
            )));
        }
        Some(bytes)
    } else {
        None
    };
    let imported = write_transaction(conn, |conn| -> Result<_, KeyStoreError> {
        key_store::lock(conn)?;
        let mut imported = Vec::new();
        if let Some((kid, alg, material, files)) = &token
            && key_store::find(conn, kid)?.is_none()
        {
            let row = seal_row(
                master,
                kid.clone(),
                PURPOSE_ACCESS,
                alg.as_str(),
                material,
                now(),
            )?;
            key_store::insert(conn, &row)?;
            imported.push((kid.clone(), files.clone()));
        }
        if let Some(bytes) = &cookie
            && key_store::live(conn, PURPOSE_COOKIE)?.is_empty()
        {
            let kid = cookie_kid();
            let row = seal_row(
                master,
                kid.clone(),
                PURPOSE_COOKIE,
                PURPOSE_COOKIE,
                &KeyMaterial::Secret(bytes.clone()),
                now(),
            )?;
            key_store::insert(conn, &row)?;
            imported.push((kid, cookie_path.display().to_string()));
        }
        if !imported.is_empty() {
            changes::record(conn, &Change::Keys)?;
        }
        Ok(imported)
    })?;
    for (kid, files) in &imported {
        tracing::info!(
            kid = %kid,
            files = %files,
            "imported a legacy key file into the key store; the file is no longer used"
        );
    }
    Ok(imported)
}

fn cookie_kid() -> String {
    let mut id = [0u8; 8];
    rand::fill(&mut id[..]);
    format!("cookie-{}", hex::encode(id))
}

/// Makes sure a cookie key and a signing key exist, and that the newest signing key has the
/// configured algorithm (else rotates to one). Returns whether anything was added.
pub fn ensure(
    settings: &Settings,
    conn: &mut AnyConnection,
    master: &MasterSecrets,
) -> Result<bool, KeyStoreError> {
    let alg = settings.token.algorithm;
    let delay = chrono_duration(settings.token.key_publish_delay.0);
    // Generated before the lock: an RSA key takes a while, and most starts need none.
    let wants_new = |conn: &mut AnyConnection| -> Result<Option<bool>, KeyStoreError> {
        let live = in_force(conn, settings)?;
        Ok(match live.last() {
            None => Some(true), // none at all: sign at once
            Some(newest) if newest.algorithm != alg.as_str() => Some(false),
            Some(_) => None,
        })
    };
    let cookie_missing = key_store::live(conn, PURPOSE_COOKIE)?.is_empty();
    let access_wanted = wants_new(conn)?;
    if !cookie_missing && access_wanted.is_none() {
        return Ok(false);
    }
    let material = KeyMaterial::generate(alg)?;
    let kid = kid_of(alg, &material)?;
    let mut cookie = vec![0u8; COOKIE_KEY_BYTES];
    rand::fill(&mut cookie[..]);
    write_transaction(conn, |conn| -> Result<bool, KeyStoreError> {
        key_store::lock(conn)?;
        let mut added = false;
        if key_store::live(conn, PURPOSE_COOKIE)?.is_empty() {
            let row = seal_row(
                master,
                cookie_kid(),
                PURPOSE_COOKIE,
                PURPOSE_COOKIE,
                &KeyMaterial::Secret(cookie.clone()),
                now(),
            )?;
            key_store::insert(conn, &row)?;
            added = true;
        }
        // Decided again under the lock: another instance may have done it meanwhile.
        if let Some(at_once) = wants_new(conn)? {
            let activates_at = if at_once { now() } else { now() + delay };
            let row = seal_row(
                master,
                kid.clone(),
                PURPOSE_ACCESS,
                alg.as_str(),
                &material,
                activates_at,
            )?;
            key_store::insert(conn, &row)?;
            tracing::info!(
                kid = %kid,
                algorithm = alg.as_str(),
                activates_at = %row.activates_at,
                "added a signing key"
            );
            added = true;
        }
        if added {
            changes::record(conn, &Change::Keys)?;
        }
        Ok(added)
    })
}

/// The live signing keys whose overlap has not ended, oldest activation first.
fn in_force(conn: &mut AnyConnection, settings: &Settings) -> Result<Vec<KeyRow>, KeyStoreError> {
    in_force_of(conn, settings, PURPOSE_ACCESS)
}

/// As [`in_force`], for the signing keys of `purpose`.
fn in_force_of(
    conn: &mut AnyConnection,
    settings: &Settings,
    purpose: &str,
) -> Result<Vec<KeyRow>, KeyStoreError> {
    let rows = key_store::live(conn, purpose)?;
    let at = now();
    let overlap = overlap(settings);
    let ended: Vec<bool> = (0..rows.len())
        .map(|i| {
            rows.get(i + 1)
                .is_some_and(|next| next.activates_at <= at && next.activates_at + overlap <= at)
        })
        .collect();
    Ok(rows
        .into_iter()
        .zip(ended)
        .filter(|(_, ended)| !ended)
        .map(|(row, _)| row)
        .collect())
}

/// How long a replaced key keeps verifying: every token it signed has expired by then.
fn overlap(settings: &Settings) -> chrono::Duration {
    chrono_duration(settings.token.access_ttl.0 + settings.token.leeway.0)
}

/// A new signing key of `alg`, generated before any lock is taken (an RSA key takes a while).
struct NewKey {
    alg: TokenAlgorithm,
    kid: String,
    material: KeyMaterial,
}

impl NewKey {
    fn generate(alg: TokenAlgorithm) -> Result<Self, KeyStoreError> {
        let material = KeyMaterial::generate(alg)?;
        let kid = kid_of(alg, &material)?;
        Ok(Self { alg, kid, material })
    }

    /// Seals and stores it, signing after `token.key_publish_delay`, and records the change.
    /// Call it inside the key store's write transaction, after [`key_store::lock`].
    fn add(
        self,
        settings: &Settings,
        conn: &mut AnyConnection,
        master: &MasterSecrets,
    ) -> Result<KeyRow, KeyStoreError> {
        self.add_for(settings, conn, master, PURPOSE_ACCESS)
    }

    /// As [`NewKey::add`], for the signing keys of `purpose`.
    fn add_for(
        self,
        settings: &Settings,
        conn: &mut AnyConnection,
        master: &MasterSecrets,
        purpose: &str,
    ) -> Result<KeyRow, KeyStoreError> {
        let activates_at = now() + chrono_duration(settings.token.key_publish_delay.0);
        let row = seal_row(
            master,
            self.kid,
            purpose,
            self.alg.as_str(),
            &self.material,
            activates_at,
        )?;
        key_store::insert(conn, &row)?;
        changes::record(conn, &Change::Keys)?;
        Ok(row)
    }
}

/// Adds a signing key of `alg`: in the JWKS at once, signing after `token.key_publish_delay`.
pub fn rotate(
    settings: &Settings,
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    alg: TokenAlgorithm,
) -> Result<KeyRow, KeyStoreError> {
    let key = NewKey::generate(alg)?;
    write_transaction(conn, |conn| -> Result<KeyRow, KeyStoreError> {
        key_store::lock(conn)?;
        key.add(settings, conn, master)
    })
}

/// Rotates when `token.rotate_every` has passed since the newest signing key was added;
/// instances asking together rotate once (the check is made again under the lock).
pub fn rotate_if_due(
    settings: &Settings,
    conn: &mut AnyConnection,
    master: &MasterSecrets,
) -> Result<Option<KeyRow>, KeyStoreError> {
    let Some(every) = settings.token.rotate_every else {
        return Ok(None);
    };
    let every = chrono_duration(every.0);
    let due = |conn: &mut AnyConnection| -> Result<bool, KeyStoreError> {
        let newest = key_store::live(conn, PURPOSE_ACCESS)?
            .into_iter()
            .map(|r| r.created_at)
            .max();
        Ok(newest.is_none_or(|created| created + every <= now()))
    };
    if !due(conn)? {
        return Ok(None);
    }
    let key = NewKey::generate(settings.token.algorithm)?;
    let row = write_transaction(conn, |conn| -> Result<Option<KeyRow>, KeyStoreError> {
        key_store::lock(conn)?;
        if !due(conn)? {
            return Ok(None);
        }
        key.add(settings, conn, master).map(Some)
    })?;
    if let Some(row) = &row {
        tracing::info!(kid = %row.kid, algorithm = %row.algorithm, activates_at = %row.activates_at, "rotated the signing key (token.rotate_every)");
    }
    if let Some(id_row) = rotate_id_if_due(settings, conn, master, every)? {
        tracing::info!(kid = %id_row.kid, algorithm = %id_row.algorithm, activates_at = %id_row.activates_at, "rotated the ID-token key (token.rotate_every)");
        return Ok(row.or(Some(id_row)));
    }
    Ok(row)
}

/// The ID-token key rotates on the access-token key's schedule, when there is one at all.
fn rotate_id_if_due(
    settings: &Settings,
    conn: &mut AnyConnection,
    master: &MasterSecrets,
    every: chrono::Duration,
) -> Result<Option<KeyRow>, KeyStoreError> {
    let due = |conn: &mut AnyConnection| -> Result<bool, KeyStoreError> {
        let newest = key_store::live(conn, PURPOSE_ID_TOKEN)?
            .into_iter()
            .map(|r| r.created_at)
            .max();
        Ok(newest.is_some_and(|created| created + every <= now()))
    };
    if !due(conn)? {
        return Ok(None);
    }
    let key = NewKey::generate(settings.oidc.id_token_algorithm.token_algorithm())?;
    write_transaction(conn, |conn| -> Result<Option<KeyRow>, KeyStoreError> {
        key_store::lock(conn)?;
        if !due(conn)? {
            return Ok(None);
        }
        key.add_for(settings, conn, master, PURPOSE_ID_TOKEN)
            .map(Some)
    })
}

/// Retires a key at once: its tokens stop verifying. Refused for the cookie key, for an
/// unknown or already retired key, and when no other activated signing key would remain.
pub fn retire(
    settings: &Settings,
    conn: &mut AnyConnection,
    kid: &str,
) -> Result<KeyRow, KeyStoreError> {
    write_transaction(conn, |conn| -> Result<KeyRow, KeyStoreError> {
        key_store::lock(conn)?;
        let row = key_store::find(conn, kid)?
            .ok_or_else(|| KeyStoreError::Refused(format!("no key {kid:?}")))?;
        if row.purpose != PURPOSE_ACCESS && row.purpose != PURPOSE_ID_TOKEN {
            return Err(KeyStoreError::Refused(format!(
                "key {kid} is the {} key, which cannot be retired",
                row.purpose
            )));
        }
        if row.state == STATE_RETIRED {
            return Err(KeyStoreError::Refused(format!(
                "key {kid} is already retired"
            )));
        }
        let at = now();
        let others_signing = in_force_of(conn, settings, &row.purpose)?
            .iter()
            .any(|r| r.kid != kid && r.activates_at <= at);
        if !others_signing {
            return Err(KeyStoreError::Refused(format!(
                "key {kid} is the last active signing key; rotate first (`gatehouse keys rotate`), \
                 then retire it"
            )));
        }
        key_store::set_state(conn, kid, STATE_RETIRED, at)?;
        changes::record(conn, &Change::Keys)?;
        Ok(KeyRow {
            state: STATE_RETIRED.into(),
            retired_at: Some(at),
            ..row
        })
    })
}

/// What `keys reseal` re-sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Signing keys and the cookie key.
    pub keys: usize,
    /// Users' TOTP secrets.
    pub totp_secrets: usize,
}

/// Re-seals every key and every TOTP secret under the first master secret, in one
/// transaction; returns how many keys were re-sealed (see [`reseal_all`] for both counts).
pub fn reseal(conn: &mut AnyConnection, master: &MasterSecrets) -> Result<usize, KeyStoreError> {
    reseal_all(conn, master).map(|r| r.keys)
}

/// Re-seals every key and every TOTP secret under the first master secret, in one
/// transaction (after it, the older secrets can leave the file).
pub fn reseal_all(
    conn: &mut AnyConnection,
    master: &MasterSecrets,
) -> Result<Resealed, KeyStoreError> {
    write_transaction(conn, |conn| -> Result<Resealed, KeyStoreError> {
        key_store::lock(conn)?;
        let totp_secrets = reseal_totp(conn, master)?;
        let mut count = 0;
        for row in key_store::all(conn)? {
            if row.sealed_with == master.sealing_id() {
                continue;
            }
            let plain = open_row(master, &row)?;
            let sealed = master.seal(
                &row.kid,
                &aad(&row.kid, &row.purpose, &row.algorithm),
                &plain,
            )?;
            key_store::reseal(conn, &row.kid, &sealed.bytes, &sealed.sealed_with)?;
            count += 1;
        }
        if count > 0 {
            changes::record(conn, &Change::Keys)?;
        }
        Ok(Resealed {
            keys: count,
            totp_secrets,
        })
    })
}

/// Re-seals the TOTP secrets not sealed with the first master secret, inside the caller's
/// transaction (what is cached of a user does not include the secret: nothing to publish).
fn reseal_totp(conn: &mut AnyConnection, master: &MasterSecrets) -> Result<usize, KeyStoreError> {
    use crate::auth::mfa::totp::TotpSecret;
    let rows = crate::db::totp::sealed_with_other(conn, master.sealing_id())?;
    for row in &rows {
        let secret = TotpSecret::open(master, row.user_id, &row.sealed_with, &row.sealed)?;
        let sealed = secret.seal(master, row.user_id)?;
        crate::db::totp::reseal(conn, row.user_id, &sealed.bytes, &sealed.sealed_with)?;
    }
    Ok(rows.len())
}

/// Records the states that time has reached: `next` keys that activated become `active`,
/// replaced keys whose overlap ended become `retired`. Returns whether any key retired.
pub fn tick(settings: &Settings, conn: &mut AnyConnection) -> Result<bool, KeyStoreError> {
    write_transaction(conn, |conn| -> Result<bool, KeyStoreError> {
        key_store::lock(conn)?;
        let at = now();
        let overlap = overlap(settings);
        let mut retired = false;
        for purpose in [PURPOSE_ACCESS, PURPOSE_ID_TOKEN] {
            let rows = key_store::live(conn, purpose)?;
            for (i, row) in rows.iter().enumerate() {
                let replaced_at = rows.get(i + 1).map(|r| r.activates_at).filter(|t| *t <= at);
                if replaced_at.is_some_and(|t| t + overlap <= at) {
                    key_store::set_state(conn, &row.kid, STATE_RETIRED, at)?;
                    tracing::info!(kid = %row.kid, "retired a replaced signing key: every token it signed has expired");
                    retired = true;
                } else if row.state == STATE_NEXT && row.activates_at <= at {
                    key_store::set_state(conn, &row.kid, STATE_ACTIVE, at)?;
                }
            }
        }
        if retired {
            changes::record(conn, &Change::Keys)?;
        }
        Ok(retired)
    })
}

/// One key as `gatehouse keys list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub purpose: String,
    pub algorithm: String,
    /// `next`, `active` or `retired`, as of now.
    pub state: String,
    /// Whether it signs new tokens now.
    pub signing: bool,
    pub created_at: String,
    pub activates_at: String,
    /// When the key that replaced it activated.
    pub replaced_at: Option<String>,
    /// When it stops verifying (replaced keys: `replaced_at + access_ttl + leeway`).
    pub verifies_until: Option<String>,
    pub retired_at: Option<String>,
    /// The id of the master secret that sealed it.
    pub sealed_with: String,
}

fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Every key with its state as of now, oldest activation first.
pub fn list(settings: &Settings, conn: &mut AnyConnection) -> Result<Vec<KeyInfo>, KeyStoreError> {
    let rows = key_store::all(conn)?;
    let at = now();
    let overlap = overlap(settings);
    let live_of = |purpose: &str| -> Vec<&KeyRow> {
        rows.iter()
            .filter(|r| r.purpose == purpose && r.state != STATE_RETIRED)
            .collect()
    };
    let signer_of = |live: &[&KeyRow]| {
        live.iter()
            .rev()
            .find(|r| r.activates_at <= at)
            .map(|r| r.kid.clone())
    };
    Ok(rows
        .iter()
        .map(|row| {
            let live = live_of(&row.purpose);
            let signer = if row.purpose == PURPOSE_COOKIE {
                None
            } else {
                signer_of(&live)
            };
            let position = live.iter().position(|r| r.kid == row.kid);
            let replaced_at = position
                .and_then(|i| live.get(i + 1))
                .map(|r| r.activates_at)
                .filter(|t| *t <= at);
            let verifies_until = replaced_at.map(|t| t + overlap);
            let state = if row.state == STATE_RETIRED || verifies_until.is_some_and(|t| t <= at) {
                STATE_RETIRED
            } else if row.activates_at > at {
                STATE_NEXT
            } else {
                STATE_ACTIVE
            };
            KeyInfo {
                kid: row.kid.clone(),
                purpose: row.purpose.clone(),
                algorithm: row.algorithm.clone(),
                state: state.into(),
                signing: signer.as_deref() == Some(row.kid.as_str()),
                created_at: rfc3339(row.created_at),
                activates_at: rfc3339(row.activates_at),
                replaced_at: replaced_at.map(rfc3339),
                verifies_until: verifies_until.map(rfc3339),
                retired_at: row.retired_at.map(rfc3339),
                sealed_with: row.sealed_with.clone(),
            }
        })
        .collect())
}

/// The signing keys as the server uses them: loaded again from the database when the change
/// feed reports a key change, and before every request while the feed is not trusted (so a
/// retired key is refused within `cache.max_staleness`, or its request gets 503 when the
/// database is down).
pub struct KeyStore {
    db: Database,
    master: Arc<MasterSecrets>,
    jwt: JwtKeys,
    /// The ID-token keys (OpenID Connect), loaded with the access-token keys.
    id_jwt: JwtKeys,
    feed: Feed,
    /// Key changes reported so far (bumped by the feed's listener).
    wanted: Arc<AtomicU64>,
    /// The count of `wanted` that the ring in force was loaded after.
    loaded: AtomicU64,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

/// The feed's listener for the key store: it only notes that the keys must be loaded again
/// (the next request does it, off the feed's thread and never while a change is applied).
struct KeysChanged(Arc<AtomicU64>);

impl Listener for KeysChanged {
    fn apply(&self, change: &Change) {
        if matches!(change, Change::Keys) {
            self.0.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn flush(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl KeyStore {
    pub fn new(
        db: Database,
        master: MasterSecrets,
        jwt: JwtKeys,
        id_jwt: JwtKeys,
        feed: &Feed,
    ) -> Self {
        // One reload is owed from the start: a change committed between the load at start-up
        // and the first poll of the feed would otherwise go unseen.
        let wanted = Arc::new(AtomicU64::new(1));
        feed.subscribe(Arc::new(KeysChanged(wanted.clone())));
        Self {
            db,
            master: Arc::new(master),
            jwt,
            id_jwt,
            feed: feed.clone(),
            wanted,
            loaded: AtomicU64::new(0),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The keys without the freshness check (the JWKS and tests; verification and issuance go
    /// through [`KeyStore::current`]).
    pub fn jwt(&self) -> &JwtKeys {
        &self.jwt
    }

    /// The ID-token keys without the freshness check (the JWKS; see [`KeyStore::id_keys`]).
    pub fn id_jwt(&self) -> &JwtKeys {
        &self.id_jwt
    }

    /// The ID-token keys in force (loaded again first as [`KeyStore::current`] does). The first
    /// ID token of an installation creates its key (`oidc.id_token_algorithm`).
    pub async fn id_keys(&self, settings: &Settings) -> Result<&JwtKeys, Failure> {
        self.current().await?;
        if self.id_jwt.signing_kid().is_some() {
            return Ok(&self.id_jwt);
        }
        let (db, master, settings) = (self.db.clone(), self.master.clone(), settings.clone());
        let added = db
            .run(move |conn| ensure_id(&settings, conn, &master, true).map_err(failure))
            .await?;
        if added {
            self.feed.publish(&Change::Keys);
        }
        self.reload().await?;
        Ok(&self.id_jwt)
    }

    pub fn master(&self) -> &MasterSecrets {
        &self.master
    }

    /// The master secret, shared (to move into blocking work: TOTP secrets are sealed with it).
    pub fn master_arc(&self) -> Arc<MasterSecrets> {
        self.master.clone()
    }

    fn fresh(&self) -> bool {
        self.feed.trusted()
            && self.wanted.load(Ordering::Acquire) == self.loaded.load(Ordering::Acquire)
    }

    /// The keys in force, loaded again first when a key change was reported or the feed is
    /// not trusted. A database that does not answer then is a 503.
    pub async fn current(&self) -> Result<&JwtKeys, Failure> {
        if self.fresh() {
            return Ok(&self.jwt);
        }
        let _one = self.reloading.lock().await;
        if self.fresh() {
            return Ok(&self.jwt);
        }
        self.reload().await?;
        Ok(&self.jwt)
    }

    /// Loads the keys from the database now.
    pub async fn reload(&self) -> Result<(), Failure> {
        let target = self.wanted.load(Ordering::Acquire);
        let master = self.master.clone();
        let (opened, id_opened) = self
            .db
            .run(move |conn| {
                let access = load_access(conn, &master).map_err(failure)?;
                let id = load_purpose(conn, &master, PURPOSE_ID_TOKEN).map_err(failure)?;
                Ok::<_, Failure>((access, id))
            })
            .await?;
        let opened_failed = |e: KeyError| {
            tracing::error!(error = %e, "a signing key in the database does not open");
            Failure::Unexpected(e.into())
        };
        self.jwt.replace_keys(opened).map_err(opened_failed)?;
        self.id_jwt.replace_keys(id_opened).map_err(opened_failed)?;
        self.loaded.store(target, Ordering::Release);
        Ok(())
    }

    /// The maintenance step of the key store: records states, rotates when due. Blocking.
    pub fn maintain(&self, settings: &Settings) -> Result<(), KeyStoreError> {
        let mut conn = self.db.get()?;
        let retired = tick(settings, &mut conn)?;
        let rotated = rotate_if_due(settings, &mut conn, &self.master)?;
        if retired || rotated.is_some() {
            self.feed.publish(&Change::Keys);
        }
        Ok(())
    }

    /// What blocking work on the key store needs, to move onto a blocking thread.
    pub fn handle(&self) -> KeyStoreHandle {
        KeyStoreHandle {
            db: self.db.clone(),
            master: self.master.clone(),
            feed: self.feed.clone(),
        }
    }
}

/// The key store's database, master secret and feed, for blocking work (a reload's rotation to
/// a new `token.algorithm`).
pub struct KeyStoreHandle {
    db: Database,
    master: Arc<MasterSecrets>,
    feed: Feed,
}

impl KeyStoreHandle {
    /// Rotates to a key of `settings.token.algorithm` when the newest key has another (see
    /// [`ensure`]); the instance loads it at its next request. Blocking.
    pub fn ensure_algorithm(&self, settings: &Settings) -> Result<(), KeyStoreError> {
        let mut conn = self.db.get()?;
        let access = ensure(settings, &mut conn, &self.master)?;
        // `oidc.id_token_algorithm` changed: a rotation of the ID-token key, when there is one.
        let id = ensure_id(settings, &mut conn, &self.master, false)?;
        if access || id {
            self.feed.publish(&Change::Keys);
        }
        Ok(())
    }
}

fn failure(e: KeyStoreError) -> Failure {
    match e {
        KeyStoreError::Db(db) => Failure::from(db),
        other => {
            tracing::error!(error = %other, "cannot load the signing keys");
            Failure::Unexpected(other.into())
        }
    }
}

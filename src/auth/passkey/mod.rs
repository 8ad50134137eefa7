//! Passkeys and security keys (WebAuthn, through `webauthn-rs`): the relying party this
//! server is, and the three ceremonies — registering a named authenticator on `/account`, a
//! passkey as the second step of a sign-in, and (with `auth.passkey_login`) a username-less
//! sign-in with a discoverable credential.
//!
//! Ceremony state never leaves the server: webauthn-rs's state (its challenge, the allowed
//! credentials) is stored as JSON in `passkey_challenges` under the SHA-256 of a random id
//! that the browser sends back (so it works across instances), lives at most
//! [`CHALLENGE_LIFETIME`], is used once (deleted by the use, whatever the outcome), and is
//! counted against an owner — the user, the pending sign-in, or, for the anonymous
//! username-less sign-in, the client address — of whom at most [`MAX_OUTSTANDING`] may be
//! outstanding (the one thing an anonymous visitor can make the server store, SPEC §8).
//!
//! The relying party is derived once, at start-up, from `server.public_url` (a key a reload
//! cannot change): its host is the RP id, its scheme, host and port the one origin accepted.
//! Browsers refuse an IP address as RP id, so a loopback address becomes `localhost`
//! (people browse to `http://localhost:PORT`); any other IP address leaves passkeys
//! unavailable, with the reason shown where they would be offered.

pub mod sign_in;

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use crate::auth::token::refresh::HashedToken;
use crate::db::models::User;
use crate::db::passkey_challenges::{self as challenges, ChallengeRow};
use crate::db::passkeys::{self as rows, InsertError, NewPasskey, PasskeyRow};
use crate::db::{AnyConnection, DbError, users};
use crate::domain::random_token;

/// How long a ceremony (its challenge) may be completed.
pub const CHALLENGE_LIFETIME: Duration = Duration::minutes(5);
/// Ceremonies one owner (a user, a pending sign-in, a client address) may have outstanding.
pub const MAX_OUTSTANDING: i64 = 20;
/// Longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest credential (the browser's answer, as JSON) read.
pub const MAX_CREDENTIAL_BYTES: usize = 12 * 1024;

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    SecondFactor,
    SignIn,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SecondFactor => "second_factor",
            Self::SignIn => "sign_in",
        }
    }
}

/// Why a passkey ceremony was refused; every message is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The server cannot be a relying party (its public URL is an IP address).
    #[error("{0}")]
    Unavailable(String),
    /// The page that asked was not at the relying party's origin.
    #[error(
        "This page was opened at {used}, but passkeys work only at {expected}. Open {expected}/login and try again."
    )]
    WrongOrigin { used: String, expected: String },
    /// Too many ceremonies of one owner are outstanding.
    #[error(
        "Too many passkey requests are waiting to be completed from here. Finish one, or wait a few minutes and try again."
    )]
    TooMany,
    /// The ceremony id is unknown, expired or used.
    #[error("The passkey request expired or was already used. Try again.")]
    Expired,
    /// The browser's answer did not verify (or could not be read).
    #[error("{0}")]
    Refused(String),
    #[error("Give the passkey a name of 1 to {MAX_NAME_CHARS} characters.")]
    BadName,
    #[error("You already have a passkey named \u{201c}{0}\u{201d}; choose another name.")]
    NameTaken(String),
    #[error("This passkey is already registered.")]
    AlreadyRegistered,
    /// No passkey to ask for (a second step for a user without one).
    #[error("This account has no passkey.")]
    NoPasskey,
    #[error("That passkey does not exist (it may have been removed already).")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for PasskeyError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// The relying party this server is.
pub struct RelyingParty {
    id: String,
    origin: String,
    webauthn: Webauthn,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("id", &self.id)
            .field("origin", &self.origin)
            .finish()
    }
}

/// Passkeys on this server: a relying party, or the reason there is none.
#[derive(Debug)]
pub enum Passkeys {
    Ready(RelyingParty),
    Unavailable(String),
}

impl Passkeys {
    /// The relying party of `public_url` (see the module's notes on IP addresses).
    pub fn from_public_url(public_url: &str) -> Self {
        match RelyingParty::of(public_url) {
            Ok(rp) => Self::Ready(rp),
            Err(reason) => Self::Unavailable(reason),
        }
    }

    /// The relying party, or why there is none.
    pub fn rp(&self) -> Result<&RelyingParty, PasskeyError> {
        match self {
            Self::Ready(rp) => Ok(rp),
            Self::Unavailable(reason) => Err(PasskeyError::Unavailable(reason.clone())),
        }
    }
}

impl RelyingParty {
    /// The relying party of `public_url`: `Err` with a reason for people when it cannot be one.
    pub fn of(public_url: &str) -> Result<Self, String> {
        let url = Url::parse(public_url)
            .map_err(|e| format!("server.public_url {public_url:?} is not a URL: {e}"))?;
        let scheme = url.scheme();
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let host = url.host_str().unwrap_or_default();
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .ok();
        let id = match ip {
            None if !host.is_empty() => host.to_ascii_lowercase(),
            Some(ip) if ip.is_loopback() => "localhost".to_string(),
            Some(_) => {
                return Err(format!(
                    "Passkeys are not available: browsers accept them only on a domain name, and \
                     server.public_url ({public_url}) names an IP address. Set server.public_url \
                     to a name of this server."
                ));
            }
            None => return Err(format!("server.public_url {public_url:?} has no host")),
        };
        let origin = format!("{scheme}://{id}{port}");
        let origin_url = Url::parse(&origin).map_err(|e| format!("origin {origin:?}: {e}"))?;
        let webauthn = WebauthnBuilder::new(&id, &origin_url)
            .and_then(|b| {
                b.rp_name("Gatehouse")
                    .timeout(CHALLENGE_LIFETIME.to_std().unwrap_or_default())
                    .build()
            })
            .map_err(|e| format!("passkeys: relying party {id:?} at {origin}: {e}"))?;
        Ok(Self {
            id,
            origin,
            webauthn,
        })
    }

    /// The RP id (a host name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The one origin accepted (`scheme://host[:port]`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Refuses a request whose `Origin` header names another origin than the relying
    /// party's, with a message that says where to go (a page opened at 127.0.0.1 while the RP
    /// is `localhost`). A request without the header is left to the signed client data.
    pub fn check_origin(&self, origin: Option<&str>) -> Result<(), PasskeyError> {
        match origin {
            Some(used) if used != self.origin => Err(PasskeyError::WrongOrigin {
                used: used.to_string(),
                expected: self.origin.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Refuses client data signed for another origin, with the same clear message.
    fn check_client_data(&self, client_data_json: &[u8]) -> Result<(), PasskeyError> {
        #[derive(Deserialize)]
        struct ClientData {
            origin: String,
        }
        let data: ClientData = serde_json::from_slice(client_data_json)
            .map_err(|_| PasskeyError::Refused("The browser's answer could not be read.".into()))?;
        self.check_origin(Some(&data.origin))
    }
}

/// A ceremony started: the id the browser sends back, and the options for
/// `navigator.credentials.create` / `.get` (`{"publicKey": …}`).
#[derive(Debug, Serialize)]
pub struct Started {
    pub ceremony: String,
    #[serde(rename = "publicKey")]
    pub public_key: serde_json::Value,
}

/// A registration's state: webauthn-rs's, with the user handle and whether a resident key was
/// asked for.
#[derive(Serialize, Deserialize)]
struct RegistrationState {
    handle: Uuid,
    resident: bool,
    state: PasskeyRegistration,
}

/// A passkey name as typed: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters.
pub fn parse_name(typed: &str) -> Result<String, PasskeyError> {
    let name = typed.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PasskeyError::BadName);
    }
    Ok(name.to_string())
}

/// The credential id as stored: base64url without padding.
fn credential_key(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value)
        .map_err(|e| PasskeyError::Db(DbError::Corrupt(format!("serializing passkey state: {e}"))))
}

fn refused(e: &WebauthnError) -> PasskeyError {
    tracing::info!(error = %e, "passkey ceremony refused");
    PasskeyError::Refused(match e {
        WebauthnError::UserNotVerified => {
            "The authenticator did not verify you (a PIN, fingerprint or face). Try again and \
             complete the check."
                .into()
        }
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => {
            "The passkey answered for another site.".into()
        }
        WebauthnError::CredentialPossibleCompromise => {
            "The passkey's counter went backwards: it may have been copied.".into()
        }
        _ => "The passkey's answer did not verify.".into(),
    })
}

/// A ceremony to store: what it is for, whom it is counted against, and its state.
struct Ceremony {
    purpose: Purpose,
    owner: String,
    user_id: Option<i64>,
    pending_hash: Option<String>,
    name: Option<String>,
    state: String,
}

/// Stores a ceremony inside the caller's write transaction, unless its owner already has
/// [`MAX_OUTSTANDING`]: counted and inserted under one lock, so concurrent requests cannot
/// pass the bound together. Returns the id to hand out (only its SHA-256 is stored).
fn store(
    conn: &mut AnyConnection,
    ceremony: Ceremony,
    now: NaiveDateTime,
) -> Result<String, PasskeyError> {
    challenges::lock_owner(conn, &ceremony.owner)?;
    if challenges::outstanding(conn, &ceremony.owner, now)? >= MAX_OUTSTANDING {
        return Err(PasskeyError::TooMany);
    }
    let id = random_token(32);
    challenges::insert(
        conn,
        &ChallengeRow {
            id_hash: HashedToken::of(&id).as_str().to_string(),
            purpose: ceremony.purpose.as_str().into(),
            owner: ceremony.owner,
            user_id: ceremony.user_id,
            pending_hash: ceremony.pending_hash,
            name: ceremony.name,
            state: ceremony.state,
            created_at: now,
            expires_at: now + CHALLENGE_LIFETIME,
        },
    )?;
    Ok(id)
}

/// Takes the ceremony `presented` for `purpose` (deleted: single use); `None` when it is
/// unknown, expired, used or of another purpose.
fn take(
    conn: &mut AnyConnection,
    presented: &str,
    purpose: Purpose,
    now: NaiveDateTime,
) -> Result<Option<ChallengeRow>, DbError> {
    let hash = HashedToken::of(presented);
    let Some(row) = challenges::find(conn, hash.as_str())? else {
        return Ok(None);
    };
    if challenges::take(conn, hash.as_str(), purpose.as_str(), now)? != 1 {
        return Ok(None);
    }
    Ok(Some(row))
}

/// Burns the ceremony `presented` whatever its state (after a failed use that rolled back).
pub fn burn(conn: &mut AnyConnection, presented: &str) -> Result<(), DbError> {
    challenges::delete(conn, HashedToken::of(presented).as_str())?;
    Ok(())
}

fn passkey_of(row: &PasskeyRow) -> Result<Passkey, DbError> {
    serde_json::from_str(&row.credential)
        .map_err(|e| DbError::Corrupt(format!("passkey {} of user {}: {e}", row.id, row.user_id)))
}

/// The user's passkeys as webauthn-rs credentials.
fn credentials_of(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<Passkey>, DbError> {
    rows::for_user(conn, user_id)?
        .iter()
        .map(passkey_of)
        .collect()
}

/// Starts registering a passkey named `name` for `user`, inside the caller's write
/// transaction. With `resident` (passkeys may sign in on their own) the authenticator is asked
/// for a resident key (a discoverable credential). The user's passkeys are excluded, so one
/// authenticator is not registered twice.
pub fn start_registration(
    conn: &mut AnyConnection,
    rp: &RelyingParty,
    user: &User,
    name: &str,
    resident: bool,
    now: NaiveDateTime,
) -> Result<Started, PasskeyError> {
    let name = parse_name(name)?;
    if rows::for_user(conn, user.id)?
        .iter()
        .any(|p| p.name == name)
    {
        return Err(PasskeyError::NameTaken(name));
    }
    let handle = match rows::user_handle(conn, user.id)? {
        Some(text) => Uuid::parse_str(&text).unwrap_or_else(|_| Uuid::new_v4()),
        None => Uuid::new_v4(),
    };
    let exclude = credentials_of(conn, user.id)?
        .iter()
        .map(|p| p.cred_id().clone())
        .collect();
    let (options, state) = rp
        .webauthn
        .start_passkey_registration(handle, &user.username, &user.username, Some(exclude))
        .map_err(|e| refused(&e))?;
    let mut public_key = serde_json::to_value(&options)
        .map_err(|e| PasskeyError::Db(DbError::Corrupt(format!("options: {e}"))))?
        .get_mut("publicKey")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    if resident && let Some(selection) = public_key.get_mut("authenticatorSelection") {
        // webauthn-rs asks for no resident key; a username-less sign-in needs one.
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
    }
    let state = to_json(&RegistrationState {
        handle,
        resident,
        state,
    })?;
    let ceremony = store(
        conn,
        Ceremony {
            purpose: Purpose::Register,
            owner: format!("user:{}", user.id),
            user_id: Some(user.id),
            pending_hash: None,
            name: Some(name),
            state,
        },
        now,
    )?;
    Ok(Started {
        ceremony,
        public_key,
    })
}

/// A passkey just registered.
#[derive(Debug, Clone)]
pub struct Registered {
    pub name: String,
    pub discoverable: bool,
}

/// Finishes a registration of `user_id`'s with the browser's answer (`credential`, JSON),
/// inside the caller's write transaction. The ceremony is used up whatever the outcome.
pub fn finish_registration(
    conn: &mut AnyConnection,
    rp: &RelyingParty,
    user_id: i64,
    ceremony: &str,
    credential: &str,
    now: NaiveDateTime,
) -> Result<Result<Registered, PasskeyError>, DbError> {
    let Some(row) = take(conn, ceremony, Purpose::Register, now)? else {
        return Ok(Err(PasskeyError::Expired));
    };
    if row.user_id != Some(user_id) {
        return Ok(Err(PasskeyError::Expired));
    }
    Ok(register(conn, rp, &row, credential, now))
}

fn register(
    conn: &mut AnyConnection,
    rp: &RelyingParty,
    row: &ChallengeRow,
    credential: &str,
    now: NaiveDateTime,
) -> Result<Registered, PasskeyError> {
    let (Some(user_id), Some(name)) = (row.user_id, row.name.clone()) else {
        return Err(PasskeyError::Expired);
    };
    let state: RegistrationState = serde_json::from_str(&row.state)
        .map_err(|e| DbError::Corrupt(format!("registration state: {e}")))?;
    let answer: RegisterPublicKeyCredential = serde_json::from_str(credential)
        .map_err(|_| PasskeyError::Refused("The browser's answer could not be read.".into()))?;
    rp.check_client_data(answer.response.client_data_json.as_ref())?;
    let passkey = rp
        .webauthn
        .finish_passkey_registration(&answer, &state.state)
        .map_err(|e| refused(&e))?;
    let stored = to_json(&passkey)?;
    let handle = state.handle.hyphenated().to_string();
    let credential_id = credential_key(passkey.cred_id().as_ref());
    let new = NewPasskey {
        user_id,
        credential_id: &credential_id,
        user_handle: &handle,
        name: &name,
        credential: &stored,
        sign_count: 0,
        discoverable: state.resident,
        created_at: now,
    };
    match rows::insert(conn, &new) {
        Ok(()) => Ok(Registered {
            name,
            discoverable: state.resident,
        }),
        Err(InsertError::NameTaken) => Err(PasskeyError::NameTaken(name)),
        Err(InsertError::CredentialTaken) => Err(PasskeyError::AlreadyRegistered),
        Err(InsertError::Database(e)) => Err(e.into()),
    }
}

/// Starts a passkey second step for the pending sign-in `pending_hash` of `user_id`, inside
/// the caller's write transaction: the challenge allows the user's passkeys.
pub fn start_second_factor(
    conn: &mut AnyConnection,
    rp: &RelyingParty,
    user_id: i64,
    pending_hash: &str,
    now: NaiveDateTime,
) -> Result<Started, PasskeyError> {
    let creds = credentials_of(conn, user_id)?;
    if creds.is_empty() {
        return Err(PasskeyError::NoPasskey);
    }
    let (options, state) = rp
        .webauthn
        .start_passkey_authentication(&creds)
        .map_err(|e| refused(&e))?;
    let public_key = request_options(&options)?;
    let ceremony = store(
        conn,
        Ceremony {
            purpose: Purpose::SecondFactor,
            owner: format!("pending:{pending_hash}"),
            user_id: Some(user_id),
            pending_hash: Some(pending_hash.to_string()),
            name: None,
            state: to_json(&state)?,
        },
        now,
    )?;
    Ok(Started {
        ceremony,
        public_key,
    })
}

fn request_options<T: Serialize>(options: &T) -> Result<serde_json::Value, PasskeyError> {
    let mut value = serde_json::to_value(options)
        .map_err(|e| PasskeyError::Db(DbError::Corrupt(format!("options: {e}"))))?;
    Ok(value
        .get_mut("publicKey")
        .map(serde_json::Value::take)
        .unwrap_or_default())
}

/// A passkey assertion presented as a second factor: the ceremony it answers, the browser's
/// answer, the pending sign-in it belongs to, and the relying party that checks it.
#[derive(Clone)]
pub struct Assertion {
    pub ceremony: String,
    pub credential: String,
    pub pending_hash: String,
    pub rp: Arc<Passkeys>,
}

/// Checks a second-factor assertion for `user_id` inside the caller's write transaction: the
/// ceremony (of this user's pending sign-in) is used up, the signature checked against the
/// user's passkey, its counter must move forward from the stored one (read now), and the
/// passkey's new counter and flags are written by compare-and-swap. `None` when anything
/// does not pass.
pub fn verify_second_factor(
    conn: &mut AnyConnection,
    user_id: i64,
    assertion: &Assertion,
    now: NaiveDateTime,
) -> Result<Option<i64>, DbError> {
    let Ok(rp) = assertion.rp.rp() else {
        return Ok(None);
    };
    let Some(row) = take(conn, &assertion.ceremony, Purpose::SecondFactor, now)? else {
        return Ok(None);
    };
    if row.user_id != Some(user_id)
        || row.pending_hash.as_deref() != Some(assertion.pending_hash.as_str())
    {
        return Ok(None);
    }
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(&assertion.credential) else {
        return Ok(None);
    };
    let state: PasskeyAuthentication = serde_json::from_str(&row.state)
        .map_err(|e| DbError::Corrupt(format!("authentication state: {e}")))?;
    let result = match rp.webauthn.finish_passkey_authentication(&answer, &state) {
        Ok(result) => result,
        Err(e) => {
            refused(&e);
            return Ok(None);
        }
    };
    let key = credential_key(result.cred_id().as_ref());
    let Some(stored) = rows::find_by_credential(conn, &key)?.filter(|p| p.user_id == user_id)
    else {
        return Ok(None);
    };
    record_use(conn, &stored, &result, now)
}

/// Writes a verified use of `stored`: refused (`None`) when the counter does not move forward
/// from the stored one (a copied authenticator) or another use got there first.
fn record_use(
    conn: &mut AnyConnection,
    stored: &PasskeyRow,
    result: &webauthn_rs::prelude::AuthenticationResult,
    now: NaiveDateTime,
) -> Result<Option<i64>, DbError> {
    let counter = i64::from(result.counter());
    if (counter > 0 || stored.sign_count > 0) && counter <= stored.sign_count {
        tracing::warn!(target: "audit", event = "passkey_counter_regressed", user_id = stored.user_id, passkey_id = stored.id);
        return Ok(None);
    }
    let mut passkey = passkey_of(stored)?;
    passkey.update_credential(result);
    let updated = serde_json::to_string(&passkey)
        .map_err(|e| DbError::Corrupt(format!("serializing a passkey: {e}")))?;
    let written = rows::record_use(conn, stored.id, stored.sign_count, &updated, counter, now)?;
    Ok((written == 1).then_some(stored.id))
}

/// Starts a username-less sign-in for the anonymous client `ip` (its lockout key), in its own
/// write transaction: refused with [`PasskeyError::TooMany`] past [`MAX_OUTSTANDING`] of that
/// address.
pub fn start_sign_in(
    conn: &mut AnyConnection,
    rp: &RelyingParty,
    ip: &str,
    now: NaiveDateTime,
) -> Result<Started, PasskeyError> {
    let (options, state) = rp
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| refused(&e))?;
    let public_key = request_options(&options)?;
    let state = to_json(&state)?;
    crate::db::write_transaction(conn, |conn| {
        let ceremony = store(
            conn,
            Ceremony {
                purpose: Purpose::SignIn,
                owner: format!("ip:{ip}"),
                user_id: None,
                pending_hash: None,
                name: None,
                state,
            },
            now,
        )?;
        Ok(Started {
            ceremony,
            public_key,
        })
    })
}

/// How a username-less sign-in's check ended.
#[derive(Debug)]
pub enum SignInCheck {
    /// The user is signed in by this passkey.
    Done { user: User, passkey_id: i64 },
    /// Refused; the user the credential named, when known.
    Refused {
        error: PasskeyError,
        user_id: Option<i64>,
    },
}

/// Checks a username-less sign-in inside the caller's write transaction: the ceremony is
/// used up, the credential found by its id, its user handle must match, the signature (with
/// user verification) checked, the counter moved forward by compare-and-swap, and the user
/// read now (enabled) and marked as signed in.
pub fn finish_sign_in(
    conn: &mut AnyConnection,
    rp: &RelyingParty,
    ceremony: &str,
    credential: &str,
    now: NaiveDateTime,
) -> Result<SignInCheck, DbError> {
    let refuse = |error, user_id| Ok(SignInCheck::Refused { error, user_id });
    let Some(row) = take(conn, ceremony, Purpose::SignIn, now)? else {
        return refuse(PasskeyError::Expired, None);
    };
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(credential) else {
        return refuse(
            PasskeyError::Refused("The browser's answer could not be read.".into()),
            None,
        );
    };
    if let Err(e) = rp.check_client_data(answer.response.client_data_json.as_ref()) {
        return refuse(e, None);
    }
    let unknown = || {
        PasskeyError::Refused(
            "This passkey is not registered here (it may have been removed).".into(),
        )
    };
    let Ok((handle, raw_id)) = rp.webauthn.identify_discoverable_authentication(&answer) else {
        return refuse(unknown(), None);
    };
    let Some(stored) = rows::find_by_credential(conn, &credential_key(raw_id))? else {
        return refuse(unknown(), None);
    };
    if stored.user_handle != handle.hyphenated().to_string() {
        return refuse(unknown(), None);
    }
    let user_id = Some(stored.user_id);
    let state: DiscoverableAuthentication = serde_json::from_str(&row.state)
        .map_err(|e| DbError::Corrupt(format!("sign-in state: {e}")))?;
    let key = DiscoverableKey::from(passkey_of(&stored)?);
    let result = match rp
        .webauthn
        .finish_discoverable_authentication(&answer, state, &[key])
    {
        Ok(result) if result.user_verified() => result,
        Ok(_) => return refuse(refused(&WebauthnError::UserNotVerified), user_id),
        Err(e) => return refuse(refused(&e), user_id),
    };
    let Some(passkey_id) = record_use(conn, &stored, &result, now)? else {
        return refuse(
            PasskeyError::Refused("The passkey's answer did not verify.".into()),
            user_id,
        );
    };
    let Some(user) = users::find(conn, stored.user_id)?.filter(|u| !u.disabled) else {
        return refuse(unknown(), user_id);
    };
    users::record_login(conn, user.id)?;
    Ok(SignInCheck::Done { user, passkey_id })
}

/// What `/account`, the CLI and the admin page show of a passkey.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub discoverable: bool,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

/// The user's passkeys, oldest first.
pub fn list(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<PasskeyInfo>, DbError> {
    Ok(rows::for_user(conn, user_id)?
        .into_iter()
        .map(|r| PasskeyInfo {
            id: r.id,
            name: r.name,
            discoverable: r.discoverable,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_public_url_makes_localhost_the_relying_party() {
        for url in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:8080",
        ] {
            let rp = RelyingParty::of(url).unwrap();
            assert_eq!(rp.id(), "localhost");
            assert_eq!(rp.origin(), "http://localhost:8080");
        }
        let rp = RelyingParty::of("https://Auth.Example.com").unwrap();
        assert_eq!(
            (rp.id(), rp.origin()),
            ("auth.example.com", "https://auth.example.com")
        );
    }

    #[test]
    fn another_ip_address_leaves_passkeys_unavailable_with_a_reason() {
        let Err(reason) = RelyingParty::of("http://192.0.2.7:8080") else {
            panic!("an IP address cannot be an RP id");
        };
        assert!(reason.contains("domain name"), "{reason}");
    }

    #[test]
    fn a_request_from_another_origin_is_told_where_to_go() {
        let rp = RelyingParty::of("http://127.0.0.1:8080").unwrap();
        let e = rp.check_origin(Some("http://127.0.0.1:8080")).unwrap_err();
        assert!(
            e.to_string().contains("work only at http://localhost:8080"),
            "{e}"
        );
        assert!(rp.check_origin(Some("http://localhost:8080")).is_ok());
        assert!(rp.check_origin(None).is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  YubiKey 5 ").unwrap(), "YubiKey 5");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(65)).is_err());
        assert!(parse_name("a\u{0}b").is_err());
        assert_eq!(parse_name(&"é".repeat(64)).unwrap().chars().count(), 64);
    }
}

//! What the passkey pages share (`/account`, `/login`, `/login/mfa`): the answers of the
//! options endpoints that `static/passkeys.js` calls (JSON: `{"ceremony","publicKey"}`, or
//! `{"error"}` with a status), the form the browser's answer comes back in, and the status of
//! each refusal.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::passkey::{
    CHALLENGE_LIFETIME, MAX_CREDENTIAL_BYTES, PasskeyError, Passkeys, Started,
};
use crate::error::Failure;
use crate::i18n::Lang;
use crate::web::error::PageError;

/// What the pages show of passkeys on this server.
pub struct PasskeyView {
    /// The relying party's origin, which the script compares with the page's.
    pub origin: String,
    /// Why passkeys cannot be used here, if they cannot.
    pub unavailable: Option<String>,
}

impl PasskeyView {
    pub fn of(passkeys: &Passkeys, lang: Lang) -> Self {
        match passkeys.rp() {
            Ok(rp) => Self {
                origin: rp.origin().to_string(),
                unavailable: None,
            },
            Err(e) => Self {
                origin: String::new(),
                unavailable: Some(super::messages::passkey(lang, &e)),
            },
        }
    }
}

/// The browser's answer to a ceremony, posted as a form by `static/passkeys.js`.
#[derive(Deserialize)]
pub struct CeremonyForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub ceremony: String,
    #[serde(default)]
    pub credential: String,
    /// `/login/passkey`: where to go once signed in.
    #[serde(default)]
    pub next: String,
    /// `/login/passkey`: the app behind a reverse proxy to go back to (forward-auth).
    #[serde(default)]
    pub rd: String,
}

impl CeremonyForm {
    /// The ceremony id and the answer, or why they cannot be checked (missing, or an answer
    /// far larger than any authenticator gives).
    pub fn parts(&self) -> Result<(String, String), PasskeyError> {
        if self.ceremony.is_empty() || self.ceremony.len() > 64 || self.credential.is_empty() {
            return Err(PasskeyError::Refused(
                "No passkey answer arrived. Use the passkey button (it needs JavaScript).".into(),
            ));
        }
        if self.credential.len() > MAX_CREDENTIAL_BYTES {
            return Err(PasskeyError::Refused(
                "The browser's answer is too large.".into(),
            ));
        }
        Ok((self.ceremony.clone(), self.credential.clone()))
    }
}

/// The status of a passkey refusal.
pub fn status_of(e: &PasskeyError) -> StatusCode {
    match e {
        PasskeyError::TooMany => StatusCode::TOO_MANY_REQUESTS,
        PasskeyError::NameTaken(_) | PasskeyError::AlreadyRegistered | PasskeyError::NoPasskey => {
            StatusCode::CONFLICT
        }
        PasskeyError::NotFound => StatusCode::NOT_FOUND,
        PasskeyError::BadName => StatusCode::UNPROCESSABLE_ENTITY,
        PasskeyError::Refused(_) => StatusCode::UNAUTHORIZED,
        PasskeyError::Unavailable(_) | PasskeyError::WrongOrigin { .. } | PasskeyError::Expired => {
            StatusCode::BAD_REQUEST
        }
        PasskeyError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"error": message}` with `status` (and `Retry-After` for 429).
pub fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": message }));
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(CHALLENGE_LIFETIME.num_seconds()),
        );
    }
    response
}

/// The answer of an options endpoint: the started ceremony, or the refusal as JSON.
pub fn options_answer(
    lang: Lang,
    started: Result<Started, PasskeyError>,
) -> Result<HttpResponse, PageError> {
    match started {
        Ok(started) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(started)),
        Err(PasskeyError::Db(e)) => Err(Failure::from(e).into()),
        Err(e) => Ok(json_error(
            status_of(&e),
            &super::messages::passkey(lang, &e),
        )),
    }
}

/// A failure of an options endpoint as JSON (a lock as 429 with `Retry-After`); what cannot
/// be shown stays an error page.
pub fn failure_answer(lang: Lang, failure: Failure) -> Result<HttpResponse, PageError> {
    match failure {
        Failure::Locked { retry_after } => {
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                &lang.t_with("mfa-too-many", &[("wait", lang.wait(retry_after).into())]),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            Ok(response)
        }
        other => Err(other.into()),
    }
}

/// The `Origin` header of a request, if it has one (browsers send it with every `fetch` POST
/// and form POST).
pub fn origin_of(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && *v != "null")
}

/// Refuses a request from a page at another origin than the relying party's, with the
/// message that says where to go.
pub fn check_origin(req: &HttpRequest, passkeys: &Passkeys) -> Result<(), PasskeyError> {
    passkeys.rp()?.check_origin(origin_of(req))
}

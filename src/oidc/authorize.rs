//! `GET /authorize` and `POST /authorize/consent`: the authorization endpoint (OpenID Connect
//! Core §3.1.2, RFC 6749 §4.1, PKCE RFC 7636, `iss` RFC 9207).
//!
//! An unknown client or a redirect URI that is not registered for it (compared exactly) is an
//! error page, never a redirect: nobody can use this server to send a browser elsewhere. Every
//! other error is a redirect to the client with `error`, `state` and `iss`. A visitor who is not
//! signed in goes through the ordinary login (and second factor) and comes back; `prompt=login`
//! and `max_age` end the session first. Then the consent page (unless the client skips it or the
//! user granted these scopes), then a code.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::flow::{self, CodeRequest, IssueRefused};
use super::known_scopes;
use crate::auth::csrf;
use crate::auth::{AuthCheck, AuthFailure, Authenticated};
use crate::db::oidc_clients::{self, ClientRow};
use crate::db::oidc_grants;
use crate::domain::clock::{from_micros, now};
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::telemetry::quoted;
use crate::web::error::PageError;
use crate::web::{Nav, render};

/// The parameters an authorization request may carry (each at most once).
const PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "response_mode",
    "request",
    "request_uri",
    "display",
    "ui_locales",
    "login_hint",
    "id_token_hint",
    "acr_values",
    "claims",
    REAUTH_PARAM,
];

/// Added to the `/authorize` URL that the login sends the browser back to, when the request
/// demands a fresh sign-in (`prompt=login`, `max_age`): `<unix seconds>.<MAC>`. A sign-in at or
/// after that time satisfies the demand, so the request does not loop. The MAC (under the
/// cookie key) keeps a page from forging one to skip a re-authentication.
const REAUTH_PARAM: &str = "gh_reauth";

/// Longest `state` and `nonce` accepted.
const MAX_STATE_BYTES: usize = 1024;

/// A request that failed before its client and redirect URI were known good: an error page.
fn error_page(key: &'static str) -> PageError {
    PageError::Said {
        status: StatusCode::BAD_REQUEST,
        key,
        name: None,
    }
}

/// Where an error (or a code) goes back to.
struct Back {
    redirect_uri: String,
    state: Option<String>,
    issuer: String,
}

impl Back {
    fn with(&self, pairs: &[(&str, &str)]) -> HttpResponse {
        // The registered URI parsed when it was registered; if it somehow does not parse now,
        // nothing is redirected anywhere.
        let Ok(mut url) = url::Url::parse(&self.redirect_uri) else {
            return HttpResponse::BadRequest().finish();
        };
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
            if let Some(state) = &self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", &self.issuer);
        }
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }

    fn error(&self, state: &AppState, code: &str, description: &str) -> HttpResponse {
        state
            .metrics
            .oidc_events
            .with_label_values(&["authorize_refused"])
            .inc();
        self.with(&[("error", code), ("error_description", description)])
    }
}

/// `prompt` values.
#[derive(Debug, Default, Clone, Copy)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

/// A request whose client and redirect URI are known good, and the rest checked.
struct Checked {
    client: ClientRow,
    back: Back,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    prompt: Prompt,
    max_age: Option<i64>,
    /// A sign-in at or after this time (Unix seconds) satisfies `prompt=login` / `max_age`.
    reauth_since: Option<i64>,
}

/// The parameters of a query string or form, each at most once.
fn parameters(raw: &str) -> Result<HashMap<String, String>, PageError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|_| error_page("oidc-request-unreadable"))?;
    let mut out = HashMap::new();
    for (name, value) in pairs {
        if !PARAMS.contains(&name.as_str()) {
            continue;
        }
        if out.insert(name.clone(), value).is_some() {
            return Err(PageError::Said {
                status: StatusCode::BAD_REQUEST,
                key: crate::i18n::key("oidc-request-repeated"),
                name: Some(name),
            });
        }
    }
    Ok(out)
}

fn reauth_mac(state: &AppState, at: i64) -> String {
    csrf::anonymous_token(state.session_key.signing(), &format!("oidc reauth\0{at}"))
}

fn reauth_marker(state: &AppState, at: i64) -> String {
    format!("{at}.{}", reauth_mac(state, at))
}

fn reauth_since(state: &AppState, marker: Option<&String>) -> Option<i64> {
    let (at, mac) = marker?.split_once('.')?;
    let at: i64 = at.parse().ok()?;
    csrf::check(&reauth_mac(state, at), mac).ok()?;
    Some(at)
}

/// Checks a request: the client and redirect URI (an error page), then the rest (a redirect).
async fn check(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<Result<Checked, HttpResponse>, PageError> {
    let Some(client_id) = params.get("client_id").filter(|v| !v.is_empty()).cloned() else {
        return Err(error_page("oidc-request-no-client"));
    };
    let client = state
        .db
        .run(move |conn| oidc_clients::find(conn, &client_id).map_err(Failure::from))
        .await?
        .ok_or_else(|| error_page("oidc-request-unknown-client"))?;
    let Some(redirect_uri) = params.get("redirect_uri").filter(|v| !v.is_empty()) else {
        return Err(error_page("oidc-request-no-redirect-uri"));
    };
    if !client.has_redirect_uri(redirect_uri) {
        tracing::warn!(target: "audit", event = "oidc_redirect_uri_mismatch", client_id = %quoted(&client.client_id), redirect_uri = %quoted(redirect_uri));
        return Err(error_page("oidc-request-bad-redirect-uri"));
    }
    let back = Back {
        redirect_uri: redirect_uri.clone(),
        state: params.get("state").cloned(),
        issuer: state.config().issuer(),
    };
    let refuse =
        |code: &str, description: &str| Ok(Err(back_error(state, &back, code, description)));
    if params
        .get("state")
        .is_some_and(|s| s.len() > MAX_STATE_BYTES)
    {
        return refuse("invalid_request", "state is too long");
    }
    if params.contains_key("request") {
        return refuse("request_not_supported", "request objects are not supported");
    }
    if params.contains_key("request_uri") {
        return refuse("request_uri_not_supported", "request_uri is not supported");
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return refuse("invalid_request", "only response_mode=query is supported");
    }
    match params.get("response_type").map(String::as_str) {
        Some("code") => {}
        None | Some("") => return refuse("invalid_request", "response_type is required"),
        Some(_) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
    }
    let scopes = known_scopes(params.get("scope").map_or("", String::as_str));
    if !scopes.contains(&"openid") {
        return refuse("invalid_scope", "scope must include openid");
    }
    let nonce = params.get("nonce").filter(|n| !n.is_empty()).cloned();
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_STATE_BYTES) {
        return refuse("invalid_request", "nonce is too long");
    }
    let code_challenge = params
        .get("code_challenge")
        .filter(|c| !c.is_empty())
        .cloned();
    match (
        &code_challenge,
        params.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(challenge), Some("S256")) => {
            if !flow::challenge_well_formed(challenge) {
                return refuse(
                    "invalid_request",
                    "code_challenge must be 43 base64url characters (S256)",
                );
            }
        }
        (Some(_), _) => {
            return refuse(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            );
        }
        (None, Some(_)) => {
            return refuse(
                "invalid_request",
                "code_challenge_method without code_challenge",
            );
        }
        (None, None) if client.is_public => {
            return refuse(
                "invalid_request",
                "public clients must use PKCE (code_challenge with S256)",
            );
        }
        (None, None) => {}
    }
    let mut prompt = Prompt::default();
    for value in params
        .get("prompt")
        .map_or("", String::as_str)
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return refuse("invalid_request", "unknown prompt value"),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return refuse(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    let max_age = match params.get("max_age").filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => return refuse("invalid_request", "max_age must be a non-negative integer"),
        },
    };
    Ok(Ok(Checked {
        reauth_since: reauth_since(state, params.get(REAUTH_PARAM)),
        client,
        back,
        scope: scopes.join(" "),
        nonce,
        code_challenge,
        prompt,
        max_age,
    }))
}

fn back_error(state: &AppState, back: &Back, code: &str, description: &str) -> HttpResponse {
    back.error(state, code, description)
}

/// The `/authorize` URL to come back to after a sign-in, with a re-authentication marker.
fn return_path(state: &AppState, params: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for name in PARAMS {
        if *name == REAUTH_PARAM || *name == "prompt" {
            continue;
        }
        if let Some(value) = params.get(*name) {
            pairs.push((name, value.clone()));
        }
    }
    // `login` is satisfied by the sign-in this leads to; other values stay.
    if let Some(prompt) = params.get("prompt") {
        let rest: Vec<&str> = prompt
            .split(' ')
            .filter(|v| *v != "login" && !v.is_empty())
            .collect();
        if !rest.is_empty() {
            pairs.push(("prompt", rest.join(" ")));
        }
    }
    pairs.push((
        REAUTH_PARAM,
        reauth_marker(state, chrono::Utc::now().timestamp()),
    ));
    format!(
        "/authorize?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

fn to_login(next: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/login?{query}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Who is signed in on this browser: `None` for nobody (or an ended session).
async fn signed_in(req: &HttpRequest) -> Result<Option<Authenticated>, PageError> {
    match AppState::resolve(req, AuthCheck::only_session()).await {
        Ok(who) => Ok(Some(who)),
        Err(AuthFailure::Failed(failure)) => Err(failure.into()),
        Err(AuthFailure::Missing { .. } | AuthFailure::Refused(_)) => Ok(None),
    }
}

/// `GET /authorize`.
#[tracing::instrument(skip_all)]
pub async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let params = parameters(req.query_string())?;
    let checked = match check(&state, &params).await? {
        Ok(checked) => checked,
        Err(redirect) => return Ok(redirect),
    };
    let Some(who) = signed_in(&req).await? else {
        if checked.prompt.none {
            return Ok(checked
                .back
                .error(&state, "login_required", "nobody is signed in"));
        }
        return Ok(to_login(&return_path(&state, &params)));
    };
    // A sign-in fresh enough for `prompt=login` / `max_age`?
    let auth_at = session
        .auth_at()
        .map_or_else(now, from_micros)
        .and_utc()
        .timestamp();
    let renewed = checked.reauth_since.is_some_and(|since| auth_at >= since);
    // `max_age=0` asks for a sign-in now, like `prompt=login` (whole seconds would let a
    // sign-in of this very second pass).
    let too_old = checked
        .max_age
        .is_some_and(|max| max == 0 || chrono::Utc::now().timestamp() - auth_at > max);
    if !renewed && (checked.prompt.login || too_old) {
        if checked.prompt.none {
            return Ok(checked.back.error(
                &state,
                "login_required",
                "the sign-in is older than max_age",
            ));
        }
        // The browser signs in again: this session ends, and the login brings it back.
        session.purge();
        return Ok(to_login(&return_path(&state, &params)));
    }
    let (user_id, client_id) = (who.user.id, checked.client.client_id.clone());
    let granted = state
        .db
        .run(move |conn| oidc_grants::find(conn, user_id, &client_id).map_err(Failure::from))
        .await?;
    let covered = granted.is_some_and(|g| {
        checked
            .scope
            .split(' ')
            .all(|s| super::has_scope(&g.scope, s))
    });
    let ask = checked.prompt.consent || !(checked.client.skip_consent || covered);
    if ask {
        if checked.prompt.none {
            return Ok(checked.back.error(
                &state,
                "consent_required",
                "the user has not consented",
            ));
        }
        return consent_page(&req, &who, &session, &checked, &params);
    }
    // Recorded as a grant all the same, so that the user sees the app (and can revoke it).
    let scope = checked.scope.clone();
    issue(&state, &who, &session, &checked, Some(scope)).await
}

/// Issues a code (recording `consent` when given) and sends the browser back with it.
async fn issue(
    state: &AppState,
    who: &Authenticated,
    session: &TypedSession,
    checked: &Checked,
    consent: Option<String>,
) -> Result<HttpResponse, PageError> {
    let request = CodeRequest {
        client_id: checked.client.client_id.clone(),
        user_id: who.user.id,
        redirect_uri: checked.back.redirect_uri.clone(),
        code_challenge: checked.code_challenge.clone(),
        nonce: checked.nonce.clone(),
        scope: checked.scope.clone(),
        auth_time: session.auth_at().map_or_else(now, from_micros),
        // How this session signed in (RFC 8176 values recorded at sign-in).
        amr: session.methods().join(" "),
        session_ref: session.sid(),
    };
    let issued = state
        .db
        .run(move |conn| {
            // A session from before methods were recorded: inferred from the user's factors.
            let request = if request.amr.is_empty() {
                let amr = flow::amr_of(conn, request.user_id).map_err(IssueRefused::from)?;
                CodeRequest { amr, ..request }
            } else {
                request
            };
            flow::issue_code(conn, &request, consent.as_deref())
        })
        .await;
    let code = match issued {
        Ok(code) => code,
        Err(IssueRefused::Gone) => {
            return Err(error_page("oidc-changed-meanwhile"));
        }
        Err(IssueRefused::Db(e)) => return Err(Failure::from(e).into()),
    };
    state
        .metrics
        .oidc_events
        .with_label_values(&["code_issued"])
        .inc();
    tracing::info!(target: "audit", event = "oidc_code_issued", client_id = %quoted(&checked.client.client_id), user_id = who.user.id);
    Ok(checked.back.with(&[("code", &code)]))
}

/// What a scope lets the application do, for people.
fn describe(scope: &str, nav: &Nav) -> Option<String> {
    match scope {
        "openid" => Some(nav.t("scope-openid")),
        "profile" => Some(nav.t("scope-profile")),
        "offline_access" => Some(nav.t("scope-offline-access")),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "oidc_consent.html")]
struct ConsentPage<'a> {
    nav: Nav,
    client_name: &'a str,
    destination: String,
    scopes: Vec<String>,
    fields: Vec<(&'static str, String)>,
}

fn consent_page(
    req: &HttpRequest,
    who: &Authenticated,
    session: &TypedSession,
    checked: &Checked,
    params: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let destination = url::Url::parse(&checked.back.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_default();
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    for name in [
        "client_id",
        "redirect_uri",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ] {
        if let Some(value) = params.get(name) {
            fields.push((name, value.clone()));
        }
    }
    fields.push(("scope", checked.scope.clone()));
    fields.push(("response_type", "code".to_string()));
    let nav = Nav::for_user(req, &who.user, session);
    let scopes = checked
        .scope
        .split(' ')
        .filter_map(|s| describe(s, &nav))
        .collect();
    let page = ConsentPage {
        nav,
        client_name: &checked.client.name,
        destination,
        scopes,
        fields,
    };
    let mut response = render(StatusCode::OK, &page)?;
    // Chromium applies `form-action` to the redirect that follows the form: the client's
    // origin must be allowed, or its own answer would be blocked.
    let origin = url::Url::parse(&checked.back.redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    if let Ok(value) = header::HeaderValue::from_str(&format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         form-action 'self' {origin}; frame-ancestors 'none'; base-uri 'none'"
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}

/// The consent form: the request's parameters again, the CSRF token and the decision.
#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    decision: String,
}

/// `POST /authorize/consent`: Allow issues a code (and records the consent), Deny sends
/// `access_denied` back. The request is checked again from scratch.
#[tracing::instrument(skip_all)]
pub async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let raw = std::str::from_utf8(&body).map_err(|_| error_page("error-form-unreadable"))?;
    let form: ConsentForm =
        serde_urlencoded::from_str(raw).map_err(|_| error_page("error-form-unreadable"))?;
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    let who = crate::web::SignedIn::after_body(&req).await?.0;
    let params = parameters(raw)?;
    let checked = match check(&state, &params).await? {
        Ok(checked) => checked,
        Err(redirect) => return Ok(redirect),
    };
    match form.decision.as_str() {
        "allow" => {
            let scope = checked.scope.clone();
            issue(&state, &who, &session, &checked, Some(scope)).await
        }
        "deny" => {
            state
                .metrics
                .oidc_events
                .with_label_values(&["consent_denied"])
                .inc();
            tracing::info!(target: "audit", event = "oidc_consent_denied", client_id = %quoted(&checked.client.client_id), user_id = who.user.id);
            Ok(checked.back.with(&[
                ("error", "access_denied"),
                ("error_description", "the user denied the request"),
            ]))
        }
        _ => Err(error_page("oidc-choose-allow-or-deny")),
    }
}

//! `POST /api/token` for the provider's grants — `authorization_code`, and `refresh_token` for
//! a family bound to a client — and `POST /api/token/introspect` (RFC 7662). Every other grant
//! goes on to `api::token`.
//!
//! Clients authenticate with `client_secret_basic` (a Basic header here is the client's,
//! whatever `auth.basic` says), `client_secret_post`, or, for public clients, `none` (their
//! `client_id` alone, with PKCE). Failures are RFC 6749 §5.2 errors: `invalid_client` 401 with
//! a Basic challenge, `invalid_grant` 400.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use chrono::NaiveDateTime;
use jsonwebtoken::Algorithm;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256, Sha512};

use super::flow::{self, ClientAccessClaims, Exchange, ExchangeInput};
use super::{clients, has_scope};
use crate::api::body::{parse_fields, read_body};
use crate::api::error::ApiError;
use crate::auth::strategy::REALM;
use crate::auth::strategy::basic::basic_header;
use crate::auth::token::refresh::{Issued, RefreshPolicy, Rotation};
use crate::config::Settings;
use crate::db::models::User;
use crate::db::oidc_clients::{self, ClientRow};
use crate::error::Failure;
use crate::state::AppState;
use crate::telemetry::quoted;

/// The fields of a token request this module reads (JSON or form).
const FIELDS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "scope",
    "token",
    "token_type_hint",
];

/// An RFC 6749 §5.2 error of the token and introspection endpoints.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Client authentication failed: 401 with a Basic challenge.
    #[error("{0}")]
    InvalidClient(&'static str),
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    UnauthorizedClient(&'static str),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<Failure> for OAuthError {
    fn from(e: Failure) -> Self {
        Self::Api(ApiError::Failed(e))
    }
}

impl From<crate::db::DbError> for OAuthError {
    fn from(e: crate::db::DbError) -> Self {
        Self::from(Failure::from(e))
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            Self::Api(e) => e.status_code(),
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::Api(e) => return e.error_response(),
        };
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if let Self::InvalidClient(_) = self {
            response.insert_header((header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\"")));
        }
        response.json(json!({ "error": code, "error_description": self.to_string() }))
    }
}

/// The client credentials of a request, by method.
struct ClientCredentials {
    client_id: String,
    secret: Option<String>,
}

/// A value of a Basic header's user id or password: form-urlencoded (RFC 6749 §2.3.1).
fn form_decode(part: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// Reads the client's credentials: a Basic header, `client_id` + `client_secret` in the body,
/// or `client_id` alone (a public client). Two methods at once are refused (RFC 6749 §2.3).
fn credentials(
    req: &HttpRequest,
    fields: &std::collections::HashMap<String, String>,
) -> Result<Option<ClientCredentials>, OAuthError> {
    if let Some(value) = basic_header(req) {
        if fields.contains_key("client_secret") {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not two".into(),
            ));
        }
        let malformed = || OAuthError::InvalidClient("malformed Basic credentials");
        let text = std::str::from_utf8(value).map_err(|_| malformed())?;
        let (_, encoded) = text.split_once(' ').ok_or_else(malformed)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
        let client_id = form_decode(id).ok_or_else(malformed)?;
        let secret = form_decode(secret).ok_or_else(malformed)?;
        if fields
            .get("client_id")
            .is_some_and(|body_id| *body_id != client_id)
        {
            return Err(OAuthError::InvalidRequest(
                "client_id differs from the Basic credentials".into(),
            ));
        }
        return Ok(Some(ClientCredentials {
            client_id,
            secret: Some(secret),
        }));
    }
    match fields.get("client_id").filter(|id| !id.is_empty()) {
        Some(id) => Ok(Some(ClientCredentials {
            client_id: id.clone(),
            secret: fields.get("client_secret").cloned(),
        })),
        None if fields.contains_key("client_secret") => Err(OAuthError::InvalidRequest(
            "client_secret without client_id".into(),
        )),
        None => Ok(None),
    }
}

/// The lockout key of a client id (its own namespace beside usernames).
fn client_subject(client_id: &str) -> String {
    let id: String = client_id.chars().take(64).collect();
    format!("client:{id}")
}

/// Authenticates the client of a request: a confidential client by its secret, a public one
/// by its id. Failures count per client id and per address (`lockout.max_failures`,
/// `lockout.max_failures_per_ip`, its own `client:` namespace beside usernames); past them the
/// answer is 429. Unlike a password, a client secret is checked with one SHA-256 (it has 256
/// random bits), so the count need not be reserved before the check: only failures are
/// counted, and a busy client's concurrent requests never lock it out.
async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    fields: &std::collections::HashMap<String, String>,
) -> Result<ClientRow, OAuthError> {
    let Some(presented) = credentials(req, fields)? else {
        return Err(OAuthError::InvalidClient(
            "client authentication is required",
        ));
    };
    let ip = state.client_ip(req).lockout_key();
    let subject = client_subject(&presented.client_id);
    let lockout = state.auth.lockout.clone();
    let id = presented.client_id.clone();
    let (locked, client) = {
        let (subject, ip, lockout) = (subject.clone(), ip.clone(), lockout.clone());
        state
            .db
            .run(move |conn| {
                let locked = lockout.retry_after(conn, &subject, &ip)?;
                let client = oidc_clients::find(conn, &id)?;
                Ok::<_, crate::db::DbError>((locked, client))
            })
            .await?
    };
    if let Some(retry_after) = locked {
        state
            .metrics
            .oidc_events
            .with_label_values(&["client_auth_locked"])
            .inc();
        return Err(OAuthError::Api(ApiError::Failed(Failure::Locked {
            retry_after,
        })));
    }
    let ok = match (&client, &presented.secret) {
        (Some(c), Some(secret)) if !c.is_public => c
            .secret_hash
            .as_deref()
            .is_some_and(|stored| clients::secret_matches(stored, secret)),
        (Some(c), None) => c.is_public,
        _ => false,
    };
    match client {
        Some(client) if ok => Ok(client),
        _ => {
            let counted = state
                .db
                .run(move |conn| lockout.reserve(conn, &subject, &ip))
                .await;
            if let Ok(attempt) = counted
                && attempt.locks
            {
                state.metrics.lockouts.inc();
            }
            state
                .metrics
                .oidc_events
                .with_label_values(&["client_auth_failed"])
                .inc();
            tracing::warn!(target: "audit", event = "oidc_client_auth_failed", client_id = %quoted(&presented.client_id));
            Err(OAuthError::InvalidClient("client authentication failed"))
        }
    }
}

/// RFC 6749 §5.1 with OpenID Connect's `id_token`.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

/// `POST /api/token`: this provider's grants, or on to `api::token`.
#[tracing::instrument(skip_all)]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let config = state.config();
    let (kind, body) = read_body(&req, payload, config.max_body()).await?;
    // A body this module cannot read is left to `api::token`, which answers for it.
    if super::enabled(&config)
        && let Ok(fields) = parse_fields(kind, &body, FIELDS)
    {
        match fields.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                return code_grant(&req, &state, &config, &fields).await;
            }
            Some("refresh_token") => {
                if let Some(presented) = fields.get("refresh_token").filter(|t| !t.is_empty()) {
                    let presented = presented.clone();
                    let probe = presented.clone();
                    let bound = state
                        .db
                        .run(move |conn| flow::family_of_refresh_token(conn, &probe))
                        .await?;
                    if let Some(bound) = bound {
                        return client_refresh(&req, &state, &config, &fields, presented, bound)
                            .await;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(crate::api::token::token_body(req, state, kind, &body).await?)
}

fn required<'a>(
    fields: &'a std::collections::HashMap<String, String>,
    name: &str,
) -> Result<&'a str, OAuthError> {
    fields
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

async fn code_grant(
    req: &HttpRequest,
    state: &AppState,
    config: &Settings,
    fields: &std::collections::HashMap<String, String>,
) -> Result<HttpResponse, OAuthError> {
    let code = required(fields, "code")?.to_string();
    let client = authenticate(req, state, fields).await?;
    let input = ExchangeInput {
        code,
        client_id: client.client_id.clone(),
        redirect_uri: fields.get("redirect_uri").cloned(),
        code_verifier: fields.get("code_verifier").cloned(),
        refresh_ttl: config.token.refresh_ttl.0,
    };
    let (outcome, made) = state
        .db
        .run(move |conn| flow::exchange(conn, &input))
        .await?;
    state.accounts.publish_all(made).await;
    let client_id = quoted(&client.client_id);
    match outcome {
        Exchange::Issued { user, family, code } => {
            state
                .metrics
                .oidc_events
                .with_label_values(&["code_exchanged"])
                .inc();
            tracing::info!(target: "audit", event = "oidc_code_exchanged", client_id = %client_id, user_id = user.id);
            let issued = Issue {
                client_id: &client.client_id,
                user: &user,
                family,
                scope: &code.scope,
                auth_time: code.auth_time,
            };
            let id = IdFacts {
                nonce: code.nonce.as_deref(),
                amr: &code.amr,
            };
            respond(state, config, issued, Some(id)).await
        }
        Exchange::Replayed => {
            state
                .metrics
                .oidc_events
                .with_label_values(&["code_replayed"])
                .inc();
            tracing::warn!(target: "audit", event = "oidc_code_replayed", client_id = %client_id, "authorization code presented again; what it issued is revoked");
            Err(OAuthError::InvalidGrant(
                "the code is invalid, expired or already used",
            ))
        }
        Exchange::Invalid(why) => {
            state
                .metrics
                .oidc_events
                .with_label_values(&["code_refused"])
                .inc();
            tracing::info!(target: "audit", event = "oidc_code_refused", client_id = %client_id, reason = why);
            Err(OAuthError::InvalidGrant(why))
        }
    }
}

async fn client_refresh(
    req: &HttpRequest,
    state: &AppState,
    config: &Settings,
    fields: &std::collections::HashMap<String, String>,
    presented: String,
    bound: crate::db::oidc_grants::FamilyRow,
) -> Result<HttpResponse, OAuthError> {
    let client = authenticate(req, state, fields).await?;
    if client.client_id != bound.client_id {
        return Err(OAuthError::InvalidGrant(
            "the refresh token was issued to another client",
        ));
    }
    let policy = RefreshPolicy::of(&config.token);
    let rotation = state
        .accounts
        .rotate_refresh_token(presented, policy)
        .await
        .map_err(ApiError::from)?;
    match rotation {
        Rotation::Rotated {
            user,
            issued,
            auth_time,
        } => {
            let issue = Issue {
                client_id: &client.client_id,
                user: &user,
                family: issued,
                scope: &bound.scope,
                auth_time,
            };
            respond(state, config, issue, None).await
        }
        Rotation::Reused => {
            state.metrics.refresh_reuse.inc();
            Err(OAuthError::InvalidGrant(
                "the refresh token is invalid, expired or revoked",
            ))
        }
        Rotation::Invalid => Err(OAuthError::InvalidGrant(
            "the refresh token is invalid, expired or revoked",
        )),
    }
}

/// What a response issues from.
struct Issue<'a> {
    client_id: &'a str,
    user: &'a User,
    family: Issued,
    scope: &'a str,
    auth_time: NaiveDateTime,
}

/// What only an ID token needs.
struct IdFacts<'a> {
    nonce: Option<&'a str>,
    amr: &'a str,
}

/// Claims of an ID token (OpenID Connect Core §2).
#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    azp: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    at_hash: String,
    amr: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// `at_hash`: the left half of the access token's hash under the ID token's algorithm
/// (SHA-256 for RS256 and ES256, SHA-512 for EdDSA with Ed25519).
fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::EdDSA => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

async fn respond(
    state: &AppState,
    config: &Settings,
    issue: Issue<'_>,
    id: Option<IdFacts<'_>>,
) -> Result<HttpResponse, OAuthError> {
    let keys = state.auth.keys.current().await?;
    let (issuer, _, ttl) = keys.issuer_audience_ttl();
    let now = chrono::Utc::now().timestamp();
    let auth_time = issue.auth_time.and_utc().timestamp();
    let claims = ClientAccessClaims {
        iss: issuer.clone(),
        sub: issue.user.id.to_string(),
        aud: issue.client_id.to_string(),
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: crate::domain::random_token(16),
        client_id: issue.client_id.to_string(),
        scope: issue.scope.to_string(),
        sid: issue.family.family_id.clone(),
        auth_time,
    };
    let access_token = keys
        .sign(Some(crate::auth::token::access::ACCESS_TOKEN_TYP), &claims)
        .map_err(|e| anyhow::anyhow!("signing a client access token: {e}"))
        .map_err(ApiError::from)?
        .0;
    let id_token = match id {
        Some(facts) => {
            let id_keys = state.auth.keys.id_keys(config).await?;
            let profile = has_scope(issue.scope, "profile");
            let username = issue.user.username.as_str();
            let token = id_keys
                .sign_with(Some("JWT"), |alg| IdClaims {
                    iss: &issuer,
                    sub: issue.user.id.to_string(),
                    aud: issue.client_id,
                    azp: issue.client_id,
                    exp: now + ttl,
                    iat: now,
                    auth_time,
                    nonce: facts.nonce,
                    at_hash: at_hash(alg, &access_token),
                    amr: facts.amr.split(' ').filter(|s| !s.is_empty()).collect(),
                    preferred_username: profile.then_some(username),
                    name: profile.then_some(username),
                })
                .map_err(|e| anyhow::anyhow!("signing an ID token: {e}"))
                .map_err(ApiError::from)?;
            Some(token)
        }
        None => None,
    };
    let refresh_token =
        has_scope(issue.scope, "offline_access").then(|| issue.family.token.clone());
    state.metrics.tokens_issued.inc();
    tracing::info!(target: "audit", event = "oidc_tokens_issued", client_id = %quoted(issue.client_id), user_id = issue.user.id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            id_token,
            refresh_token,
            scope: issue.scope.to_string(),
        }))
}

/// Verifies a client's access token and finds its user, when it still stands.
pub async fn client_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(ClientAccessClaims, User)>, Failure> {
    let keys = state.auth.keys.current().await?;
    let Ok(claims) = keys.verify_foreign_audience::<ClientAccessClaims>(token) else {
        return Ok(None);
    };
    let probe = claims.clone();
    let user = state
        .db
        .run(move |conn| flow::client_token_user(conn, &probe).map_err(Failure::from))
        .await?;
    Ok(user.map(|u| (claims, u)))
}

/// `POST /api/token/introspect` (RFC 7662): confidential clients only. A client's access
/// token that still stands is `active` with its claims; anything else (expired, revoked,
/// unknown, Gatehouse's own tokens, refresh tokens) is `{"active": false}`.
#[tracing::instrument(skip_all)]
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let config = state.config();
    let (kind, body) = read_body(&req, payload, config.max_body()).await?;
    let fields = parse_fields(kind, &body, FIELDS)?;
    let client = authenticate(&req, &state, &fields).await?;
    if client.is_public {
        return Err(OAuthError::UnauthorizedClient(
            "public clients cannot introspect tokens",
        ));
    }
    let token = required(&fields, "token")?;
    let answer = match client_token(&state, token).await? {
        Some((claims, user)) => json!({
            "active": true,
            "iss": claims.iss,
            "sub": claims.sub,
            "aud": claims.aud,
            "client_id": claims.client_id,
            "scope": claims.scope,
            "exp": claims.exp,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "jti": claims.jti,
            "auth_time": claims.auth_time,
            "username": user.username,
            "token_type": "Bearer",
        }),
        None => json!({ "active": false }),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

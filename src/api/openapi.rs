//! `GET /api/openapi.json`: an OpenAPI 3.1 description of the JSON surface (SPEC §6), built
//! with `utoipa`. The operations are declared on the doc-only functions below rather than on
//! the handlers, because the handlers read their bodies by hand (JSON or form, see `body`) and
//! answer through `ApiError`; the schemas here describe the wire format, and
//! `routes::JSON_ROUTES` — the list the router mounts and answers 405 from — is checked against
//! this document in the tests, so a route cannot be added or removed without it.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error of the JSON surface (RFC 6749 §5.2 / RFC 6750 §3).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid_request`, `invalid_grant`, `invalid_token`, `unauthorized`,
    /// `insufficient_scope`, `not_found`, `conflict`, `mfa_required`, …
    pub error: String,
    pub error_description: String,
}

/// `POST /api/token` (JSON, or the same fields as `application/x-www-form-urlencoded`).
#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    /// `password` (default), `refresh_token`, `urn:gatehouse:mfa-otp`,
    /// `urn:gatehouse:mfa-recovery`.
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    /// From an `mfa_required` / `mfa_enrollment_required` answer.
    pub mfa_token: Option<String>,
    /// A TOTP code (grant `urn:gatehouse:mfa-otp`).
    pub otp: Option<String>,
    /// A recovery code (grant `urn:gatehouse:mfa-recovery`).
    pub recovery_code: Option<String>,
}

/// RFC 6749 §5.1.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// A JWT (`typ: at+jwt`).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds.
    pub expires_in: i64,
    /// Opaque, single use.
    pub refresh_token: String,
}

/// The second factor a password grant needs (401).
#[derive(Serialize, ToSchema)]
pub struct MfaRequired {
    /// `mfa_required` or `mfa_enrollment_required`.
    pub error: String,
    pub error_description: String,
    /// Opaque, single use, 5 minutes.
    pub mfa_token: String,
}

/// RFC 7009 `POST /api/token/revoke`.
#[derive(Serialize, ToSchema)]
pub struct RevokeRequest {
    pub token: String,
}

/// `GET /api/me`.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    /// `user`, and `admin` for administrators.
    pub roles: Vec<String>,
    /// `token`, `session` or `basic`.
    pub via: String,
}

/// `POST /api/users`.
#[derive(Serialize, ToSchema)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    /// Administrators only.
    pub admin: Option<bool>,
    /// Administrators only: a service account (HTTP Basic with the password alone).
    pub service: Option<bool>,
}

/// A user as the admin API shows it.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub service: bool,
}

/// `PATCH /api/users/{id}`: the flags to change.
#[derive(Serialize, ToSchema)]
pub struct UserPatch {
    pub disabled: Option<bool>,
    pub admin: Option<bool>,
    pub service: Option<bool>,
}

/// `POST /api/users/{id}/password-reset`.
#[derive(Serialize, ToSchema)]
pub struct ResetLink {
    /// One-time link to the reset page (served in every mode).
    pub reset_url: String,
    /// RFC 3339, 30 minutes after issue.
    pub expires_at: String,
}

/// `POST /api/account/totp`.
#[derive(Serialize, ToSchema)]
pub struct TotpStartRequest {
    /// Needed when the caller's sign-in is more than 10 minutes old.
    pub password: Option<String>,
}

/// `POST /api/account/totp` answer.
#[derive(Serialize, ToSchema)]
pub struct TotpStarted {
    /// Base32.
    pub secret: String,
    pub otpauth_uri: String,
}

/// `POST /api/account/totp/confirm`.
#[derive(Serialize, ToSchema)]
pub struct TotpCode {
    pub code: String,
}

/// Recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `DELETE /api/account/totp`.
#[derive(Serialize, ToSchema)]
pub struct PasswordOnly {
    pub password: String,
}

/// A JSON Web Key Set (RFC 7517).
#[derive(Serialize, ToSchema)]
pub struct Jwks {
    /// Each with `kid`, `alg`, `use`; never an HMAC secret.
    pub keys: Vec<serde_json::Value>,
}

#[utoipa::path(post, path = "/api/token", tag = "tokens",
    description = "Password grant (JSON, RFC 6749 §4.3 form, or HTTP Basic with `auth.basic`), refresh grant, the second step of a sign-in, or (OpenID Connect clients) the `authorization_code` grant.",
    request_body(content((TokenRequest = "application/json"), (TokenRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, body = TokenPair, description = "A token pair (`Cache-Control: no-store`)"),
        (status = 400, body = ErrorBody, description = "`invalid_request`, `invalid_grant` (bad refresh token or code), `unsupported_grant_type`"),
        (status = 401, body = MfaRequired, description = "`invalid_grant` (bad credentials), or `mfa_required` / `mfa_enrollment_required`"),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "Locked out; see `Retry-After`"),
    ))]
#[allow(dead_code)]
fn token() {}

#[utoipa::path(post, path = "/api/token/revoke", tag = "tokens",
    description = "RFC 7009: ends the presented refresh token's whole family.",
    request_body(content((RevokeRequest = "application/x-www-form-urlencoded"), (RevokeRequest = "application/json"))),
    responses((status = 200, description = "Revoked, or unknown"), (status = 400, body = ErrorBody)))]
#[allow(dead_code)]
fn revoke() {}

#[utoipa::path(get, path = "/api/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = []), ("basic" = [])))]
#[allow(dead_code)]
fn me() {}

#[utoipa::path(post, path = "/api/logout-all", tag = "account",
    description = "Ends every session, refresh-token family and access token issued so far to the caller.",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Session caller without `X-CSRF-Token`")),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn logout_all() {}

#[utoipa::path(get, path = "/api/users", tag = "admin",
    responses((status = 200, body = Vec<UserView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn list_users() {}

#[utoipa::path(post, path = "/api/users", tag = "admin",
    description = "An administrator creates a user whatever `auth.registration` says; anyone else registers (only with `auth.registration`).",
    request_body = NewUser,
    responses((status = 201, body = UserView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security((), ("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn create_user() {}

#[utoipa::path(patch, path = "/api/users/{id}", tag = "admin",
    params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The last enabled administrator")),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn patch_user() {}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn delete_user() {}

#[utoipa::path(post, path = "/api/users/{id}/logout", tag = "admin",
    params(("id" = i64, Path)), description = "Ends every session, refresh family and access token of the user.",
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn logout_user() {}

#[utoipa::path(post, path = "/api/users/{id}/password-reset", tag = "admin",
    params(("id" = i64, Path)), description = "Issues a one-time, 30-minute reset link; the user's sessions and tokens end at once.",
    responses((status = 200, body = ResetLink), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn reset_user_password() {}

#[utoipa::path(post, path = "/api/users/{id}/unlock", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn unlock_user() {}

#[utoipa::path(delete, path = "/api/users/{id}/mfa", tag = "admin",
    params(("id" = i64, Path)), description = "Removes the user's second factors and ends their sessions and refresh families.",
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn reset_user_mfa() {}

#[utoipa::path(post, path = "/api/account/totp", tag = "account",
    request_body = TotpStartRequest,
    responses((status = 200, body = TotpStarted), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn totp_start() {}

#[utoipa::path(delete, path = "/api/account/totp", tag = "account",
    request_body = PasswordOnly,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn totp_remove() {}

#[utoipa::path(post, path = "/api/account/totp/confirm", tag = "account",
    request_body = TotpCode,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn totp_confirm() {}

#[utoipa::path(post, path = "/api/account/totp/recovery-codes", tag = "account",
    request_body = TotpStartRequest, description = "New recovery codes; the old ones stop working.",
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
#[allow(dead_code)]
fn recovery_codes() {}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, body = Jwks)))]
#[allow(dead_code)]
fn jwks() {}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    description = "RFC 8414 metadata.",
    responses((status = 200, body = serde_json::Value)))]
#[allow(dead_code)]
fn metadata() {}

#[utoipa::path(get, path = "/api/openapi.json", tag = "discovery",
    responses((status = 200, description = "This document")))]
#[allow(dead_code)]
fn describe_openapi() {}

/// RFC 7662 answer: `{"active": false}`, or the token's claims with `active: true`.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    pub sub: Option<String>,
    pub client_id: Option<String>,
    pub scope: Option<String>,
    pub exp: Option<i64>,
}

/// OpenID Connect UserInfo.
#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    /// With scope `profile`.
    pub preferred_username: Option<String>,
    /// With scope `profile`.
    pub name: Option<String>,
}

#[utoipa::path(post, path = "/api/token/introspect", tag = "openid-connect",
    description = "RFC 7662, for confidential clients (client_secret_basic or client_secret_post).",
    request_body(content((RevokeRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = Introspection), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "`invalid_client`")),
    security(("basic" = [])))]
#[allow(dead_code)]
fn introspect() {}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "openid-connect",
    description = "OpenID Connect discovery (mode `both`).",
    responses((status = 200, body = serde_json::Value)))]
#[allow(dead_code)]
fn openid_configuration() {}

#[utoipa::path(get, path = "/userinfo", tag = "openid-connect",
    description = "The user behind an access token issued to a client by the authorization-code flow.",
    responses((status = 200, body = UserInfo), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn userinfo_get() {}

#[utoipa::path(post, path = "/userinfo", tag = "openid-connect",
    responses((status = 200, body = UserInfo), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn userinfo_post() {}

/// The credentials the JSON surface takes.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "gatehouse_session",
                "The session cookie (`session.cookie_name`) of a browser sign-in",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token, required with the session cookie on writes",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse", description = "The JSON surface of Gatehouse: tokens, the caller's account, administration and discovery."),
    paths(token, revoke, me, logout_all, list_users, create_user, patch_user, delete_user,
        logout_user, reset_user_password, unlock_user, reset_user_mfa, totp_start, totp_remove,
        totp_confirm, recovery_codes, jwks, metadata, describe_openapi, introspect, openid_configuration, userinfo_get,
        userinfo_post),
    modifiers(&Credentials),
)]
pub struct ApiDoc;

/// The document, rendered once.
fn document() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc.to_json().unwrap_or_else(|_| "{}".into())
    })
}

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(document())
}

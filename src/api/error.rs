//! Errors of the JSON surface: `{"error","error_description"}` bodies with the status codes and
//! `WWW-Authenticate` challenges of RFC 6749 §5.2 and RFC 6750 §3. Causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::accounts::AccountError;
use crate::auth::login::LoginError;
use crate::db::DbError;
use crate::error::BUSY_RETRY_AFTER_SECS;

/// The realm of every challenge.
pub const REALM: &str = "gatehouse";

#[derive(thiserror::Error)]
pub enum ApiError {
    /// No credentials on a protected route (RFC 6750 §3.1: no error code in the challenge).
    #[error("authentication required")]
    Unauthorized { basic: bool },
    /// Credentials present but not valid; the description is `expired` or `invalid`.
    #[error("invalid token: {description}")]
    InvalidToken {
        description: &'static str,
        basic: bool,
    },
    /// Wrong HTTP Basic credentials on a protected route.
    #[error("invalid credentials")]
    InvalidBasic,
    #[error("insufficient scope")]
    InsufficientScope,
    /// Token endpoint: bad username or password.
    #[error("invalid username or password")]
    InvalidCredentials { basic: bool },
    /// Token endpoint: bad, expired, revoked or reused refresh token.
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    Unprocessable(String),
    #[error("not found")]
    NotFound,
    #[error("busy")]
    Busy,
    /// A backing service (database, session store) does not answer.
    #[error("temporarily unavailable")]
    Unavailable,
    /// Too many failed logins: 429 with `Retry-After`.
    #[error("too many failed logins")]
    Locked { retry_after: u64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unexpected(e) => write!(f, "{e:?}"),
            other => write!(f, "{other}"),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::Unexpected(e.into())
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(problems) => Self::Unprocessable(problems.join(" ")),
            AccountError::Taken => Self::Conflict("That username is taken."),
            AccountError::WrongPassword => {
                Self::Unprocessable("Current password is incorrect.".into())
            }
            AccountError::Busy => Self::Busy,
            AccountError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl ApiError {
    /// Maps a login failure at the token endpoint.
    pub fn from_login(e: LoginError, basic: bool) -> Self {
        match e {
            LoginError::InvalidCredentials => Self::InvalidCredentials { basic },
            LoginError::Busy => Self::Busy,
            LoginError::Locked { retry_after } => Self::Locked { retry_after },
            LoginError::Unexpected(e) => Self::Unexpected(e),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::InvalidToken { .. } | Self::InvalidBasic => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidCredentials { .. } | Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidRequest(_) | Self::UnsupportedMediaType(_) | Self::PayloadTooLarge => {
                "invalid_request"
            }
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Conflict(_) => "conflict",
            Self::Unprocessable(_) => "invalid_input",
            Self::NotFound => "not_found",
            Self::Busy | Self::Unavailable => "temporarily_unavailable",
            Self::Locked { .. } => "too_many_attempts",
            Self::Unexpected(_) => "server_error",
        }
    }

    fn description(&self) -> String {
        match self {
            Self::Unauthorized { .. } => "authentication required".into(),
            Self::InvalidToken { description, .. } => (*description).into(),
            Self::InvalidBasic => "invalid username or password".into(),
            Self::InsufficientScope => "the caller lacks a required role".into(),
            Self::InvalidCredentials { .. } => "invalid username or password".into(),
            Self::InvalidGrant(d) | Self::UnsupportedMediaType(d) | Self::Conflict(d) => {
                (*d).into()
            }
            Self::InvalidRequest(d) | Self::Unprocessable(d) => d.clone(),
            Self::UnsupportedGrantType => {
                "grant_type must be \"password\" or \"refresh_token\"".into()
            }
            Self::PayloadTooLarge => "the request body is too large".into(),
            Self::NotFound => "no such endpoint".into(),
            Self::Busy => "too many logins at once; retry shortly".into(),
            Self::Unavailable => "the service is temporarily unavailable; retry shortly".into(),
            Self::Locked { retry_after } => {
                format!("too many failed logins; retry in {retry_after} seconds")
            }
            Self::Unexpected(_) => "the server could not complete the request".into(),
        }
    }

    /// The `WWW-Authenticate` values of this answer.
    fn challenges(&self) -> Vec<String> {
        let bearer = |extra: &str| format!("Bearer realm=\"{REALM}\"{extra}");
        let basic = format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"");
        match self {
            Self::Unauthorized { basic: with_basic } => {
                let mut c = vec![bearer("")];
                if *with_basic {
                    c.push(basic);
                }
                c
            }
            Self::InvalidToken {
                description,
                basic: with_basic,
            } => {
                let mut c = vec![bearer(&format!(
                    ", error=\"invalid_token\", error_description=\"{description}\""
                ))];
                if *with_basic {
                    c.push(basic);
                }
                c
            }
            Self::InvalidBasic => vec![basic],
            Self::InsufficientScope => vec![bearer(", error=\"insufficient_scope\"")],
            Self::InvalidCredentials { basic: true } => vec![basic],
            _ => Vec::new(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } | Self::InvalidToken { .. } | Self::InvalidBasic => {
                StatusCode::UNAUTHORIZED
            }
            Self::InvalidCredentials { .. } => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::InvalidGrant(_) | Self::InvalidRequest(_) | Self::UnsupportedGrantType => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Busy | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Unexpected(e) = self {
            tracing::error!(error = ?e, "API request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        for challenge in self.challenges() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.append_header((header::WWW_AUTHENTICATE, value));
            }
        }
        match self {
            Self::Busy | Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, BUSY_RETRY_AFTER_SECS.to_string()));
            }
            Self::Locked { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        response.json(json!({
            "error": self.code(),
            "error_description": self.description(),
        }))
    }
}

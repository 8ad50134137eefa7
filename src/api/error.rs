//! Errors of the JSON surface: `{"error","error_description"}` bodies with the status codes and
//! `WWW-Authenticate` challenges of RFC 6749 §5.2 and RFC 6750 §3. Causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::accounts::AccountError;
use crate::auth::AuthFailure;
use crate::auth::login::LoginError;
use crate::auth::strategy::REALM;
use crate::error::{BUSY_RETRY_AFTER_SECS, Failure};

#[derive(thiserror::Error)]
pub enum ApiError {
    /// No credentials on a protected route (RFC 6750 §3.1: no error code in the challenge).
    #[error("authentication required")]
    Unauthorized { challenges: Vec<String> },
    /// Credentials present but not valid; the description is `expired` or `invalid` (or the
    /// Basic equivalent).
    #[error("invalid credentials: {description}")]
    InvalidToken {
        description: &'static str,
        challenges: Vec<String>,
    },
    #[error("insufficient scope")]
    InsufficientScope,
    /// Session-authenticated write without the session's CSRF token.
    #[error("missing or invalid CSRF token")]
    Csrf,
    /// Token endpoint: bad username or password.
    #[error("invalid username or password")]
    InvalidCredentials { basic: bool },
    /// Token endpoint: bad, expired, revoked or reused refresh token; a wrong second factor or
    /// a bad `mfa_token`.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// Token endpoint: the password is right and the sign-in waits for its second step
    /// (`mfa_required`) or, under `auth.require_mfa`, for enrolment (`mfa_enrollment_required`).
    #[error("second factor required")]
    MfaRequired {
        mfa_token: String,
        enrollment: bool,
        /// The user's only second factor is a passkey, which this endpoint cannot check.
        passkey_only: bool,
    },
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
    /// A new password below `password.min_score`: 422 `invalid_input` whose body carries
    /// zxcvbn's `feedback` (`{"warning": string|null, "suggestions": [string]}`) beside the
    /// description.
    #[error("{}", .0.summary())]
    GuessablePassword(crate::auth::password::StrengthFeedback),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "{e:?}"),
            other => write!(f, "{other}"),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(Failure::Unexpected(e))
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(problems) => Self::Unprocessable(problems.join(" ")),
            AccountError::Guessable(feedback) => Self::GuessablePassword(feedback),
            AccountError::SamePassword => Self::Unprocessable(
                "the new password must be different from the current one".into(),
            ),
            AccountError::Taken => Self::Conflict("That username is taken."),
            AccountError::WrongPassword => {
                Self::Unprocessable("Current password is incorrect.".into())
            }
            AccountError::LastAdmin => Self::Conflict(
                "The last enabled administrator cannot be disabled, demoted or deleted.",
            ),
            AccountError::CallerRevoked => Self::Unauthorized {
                challenges: vec![format!("Bearer realm=\"{REALM}\"")],
            },
            AccountError::NotAdmin => Self::InsufficientScope,
            AccountError::ReauthRequired => Self::InvalidRequest(
                "password is required: the sign-in is more than 10 minutes old".into(),
            ),
            AccountError::WrongCode => {
                Self::InvalidRequest("the code is wrong or was already used".into())
            }
            AccountError::NoEnrolment => Self::InvalidRequest(
                "no TOTP enrolment is waiting for confirmation; start one with POST /api/account/totp"
                    .into(),
            ),
            AccountError::AlreadyEnrolled => {
                Self::Conflict("TOTP is already on; remove it first to enrol again")
            }
            AccountError::NoFactor => Self::Conflict("TOTP is not on"),
            AccountError::Passkey(e) => Self::InvalidRequest(e.to_string()),
            AccountError::Failed(failure) => Self::Failed(failure),
        }
    }
}

impl From<AuthFailure> for ApiError {
    /// RFC 6750: no credentials is 401 with the challenges of the accepted schemes; refused
    /// credentials 401 `invalid_token` with the refusing scheme's challenge first.
    fn from(e: AuthFailure) -> Self {
        match e {
            AuthFailure::Missing { mut challenges } => {
                // This surface speaks RFC 6750: a Bearer challenge always leads.
                let bearer = format!("Bearer realm=\"{REALM}\"");
                if !challenges.contains(&bearer) {
                    challenges.insert(0, bearer);
                }
                Self::Unauthorized { challenges }
            }
            AuthFailure::Refused(refusal) => Self::InvalidToken {
                description: refusal.description,
                challenges: refusal.challenges,
            },
            AuthFailure::Failed(failure) => Self::Failed(failure),
        }
    }
}

impl ApiError {
    /// Maps a login failure at the token endpoint.
    pub fn from_login(e: LoginError, basic: bool) -> Self {
        match e {
            LoginError::InvalidCredentials => Self::InvalidCredentials { basic },
            LoginError::Failed(failure) => Self::Failed(failure),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::InvalidToken { .. } => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Csrf => "invalid_csrf_token",
            Self::InvalidCredentials { .. } | Self::InvalidGrant(_) => "invalid_grant",
            Self::MfaRequired {
                enrollment: false, ..
            } => "mfa_required",
            Self::MfaRequired {
                enrollment: true, ..
            } => "mfa_enrollment_required",
            Self::InvalidRequest(_) | Self::UnsupportedMediaType(_) | Self::PayloadTooLarge => {
                "invalid_request"
            }
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Conflict(_) => "conflict",
            Self::Unprocessable(_) | Self::GuessablePassword(_) => "invalid_input",
            Self::NotFound => "not_found",
            Self::Failed(Failure::Busy | Failure::Unavailable) => "temporarily_unavailable",
            Self::Failed(Failure::Locked { .. }) => "too_many_attempts",
            Self::Failed(Failure::Unexpected(_)) => "server_error",
        }
    }

    fn description(&self) -> String {
        match self {
            Self::Unauthorized { .. } => "authentication required".into(),
            Self::InvalidToken { description, .. } => (*description).into(),
            Self::InsufficientScope => "the caller lacks a required role".into(),
            Self::Csrf => {
                "a session-authenticated request needs the session's CSRF token in X-CSRF-Token"
                    .into()
            }
            Self::InvalidCredentials { .. } => "invalid username or password".into(),
            Self::MfaRequired {
                enrollment: false,
                passkey_only: true,
                ..
            } => "a second factor is required, and this account's only second factor is a \
                  passkey, which the token API cannot check: complete with grant_type \
                  urn:gatehouse:mfa-recovery (mfa_token, recovery_code) if the account has \
                  recovery codes; otherwise enrol TOTP on the account page, or ask an \
                  administrator for a service account"
                .into(),
            Self::MfaRequired {
                enrollment: false, ..
            } => "a second factor is required: complete with grant_type urn:gatehouse:mfa-otp \
                  (mfa_token, otp) or urn:gatehouse:mfa-recovery (mfa_token, recovery_code)"
                .into(),
            Self::MfaRequired {
                enrollment: true, ..
            } => "a second factor must be enrolled first: use mfa_token as a bearer token on \
                  POST /api/account/totp and /api/account/totp/confirm, then complete with \
                  grant_type urn:gatehouse:mfa-otp"
                .into(),
            Self::InvalidGrant(d) | Self::UnsupportedMediaType(d) | Self::Conflict(d) => {
                (*d).into()
            }
            Self::InvalidRequest(d) | Self::Unprocessable(d) => d.clone(),
            Self::GuessablePassword(feedback) => feedback.messages().join(" "),
            Self::UnsupportedGrantType => "grant_type must be \"password\", \"refresh_token\", \
                 \"urn:gatehouse:mfa-otp\" or \"urn:gatehouse:mfa-recovery\""
                .into(),
            Self::PayloadTooLarge => "the request body is too large".into(),
            Self::NotFound => "no such endpoint".into(),
            Self::Failed(Failure::Busy) => "too many logins at once; retry shortly".into(),
            Self::Failed(Failure::Unavailable) => {
                "the service is temporarily unavailable; retry shortly".into()
            }
            Self::Failed(Failure::Locked { retry_after }) => {
                format!("too many failed logins; retry in {retry_after} seconds")
            }
            Self::Failed(Failure::Unexpected(_)) => {
                "the server could not complete the request".into()
            }
        }
    }

    /// The `WWW-Authenticate` values of this answer.
    fn challenges(&self) -> Vec<String> {
        match self {
            Self::Unauthorized { challenges } | Self::InvalidToken { challenges, .. } => {
                challenges.clone()
            }
            Self::InsufficientScope => {
                vec![format!(
                    "Bearer realm=\"{REALM}\", error=\"insufficient_scope\""
                )]
            }
            Self::InvalidCredentials { basic: true } => {
                vec![format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"")]
            }
            _ => Vec::new(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } | Self::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            Self::InvalidCredentials { .. } | Self::MfaRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope | Self::Csrf => StatusCode::FORBIDDEN,
            Self::InvalidGrant(_) | Self::InvalidRequest(_) | Self::UnsupportedGrantType => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) | Self::GuessablePassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Failed(Failure::Busy | Failure::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Failed(Failure::Locked { .. }) => StatusCode::TOO_MANY_REQUESTS,
            Self::Failed(Failure::Unexpected(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Failed(Failure::Unexpected(e)) = self {
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
            Self::Failed(Failure::Busy | Failure::Unavailable) => {
                response.insert_header((header::RETRY_AFTER, BUSY_RETRY_AFTER_SECS.to_string()));
            }
            Self::Failed(Failure::Locked { retry_after }) => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        if let Self::MfaRequired { mfa_token, .. } = self {
            return response.json(json!({
                "error": self.code(),
                "error_description": self.description(),
                "mfa_token": mfa_token,
            }));
        }
        if let Self::GuessablePassword(feedback) = self {
            return response.json(json!({
                "error": self.code(),
                "error_description": self.description(),
                "feedback": feedback,
            }));
        }
        response.json(json!({
            "error": self.code(),
            "error_description": self.description(),
        }))
    }
}

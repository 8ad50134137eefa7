//! Errors of the HTML surface and how they are shown. Causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::auth::login::LoginError;
use crate::db::DbError;

/// Something a page handler could not do.
#[derive(thiserror::Error)]
pub enum PageError {
    /// Anonymous visitor on a page that needs a user: 303 to the login form.
    #[error("sign-in required")]
    SignInRequired { next: String },
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("missing or invalid CSRF token")]
    Csrf,
    /// The password hashing queue is full.
    #[error("busy")]
    Busy,
    /// A backing service (database, session store) does not answer.
    #[error("temporarily unavailable")]
    Unavailable,
    /// A client mistake with a status and a message safe to show.
    #[error("{1}")]
    Client(StatusCode, String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl std::fmt::Debug for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unexpected(e) => write!(f, "{e:?}"),
            other => write!(f, "{other}"),
        }
    }
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> Self {
        Self::Unexpected(e.into())
    }
}

impl From<LoginError> for PageError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Busy => Self::Busy,
            LoginError::InvalidCredentials => Self::Client(
                StatusCode::UNAUTHORIZED,
                "Invalid username or password.".into(),
            ),
            LoginError::Locked { retry_after } => Self::Client(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins. Try again in {retry_after} seconds."),
            ),
            LoginError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Seconds a client should wait before retrying after a 503 from a full hashing queue.
pub const BUSY_RETRY_AFTER_SECS: u32 = 2;

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignInRequired { .. } => StatusCode::SEE_OTHER,
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Busy | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Client(status, _) => *status,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::SignInRequired { next } = self {
            let query = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/login?{query}")))
                .finish();
        }
        let (title, message): (&str, &str) = match self {
            Self::Forbidden => ("Forbidden", "You do not have access to this page."),
            Self::NotFound => ("Not found", "There is nothing at this address."),
            Self::Csrf => (
                "Form expired",
                "The form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
            Self::Busy => (
                "Busy",
                "The server is handling too many sign-ins at once. Please try again in a moment.",
            ),
            Self::Unavailable => (
                "Temporarily unavailable",
                "The server cannot reach its storage right now. Please try again in a moment.",
            ),
            Self::Client(_, message) => ("Request refused", message.as_str()),
            Self::Unexpected(e) => {
                tracing::error!(error = ?e, "request failed");
                (
                    "Something went wrong",
                    "The server could not complete the request. Please try again later.",
                )
            }
            Self::SignInRequired { .. } => ("", ""),
        };
        let body = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| message.to_string());
        let mut response = HttpResponse::build(self.status_code());
        response
            .content_type(ContentType::html())
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if matches!(self, Self::Busy | Self::Unavailable) {
            response.insert_header((header::RETRY_AFTER, BUSY_RETRY_AFTER_SECS.to_string()));
        }
        response.body(body)
    }
}

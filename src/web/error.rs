//! Errors of the HTML surface and how they are shown. Causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::{BUSY_RETRY_AFTER_SECS, Failure};

/// Something a page handler could not do.
#[derive(thiserror::Error)]
pub enum PageError {
    /// Anonymous visitor on a page that needs a user: 303 to the login form.
    #[error("sign-in required")]
    SignInRequired { next: String },
    /// A browser whose sign-in waits for its second step (or enrolment): 303 there.
    #[error("second step pending")]
    SecondStepPending,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("missing or invalid CSRF token")]
    Csrf,
    /// A client mistake with a status and a message safe to show.
    #[error("{1}")]
    Client(StatusCode, String),
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl std::fmt::Debug for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "{e:?}"),
            other => write!(f, "{other}"),
        }
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(Failure::Unexpected(e))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignInRequired { .. } | Self::SecondStepPending => StatusCode::SEE_OTHER,
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Client(status, _) => *status,
            Self::Failed(Failure::Busy | Failure::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Failed(Failure::Locked { .. }) => StatusCode::TOO_MANY_REQUESTS,
            Self::Failed(Failure::Unexpected(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::SignInRequired { next } = self {
            let query = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/login?{query}")))
                .finish();
        }
        if let Self::SecondStepPending = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login/mfa"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        }
        let locked_message;
        let (title, message): (&str, &str) = match self {
            Self::Forbidden => ("Forbidden", "You do not have access to this page."),
            Self::NotFound => ("Not found", "There is nothing at this address."),
            Self::Csrf => (
                "Form expired",
                "The form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
            Self::Client(_, message) => ("Request refused", message.as_str()),
            Self::Failed(Failure::Busy) => (
                "Busy",
                "The server is handling too many sign-ins at once. Please try again in a moment.",
            ),
            Self::Failed(Failure::Unavailable) => (
                "Temporarily unavailable",
                "The server cannot reach its storage right now. Please try again in a moment.",
            ),
            Self::Failed(Failure::Locked { retry_after }) => {
                locked_message = format!(
                    "Too many failed sign-ins. Try again in {}.",
                    super::human_wait(*retry_after)
                );
                ("Too many attempts", locked_message.as_str())
            }
            Self::Failed(Failure::Unexpected(e)) => {
                tracing::error!(error = ?e, "request failed");
                (
                    "Something went wrong",
                    "The server could not complete the request. Please try again later.",
                )
            }
            Self::SignInRequired { .. } | Self::SecondStepPending => ("", ""),
        };
        let body = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| message.to_string());
        let mut response = HttpResponse::build(self.status_code());
        response
            .content_type(ContentType::html())
            .insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::Failed(Failure::Busy | Failure::Unavailable) => {
                response.insert_header((header::RETRY_AFTER, BUSY_RETRY_AFTER_SECS.to_string()));
            }
            Self::Failed(Failure::Locked { retry_after }) => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        response.body(body)
    }
}

/// Maps form parse failures to clear 4xx answers.
pub fn form_error(err: actix_web::error::UrlencodedError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    let (status, message) = match &err {
        E::Overflow { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."),
        E::ContentType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected a form (application/x-www-form-urlencoded).",
        ),
        _ => (StatusCode::BAD_REQUEST, "The form could not be read."),
    };
    PageError::Client(status, message.into()).into()
}

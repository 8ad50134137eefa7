//! Errors of the HTML surface and how they are shown. Causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::{BUSY_RETRY_AFTER_SECS, Failure};
use crate::i18n::Lang;

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
    /// A client mistake said by a catalog key (with its `$name`, if any), for handlers that
    /// refuse before they have the request's language at hand.
    #[error("{key}")]
    Said {
        status: StatusCode,
        key: &'static str,
        name: Option<String>,
    },
    /// An account change refused, shown in the page's language.
    #[error("{1}")]
    Account(StatusCode, crate::accounts::AccountError),
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
    nav: super::Nav,
    title: &'a str,
    message: &'a str,
}

impl PageError {
    /// The error page's title and sentence in `lang`.
    fn words(&self, lang: Lang) -> (String, String) {
        match self {
            Self::Forbidden => (lang.t("error-forbidden-title"), lang.t("error-forbidden")),
            Self::NotFound => (lang.t("error-not-found-title"), lang.t("error-not-found")),
            Self::Csrf => (lang.t("error-csrf-title"), lang.t("error-csrf")),
            Self::Client(_, message) => (lang.t("error-client-title"), message.clone()),
            Self::Said { key, name, .. } => (
                lang.t("error-client-title"),
                match name {
                    Some(name) => lang.t_with(key, &[("name", name.into())]),
                    None => lang.t(key),
                },
            ),
            Self::Account(_, e) => (
                lang.t("error-client-title"),
                super::messages::account_sentence(lang, e),
            ),
            Self::Failed(Failure::Busy) => (lang.t("error-busy-title"), lang.t("error-busy")),
            Self::Failed(Failure::Unavailable) => (
                lang.t("error-unavailable-title"),
                lang.t("error-unavailable"),
            ),
            Self::Failed(Failure::Locked { retry_after }) => (
                lang.t("error-locked-title"),
                lang.t_with("error-locked", &[("wait", lang.wait(*retry_after).into())]),
            ),
            Self::Failed(Failure::Unexpected(_)) => {
                (lang.t("error-unexpected-title"), lang.t("error-unexpected"))
            }
            Self::SignInRequired { .. } | Self::SecondStepPending => (String::new(), String::new()),
        }
    }

    /// The HTML error page in `lang` (the language middleware swaps it in for the
    /// default-language page `error_response` writes, which has no request to ask).
    pub fn page_body(&self, lang: Lang, here: &str) -> String {
        let (title, message) = self.words(lang);
        ErrorPage {
            nav: super::Nav::bare(lang, here),
            title: &title,
            message: &message,
        }
        .render()
        .unwrap_or(message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignInRequired { .. } | Self::SecondStepPending => StatusCode::SEE_OTHER,
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Client(status, _) | Self::Account(status, _) | Self::Said { status, .. } => {
                *status
            }
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
        if let Self::Failed(Failure::Unexpected(e)) = self {
            tracing::error!(error = ?e, "request failed");
        }
        let body = self.page_body(Lang::default(), "/");
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
pub fn form_error(err: actix_web::error::UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    let lang = super::lang::lang_of(req);
    let (status, message) = match &err {
        E::Overflow { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            lang.t("error-form-too-large"),
        ),
        E::ContentType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            lang.t("error-form-content-type"),
        ),
        _ => (StatusCode::BAD_REQUEST, lang.t("error-form-unreadable")),
    };
    PageError::Client(status, message).into()
}

//! `POST /logout`: deletes the session from the store, so the old cookie no longer works.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::csrf;
use crate::session_store::TypedSession;
use crate::web::error::PageError;
use crate::web::see_other;

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

/// A missing or unreadable form is a missing CSRF token (403), like any forged request.
#[tracing::instrument(skip_all)]
pub async fn logout(
    session: TypedSession,
    form: Option<web::Form<LogoutForm>>,
) -> Result<HttpResponse, PageError> {
    let submitted = form.map(|f| f.into_inner().csrf_token).unwrap_or_default();
    csrf::verify(&session, &submitted).map_err(|_| PageError::Csrf)?;
    // Purges the whole session: the store row is deleted and the cookie removed.
    session.purge();
    Ok(see_other("/login"))
}

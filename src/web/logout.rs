//! `POST /logout`: deletes the session from the store, so the old cookie no longer works.

use actix_identity::Identity;
use actix_session::Session;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::csrf;
use crate::error::PageError;
use crate::web::see_other;

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

#[tracing::instrument(skip_all)]
pub async fn logout(
    session: Session,
    identity: Option<Identity>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, PageError> {
    csrf::verify(&session, &form.csrf_token).map_err(|_| PageError::Csrf)?;
    match identity {
        // Purges the whole session: the store row is deleted and the cookie removed.
        Some(identity) => identity.logout(),
        None => session.purge(),
    }
    Ok(see_other("/login"))
}

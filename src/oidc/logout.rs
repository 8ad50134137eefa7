//! `GET|POST /oidc/logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). The
//! GET shows a confirm page; its POST (with the session's CSRF token) ends the session and
//! sends the browser to `post_logout_redirect_uri` when that URI is registered for the client
//! named by `id_token_hint` (or `client_id`), else shows "signed out". Nobody is sent to an
//! address a client has not registered.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;

use crate::auth::csrf;
use crate::auth::{AuthCheck, AuthFailure};
use crate::db::oidc_clients;
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::lang::lang_of;
use crate::web::{Nav, render};

const PARAMS: &[&str] = &[
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
    "csrf_token",
];

#[derive(Template)]
#[template(path = "oidc_logout.html")]
struct LogoutPage {
    nav: Nav,
    /// Whether the page asks to confirm (else: signed out).
    confirm: bool,
    client_name: Option<String>,
    fields: Vec<(&'static str, String)>,
}

fn parameters(raw: &str) -> Result<HashMap<String, String>, PageError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|_| PageError::Said {
            status: StatusCode::BAD_REQUEST,
            key: crate::i18n::key("error-request-unreadable"),
            name: None,
        })?;
    Ok(pairs
        .into_iter()
        .filter(|(k, _)| PARAMS.contains(&k.as_str()))
        .collect())
}

/// The client an `id_token_hint` names (its `aud`). The hint only picks whose registered URIs
/// may be used, so its signature and expiry do not matter: a forged hint can only lead to an
/// address that client registered.
fn hinted_client(hint: &str) -> Option<String> {
    let payload = hint.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match claims.get("aud")? {
        serde_json::Value::String(aud) => Some(aud.clone()),
        serde_json::Value::Array(list) => list.first()?.as_str().map(String::from),
        _ => None,
    }
}

/// The client of the request and the post-logout redirect it may follow (registered for it).
async fn resolve(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<(Option<oidc_clients::ClientRow>, Option<String>), PageError> {
    let client_id = params
        .get("id_token_hint")
        .and_then(|h| hinted_client(h))
        .or_else(|| params.get("client_id").cloned());
    let Some(client_id) = client_id else {
        return Ok((None, None));
    };
    let client = state
        .db
        .run(move |conn| oidc_clients::find(conn, &client_id).map_err(Failure::from))
        .await?;
    let target = match (&client, params.get("post_logout_redirect_uri")) {
        (Some(c), Some(uri)) if c.post_logout_uri_list().contains(&uri.as_str()) => {
            Some(uri.clone())
        }
        _ => None,
    };
    Ok((client, target))
}

fn page(
    nav: Nav,
    confirm: bool,
    client: Option<&oidc_clients::ClientRow>,
    params: &HashMap<String, String>,
    target: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let mut fields = Vec::new();
    for name in ["post_logout_redirect_uri", "state"] {
        if let Some(v) = params.get(name) {
            fields.push((name, v.clone()));
        }
    }
    if let Some(c) = client {
        fields.push(("client_id", c.client_id.clone()));
    }
    let mut response = render(
        StatusCode::OK,
        &LogoutPage {
            nav,
            confirm,
            client_name: client.map(|c| c.name.clone()),
            fields,
        },
    )?;
    if let Some(origin) = target
        .and_then(|t| url::Url::parse(t).ok())
        .map(|u| u.origin().ascii_serialization())
        && let Ok(value) = header::HeaderValue::from_str(&format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self' {origin}; frame-ancestors 'none'; base-uri 'none'"
        ))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}

fn redirect(target: &str, state: Option<&String>) -> HttpResponse {
    let Ok(mut url) = url::Url::parse(target) else {
        return HttpResponse::BadRequest().finish();
    };
    if let Some(s) = state {
        url.query_pairs_mut().append_pair("state", s);
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `GET /oidc/logout`: the confirm page (or, for nobody signed in, the redirect at once).
#[tracing::instrument(skip_all)]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let params = parameters(req.query_string())?;
    let (client, target) = resolve(&state, &params).await?;
    match AppState::resolve(&req, AuthCheck::only_session()).await {
        Ok(who) => page(
            Nav::for_user(&req, &who.user, &session),
            true,
            client.as_ref(),
            &params,
            target.as_deref(),
        ),
        Err(AuthFailure::Failed(f)) => Err(f.into()),
        Err(_) => match target {
            Some(t) => Ok(redirect(&t, params.get("state"))),
            None => page(
                Nav::bare(lang_of(&req), "/"),
                false,
                client.as_ref(),
                &params,
                None,
            ),
        },
    }
}

/// `POST /oidc/logout`: ends the session (CSRF-checked), then redirects or shows "signed out".
#[tracing::instrument(skip_all)]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let raw = std::str::from_utf8(&body).map_err(|_| PageError::Said {
        status: StatusCode::BAD_REQUEST,
        key: crate::i18n::key("error-form-unreadable"),
        name: None,
    })?;
    let params = parameters(raw)?;
    let submitted = params.get("csrf_token").map_or("", String::as_str);
    csrf::verify(&session, submitted).map_err(|_| PageError::Csrf)?;
    let (client, target) = resolve(&state, &params).await?;
    session.purge();
    tracing::info!(target: "audit", event = "oidc_logout", client_id = ?client.as_ref().map(|c| crate::telemetry::quoted(&c.client_id).to_string()));
    match target {
        Some(t) => Ok(redirect(&t, params.get("state"))),
        None => page(
            Nav::bare(lang_of(&req), "/"),
            false,
            client.as_ref(),
            &params,
            None,
        ),
    }
}
